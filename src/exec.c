/* exec.c: the daemon's last steps, shared by the plain daemon and every run of -r: descriptors, settings, root, user, directory, signals, environment, execve. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <sys/syscall.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

extern char **environ;

static const char	*env_value(const struct daemon_state *, const char *);
static int		 probe(const struct daemon_state *, const char *);
static char		*found(const struct daemon_state *, const char *);
static void		 settle_env(struct daemon_state *, int);
static void		 last_steps(struct daemon_state *, int)
			    __attribute__((__noreturn__));
static int		 close_between(unsigned int, unsigned int);
static int		 reset_reserved(int);
static int		 reset_signals(void);

/* The value the command will see: the last -E wins over the env files. */
static const char *
env_value(const struct daemon_state *ds, const char *name)
{
	const char *v;

	if ((v = envfile_find(ds->env, ds->nenv, name)) != NULL)
		return (v);
	return (envfile_value(ds, name));
}

/* 1: a program we may run; 0: a file, but not that; -1: nothing there. */
static int
probe(const struct daemon_state *ds, const char *cand)
{
	struct stat sb;

	if (ds->chroot_dir != NULL)
		return (chroot_probe(ds, cand));
	if (stat(cand, &sb) == -1)
		return (-1);
	return (S_ISREG(sb.st_mode) && access(cand, X_OK) == 0);
}

/* What execve(2) gets: inside --chroot, from the -c directory there. */
static char *
found(const struct daemon_state *ds, const char *cand)
{
	char *path;

	if (ds->chroot_dir == NULL)
		return (value_path(cand));
	if (asprintf(&path, "%s%s%s", cand[0] == '/' ? "" : ds->chdir_dir,
	    cand[0] == '/' || ds->chdir_dir[strlen(ds->chdir_dir) - 1] ==
	    '/' ? "" : "/", cand) == -1)
		err(EXIT_ERR, "asprintf");
	return (path);
}

/*
 * Look the command up in PATH now, like execvp(3) would, so that "not
 * found" costs no fork and the exec later gets an absolute path.
 */
void
exec_resolve(struct daemon_state *ds)
{
	const char *name, *path, *p, *end;
	char *dir, *cand;
	bool denied;

	name = ds->argv[0];
	if (strchr(name, '/') != NULL) {
		if (ds->chroot_dir != NULL && name[0] != '/')
			errx(EXIT_USAGE, "%s: with --chroot, a command's path "
			    "is absolute, inside the root", name);
		ds->exec_path = found(ds, name);
		return;
	}
	if ((path = env_value(ds, "PATH")) == NULL)
		path = _PATH_DEFPATH;
	denied = false;
	for (p = path; ; p = end + 1) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		/* An empty PATH entry means the current directory. */
		if (asprintf(&dir, "%.*s", end == p ? 1 : (int)(end - p),
		    end == p ? "." : p) == -1 ||
		    asprintf(&cand, "%s/%s", dir, name) == -1)
			err(EXIT_ERR, "asprintf");
		free(dir);
		switch (probe(ds, cand)) {
		case 1:
			ds->exec_path = found(ds, cand);
			free(cand);
			return;
		case 0:
			denied = true;
			break;
		}
		free(cand);
		if (*end == '\0')
			break;
	}
	if (denied)
		errx(EXIT_NOEXEC, "%s: found in PATH but not executable", name);
	errx(EXIT_NOTFOUND, "%s: command not found", name);
}

/* Close lo..hi (hi may be ~0U): one system call, whatever the limit. */
static int
close_between(unsigned int lo, unsigned int hi)
{
	unsigned int fd;

	if (lo > hi)
		return (0);
#ifdef HAVE_CLOSE_RANGE
	if (close_range(lo, hi, 0) == 0)
		return (0);
	if (errno != ENOSYS)
		return (-1);
#endif
	if (hi == ~0U) {
		closefrom((int)lo);
		return (0);
	}
	for (fd = lo; fd <= hi; fd++)
		(void)close((int)fd);
	return (0);
}

/*
 * Put the descriptors we keep where they belong and close every other
 * one.  The sockets of --listen come first, on 3, 4, ..., as
 * sd_listen_fds(3) expects; the --ready-fd pipe goes to the number
 * asked for, which lies beyond them; the others take the numbers after
 * the sockets around it, the pidfile lock first, so the daemon finds the
 * lock on 3 without sockets (on 4 when --ready-fd is 3).  Only the
 * sockets, the lock and the readiness pipe survive the exec.  A run of
 * -r holds neither pidfile, and only the first run holds the readiness
 * pipe: the supervisor marks what it keeps to itself with -1 before
 * calling this in the run.
 */
