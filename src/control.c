/* control.c: the verbs --status, --stop, --signal and --restart, decided by the pidfile's lock, never by a pid alone. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

#define KILL_SECONDS	5	/* how long SIGKILL gets to free the lock */
#define LOCATE_TRIES	50	/* 10 ms apart: how long a lock is busy */

enum probe {
	PROBE_RUNNING,	/* locked: a daemon lives */
	PROBE_STALE,	/* there, unlocked: we now hold the lock */
	PROBE_ABSENT,
	PROBE_UNKNOWN,	/* could not tell; said why */
};

static volatile sig_atomic_t timed_out;

static enum probe probe(const char *, bool, int *, pid_t *, struct stat *);
static void	on_alarm(int);
static bool	wait_unlocked(int, long long);
static void	remove_locked(const char *, int);
static enum probe locate(const char *, bool, int *, struct stat *,
		    struct found *);
static void	supervised(const struct found *);
static void	kill_run(const struct found *);
static bool	escalate(const struct daemon_state *, int, const struct stat *,
		    const struct found *, long long);
static int	running(const struct daemon_state *, struct found *);
static int	ask(struct daemon_state *, const char *, pid_t *);
static int	plain(int);
static int	signal_found(const struct daemon_state *, int,
		    const struct found *);

/*
 * Try the lock without waiting.  A lock we get means nobody holds it:
 * the file is stale, whatever pid it names.  Before acting on it, the
 * file must be ours, as a start demands: else its owner chooses whom
 * we signal.
 */
static enum probe
probe(const char *path, bool act, int *fdp, pid_t *pidp, struct stat *sb)
{
	int fd;

	*fdp = -1;
	*pidp = -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY);
	if (fd == -1) {
		if (errno == ENOENT)
			return (PROBE_ABSENT);
		warn("%s", path);
		return (PROBE_UNKNOWN);
	}
	if (fstat(fd, sb) == -1 || !S_ISREG(sb->st_mode)) {
		warnx("%s: not a regular file", path);
		(void)close(fd);
		return (PROBE_UNKNOWN);
	}
	/* Removed since we opened it: another --stop, or the daemon. */
	if (sb->st_nlink == 0) {
		(void)close(fd);
		return (PROBE_ABSENT);
	}
	if (act && (sb->st_uid != geteuid() || sb->st_nlink != 1)) {
		warnx("%s: not ours alone (uid %ld, %ld links), not trusted",
		    path, (long)sb->st_uid, (long)sb->st_nlink);
		(void)close(fd);
		return (PROBE_UNKNOWN);
	}
	*fdp = fd;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return (PROBE_STALE);
	if (errno != EWOULDBLOCK) {
		warn("%s: flock", path);
		(void)close(fd);
		*fdp = -1;
		return (PROBE_UNKNOWN);
	}
	*pidp = pidfile_read(fd);
	return (PROBE_RUNNING);
}

static void
on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/*
 * Block on the lock until it is ours or the time is up: no polling.  The
 * timer repeats, so an expiry just before flock(2) still interrupts it,
 * and SIGALRM is unblocked in case our caller blocked it.
 */
static bool
wait_unlocked(int fd, long long seconds)
{
	struct itimerval it = { { 0, 100 * 1000 }, { (time_t)seconds, 0 } };
	const struct itimerval off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa;
	sigset_t set;
	bool got;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: flock must return */
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGALRM, &sa, NULL);
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGALRM);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	timed_out = 0;
	(void)setitimer(ITIMER_REAL, &it, NULL);
	got = false;
	while (!timed_out) {
		if (flock(fd, LOCK_EX) == 0) {
			got = true;
			break;
		}
		if (errno != EINTR)
			break;
	}
	(void)setitimer(ITIMER_REAL, &off, NULL);
	return (got);
}

/* Remove the pidfile only if the name is still the file we locked. */
static void
remove_locked(const char *path, int fd)
{
	struct stat fsb, psb;

	if (fstat(fd, &fsb) == 0 && lstat(path, &psb) == 0 &&
	    fsb.st_dev == psb.st_dev && fsb.st_ino == psb.st_ino)
		(void)unlink(path);
}

/*
 * Probe the pidfile and, when it is locked and names a pid, find who
 * holds the lock: f->to, or -1 if nobody we may signal.  That may be for
 * a moment only: another --stop removing the file of a daemon it has
 * stopped, a --status probe, a start about to write its pid.  So probe
 * again for a while before saying so: a daemon stopped meanwhile is
 * stopped, and no error.
 */
