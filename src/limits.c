/* limits.c: --limit: the resource names and values, their checks before the fork, and setting them in the daemon. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#ifdef __linux__
#include <linux/capability.h>
#endif
#include <sys/resource.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

/* prlimit(1)'s names, and what the kernel makes of each. */
static const struct {
	const char	*name;
	int		 resource;
	uint64_t	 max;		/* the largest value that still counts */
	uint64_t	 min;		/* the smallest soft value taken as is */
} resources[] = {
	{ "as", RLIMIT_AS, 0, 0 },
	{ "core", RLIMIT_CORE, 0, 0 },
	/* A soft limit of 0 seconds is taken as 1 by the kernel. */
	{ "cpu", RLIMIT_CPU, 0, 1 },
	{ "data", RLIMIT_DATA, 0, 0 },
	{ "fsize", RLIMIT_FSIZE, 0, 0 },
	{ "locks", RLIMIT_LOCKS, 0, 0 },
	{ "memlock", RLIMIT_MEMLOCK, 0, 0 },
	{ "msgqueue", RLIMIT_MSGQUEUE, 0, 0 },
	/* 20 - nice: past 40 (nice -20) a higher value means nothing. */
	{ "nice", RLIMIT_NICE, 40, 0 },
	{ "nofile", RLIMIT_NOFILE, 0, 0 },
	{ "nproc", RLIMIT_NPROC, 0, 0 },
	/* Real-time priorities end at 99. */
	{ "rtprio", RLIMIT_RTPRIO, 99, 0 },
	{ "rttime", RLIMIT_RTTIME, 0, 0 },
	{ "sigpending", RLIMIT_SIGPENDING, 0, 0 },
	{ "stack", RLIMIT_STACK, 0, 0 },
};
#define NRESOURCES	(sizeof(resources) / sizeof(resources[0]))

static size_t	resource_index(const char *, size_t, const char *);
static uint64_t	value(const char *, size_t, const char *, size_t);
static void	show(uint64_t, char *, size_t);
static void	settle(const struct limit *, const struct rlimit *,
		    struct rlimit *);
static long long nr_open(void);

static size_t
resource_index(const char *name, size_t len, const char *arg)
{
	size_t i;

	for (i = 0; i < NRESOURCES; i++)
		if (strlen(resources[i].name) == len &&
		    strncmp(resources[i].name, name, len) == 0)
			return (i);
	errx(EXIT_USAGE, "--limit %s: no such resource (as, core, cpu, data, "
	    "fsize, locks, memlock, msgqueue, nice, nofile, nproc, rtprio, "
	    "rttime, sigpending, stack)", arg);
}

/* N, N with K, M, G or T after it (powers of 1024), or "unlimited". */
static uint64_t
value(const char *s, size_t len, const char *arg, size_t r)
{
	const char *errstr, *units = "KMGT", *u;
	char digits[32];
	long long v, unit;

	if (len == 9 && strncmp(s, "unlimited", len) == 0)
		return (UINT64_MAX);
	unit = 1;
	if (len > 1 && s[len - 1] != '\0' &&
	    (u = strchr(units, s[len - 1])) != NULL) {
		unit = 1LL << (10 * (u - units + 1));
		len--;
	}
	if (len >= sizeof(digits))
		len = sizeof(digits) - 1;
	memcpy(digits, s, len);
	digits[len] = '\0';
	v = value_number(digits, 0, LLONG_MAX / unit, &errstr);
	if (errstr != NULL)
		errx(EXIT_USAGE, "--limit %s: %s value (a number, with K, M, "
		    "G or T, or unlimited)", arg, errstr);
	if (resources[r].max != 0 && (uint64_t)(v * unit) > resources[r].max)
		errx(EXIT_USAGE, "--limit %s: %s ends at %llu (or unlimited)",
		    arg, resources[r].name,
		    (unsigned long long)resources[r].max);
	return ((uint64_t)(v * unit));
}

/*
 * RESOURCE=N sets both limits, S:H each, S: the soft one only, :H the
 * hard one only; a soft "max" is the hard limit.  Each resource once.
 */
