/* control.c: the verbs --status, --stop and --signal, decided by the pidfile's lock, never by a pid alone. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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

/* What the verbs found behind a locked pidfile. */
struct found {
	pid_t	pid;	/* the pid to report: the file's, or the holder's */
	pid_t	to;	/* the holder of the lock, to signal; -1 if none */
	bool	sup;	/* to is a supervisor of -r */
};

static volatile sig_atomic_t timed_out;

static enum probe probe(const char *, bool, int *, pid_t *, struct stat *);
static void	on_alarm(int);
static bool	wait_unlocked(int, long long);
static void	remove_locked(const char *, int);
static int	resolve(const char *, pid_t, const struct stat *, bool,
		    struct found *);
static enum probe locate(const char *, bool, int *, struct stat *,
		    struct found *);
static bool	supervisor(pid_t, int);
static int	holding_supervisor(const char *, pid_t, const struct stat *);
static pid_t	find_supervisor(const char *, const struct stat *);
static void	supervised(const struct found *);
static void	kill_run(const struct found *);
static bool	escalate(const struct daemon_state *, int, const struct stat *,
		    const struct found *, long long);
static int	running(const struct daemon_state *, struct found *);
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
 * Who holds the lock of the file naming pid: pid itself, or its parent,
 * as the supervisor of -r keeps the lock while the file names its run,
 * or failing both, if scan, a supervisor that find_supervisor() finds.
 * 0 with *f filled in, 1 when nobody we may signal holds it, -1 when
 * /proc could not be read, said.  The lock says a daemon lives; /proc
 * says it is the one the file names, and not a process that inherited
 * the lock.
 */
static int
resolve(const char *path, pid_t pid, const struct stat *sb, bool scan,
    struct found *f)
{
	long long ppid;
	pid_t asked, sup;
	int how;

	*f = (struct found){ pid, -1, false };
	asked = pid;
	if ((how = proc_holds(pid, sb)) == 0 &&
	    (ppid = proc_stat_field(pid, 4)) >= 2 && ppid <= INT_MAX) {
		asked = (pid_t)ppid;
		if ((how = proc_holds(asked, sb)) == HOLDS_UNKNOWN)
			how = 0;
	}
	if (how == HOLDS_ERROR) {
		warn("%s: cannot read /proc/%ld/fd", path, (long)asked);
		return (-1);
	}
	if (how != 0) {
		f->to = asked;
		f->sup = supervisor(f->to, how);
		return (0);
	}
	if (!scan || (sup = find_supervisor(path, sb)) == 0)
		return (1);
	if (sup == -1)
		return (-1);
	*f = (struct found){ sup, sup, true };
	return (0);
}

/*
 * Is pid a supervisor holding the pidfile, and not the middle process of
 * a start, which holds it too while it waits for readiness, and leads
 * its session?  1 yes, 0 no, -1 on an error, said.
 */
static int
holding_supervisor(const char *path, pid_t pid, const struct stat *sb)
{
	int how;

	if ((how = proc_holds(pid, sb)) == HOLDS_ERROR) {
		warn("%s: cannot read /proc/%ld/fd", path, (long)pid);
		return (-1);
	}
	return (supervisor(pid, how) && proc_stat_field(pid, 6) != pid);
}

/*
 * The supervisor holding the pidfile, found without the pid in it: from
 * the moment a supervisor reaps a run until it rewrites the file, that
 * names a dead pid.  Every process running a program of our name is
 * asked.  One whose parent is such a supervisor too is a run between
 * fork and exec; the parent is the answer.  Its pid, 0 if none, -1 on
 * an error, said.
 */
static pid_t
find_supervisor(const char *path, const struct stat *sb)
{
	char self[PATH_MAX], them[PATH_MAX];
	const char *ours, *name, *errstr;
	struct dirent *de;
	long long ppid;
	pid_t pid, found;
	DIR *d;
	int r;

	if ((ours = proc_program(0, self, sizeof(self))) == NULL)
		return (0);
	if ((d = opendir("/proc")) == NULL) {
		warn("%s: cannot read /proc", path);
		return (-1);
	}
	for (found = 0; found == 0; ) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				warn("%s: cannot read /proc", path);
				found = -1;
			}
			break;
		}
		pid = (pid_t)strtonum(de->d_name, 2, INT_MAX, &errstr);
		if (errstr != NULL || pid == getpid())
			continue;
		if ((name = proc_program(pid, them, sizeof(them))) != NULL &&
		    strcmp(name, ours) == 0 &&
		    (found = holding_supervisor(path, pid, sb)) == 1)
			found = pid;
	}
	(void)closedir(d);
	if (found > 0 && (ppid = proc_stat_field(found, 4)) >= 2 &&
	    ppid <= INT_MAX) {
		if ((r = holding_supervisor(path, (pid_t)ppid, sb)) != 0)
			found = r == 1 ? (pid_t)ppid : -1;
	}
	return (found);
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
		if ((r = resolve(path, pid, sb, tries == 1, f)) == -1) {
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
 * Is pid, which holds the pidfile as proc_holds() said, a supervisor of
 * -r?  Proof enough: it holds the very file open for writing, as a
 * supervisor keeps its pidfiles to rewrite them, and as no verb, no
 * command (the descriptor is close-on-exec) and nothing a command leaves
 * behind ever does; and it runs a program of our name, so that a command
 * that opened its own pidfile is not one.  The name, not the file: after
 * an upgrade the supervisor runs a deleted file, and the verbs may come
 * from another directory.  Faking both takes the lock and write access to
 * the file, which only the one who started it has.
 */
static bool
supervisor(pid_t pid, int how)
{
	char self[PATH_MAX], them[PATH_MAX];
	const char *ours, *theirs;

	if (how <= 0 || (how & HOLDS_WRITE) == 0)
		return (false);
	ours = proc_program(0, self, sizeof(self));
	theirs = proc_program(pid, them, sizeof(them));
	return (ours != NULL && theirs != NULL && strcmp(ours, theirs) == 0);
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
		    options_signame(ds->signal), (long)to);
	return (EXIT_OK);
}

/*
 * --restart: ask the supervisor of -r to start its command again now,
 * reviving one that gave up.  A real-time signal, so that none of the
 * signals it passes on to the command is taken from it.
 */
int
control_restart(struct daemon_state *ds)
{
	struct found f;
	int status;

	if ((status = running(ds, &f)) != 0)
		return (status);
	/* Only a supervisor, a daemonize, knows the signal. */
	if (!f.sup) {
		warnx("%s: not a supervised daemon (-r): nothing signalled",
		    ds->pid.path);
		return (EXIT_ERR);
	}
	if (kill(f.to, SIGRTMIN + 1) == -1) {
		warn("%s: kill %ld", ds->pid.path, (long)f.to);
		return (EXIT_ERR);
	}
	return (EXIT_OK);
}
