/* pair.c: paired, shuffled A/B runs of launchers: time to return, CPU and faults of a whole launch. */

#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXVARIANTS	32
#define MAXWORDS	32

struct variant {
	char	*label;
	char	*pidfile;		/* removed after each run, or NULL */
	char	*argv[MAXWORDS + 1];
	long	*ret;			/* us from fork to the launcher's exit */
	long	*cpu;			/* us of CPU of every process it made */
	long	*flt;			/* minor page faults of the same */
};

static void	usage(void) __attribute__((__noreturn__));
static long	now_us(void);
static long	tv_us(const struct timeval *);
static int	cmp_long(const void *, const void *);
static double	median(long *, int);
static void	read_spec(const char *);
static void	run(struct variant *, int, int);
static void	report_one(const struct variant *, const struct variant *, int);

static struct variant	v[MAXVARIANTS];
static int		nv;
static int		devnull;

static void
usage(void)
{
	(void)fprintf(stderr, "usage: pair [-b label] [-n rounds] [-s seed] "
	    "specfile\n");
	exit(2);
}

static long
now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		err(1, "clock_gettime");
	return ((long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

static long
tv_us(const struct timeval *tv)
{
	return ((long)tv->tv_sec * 1000000 + tv->tv_usec);
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x < y ? -1 : x > y);
}

/* Sorts its argument. */
static double
median(long *a, int n)
{
	qsort(a, (size_t)n, sizeof(*a), cmp_long);
	return (n % 2 ? (double)a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2.0);
}

/* "label TAB pidfile-or-dash TAB command words", one variant a line. */
static void
read_spec(const char *path)
{
	char *line = NULL, *p, *w;
	size_t cap = 0;
	FILE *fp;
	int k;

	if ((fp = fopen(path, "re")) == NULL)
		err(1, "%s", path);
	while (getline(&line, &cap, fp) != -1) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (nv == MAXVARIANTS)
			errx(1, "%s: more than %d variants", path, MAXVARIANTS);
		if ((p = strdup(line)) == NULL)
			err(1, "strdup");
		v[nv].label = strsep(&p, "\t");
		if ((w = strsep(&p, "\t")) == NULL || p == NULL)
			errx(1, "%s: %s: no command", path, v[nv].label);
		v[nv].pidfile = strcmp(w, "-") == 0 ? NULL : w;
		for (k = 0; (w = strsep(&p, " \t")) != NULL; )
			if (*w != '\0' && k < MAXWORDS)
				v[nv].argv[k++] = w;
		if (k == 0 || v[nv].argv[0][0] != '/')
			errx(1, "%s: %s: the command must be an absolute path",
			    path, v[nv].label);
		nv++;
	}
	free(line);
	(void)fclose(fp);
	if (nv < 2)
		errx(1, "%s: two variants at least", path);
}

/*
 * One launch: as a child subreaper, every process it leaves becomes our
 * child, so waiting until none is left counts all of them in the
 * children's rusage, and leaves nothing behind.
 */
