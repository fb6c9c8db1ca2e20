/* detach.c: finding the command, fork/setsid/fork, the daemon's setup and the exec-status pipe. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

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
static int		 arrange_fds(struct daemon_state *, int *);
static int		 reset_reserved(int);
static int		 reset_signals(void);
static void		 send_status(int, int, int);
static void		 fail(struct daemon_state *, int, int)
			    __attribute__((__noreturn__));
static void		 launch(struct daemon_state *, int)
			    __attribute__((__noreturn__));
static void		 middle(struct daemon_state *, int)
			    __attribute__((__noreturn__));
static const char	*interpreter(const char *, char *, size_t);
static int		 exec_failure(const struct daemon_state *, int);
static int		 report(const struct daemon_state *,
			    const struct status_msg *);

/* The value the command will see: the last -E wins over the environment. */
static const char *
env_value(const struct daemon_state *ds, const char *name)
{
	size_t i, len;

	len = strlen(name);
	for (i = ds->nenv; i-- > 0; )
		if (strncmp(ds->env[i], name, len) == 0 &&
		    ds->env[i][len] == '=')
			return (ds->env[i] + len + 1);
	return (getenv(name));
}

/*
 * Look the command up in PATH now, like execvp(3) would, so that "not
 * found" costs no fork and the exec later gets an absolute path.
 */