static enum probe
locate(const char *path, bool act, int *fdp, struct stat *sb,
    struct found *f)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	enum probe p;
	pid_t pid;
	int tries, r;

	for (tries = 1; ; tries++) {
		p = probe(path, act, fdp, &pid, sb);
		*f = (struct found){ pid, -1, false };
		if (p != PROBE_RUNNING || pid <= 0)
			return (p);
		/* A supervisor is found the first time, if there is one. */
		if ((r = holder_resolve(path, pid, sb, tries == 1, f)) == -1) {
			(void)close(*fdp);
			*fdp = -1;
			return (PROBE_UNKNOWN);
		}
		if (r == 0 || tries == LOCATE_TRIES)
			return (p);
		(void)close(*fdp);
		(void)nanosleep(&pause, NULL);
	}
}

/*
 * For a service under -r, a second line: its supervisor's state, from
 * the supervisor's process title when that had room for it, and its run
 * with the run's uptime.
 */
static void
supervised(const struct found *f)
{
	char title[512];
	const char *state;
	pid_t child;

	if (!f->sup)
		return;
	state = proc_title(f->to, title, sizeof(title));
	printf("supervised by %ld%s%s", (long)f->to,
	    *state != '\0' ? ": " : "", state);
	if ((child = proc_run_of(f->to, f->pid)) != -1)
		printf(", child %ld up %lld s", (long)child, proc_age(child));
	printf("\n");
}

/*
 * Before a supervisor gets SIGKILL: the process group of its run first,
 * which its death would only send SIGTERM, and which may ignore that.
 * Only a child of that very supervisor, leading its own group, is hit.
 */
static void
kill_run(const struct found *f)
{
	pid_t child;

	if (f->sup && (child = proc_run_of(f->to, f->pid)) != -1)
		(void)kill(-child, SIGKILL);
}

/*
 * Signal the holder of the lock that f found, if any.  Returns the pid
 * signalled (a supervisor, for -r), or -1.
 */
static int
signal_found(const struct daemon_state *ds, int sig, const struct found *f)
{
	if (f->pid <= 0) {
		warnx("%s: locked, but names no pid: nothing signalled",
		    ds->pid.path);
		return (-1);
	}
	if (f->to == -1) {
		warnx("%s: locked, but pid %ld does not hold it: "
		    "nothing signalled", ds->pid.path, (long)f->pid);
		return (-1);
	}
	if (kill(f->to, sig) == -1 && errno != ESRCH) {
		warn("%s: kill %ld", ds->pid.path, (long)f->to);
		return (-1);
	}
	return (f->to);
}

int
control_status(struct daemon_state *ds)
{
	struct found f;
	struct stat sb;
	int fd, status;

	switch (locate(ds->pid.path, false, &fd, &sb, &f)) {
	case PROBE_RUNNING:
		/*
		 * A child that kept the lock when the daemon died is not
		 * it; a supervisor holding it for the child it names is.
		 */
		if (f.pid > 0 && f.to == -1) {
			warnx("%s: locked, but pid %ld does not hold it",
			    ds->pid.path, (long)f.pid);
			status = STATUS_UNKNOWN;
		} else if (f.pid > 0) {
			printf("%ld\n", (long)f.pid);
			supervised(&f);
			status = STATUS_RUNNING;
		} else {
			printf("running\n");
			status = STATUS_RUNNING;
		}
		break;
	case PROBE_STALE:
		warnx("%s: not running (stale pidfile)", ds->pid.path);
		status = STATUS_DEAD;
		break;
	case PROBE_ABSENT:
		warnx("%s: not running", ds->pid.path);
		status = STATUS_STOPPED;
		break;
	default:
		status = STATUS_UNKNOWN;
		break;
	}
	if (fd != -1)
		(void)close(fd);
	return (status);
}

/*
 * The -t of --stop ran out: SIGKILL, to a supervisor's run first.  The
 * holder found before the first signal gets it, not one found from the
 * pidfile again: that names a run that may be dead now, and a supervisor
 * may be gone with it on its own, which is what --stop asked for.  What
 * counts is that the lock comes free.
 */
static bool
escalate(const struct daemon_state *ds, int fd, const struct stat *sb,
    const struct found *f, long long seconds)
{
	int how;

	warnx("%s: pid %ld still running after %lld s, sending SIGKILL",
	    ds->pid.path, (long)f->pid, seconds);
	kill_run(f);
	/* Once it is gone, its pid may be another process's. */
	if ((how = proc_holds(f->to, sb)) == HOLDS_ERROR)
		warn("%s: cannot read /proc/%ld/fd", ds->pid.path,
		    (long)f->to);
	else if (how != 0 && kill(f->to, SIGKILL) == -1 && errno != ESRCH)
		warn("%s: kill %ld", ds->pid.path, (long)f->to);
	if (wait_unlocked(fd, KILL_SECONDS))
		return (true);
	warnx("%s: pid %ld could not be stopped", ds->pid.path, (long)f->pid);
	return (false);
}

/*
 * Signal the daemon, wait for the lock, escalate to SIGKILL, and remove
 * the pidfile once the lock is ours: only then is the name ours to take.
 */