int
exec_arrange(struct daemon_state *ds, int *repfd)
{
	struct kept { int *fd; int to; bool inherit; } *keep;
	int next, fd, r;
	size_t n, i, j;
	bool ready;

	if ((keep = reallocarray(NULL, ds->nlisten + 7, sizeof(*keep))) ==
	    NULL)
		return (-1);
	n = 0;
	next = STDERR_FILENO + 1;
	for (i = 0; i < ds->nlisten; i++)
		keep[n++] = (struct kept){ &ds->listen[i].fd, next++, true };
	ready = ds->ready == READY_FD && ds->ready_pipe[1] != -1;
	if (ready)
		keep[n++] = (struct kept){ &ds->ready_pipe[1],
		    ds->ready_fd, true };
	if (ds->pid.lockfd != -1)
		keep[n++] = (struct kept){ &ds->pid.lockfd, 0, true };
	keep[n++] = (struct kept){ repfd, 0, false };
	if (ds->pid.writefd != -1)
		keep[n++] = (struct kept){ &ds->pid.writefd, 0, false };
	/* The supervisor hears its reloaded runs on the notify socket. */
	if (ds->respawn != RESPAWN_NO && ds->supervisor == 0 &&
	    ds->notify_sock != -1)
		keep[n++] = (struct kept){ &ds->notify_sock, 0, false };
	/* The supervisor's own pidfile (-P) never reaches a command. */
	if (ds->svpid.lockfd != -1)
		keep[n++] = (struct kept){ &ds->svpid.lockfd, 0, false };
	if (ds->svpid.writefd != -1)
		keep[n++] = (struct kept){ &ds->svpid.writefd, 0, false };
	for (i = 0; i < n; i++) {
		if (keep[i].to != 0)
			continue;
		if (ready && next == ds->ready_fd)
			next++;
		keep[i].to = next++;
	}
	r = -1;
	for (i = 0; i < n; i++) {
		if (*keep[i].fd != keep[i].to) {
			/* Clear the way if another of ours sits there. */
			for (j = 0; j < n; j++) {
				if (j == i || *keep[j].fd != keep[i].to)
					continue;
				/*
				 * Anywhere free; should that be a later
				 * target, it moves again on its turn.
				 */
				fd = fcntl(keep[i].to, F_DUPFD_CLOEXEC,
				    STDERR_FILENO + 1);
				if (fd == -1)
					goto out;
				*keep[j].fd = fd;
			}
			if (dup2(*keep[i].fd, keep[i].to) == -1)
				goto out;
			(void)close(*keep[i].fd);
			*keep[i].fd = keep[i].to;
		}
		/* dup2 clears close-on-exec, and leaves it when fd == to. */
		if (fcntl(keep[i].to, F_SETFD, keep[i].inherit ? 0 :
		    FD_CLOEXEC) == -1)
			goto out;
	}
	/* Our numbers are 3..next-1, plus ready_fd, which may lie beyond. */
	if (ready && ds->ready_fd >= next) {
		if (close_between((unsigned int)next,
		    (unsigned int)ds->ready_fd - 1) == -1)
			goto out;
		next = ds->ready_fd + 1;
	}
	r = close_between((unsigned int)next, ~0U);
out:
	free(keep);
	return (r);
}

/*
 * The C library reserves a few real-time signals for itself and refuses
 * to touch them, yet a caller can leave them ignored and exec keeps
 * that.  The kernel takes an all-zero sigaction as "default, no flags,
 * empty mask" whatever its layout, so ask it directly.
 */
static int
reset_reserved(int sig)
{
#if defined(__linux__) && defined(SYS_rt_sigaction) && \
    !defined(__sparc__) && !defined(__alpha__)
	unsigned char zero[128] = { 0 };

	return (syscall(SYS_rt_sigaction, sig, zero, NULL,
	    (size_t)(_NSIG / 8)) == -1 ? -1 : 0);
#else
	(void)sig;
	return (0);
#endif
}

/* Ignored signals and the blocked mask survive exec: start clean. */
static int
reset_signals(void)
{
	sigset_t set;
	int sig;

	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (signal(sig, SIG_DFL) != SIG_ERR)
			continue;
		if (errno != EINVAL || reset_reserved(sig) == -1)
			return (-1);
	}
	if (sigemptyset(&set) == -1 ||
	    sigprocmask(SIG_SETMASK, &set, NULL) == -1)
		return (-1);
	return (0);
}

/*
 * A step of the daemon's setup failed: remove the pidfile while we still
 * hold its lock, tell the waiting caller, and go.  In the foreground
 * there is no caller to tell, so say it on the original stderr.
 */
void
exec_fail(struct daemon_state *ds, int repfd, int step)
{
	exec_fail_detail(ds, repfd, step, 0);
}

