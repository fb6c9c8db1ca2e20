/* floor-min.c: the least a truthful daemonizer can do, for bench/launch. */

#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/*
 * Everything a daemon started by daemonize gets, done once and plainly:
 * fork, setsid, fork, chdir("/"), umask, /dev/null on 0-2 from one open,
 * every other descriptor closed, the pidfile locked and written, exec;
 * the caller learns the outcome from a close-on-exec pipe and exits at
 * its end-of-file.  No stdio anywhere, and the caller never waits for
 * the middle process: it is reparented and reaped by whoever reaps
 * orphans.  What it does not do, and daemonize does: reset signals and
 * the blocked mask, check the pidfile's owner and directory, put the
 * lock on descriptor 3, log files, -u, readiness protocols.
 */

/* The step that failed, on the status pipe; its errno follows. */
enum step { STEP_SETSID = 1, STEP_FORK, STEP_CHDIR, STEP_STDIO, STEP_FDS,
    STEP_PIDFILE, STEP_LOCKED, STEP_EXEC };

struct msg {
	int	step;
	int	err;
};

/* The pidfile once locked, for a failed exec to remove. */
static const char *held;

static void	say(const char *, const char *, int);
static int	close_gap(unsigned int, unsigned int);
static void	fail(int, int) __attribute__((__noreturn__));
static void	daemon_exec(const char *, char **, int)
		    __attribute__((__noreturn__));

/* A message on stderr with write(2), so that no stdio is linked in. */
static void
say(const char *what, const char *why, int errnum)
{
	const char *s;
	char buf[512];
	size_t n, len;

	n = 0;
	buf[0] = '\0';
	for (int i = 0; i < 4; i++) {
		s = i == 0 ? "floor-min: " : i == 1 ? what : i == 2 ? ": " :
		    errnum != 0 ? strerror(errnum) : why != NULL ? why :
		    "failed";
		len = strlen(s);
		if (len > sizeof(buf) - 2 - n)
			len = sizeof(buf) - 2 - n;
		memcpy(buf + n, s, len);
		n += len;
	}
	buf[n++] = '\n';
	(void)write(STDERR_FILENO, buf, n);
}

/* Close lo..hi, if that is not empty: close_range(2), one call. */
static int
close_gap(unsigned int lo, unsigned int hi)
{
	if (lo > hi)
		return (0);
	return (close_range(lo, hi, 0));
}

static void
fail(int repfd, int step)
{
	struct msg m = { step, errno };

	if (held != NULL)
		(void)unlink(held);
	(void)write(repfd, &m, sizeof(m));
	_exit(1);
}

/*
 * The daemon.  The lock descriptor is inherited across exec, the status
 * pipe is close-on-exec; every other number is closed around those two,
 * in at most three calls (one when they are 3 and 4, as usual).
 */
static void
daemon_exec(const char *pidfile, char **argv, int repfd)
{
	char buf[16], *p;
	unsigned int pid;
	unsigned int lo, hi;
	int fd, lockfd;
	size_t len;

	/* A caller that closed 0-2 got the pipe there: keep it clear. */
	if (repfd <= 2 && (repfd = fcntl(repfd, F_DUPFD_CLOEXEC, 3)) == -1)
		_exit(1);
	if (chdir("/") == -1)
		fail(repfd, STEP_CHDIR);
	(void)umask(022);
	if ((fd = open("/dev/null", O_RDWR | O_NOCTTY)) == -1)
		fail(repfd, STEP_STDIO);
	if ((fd != 0 && dup2(fd, 0) == -1) || (fd != 1 && dup2(fd, 1) == -1) ||
	    (fd != 2 && dup2(fd, 2) == -1))
		fail(repfd, STEP_STDIO);
	if (fd > 2)
		(void)close(fd);

	if ((lockfd = open(pidfile, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY,
	    0644)) == -1)
		fail(repfd, STEP_PIDFILE);
	if (flock(lockfd, LOCK_EX | LOCK_NB) == -1)
		fail(repfd, errno == EWOULDBLOCK ? STEP_LOCKED : STEP_PIDFILE);
	held = pidfile;
	p = buf + sizeof(buf);
	*--p = '\n';
	pid = (unsigned int)getpid();
	do
		*--p = (char)('0' + pid % 10);
	while ((pid /= 10) != 0);
	len = (size_t)(buf + sizeof(buf) - p);
	/* Write, then cut: a stale longer pid must not leave its tail. */
	if (pwrite(lockfd, p, len, 0) != (ssize_t)len ||
	    ftruncate(lockfd, (off_t)len) == -1)
		fail(repfd, STEP_PIDFILE);

	lo = (unsigned int)(lockfd < repfd ? lockfd : repfd);
	hi = (unsigned int)(lockfd < repfd ? repfd : lockfd);
	if (close_gap(3, lo - 1) == -1 || close_gap(lo + 1, hi - 1) == -1 ||
	    close_gap(hi + 1, ~0U) == -1)
		fail(repfd, STEP_FDS);
	(void)execv(argv[0], argv);
	fail(repfd, STEP_EXEC);
}

int
main(int argc, char *argv[])
{
	static const char *const steps[] = { "", "setsid", "fork", "chdir /",
	    "/dev/null", "descriptors", "pidfile", "pidfile",
	    "exec" };
	struct msg m;
	ssize_t n;
	int fds[2];

	if (argc < 3 || argv[2][0] != '/') {
		say("usage", "floor-min pidfile /path/to/command [arg ...]", 0);
		_exit(2);
	}
	if (pipe2(fds, O_CLOEXEC) == -1) {
		say("pipe2", NULL, errno);
		_exit(1);
	}
	switch (fork()) {
	case -1:
		say("fork", NULL, errno);
		_exit(1);
	case 0:
		(void)close(fds[0]);
		if (setsid() == -1)
			fail(fds[1], STEP_SETSID);
		switch (fork()) {
		case -1:
			fail(fds[1], STEP_FORK);
		case 0:
			daemon_exec(argv[1], argv + 2, fds[1]);
		}
		_exit(0);
	}
	(void)close(fds[1]);

	/* End-of-file: the daemon has executed, and the middle has gone. */
	while ((n = read(fds[0], &m, sizeof(m))) == -1 && errno == EINTR)
		continue;
	if (n == 0)
		_exit(0);
	if (n != (ssize_t)sizeof(m)) {
		say("status pipe", "short message", n == -1 ? errno : 0);
		_exit(1);
	}
	if (m.step == STEP_LOCKED) {
		say(argv[1], "already running", 0);
		_exit(3);
	}
	say(m.step > 0 && m.step <= STEP_EXEC ? steps[m.step] : "setup",
	    NULL, m.err);
	if (m.step == STEP_EXEC)
		_exit(m.err == ENOENT ? 127 : 126);
	_exit(1);
}