void
detach_resolve(struct daemon_state *ds)
{
	const char *name, *path, *p, *end;
	char *dir, *cand;
	struct stat sb;
	bool denied;

	name = ds->argv[0];
	if (strchr(name, '/') != NULL) {
		ds->exec_path = options_absolute(name);
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
		if (stat(cand, &sb) == 0) {
			if (S_ISREG(sb.st_mode) && access(cand, X_OK) == 0) {
				ds->exec_path = options_absolute(cand);
				free(cand);
				return;
			}
			denied = true;
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
int
detach_close_between(unsigned int lo, unsigned int hi)
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
 * one the caller left us.  The --ready-fd pipe goes to the number asked
 * for; the others take 3, 4, ... around it, the pidfile lock first, so
 * the daemon finds the lock on 3 (on 4 when --ready-fd is 3).  Only the
 * lock and the readiness pipe survive the exec.
 */
static int
arrange_fds(struct daemon_state *ds, int *repfd)
{
	struct kept { int *fd; int to; bool inherit; } keep[6];
	int n, i, j, next, top, fd;

	n = 0;
	if (ds->ready == READY_FD)
		keep[n++] = (struct kept){ &ds->ready_pipe[1],
		    ds->ready_fd, true };
	next = STDERR_FILENO + 1;
	if (ds->pid.lockfd != -1)
		keep[n++] = (struct kept){ &ds->pid.lockfd, 0, true };
	keep[n++] = (struct kept){ repfd, 0, false };
	if (ds->pid.writefd != -1)
		keep[n++] = (struct kept){ &ds->pid.writefd, 0, false };
	/* The supervisor's own pidfile (-P) never reaches a command. */
	if (ds->svpid.lockfd != -1)
		keep[n++] = (struct kept){ &ds->svpid.lockfd, 0, false };
	if (ds->svpid.writefd != -1)
		keep[n++] = (struct kept){ &ds->svpid.writefd, 0, false };
	top = 0;
	for (i = 0; i < n; i++) {
		if (keep[i].to == 0) {
			if (ds->ready == READY_FD && next == ds->ready_fd)
				next++;
			keep[i].to = next++;
		}
		if (keep[i].to > top)
			top = keep[i].to;
	}
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
					return (-1);
				*keep[j].fd = fd;
			}
			if (dup2(*keep[i].fd, keep[i].to) == -1)
				return (-1);
			(void)close(*keep[i].fd);
			*keep[i].fd = keep[i].to;
		}
		/* dup2 clears close-on-exec, and leaves it when fd == to. */
		if (fcntl(keep[i].to, F_SETFD, keep[i].inherit ? 0 :
		    FD_CLOEXEC) == -1)
			return (-1);
	}
	/* Our numbers are 3..next-1, plus ready_fd, which may lie beyond. */
	if (ds->ready == READY_FD && ds->ready_fd >= next) {
		if (detach_close_between((unsigned int)next,
		    (unsigned int)ds->ready_fd - 1) == -1)
			return (-1);
		next = ds->ready_fd + 1;
	}
	return (detach_close_between((unsigned int)next, ~0U));
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

static void
send_status(int fd, int step, int value)
{
	struct status_msg msg = { .step = step, .value = value };

	/* Smaller than PIPE_BUF, so it arrives whole or not at all. */
	(void)write(fd, &msg, sizeof(msg));
}

/*
 * A step of the daemon's setup failed: remove the pidfile while we still
 * hold its lock, tell the waiting caller, and go.  In the foreground
 * there is no caller to tell, so say it on the original stderr.
 */
static void
fail(struct daemon_state *ds, int repfd, int step)
{
	struct status_msg msg = { .step = step, .value = errno };

	pidfile_discard(ds);
	if (!ds->foreground) {
		send_status(repfd, step, msg.value);
		_exit(EXIT_ERR);
	}
	output_discard(ds);
	(void)dup2(repfd, STDERR_FILENO);
	_exit(report(ds, &msg));
}

/* The daemon proper: its descriptors and pidfile, then the command. */
static void
launch(struct daemon_state *ds, int repfd)
{
	(void)umask(ds->umask);
	if (output_wire(ds) == -1)
		fail(ds, repfd, STEP_STDIO);
	if (arrange_fds(ds, &repfd) == -1)
		fail(ds, repfd, STEP_FDS);
	if (pidfile_store(&ds->pid, getpid()) == -1)
		fail(ds, repfd, STEP_PIDFILE);
	if (ds->respawn != RESPAWN_NO)
		supervise(ds, repfd);
	detach_exec(ds, repfd);
}

/*
 * From the user to the exec: the steps the daemon and every child of
 * the supervisor take.  A failure goes to repfd, and the process exits.
 */
void
detach_exec(struct daemon_state *ds, int repfd)
{
	size_t i;
	int step;

	if ((step = privs_drop(ds)) != 0)
		fail(ds, repfd, step);
	/* As the user, so that a directory it cannot use fails here. */
	if (chdir(ds->chdir_dir) == -1)
		fail(ds, repfd, STEP_CHDIR);
	if (reset_signals() == -1)
		fail(ds, repfd, STEP_SIGNALS);
	if (privs_environ(ds) == -1 || ready_environ(ds) == -1)
		fail(ds, repfd, STEP_ENV);
	for (i = 0; i < ds->nenv; i++)
		if (putenv(ds->env[i]) != 0)
			fail(ds, repfd, STEP_ENV);
	/*
	 * Last before exec: a daemon killed before it could send this is
	 * seen as lost, not as started.
	 */
	if (!ds->foreground)
		send_status(repfd, STEP_PID, (int)getpid());
	(void)execve(ds->exec_path, ds->argv, environ);
	fail(ds, repfd, STEP_EXEC);
}

/*
 * The first child: a new session without a terminal, then a second fork
 * so the daemon is no session leader and can never acquire one.  SIGHUP
 * is ignored because this process, the session leader, is about to exit.
 */
static void
middle(struct daemon_state *ds, int repfd)
{
	pid_t pid;

	if (setsid() == -1) {
		send_status(repfd, STEP_SETSID, errno);
		_exit(EXIT_ERR);
	}
	(void)signal(SIGHUP, SIG_IGN);
	if (ds->ready != READY_EXEC && ready_arm() == -1) {
		send_status(repfd, STEP_WAIT, errno);
		_exit(EXIT_ERR);
	}
	switch (pid = fork()) {
	case -1:
		send_status(repfd, STEP_FORK, errno);
		_exit(EXIT_ERR);
	case 0:
		/*
		 * A process group of its own, so that a daemon that fails
		 * to get ready can be stopped with every child it made.
		 */
		(void)setpgid(0, 0);
		launch(ds, repfd);
	}
	if (ds->ready == READY_EXEC)
		_exit(EXIT_OK);
	/* Only the daemon may hold the write end, or EOF never comes. */
	if (ds->ready == READY_FD)
		(void)close(ds->ready_pipe[1]);
	ready_wait(ds, repfd, pid);
}

/* The interpreter named on a script's "#!" line, for the message. */
static const char *
interpreter(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) ==
	    -1)
		return (NULL);
	n = read(fd, buf, len - 1);
	(void)close(fd);
	if (n < 3 || buf[0] != '#' || buf[1] != '!')
		return (NULL);
	buf[n] = '\0';
	buf += 2;
	buf += strspn(buf, " \t");
	buf[strcspn(buf, " \t\r\n")] = '\0';
	return (*buf == '\0' ? NULL : buf);
}