/* The same, for a setting: detail says which one (see enum step). */
void
exec_fail_detail(struct daemon_state *ds, int repfd, int step, int detail)
{
	struct status_msg msg = { step, errno, detail };

	/* -f inside --chroot: out again, if we still may, to clean up. */
	chroot_leave(ds);
	pidfile_discard(ds);
	if (!ds->foreground) {
		report_send_msg(repfd, &msg);
		_exit(EXIT_ERR);
	}
	listen_remove(ds);
	output_discard(ds);
	(void)dup2(repfd, STDERR_FILENO);
	_exit(report_failure(ds, &msg));
}

/*
 * The daemon's own first steps, before it supervises or runs the
 * command: its umask, its standard streams, its descriptors and its pid
 * in the pidfile.
 */
void
exec_prepare(struct daemon_state *ds, int *repfd)
{
	(void)umask(ds->umask);
	if (output_wire(ds) == -1)
		exec_fail(ds, *repfd, STEP_STDIO);
	if (exec_arrange(ds, repfd) == -1)
		exec_fail(ds, *repfd, STEP_FDS);
	if (pidfile_store(&ds->pid, getpid()) == -1)
		exec_fail(ds, *repfd, STEP_PIDFILE);
}

/*
 * A run of -r never runs on unsupervised: the supervisor's death is its
 * SIGTERM.  The kernel forgets this when the credentials change, so it
 * is armed again after the drop; and the supervisor may already be gone
 * by the time it is armed.  Nothing for the plain daemon.
 */
int
exec_tie(const struct daemon_state *ds)
{
	if (ds->supervisor <= 0)
		return (0);
#ifdef __linux__
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		return (-1);
	if (getppid() != ds->supervisor) {
		errno = ESRCH;
		return (-1);
	}
#endif
	return (0);
}

/*
 * As the user, the environment in its order: --clear-env, -u's
 * variables, NOTIFY_SOCKET and LISTEN_FDS, the env files, then -E.
 */
static void
settle_env(struct daemon_state *ds, int repfd)
{
	size_t i;

	if (envfile_start(ds) == -1 || privs_environ(ds) == -1 ||
	    ready_environ(ds) == -1 || listen_environ(ds) == -1 ||
	    envfile_apply(ds) == -1)
		exec_fail(ds, repfd, STEP_ENV);
	for (i = 0; i < ds->nenv; i++)
		if (putenv(ds->env[i]) != 0)
			exec_fail(ds, repfd, STEP_ENV);
}

/* As the user: directory, signals, environment, and the exec. */
static void
last_steps(struct daemon_state *ds, int repfd)
{
	/* As the user, so that a directory it cannot use fails here. */
	if (chdir(ds->chdir_dir) == -1)
		exec_fail(ds, repfd, STEP_CHDIR);
	if (reset_signals() == -1)
		exec_fail(ds, repfd, STEP_SIGNALS);
	settle_env(ds, repfd);
#if defined(__linux__) && defined(PR_SET_NO_NEW_PRIVS)
	/* Last of all, so that nothing before is denied what it needs. */
	if (ds->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		exec_fail(ds, repfd, STEP_NNP);
#else
	if (ds->no_new_privs) {
		errno = ENOSYS;
		exec_fail(ds, repfd, STEP_NNP);
	}
#endif
	/*
	 * Last before exec: a daemon killed before it could send this is
	 * seen as lost, not as started.
	 */
	if (!ds->foreground)
		report_send(repfd, STEP_PID, (int)getpid());
	(void)execve(ds->exec_path, ds->argv, environ);
	exec_fail(ds, repfd, STEP_EXEC);
}

/*
 * From the settings to the exec: the steps the daemon and every run of
 * the supervisor take, in the man page's order.  Root's settings first;
 * then the root, the user with the capabilities it keeps, and as the
 * user the rest.  A failure goes to repfd, and the process exits.
 */
void
exec_command(struct daemon_state *ds, int repfd)
{
	int step, which;

	if ((step = tune_apply(ds)) != 0)
		exec_fail(ds, repfd, step);
	if (limits_apply(ds, &which) == -1)
		exec_fail_detail(ds, repfd, STEP_LIMIT, which);
	if (chroot_enter(ds) == -1)
		exec_fail(ds, repfd, STEP_CHROOT);
	if (ds->foreground && (step = privs_try(ds)) != 0)
		exec_fail(ds, repfd, step);
	if (caps_keep(ds) == -1)
		exec_fail(ds, repfd, STEP_CAPS);
	if ((step = privs_drop(ds)) != 0)
		exec_fail(ds, repfd, step);
	if (caps_raise(ds, &which) == -1)
		exec_fail_detail(ds, repfd, STEP_AMBIENT, which);
	if (ds->change_user && exec_tie(ds) == -1)
		exec_fail(ds, repfd, STEP_SUPERVISOR);
	last_steps(ds, repfd);
}
