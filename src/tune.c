/* tune.c: the daemon's priorities: OOM score, nice and autogroup, I/O class, scheduler, CPU affinity; parsed, checked before the fork, set in the daemon. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#ifdef __linux__
#include <linux/capability.h>
#endif
#include <sys/resource.h>
#include <sys/syscall.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

/* <linux/ioprio.h> is not in every distribution's headers. */
#define IOPRIO_CLASS_RT		1
#define IOPRIO_CLASS_BE		2
#define IOPRIO_CLASS_IDLE	3
#define IOPRIO_CLASS_SHIFT	13
#define IOPRIO_WHO_PROCESS	1

static const struct {
	const char	*name;
	int		 number;
} ioclasses[] = {
	{ "realtime", IOPRIO_CLASS_RT },
	{ "best-effort", IOPRIO_CLASS_BE },
	{ "idle", IOPRIO_CLASS_IDLE },
}, policies[] = {
	{ "other", SCHED_OTHER },
	{ "batch", SCHED_BATCH },
	{ "idle", SCHED_IDLE },
	{ "fifo", SCHED_FIFO },
	{ "rr", SCHED_RR },
};

static int	number(const char *, const char *, long long, long long);
static bool	cpu_range(const char *, size_t, long long, long long *,
		    long long *);
static bool	needs_nice(int);
static bool	needs_rtprio(int, int);
static int	write_proc(const char *, int);
static int	autogroup(const struct daemon_state *);

/* A number from min to max, for the option opt; else a usage error. */
static int
number(const char *opt, const char *arg, long long min, long long max)
{
	const char *errstr;
	long long v;

	v = value_number(arg, min, max, &errstr);
	if (errstr != NULL)
		errx(EXIT_USAGE, "%s %s: %s (%lld to %lld)", opt, arg, errstr,
		    min, max);
	return ((int)v);
}

void
tune_oom(struct daemon_state *ds, char *arg)
{
	ds->oom_arg = arg;
	ds->oom = number("--oom-score-adj", arg, -1000, 1000);
}

/* Absolute, unlike nice(1): the kernel would clamp 40 to 19 silently. */
void
tune_nice(struct daemon_state *ds, char *arg)
{
	ds->nice_arg = arg;
	ds->nice = number("-N", arg, -20, 19);
}

/* CLASS[:LEVEL]: levels 0 (first) to 7; idle has none. */
void
tune_ionice(struct daemon_state *ds, char *arg)
{
	const char *colon;
	size_t i, len;

	ds->ionice_arg = arg;
	colon = strchr(arg, ':');
	len = colon != NULL ? (size_t)(colon - arg) : strlen(arg);
	for (i = 0; i < sizeof(ioclasses) / sizeof(ioclasses[0]); i++)
		if (strlen(ioclasses[i].name) == len &&
		    strncmp(ioclasses[i].name, arg, len) == 0)
			break;
	if (i == sizeof(ioclasses) / sizeof(ioclasses[0]))
		errx(EXIT_USAGE, "-I %s: no such class (idle, best-effort, "
		    "realtime)", arg);
	ds->ioclass = ioclasses[i].number;
	ds->iolevel = 4;
	if (colon == NULL)
		return;
	if (ds->ioclass == IOPRIO_CLASS_IDLE)
		errx(EXIT_USAGE, "-I %s: the idle class has no level", arg);
	/* The kernel took 8 and above for years, and used 7. */
	ds->iolevel = number("-I", colon + 1, 0, 7);
}

/* POLICY[:PRIORITY]: fifo and rr need one, from 1 to 99; others none. */
void
tune_scheduler(struct daemon_state *ds, char *arg)
{
	const char *colon;
	size_t i, len;
	int max;

	ds->sched_arg = arg;
	colon = strchr(arg, ':');
	len = colon != NULL ? (size_t)(colon - arg) : strlen(arg);
	for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		if (strlen(policies[i].name) == len &&
		    strncmp(policies[i].name, arg, len) == 0)
			break;
	if (i == sizeof(policies) / sizeof(policies[0]))
		errx(EXIT_USAGE, "--scheduler %s: no such policy (other, batch, "
		    "idle, fifo, rr)", arg);
	ds->policy = policies[i].number;
	ds->priority = 0;
	if (ds->policy != SCHED_FIFO && ds->policy != SCHED_RR) {
		if (colon != NULL)
			errx(EXIT_USAGE, "--scheduler %s: only fifo and rr "
			    "take a priority", arg);
		return;
	}
	if (colon == NULL)
		errx(EXIT_USAGE, "--scheduler %s: needs a priority, as in "
		    "%s:10", arg, arg);
	if ((max = sched_get_priority_max(ds->policy)) == -1)
		max = 99;
	ds->priority = number("--scheduler", colon + 1, 1, max);
}