/* Exit like a shell: 127 for nothing to run, 126 for what cannot run. */
static int
exec_failure(const struct daemon_state *ds, int errnum)
{
	const char *cmd = ds->argv[0], *interp;
	char buf[256];
	struct stat sb;

	switch (errnum) {
	case ENOENT:
	case ENOTDIR:
		if (stat(ds->exec_path, &sb) == -1) {
			warnx("%s: %s", cmd, strerror(errnum));
			return (EXIT_NOTFOUND);
		}
		/* The file is there: its interpreter is not. */
		interp = interpreter(ds->exec_path, buf, sizeof(buf));
		warnx("%s: bad interpreter %s: %s", cmd,
		    interp != NULL ? interp : "(unknown)", strerror(errnum));
		return (EXIT_NOEXEC);
	case E2BIG:
	case EAGAIN:
	case EIO:
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		warnx("%s: %s", cmd, strerror(errnum));
		return (EXIT_ERR);
	case EACCES:
		if (stat(ds->exec_path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			warnx("%s: is a directory", cmd);
			return (EXIT_NOEXEC);
		}
		/* FALLTHROUGH */
	default:
		warnx("%s: %s", cmd, strerror(errnum));
		return (EXIT_NOEXEC);
	}
}

/* A failed step in a word, for the supervisor's log. */
const char *
detach_step_name(int step)
{
	switch (step) {
	case STEP_FORK:		return ("fork");
	case STEP_CHDIR:	return ("chdir");
	case STEP_STDIO:	return ("standard streams");
	case STEP_FDS:		return ("descriptors");
	case STEP_SIGNALS:	return ("resetting signals");
	case STEP_SETGROUPS:	return ("setgroups");
	case STEP_SETGID:	return ("setgid");
	case STEP_SETUID:	return ("setuid");
	case STEP_VERIFY:	return ("privileges not fully taken");
	case STEP_ENV:		return ("environment");
	case STEP_EXEC:		return ("exec");
	default:		return ("setup");
	}
}

/* Say what failed, in the caller's words, and choose the exit status. */
static int
report(const struct daemon_state *ds, const struct status_msg *msg)
{
	const char *cmd = ds->argv[0];

	errno = msg->value;
	switch (msg->step) {
	case STEP_EXEC:
		return (exec_failure(ds, msg->value));
	case STEP_SETSID:
		warn("setsid");
		break;
	case STEP_FORK:
		warn("fork");
		break;
	case STEP_CHDIR:
		warn("%s: chdir %s", cmd, ds->chdir_dir);
		break;
	case STEP_STDIO:
		warn("%s: standard streams", cmd);
		break;
	case STEP_FDS:
		warn("%s: closing inherited descriptors", cmd);
		break;
	case STEP_PIDFILE:
		warn("%s: writing %s", cmd, ds->pid.path);
		break;
	case STEP_SETGROUPS:
		warn("%s: setgroups", cmd);
		break;
	case STEP_SETGID:
		warn("%s: setgid %ld", cmd, (long)ds->gid);
		break;
	case STEP_SETUID:
		warn("%s: setuid %s", cmd, ds->user_name);
		break;
	case STEP_VERIFY:
		warn("%s: privileges of %s not fully taken", cmd,
		    ds->user_name);
		break;
	case STEP_SIGNALS:
		warn("%s: resetting signals", cmd);
		break;
	case STEP_ENV:
		warn("%s: setting the environment", cmd);
		break;
	case STEP_LOST:
		warnx("%s: the daemon died before it could start", cmd);
		break;
	case STEP_WAIT:
		warn("preparing to wait for readiness");
		break;
	case STEP_DIED:
		if (msg->value == -1)
			warnx("%s: its main process ended before it was ready",
			    cmd);
		else if (WIFSIGNALED(msg->value))
			warnx("%s: killed by SIG%s before it was ready", cmd,
			    options_signame(WTERMSIG(msg->value)));
		else
			warnx("%s: exited with status %d before it was ready",
			    cmd, WEXITSTATUS(msg->value));
		return (EXIT_NOTREADY);
	case STEP_TIMEOUT:
		warnx("%s: not ready after %d s, stopped", cmd,
		    msg->value);
		return (EXIT_NOTREADY);
	case STEP_CLOSED:
		warnx("%s: closed descriptor %d without a newline, stopped",
		    cmd, msg->value);
		return (EXIT_NOTREADY);
	case STEP_NOTIFY_ERRNO:
		warnx("%s: not ready: %s, stopped", cmd, strerror(msg->value));
		return (EXIT_NOTREADY);
	default:
		warnx("%s: unknown failure %d", cmd, msg->step);
		break;
	}
	return (EXIT_ERR);
}

/*
 * Fork the daemon and wait on the status pipe: end-of-file without a
 * failure means the exec succeeded, because the pipe is close-on-exec.
 * Returns the exit status for the caller.
 */
int
detach_start(struct daemon_state *ds)
{
	struct status_msg msg, failure = { 0, 0 };
	char status_text[512] = "";
	pid_t pid, daemon_pid;
	bool ready;
	ssize_t n;
	int fds[2], wstatus, code;

	if (pipe2(fds, O_CLOEXEC) == -1)
		err(EXIT_ERR, "pipe");
	switch (pid = fork()) {
	case -1:
		err(EXIT_ERR, "fork");
	case 0:
		(void)close(fds[0]);
		middle(ds, fds[1]);
	}
	(void)close(fds[1]);
	/* The daemon has its own copies; ours keep only the lock. */
	output_release(ds);
	if (ds->pid.writefd != -1) {
		(void)close(ds->pid.writefd);
		ds->pid.writefd = -1;
	}
	if (ds->ready == READY_FD) {
		(void)close(ds->ready_pipe[0]);
		(void)close(ds->ready_pipe[1]);
	} else if (ds->ready == READY_NOTIFY)
		(void)close(ds->notify_sock);

	/* Until every writer is gone: exec, or the middle process's exit. */
	daemon_pid = -1;
	ready = ds->ready == READY_EXEC;
	for (;;) {
		n = read(fds[0], &msg, sizeof(msg));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			err(EXIT_ERR, "status pipe");
		if (n == 0)
			break;
		if (n != sizeof(msg))
			errx(EXIT_ERR, "status pipe: short message");
		switch (msg.step) {
		case STEP_PID:
		case STEP_MAINPID:
			daemon_pid = msg.value;
			break;
		case STEP_READY:
			ready = true;
			break;
		case STEP_STATUS:
			/* Sent in the same write as its header. */
			n = read(fds[0], status_text, (size_t)msg.value <
			    sizeof(status_text) ? (size_t)msg.value :
			    sizeof(status_text) - 1);
			status_text[n > 0 ? n : 0] = '\0';
			break;
		default:
			/* The first failure is the cause; the rest follow. */
			if (failure.step == 0)
				failure = msg;
		}
	}
	(void)close(fds[0]);
	while (waitpid(pid, &wstatus, 0) == -1)
		if (errno != EINTR)
			err(EXIT_ERR, "waitpid");
	ready_discard(ds);

	if (failure.step == 0 && (daemon_pid == -1 || !ready)) {
		/* Neither an exec nor a report: the daemon was killed. */
		failure.step = STEP_LOST;
	}
	if (failure.step == 0) {
		if (ds->verbose)
			warnx("%s: running as pid %ld", ds->argv[0],
			    (long)daemon_pid);
		return (EXIT_OK);
	}
	code = report(ds, &failure);
	if (code == EXIT_NOTREADY) {
		if (*status_text != '\0')
			warnx("%s: its last status: %s", ds->argv[0],
			    status_text);
		ready_log_tail(ds);
	}
	return (code);
}

/* -f: every step of the daemon's setup except fork and setsid. */
void
detach_foreground(struct daemon_state *ds)
{
	int repfd;

	/* Keep the caller's stderr, close-on-exec, to report a failure. */
	if ((repfd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC,
	    STDERR_FILENO + 1)) == -1)
		err(EXIT_ERR, "dup");
	launch(ds, repfd);
}