int
control_stop(struct daemon_state *ds)
{
	struct found f;
	struct stat sb;
	long long seconds;
	int fd;

	switch (locate(ds->pid.path, true, &fd, &sb, &f)) {
	case PROBE_RUNNING:
		break;
	case PROBE_STALE:
		remove_locked(ds->pid.path, fd);
		(void)close(fd);
		/* FALLTHROUGH */
	case PROBE_ABSENT:
		if (ds->verbose)
			warnx("%s: not running", ds->pid.path);
		return (EXIT_OK);
	case PROBE_UNKNOWN:
		return (EXIT_ERR);
	}
	if (signal_found(ds, ds->signal, &f) == -1) {
		(void)close(fd);
		return (EXIT_ERR);
	}
	seconds = ds->timeout > 0 ? ds->timeout : 10;
	if (!wait_unlocked(fd, seconds) &&
	    !escalate(ds, fd, &sb, &f, seconds)) {
		(void)close(fd);
		return (EXIT_ERR);
	}
	remove_locked(ds->pid.path, fd);
	(void)close(fd);
	if (ds->verbose)
		warnx("%s: pid %ld stopped", ds->pid.path, (long)f.pid);
	return (EXIT_OK);
}

/*
 * For --signal and --restart: 0 with what locate() found when a daemon
 * holds the lock, else the status to exit with.
 */
static int
running(const struct daemon_state *ds, struct found *f)
{
	struct stat sb;
	int fd;

	switch (locate(ds->pid.path, true, &fd, &sb, f)) {
	case PROBE_RUNNING:
		(void)close(fd);
		return (0);
	case PROBE_STALE:
		(void)close(fd);
		/* FALLTHROUGH */
	case PROBE_ABSENT:
		warnx("%s: not running", ds->pid.path);
		return (STATUS_STOPPED);
	default:
		return (EXIT_ERR);
	}
}

int
control_signal(struct daemon_state *ds)
{
	struct found f;
	pid_t to;
	int status;

	if ((status = running(ds, &f)) != 0)
		return (status);
	if ((to = signal_found(ds, ds->signal, &f)) == -1)
		return (EXIT_ERR);
	if (ds->verbose)
		warnx("%s: sent SIG%s to pid %ld", ds->pid.path,
		    value_signame(ds->signal), (long)to);
	return (EXIT_OK);
}

/*
 * The verbs only a supervisor of -r takes, asked over its control
 * socket, which answers with the outcome and its reason.
 */
static int
ask(struct daemon_state *ds, const char *request, pid_t *pid)
{
	struct found f;
	int status;

	if ((status = running(ds, &f)) != 0)
		return (status);
	if (!f.sup) {
		warnx("%s: not a supervised daemon (-r): nothing asked",
		    ds->pid.path);
		return (EXIT_ERR);
	}
	return (channel_ask(f.to, ds->pid.path, request, ds->timeout, pid));
}

/* A verb's exit status for what channel_ask() returned. */
static int
plain(int code)
{
	return (code == CHANNEL_NONE || code == CHANNEL_LATE ? EXIT_ERR :
	    code);
}

/* --restart: the command again now, reviving one that gave up. */
int
control_restart(struct daemon_state *ds)
{
	pid_t pid;

	return (plain(ask(ds, "restart", &pid)));
}

/*
 * --reload: a new run, and once it is ready the old one's end; the new
 * pid on stdout.  Leaving early does not stop the supervisor.
 */
int
control_reload(struct daemon_state *ds)
{
	char request[64];
	pid_t pid;
	int code;

	(void)snprintf(request, sizeof(request), "reload %lld", ds->settle);
	code = plain(ask(ds, request, &pid));
	if ((code == EXIT_OK || code == EXIT_KILLED) && pid > 0) {
		printf("%ld\n", (long)pid);
		if (ds->verbose)
			warnx("%s: reloaded: pid %ld", ds->pid.path,
			    (long)pid);
	}
	return (code);
}

/*
 * --upgrade: the supervisor execs a new daemonize in its own process;
 * the image that supervises afterwards gives the verdict.  4: not
 * upgraded, the old image supervises on; 5: no verdict in time.
 */
int
control_upgrade(struct daemon_state *ds)
{
	char request[PATH_MAX + 16];
	pid_t pid;
	int code;

	(void)snprintf(request, sizeof(request), "upgrade %s",
	    ds->upgrade_path != NULL ? ds->upgrade_path : "");
	code = ask(ds, request, &pid);
	if (code == CHANNEL_NONE) {
		warnx("%s: not upgraded: the supervisor has no control socket "
		    "(it predates --upgrade)", ds->pid.path);
		return (EXIT_NOTREADY);
	}
	if (code == CHANNEL_LATE)
		return (EXIT_BUSY);
	/* An older supervisor that does not know the request refuses it. */
	if (code == EXIT_USAGE)
		return (EXIT_NOTREADY);
	if (code == EXIT_OK && ds->verbose)
		warnx("%s: upgraded; child %ld supervised on", ds->pid.path,
		    (long)pid);
	return (code);
}