/* One "N" or "N-M" of a CPU list, each below ncpu. */
static bool
cpu_range(const char *p, size_t len, long long ncpu, long long *lo,
    long long *hi)
{
	const char *errstr;
	char num[16], *dash;

	if (len == 0 || len >= sizeof(num))
		return (false);
	memcpy(num, p, len);
	num[len] = '\0';
	if ((dash = strchr(num, '-')) != NULL)
		*dash++ = '\0';
	*lo = value_number(num, 0, ncpu - 1, &errstr);
	if (errstr != NULL)
		return (false);
	*hi = *lo;
	if (dash != NULL) {
		*hi = value_number(dash, 0, ncpu - 1, &errstr);
		if (errstr != NULL)
			return (false);
	}
	return (*lo <= *hi);
}

/* "0-3,8": CPUs and ranges of them, each one that exists here. */
void
tune_affinity(struct daemon_state *ds, char *arg)
{
	long long lo, hi, c, ncpu;
	const char *p;
	size_t len;

	ds->cpus_arg = arg;
	if (ds->cpus == NULL && (ds->cpus = malloc(sizeof(*ds->cpus))) == NULL)
		err(EXIT_ERR, "malloc");
	CPU_ZERO(ds->cpus);
	ncpu = sysconf(_SC_NPROCESSORS_CONF);
	if (ncpu < 1 || ncpu > CPU_SETSIZE)
		ncpu = CPU_SETSIZE;
	for (p = arg; ; p += len + 1) {
		len = strcspn(p, ",");
		if (!cpu_range(p, len, ncpu, &lo, &hi))
			errx(EXIT_USAGE, "--cpu-affinity %s: not a list of CPUs "
			    "from 0 to %lld, as in 0-3,8", arg, ncpu - 1);
		for (c = lo; c <= hi; c++)
			CPU_SET((size_t)c, ds->cpus);
		if (p[len] == '\0')
			break;
	}
}

/* Lowering the nice value takes CAP_SYS_NICE or RLIMIT_NICE's leave. */
static bool
needs_nice(int nice)
{
	struct rlimit rl;
	int cur;

	errno = 0;
	cur = getpriority(PRIO_PROCESS, 0);
	if (errno != 0 || nice >= cur)
		return (false);
	if (getrlimit(RLIMIT_NICE, &rl) == 0 &&
	    (rl.rlim_cur == RLIM_INFINITY || (rlim_t)(20 - nice) <=
	    rl.rlim_cur))
		return (false);
#ifdef CAP_SYS_NICE
	return (!caps_effective(CAP_SYS_NICE));
#else
	return (geteuid() != 0);
#endif
}

/* The kernel's rule for a real-time policy without CAP_SYS_NICE. */
static bool
needs_rtprio(int policy, int priority)
{
	struct sched_param sp;
	struct rlimit rl;
	int cur;

	if (policy != SCHED_FIFO && policy != SCHED_RR)
		return (false);
#ifdef CAP_SYS_NICE
	if (caps_effective(CAP_SYS_NICE))
		return (false);
#endif
	if (getrlimit(RLIMIT_RTPRIO, &rl) == -1 ||
	    (cur = sched_getscheduler(0)) == -1 || sched_getparam(0, &sp) == -1)
		return (false);
	if (rl.rlim_cur == RLIM_INFINITY)
		return (false);
	if (cur != policy && rl.rlim_cur == 0)
		return (true);
	return (priority > sp.sched_priority &&
	    (rlim_t)priority > rl.rlim_cur);
}