static void
run(struct variant *x, int round, int rounds)
{
	struct rusage r0, r1;
	long t0, t1;
	pid_t pid;
	int status;

	if (x->ret == NULL && ((x->ret = calloc((size_t)rounds,
	    sizeof(long))) == NULL || (x->cpu = calloc((size_t)rounds,
	    sizeof(long))) == NULL || (x->flt = calloc((size_t)rounds,
	    sizeof(long))) == NULL))
		err(1, "calloc");
	if (getrusage(RUSAGE_CHILDREN, &r0) == -1)
		err(1, "getrusage");
	t0 = now_us();
	switch (pid = fork()) {
	case -1:
		err(1, "fork");
	case 0:
		if (dup2(devnull, STDIN_FILENO) == -1 ||
		    dup2(devnull, STDOUT_FILENO) == -1)
			_exit(126);
		(void)execv(x->argv[0], x->argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			err(1, "waitpid");
	t1 = now_us();
	while (wait(NULL) != -1 || errno == EINTR)
		continue;
	if (getrusage(RUSAGE_CHILDREN, &r1) == -1)
		err(1, "getrusage");
	if (x->pidfile != NULL)
		(void)unlink(x->pidfile);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		errx(1, "%s: launch %d failed (status %d)", x->label, round,
		    status);
	x->ret[round] = t1 - t0;
	x->cpu[round] = tv_us(&r1.ru_utime) - tv_us(&r0.ru_utime) +
	    tv_us(&r1.ru_stime) - tv_us(&r0.ru_stime);
	x->flt[round] = r1.ru_minflt - r0.ru_minflt;
}

/*
 * Medians, and the median of the per-round differences from the
 * baseline with a distribution-free 95% interval: the order statistics
 * n/2 -+ 0.98 sqrt(n) of the sorted differences (the sign test).
 */
static void
report_one(const struct variant *x, const struct variant *base, int n)
{
	long *d, *e, *s;
	double mr, mc, mf, dr, dc;
	int i, lo, hi;

	if ((d = calloc((size_t)n, sizeof(long))) == NULL ||
	    (e = calloc((size_t)n, sizeof(long))) == NULL ||
	    (s = calloc((size_t)n, sizeof(long))) == NULL)
		err(1, "calloc");
	for (i = 0; i < n; i++) {
		d[i] = x->ret[i] - base->ret[i];
		e[i] = x->cpu[i] - base->cpu[i];
	}
	memcpy(s, x->ret, (size_t)n * sizeof(long));
	mr = median(s, n);
	memcpy(s, x->cpu, (size_t)n * sizeof(long));
	mc = median(s, n);
	memcpy(s, x->flt, (size_t)n * sizeof(long));
	mf = median(s, n);
	dr = median(d, n);
	dc = median(e, n);
	lo = (int)floor(n / 2.0 - 0.98 * sqrt(n));
	hi = (int)ceil(n / 2.0 + 0.98 * sqrt(n));
	lo = lo < 0 ? 0 : lo;
	hi = hi > n - 1 ? n - 1 : hi;
	(void)printf("%-14s %8.1f %+8.1f [%+7.1f,%+7.1f] %8.1f %+8.1f "
	    "[%+7.1f,%+7.1f] %6.1f\n", x->label, mr, dr, (double)d[lo],
	    (double)d[hi], mc, dc, (double)e[lo], (double)e[hi], mf);
	free(d);
	free(e);
	free(s);
}

int
main(int argc, char *argv[])
{
	const char *errstr, *blabel = NULL;
	int perm[MAXVARIANTS];
	int ch, i, j, t, r, rounds = 400, b;
	unsigned int seed = 1;

	while ((ch = getopt(argc, argv, "b:n:s:")) != -1) {
		switch (ch) {
		case 'b':
			blabel = optarg;
			break;
		case 'n':
			rounds = (int)strtonum(optarg, 1, 1000000, &errstr);
			if (errstr != NULL)
				errx(2, "-n %s: %s", optarg, errstr);
			break;
		case 's':
			seed = (unsigned int)strtonum(optarg, 0, UINT_MAX,
			    &errstr);
			if (errstr != NULL)
				errx(2, "-s %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();
	read_spec(argv[0]);
	b = 0;
	if (blabel != NULL) {
		for (b = 0; b < nv && strcmp(v[b].label, blabel) != 0; b++)
			continue;
		if (b == nv)
			errx(2, "-b %s: no such variant", blabel);
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		err(1, "PR_SET_CHILD_SUBREAPER");
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		err(1, "/dev/null");

	/* A new order every round: neither drift nor a neighbour favours one. */
	srandom(seed);
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < nv; i++)
			perm[i] = i;
		for (i = nv - 1; i > 0; i--) {
			j = (int)(random() % (i + 1));
			t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		for (i = 0; i < nv; i++)
			run(&v[perm[i]], r, rounds);
	}

	(void)printf("%d rounds; d: median of the per-round differences from "
	    "%s, [95%% interval]\n", rounds, v[b].label);
	(void)printf("%-14s %8s %8s %17s %8s %8s %17s %6s\n", "variant",
	    "ret us", "d ret", "", "cpu us", "d cpu", "", "faults");
	for (i = 0; i < nv; i++)
		report_one(&v[i], &v[b], rounds);
	return (0);
}
