/* fuzz-state.c: drives state_parse(), the reader of --upgrade's state, with inputs from AFL++, a file, or a seeded generator. */

/*
 * The reader takes what another binary wrote; whatever it is handed, it
 * must refuse it or return keys and values that hold together: every
 * key one it knows, every value without a newline, and the checksum the
 * one of the text.  A crash, a sanitizer report or a broken invariant
 * (which aborts) is a finding.  With -n, inputs are made from a valid
 * state by cutting, flipping, inserting and repeating bytes, every
 * second one with its end line made anew, to get past the checksum.
 */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>

#include <err.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

#define INPUT_MAX	(STATE_MAX + 16)

static const char *const known[] = {
	"binary", "cwd", "generation", "fd.", "sv", "listen.", "run.",
	"stream.", "sink.", NULL,
};

static void	check(const char *, size_t);
static size_t	seed_state(char *, size_t);
static size_t	mutate(char *, size_t, size_t, unsigned int *);
static size_t	reseal(char *, size_t, size_t);
static unsigned int next(unsigned int *);

/* xorshift32: the same inputs for the same seed, everywhere. */
static unsigned int
next(unsigned int *seed)
{
	unsigned int x = *seed != 0 ? *seed : 1;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*seed = x;
	return (x >> 1);
}

/* Parse one input and check what came back. */
static void
check(const char *p, size_t n)
{
	struct state st;
	const char *why;
	long long v[4];
	size_t i;

	if (state_parse(&st, p, n, known, &why) == -1) {
		if (why == NULL)
			abort();
		return;
	}
	for (i = 0; i < st.n; i++) {
		if (strchr(st.keys[i], '\n') != NULL ||
		    strchr(st.values[i], '\n') != NULL ||
		    state_get(&st, st.keys[i]) == NULL)
			abort();
		(void)state_numbers(&st, st.keys[i], v, 3, -1, INT64_MAX);
	}
	if (memmem(p, n, "\nend ", 5) == NULL)
		abort();
	state_free(&st);
}

/* A state as the supervisor writes one, into buf. */
static size_t
seed_state(char *buf, size_t size)
{
	struct state st;
	size_t n;

	state_init(&st);
	state_put(&st, "binary", "%s", "/usr/local/bin/daemonize");
	state_put(&st, "cwd", "%s", "/srv/a dir with\ta tab and 100%");
	state_put(&st, "!fd.lock", "%d %d %d", 5, 2049, 131);
	state_put(&st, "!fd.ctl", "%d %d %d", 9, 8, 77);
	state_put(&st, "!sv", "%d %d %d %d %d %d %d", 0, 1234, 10, 20, 0, 3,
	    1);
	state_put(&st, "!run.0", "%d", 1234);
	state_put(&st, "!stream.0.0", "%d %d %s", 1, 3, "616263");
	state_put(&st, "!sink.0", "%d %d", 1, 0);
	state_put(&st, "future", "%s", "an unknown key that may be skipped");
	if (state_seal(&st) == -1)
		errx(1, "state_seal");
	n = st.len < size ? st.len : size;
	memcpy(buf, st.buf, n);
	state_free(&st);
	return (n);
}

/* One to four random changes: a cut, a flip, an insert, a repeat. */
static size_t
mutate(char *buf, size_t n, size_t size, unsigned int *seed)
{
	size_t at, len;
	unsigned int k, changes;

	changes = 1 + next(seed) % 4;
	for (k = 0; k < changes && n > 0; k++) {
		at = (size_t)next(seed) % n;
		switch (next(seed) % 4) {
		case 0:
			n = at;
			break;
		case 1:
			((unsigned char *)buf)[at] ^=
			    (unsigned char)(1U << (next(seed) % 8));
			break;
		case 2:
			if (n < size) {
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = "!% \n0a9\\"[next(seed) % 8];
				n++;
			}
			break;
		default:
			len = (size_t)next(seed) % 64;
			if (at + len <= n && n + len <= size) {
				memmove(buf + at + len, buf + at, n - at);
				n += len;
			}
			break;
		}
	}
	return (n);
}

/*
 * The end line made anew for what is before it, so that the lines get
 * past the checksum and the parser's other checks are tried.
 */
static size_t
reseal(char *buf, size_t n, size_t size)
{
	char *end;

	if ((end = memmem(buf, n, "\nend ", 5)) != NULL)
		n = (size_t)(end - buf) + 1;
	if (n + 22 > size)
		return (n);
	return (n + (size_t)snprintf(buf + n, size - n, "end %016llx\n",
	    (unsigned long long)state_hash(buf, n)));
}

int
main(int argc, char *argv[])
{
	static char buf[INPUT_MAX], seed_buf[INPUT_MAX];
	unsigned int seed = 1;
	long count = 0, i;
	size_t n, sn;
	ssize_t r;
	int ch, fd;

	while ((ch = getopt(argc, argv, "n:s:")) != -1) {
		switch (ch) {
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 's':
			seed = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		default:
			errx(2, "usage: fuzz-state [-n count -s seed] [file]");
		}
	}
	argc -= optind;
	argv += optind;
	if (count > 0) {
		sn = seed_state(seed_buf, sizeof(seed_buf));
		check(seed_buf, sn);
		for (i = 0; i < count; i++) {
			memcpy(buf, seed_buf, sn);
			n = mutate(buf, sn, sizeof(buf), &seed);
			if (i % 2 == 1)
				n = reseal(buf, n, sizeof(buf));
			check(buf, n);
		}
		printf("%ld generated states parsed\n", count);
		return (0);
	}
	fd = argc > 0 ? open(argv[0], O_RDONLY) : STDIN_FILENO;
	if (fd == -1)
		err(1, "%s", argv[0]);
	for (n = 0; n < sizeof(buf) && (r = read(fd, buf + n,
	    sizeof(buf) - n)) > 0; n += (size_t)r)
		;
	check(buf, n);
	return (0);
}