void
limits_add(struct daemon_state *ds, char *arg)
{
	struct limit lim = { .arg = arg }, *limits;
	const char *eq, *v, *colon;
	size_t r, i;

	if ((eq = strchr(arg, '=')) == NULL || eq == arg)
		errx(EXIT_USAGE, "--limit %s: not RESOURCE=VALUE", arg);
	r = resource_index(arg, (size_t)(eq - arg), arg);
	lim.resource = resources[r].resource;
	for (i = 0; i < ds->nlimits; i++)
		if (ds->limits[i].resource == lim.resource)
			errx(EXIT_USAGE, "--limit %s: %s given twice", arg,
			    resources[r].name);
	v = eq + 1;
	if ((colon = strchr(v, ':')) == NULL)
		colon = v + strlen(v);
	if (colon == v && *colon == '\0')
		errx(EXIT_USAGE, "--limit %s: no value", arg);
	if (colon > v) {
		lim.soft_set = true;
		if (colon - v == 3 && strncmp(v, "max", 3) == 0)
			lim.soft_max = true;
		else
			lim.soft = value(v, (size_t)(colon - v), arg, r);
		if (!lim.soft_max && lim.soft < resources[r].min)
			errx(EXIT_USAGE, "--limit %s: a soft %s limit below %llu "
			    "is taken as %llu", arg, resources[r].name,
			    (unsigned long long)resources[r].min,
			    (unsigned long long)resources[r].min);
	}
	if (*colon == '\0') {
		/* One value is both limits; "max" leaves the hard one. */
		lim.hard_set = !lim.soft_max;
		lim.hard = lim.soft;
	} else if (colon[1] != '\0') {
		lim.hard_set = true;
		lim.hard = value(colon + 1, strlen(colon + 1), arg, r);
	} else if (colon == v)
		errx(EXIT_USAGE, "--limit %s: no value", arg);
	if (lim.soft_set && lim.hard_set && !lim.soft_max &&
	    lim.soft > lim.hard)
		errx(EXIT_USAGE, "--limit %s: the soft limit is above the hard "
		    "one", arg);
	limits = reallocarray(ds->limits, ds->nlimits + 1, sizeof(*limits));
	if (limits == NULL)
		err(EXIT_ERR, "reallocarray");
	limits[ds->nlimits++] = lim;
	ds->limits = limits;
}

static void
show(uint64_t v, char *buf, size_t size)
{
	if (v == UINT64_MAX || v == (uint64_t)RLIM_INFINITY)
		(void)strlcpy(buf, "unlimited", size);
	else
		(void)snprintf(buf, size, "%llu", (unsigned long long)v);
}

/* The limits the daemon will have: what is given, the rest kept. */
static void
settle(const struct limit *lim, const struct rlimit *cur, struct rlimit *to)
{
	to->rlim_max = lim->hard_set ? (rlim_t)lim->hard : cur->rlim_max;
	if (lim->soft_max)
		to->rlim_cur = to->rlim_max;
	else
		to->rlim_cur = lim->soft_set ? (rlim_t)lim->soft :
		    cur->rlim_cur;
}

/* The kernel's ceiling on the hard limit of open files. */
static long long
nr_open(void)
{
	char buf[32];
	const char *errstr;
	long long v;
	ssize_t n;
	int fd;

	if ((fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	v = value_number(buf, 0, LLONG_MAX, &errstr);
	return (errstr == NULL ? v : -1);
}

/*
 * Before the fork, against the limits we have now, which the daemon
 * and the supervisor of -r inherit: what the kernel would refuse is
 * refused here, naming what it allows, and the values are settled, so
 * that the daemon only sets them.
 */
void
limits_check(struct daemon_state *ds)
{
	struct limit *lim;
	struct rlimit cur, to;
	char a[32], b[32];
	long long ceiling;
	size_t i;

	for (i = 0; i < ds->nlimits; i++) {
		lim = &ds->limits[i];
		if (getrlimit(lim->resource, &cur) == -1)
			err(EXIT_ERR, "--limit %s: getrlimit", lim->arg);
		settle(lim, &cur, &to);
		show(to.rlim_cur, a, sizeof(a));
		show(to.rlim_max, b, sizeof(b));
		if (to.rlim_cur > to.rlim_max)
			errx(EXIT_USAGE, "--limit %s: the soft limit, %s, "
			    "would be above the hard limit, %s", lim->arg, a,
			    b);
		if (lim->resource == RLIMIT_NOFILE &&
		    (ceiling = nr_open()) != -1 &&
		    to.rlim_max > (rlim_t)ceiling)
			errx(EXIT_USAGE, "--limit %s: above fs.nr_open, %lld",
			    lim->arg, ceiling);
		show(cur.rlim_max, b, sizeof(b));
#ifdef CAP_SYS_RESOURCE
		if (to.rlim_max > cur.rlim_max &&
		    !caps_effective(CAP_SYS_RESOURCE))
			errx(EXIT_ERR, "--limit %s: raising the hard limit "
			    "above %s needs CAP_SYS_RESOURCE", lim->arg, b);
#endif
		lim->soft = to.rlim_cur;
		lim->hard = to.rlim_max;
	}
}

/*
 * In the daemon, last of the settings that root makes: a failure
 * leaves errno and the index of the --limit in *which.
 */
int
limits_apply(const struct daemon_state *ds, int *which)
{
	struct rlimit to;
	size_t i;

	for (i = 0; i < ds->nlimits; i++) {
		*which = (int)i;
		to.rlim_cur = (rlim_t)ds->limits[i].soft;
		to.rlim_max = (rlim_t)ds->limits[i].hard;
		if (setrlimit(ds->limits[i].resource, &to) == -1)
			return (-1);
	}
	return (0);
}
