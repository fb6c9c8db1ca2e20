/* lines.c: the writer for bench/logs, the same input for every logger: 64-byte lines, 64 KiB a write. */

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE		64
#define CHUNK		(64 * 1024)		/* one write(2), 1024 whole lines */

static char	buf[CHUNK];

static void	usage(void) __attribute__((__noreturn__));
static void	fill(void);
static void	stamp(const char *);

static void
usage(void)
{
	(void)fprintf(stderr, "usage: lines MiB t0file\n");
	exit(2);
}

/*
 * 1024 printable lines of 63 characters and a newline, numbered within
 * the chunk, so that a logger that reorders or drops lines inside a
 * chunk leaves a trace; every chunk is the same.
 */
static void
fill(void)
{
	char line[LINE + 1];
	int i;

	for (i = 0; i < CHUNK / LINE; i++) {
		(void)snprintf(line, sizeof(line), "line %04d of a 64 KiB "
		    "chunk, 64 bytes with its newline: abcdefg\n", i);
		if (strlen(line) != LINE)
			errx(1, "line %d is %zu bytes, not %d", i, strlen(line),
			    LINE);
		memcpy(buf + i * LINE, line, LINE);
	}
}

/*
 * Time zero of a run, in microseconds of CLOCK_REALTIME (the clock of
 * bash's EPOCHREALTIME), written to a file before the first line: the
 * run starts when the writer does, whatever the logger took to start it.
 */
static void
stamp(const char *path)
{
	struct timespec ts;
	char s[32];
	int fd, n;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		err(1, "clock_gettime");
	n = snprintf(s, sizeof(s), "%lld\n",
	    (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		err(1, "%s", path);
	if (write(fd, s, (size_t)n) != n || close(fd) == -1)
		err(1, "%s", path);
}

/*
 * usage: lines MiB t0file > pipe
 *
 * Writes MiB mebibytes of 64-byte lines to standard output, 64 KiB at
 * a time (a short write is completed before the next chunk), then exits
 * 0.  Nothing else: it is the same program for every path in bench/logs.
 */
int
main(int argc, char *argv[])
{
	const char *errstr;
	long long chunks, c;
	ssize_t n;
	size_t off;

	if (argc != 3)
		usage();
	chunks = strtonum(argv[1], 1, 1024 * 1024, &errstr) *
	    (1024 * 1024 / CHUNK);
	if (errstr != NULL)
		errx(2, "MiB %s: %s", argv[1], errstr);
	fill();
	stamp(argv[2]);
	for (c = 0; c < chunks; c++)
		for (off = 0; off < sizeof(buf); off += (size_t)n)
			if ((n = write(STDOUT_FILENO, buf + off,
			    sizeof(buf) - off)) == -1) {
				if (errno == EINTR) {
					n = 0;
					continue;
				}
				err(1, "write");
			}
	return (0);
}
