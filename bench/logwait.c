/* logwait.c: times a run of bench/logs, from the writer's start until the log holds every byte. */

#define _GNU_SOURCE

#include <sys/prctl.h>
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_NS		(500 * 1000)		/* between two size checks */

static void	usage(void) __attribute__((__noreturn__));
static int64_t	now_us(void);
static long long size_of(const char *);
static long long read_t0(const char *);

static void
usage(void)
{
	(void)fprintf(stderr,
	    "usage: logwait [-t seconds] bytes t0file file|logdir\n");
	exit(2);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		err(1, "clock_gettime");
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/*
 * The bytes logged so far: the size of a file, or for a logdir (s6-log,
 * multilog, svlogd) the sizes of "current" and of the rotated "@..."
 * files together.  A rename is atomic, so a rotation never makes the
 * sum drop or count twice.  Nothing there yet counts as 0.
 */
static long long
size_of(const char *path)
{
	struct dirent *e;
	struct stat st;
	long long sum;
	DIR *d;

	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			return (0);
		err(1, "%s", path);
	}
	if (!S_ISDIR(st.st_mode))
		return ((long long)st.st_size);
	if ((d = opendir(path)) == NULL)
		err(1, "%s", path);
	sum = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, "current") != 0 && e->d_name[0] != '@')
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, 0) == -1) {
			if (errno == ENOENT)	/* renamed under us: next time */
				continue;
			err(1, "%s/%s", path, e->d_name);
		}
		sum += (long long)st.st_size;
	}
	(void)closedir(d);
	return (sum);
}

/* Written by bench/lines.c before its first line. */
static long long
read_t0(const char *path)
{
	const char *errstr;
	char buf[32];
	long long t0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "%s", path);
	if ((n = read(fd, buf, sizeof(buf) - 1)) == -1)
		err(1, "%s", path);
	(void)close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	t0 = strtonum(buf, 1, LLONG_MAX, &errstr);
	if (errstr != NULL)
		errx(1, "%s: time zero %s", path, errstr);
	return (t0);
}

/*
 * usage: logwait [-t seconds] bytes t0file file|logdir
 *
 * Polls the log every 0.5 ms until it holds at least bytes, then prints
 * the microseconds from the writer's time zero to that poll.  The end is
 * the first poll that sees the last byte in the page cache, where any
 * reader of the log sees it too; a logger's fsync(2) or exit after that
 * is not counted.  Fails after seconds (120) without the last byte.
 */
int
main(int argc, char *argv[])
{
	struct timespec nap = { 0, POLL_NS };
	const char *errstr;
	long long bytes, got, limit = 120;
	int64_t t1, end;
	int ch;

	while ((ch = getopt(argc, argv, "t:")) != -1) {
		switch (ch) {
		case 't':
			limit = strtonum(optarg, 1, 3600, &errstr);
			if (errstr != NULL)
				errx(2, "-t %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3)
		usage();
	bytes = strtonum(argv[0], 1, LLONG_MAX, &errstr);
	if (errstr != NULL)
		errx(2, "bytes %s: %s", argv[0], errstr);

	(void)prctl(PR_SET_TIMERSLACK, 1UL);
	end = now_us() + limit * 1000000;
	while ((got = size_of(argv[2])) < bytes) {
		if (now_us() > end)
			errx(1, "%s: %lld of %lld bytes after %lld s", argv[2],
			    got, bytes, limit);
		(void)nanosleep(&nap, NULL);
	}
	t1 = now_us();
	(void)printf("%lld\n", (long long)(t1 - read_t0(argv[1])));
	return (0);
}