/*
 * Before the fork: what the kernel will certainly refuse the daemon,
 * which inherits our credentials, limits and capabilities.  An OOM
 * score below the lowest one granted before is known to the kernel
 * alone, so that one is left to the daemon to report.
 */
void
tune_check(const struct daemon_state *ds)
{
	if (ds->nice_arg != NULL && needs_nice(ds->nice))
		errx(EXIT_ERR, "-N %s: needs root or CAP_SYS_NICE",
		    ds->nice_arg);
#if defined(CAP_SYS_NICE) && defined(CAP_SYS_ADMIN)
	if (ds->ionice_arg != NULL && ds->ioclass == IOPRIO_CLASS_RT &&
	    !caps_effective(CAP_SYS_NICE) && !caps_effective(CAP_SYS_ADMIN))
		errx(EXIT_ERR, "-I %s: needs root or CAP_SYS_NICE",
		    ds->ionice_arg);
#endif
	if (ds->sched_arg != NULL && needs_rtprio(ds->policy, ds->priority))
		errx(EXIT_ERR, "--scheduler %s: needs root, CAP_SYS_NICE or "
		    "--limit rtprio from an RLIMIT_RTPRIO we have",
		    ds->sched_arg);
}

static int
write_proc(const char *path, int v)
{
	char buf[16];
	int fd, len, serrno;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return (-1);
	len = snprintf(buf, sizeof(buf), "%d\n", v);
	if (write(fd, buf, (size_t)len) != len) {
		serrno = errno;
		(void)close(fd);
		errno = serrno;
		return (-1);
	}
	return (close(fd));
}

/*
 * The scheduler weighs a session's autogroup against the others before
 * any nice value inside it counts: a daemon's nice alone changes
 * nothing against other sessions.  The autogroup is the session's, so
 * it is written only where the session is the daemon's own: not by -f
 * in a caller's session, which it would renice as a whole.
 */
static int
autogroup(const struct daemon_state *ds)
{
	const struct timespec pause = { 0, 20 * 1000 * 1000 };
	int tries;

	if (ds->foreground && getsid(0) != getpid())
		return (0);
	/*
	 * Without CAP_SYS_ADMIN the kernel takes one write in 100 ms, from
	 * anyone on the system, and says EAGAIN to the rest.
	 */
	for (tries = 0; ; tries++) {
		if (write_proc("/proc/self/autogroup", ds->nice) == 0)
			return (0);
		if (errno == ENOENT)
			return (0);
		if (errno != EAGAIN || tries == 25)
			return (-1);
		(void)nanosleep(&pause, NULL);
	}
}

/*
 * In the daemon, or a run of -r, still as root: each setting in the
 * order of the man page.  Returns 0, or the step that failed with
 * errno set.
 */
int
tune_apply(const struct daemon_state *ds)
{
	struct sched_param sp = { .sched_priority = ds->priority };
	cpu_set_t got;

	if (ds->oom_arg != NULL &&
	    write_proc("/proc/self/oom_score_adj", ds->oom) == -1)
		return (STEP_OOM);
	if (ds->nice_arg != NULL) {
		if (setpriority(PRIO_PROCESS, 0, ds->nice) == -1)
			return (STEP_NICE);
		if (autogroup(ds) == -1)
			return (STEP_AUTOGROUP);
	}
	if (ds->ionice_arg != NULL && syscall(SYS_ioprio_set,
	    IOPRIO_WHO_PROCESS, 0, ds->ioclass << IOPRIO_CLASS_SHIFT |
	    (ds->ioclass == IOPRIO_CLASS_IDLE ? 0 : ds->iolevel)) == -1)
		return (STEP_IONICE);
	if (ds->sched_arg != NULL &&
	    sched_setscheduler(0, ds->policy, &sp) == -1)
		return (STEP_SCHED);
	if (ds->cpus_arg != NULL) {
		/* The kernel drops CPUs outside our cpuset without a word. */
		if (sched_setaffinity(0, sizeof(*ds->cpus), ds->cpus) == -1 ||
		    sched_getaffinity(0, sizeof(got), &got) == -1)
			return (STEP_AFFINITY);
		if (!CPU_EQUAL(&got, ds->cpus)) {
			errno = EINVAL;
			return (STEP_AFFINITY);
		}
	}
	return (0);
}
