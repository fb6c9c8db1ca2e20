/* ready.c: times a launch until its daemon is ready, then reaps all it left. */

#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_NS		(20 * 1000)		/* between two readiness checks */
#define REAP_NS		(100 * 1000)		/* between two reaping rounds */
#define KILL_AFTER_NS	(1000LL * 1000 * 1000)	/* then SIGKILL what is left */

static volatile sig_atomic_t interrupted;

static void	usage(void) __attribute__((__noreturn__));
static void	on_signal(int);
static int64_t	now_ns(void);
static void	pause_ns(long);
static pid_t	read_pid(const char *);
static bool	runs(pid_t, const char *);
static void	kill_children(void);
static bool	reap_all(pid_t, pid_t, int64_t);

static void
usage(void)
{
	(void)fprintf(stderr, "usage: ready [-k pidfile] [-n nofile] "
	    "[-t ms] pidfile comm launcher [arg ...]\n");
	exit(2);
}

static void
on_signal(int sig)
{
	interrupted = sig;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		err(1, "clock_gettime");
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

static void
pause_ns(long ns)
{
	const struct timespec ts = { 0, ns };

	(void)nanosleep(&ts, NULL);
}

/* The pid a pidfile names, or -1 while it is missing, empty or partial. */
static pid_t
read_pid(const char *path)
{
	const char *errstr;
	char buf[32];
	ssize_t n;
	pid_t pid;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return (-1);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	pid = (pid_t)strtonum(buf, 2, INT_MAX, &errstr);
	return (errstr == NULL ? pid : -1);
}

/* Whether pid has already become the command: its comm is the command's. */
static bool
runs(pid_t pid, const char *comm)
{
	char path[64], buf[32];
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (false);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return (false);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return (strcmp(buf, comm) == 0);
}

/*
 * As the subreaper, every descendant whose parent died is our child:
 * killing our children by pid leaves nothing behind.
 */
static void
kill_children(void)
{
	char path[64];
	FILE *fp;
	long pid;

	(void)snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children",
	    (long)getpid(), (long)getpid());
	if ((fp = fopen(path, "re")) == NULL)
		return;
	while (fscanf(fp, "%ld", &pid) == 1)
		if (pid > 1)
			(void)kill((pid_t)pid, SIGKILL);
	(void)fclose(fp);
}

/*
 * Kill the daemon (and its supervisor, if any) and reap every process
 * the launch left, so that nothing stays a zombie under a PID 1 that
 * never reaps.  Bounded by limit; false if something survived it.
 */
static bool
reap_all(pid_t daemon, pid_t super, int64_t limit)
{
	int64_t start;
	bool killed;
	pid_t pid;

	if (daemon > 1)
		(void)kill(daemon, SIGTERM);
	if (super > 1)
		(void)kill(super, SIGTERM);
	start = now_ns();
	killed = false;
	for (;;) {
		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			continue;
		if (pid == -1 && errno == ECHILD)
			return (true);
		if (!killed && now_ns() - start > KILL_AFTER_NS) {
			kill_children();
			killed = true;
		}
		if (now_ns() - start > limit)
			return (false);
		pause_ns(REAP_NS);
	}
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	struct rlimit rl;
	const char *errstr, *pidfile, *comm, *superfile;
	int64_t t0, tret, tready, limit;
	pid_t launcher, daemon, super;
	int ch, devnull, status;
	long long nofile;
	bool ready;

	superfile = NULL;
	nofile = -1;
	status = 0;
	limit = 5000LL * 1000 * 1000;
	while ((ch = getopt(argc, argv, "+k:n:t:")) != -1) {
		switch (ch) {
		case 'k':
			superfile = optarg;
			break;
		case 'n':
			nofile = strtonum(optarg, 64, INT_MAX, &errstr);
			if (errstr != NULL)
				errx(2, "-n %s: %s", optarg, errstr);
			break;
		case 't':
			limit = strtonum(optarg, 1, 600000, &errstr) *
			    1000 * 1000;
			if (errstr != NULL)
				errx(2, "-t %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 3)
		usage();
	pidfile = argv[0];
	comm = argv[1];

	if (nofile != -1) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			err(1, "getrlimit");
		rl.rlim_cur = (rlim_t)nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			err(1, "setrlimit %lld", nofile);
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		err(1, "PR_SET_CHILD_SUBREAPER");
	/* Let the short pauses of the poll be short. */
	(void)prctl(PR_SET_TIMERSLACK, 1UL);
	/* No SA_RESTART: an interrupt must end waitpid(2) and the poll. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1)
		err(1, "sigaction");
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		err(1, "/dev/null");

	/* A daemon that kept our stdout would hold the results file open. */
	t0 = now_ns();
	switch (launcher = fork()) {
	case -1:
		err(1, "fork");
	case 0:
		if (dup2(devnull, STDIN_FILENO) == -1 ||
		    dup2(devnull, STDOUT_FILENO) == -1)
			_exit(1);
		(void)execv(argv[2], argv + 2);
		warn("%s", argv[2]);
		_exit(127);
	}
	while (waitpid(launcher, &status, 0) == -1) {
		if (errno != EINTR)
			err(1, "waitpid");
		if (interrupted)
			break;
	}
	tret = now_ns();

	ready = false;
	daemon = -1;
	if (!interrupted && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		for (;;) {
			if ((daemon = read_pid(pidfile)) != -1 &&
			    runs(daemon, comm)) {
				ready = true;
				break;
			}
			if (interrupted || now_ns() - t0 > limit)
				break;
			pause_ns(POLL_NS);
		}
	} else if (!interrupted)
		warnx("%s exited with %d", argv[2], WIFEXITED(status) ?
		    WEXITSTATUS(status) : 128 + WTERMSIG(status));
	tready = now_ns();

	daemon = read_pid(pidfile);
	super = superfile != NULL ? read_pid(superfile) : -1;
	if (!reap_all(daemon, super, limit))
		warnx("%s: some processes outlived the kill", argv[2]);
	/* A stale pidfile could name an unrelated process later. */
	(void)unlink(pidfile);
	if (superfile != NULL)
		(void)unlink(superfile);
	if (interrupted)
		return (128 + interrupted);
	if (!ready) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			warnx("%s: not ready within %lld ms", argv[2],
			    (long long)(limit / 1000000));
		return (1);
	}
	(void)printf("%lld %lld\n", (long long)((tret - t0) / 1000),
	    (long long)((tready - t0) / 1000));
	return (0);
}
