/* fuzz-options.c: drives options_parse() with argument vectors from AFL++, a file, or a seeded generator. */

/*
 * An input is an argument vector without argv[0]: each NUL byte ends an
 * argument, and bytes after the last NUL make one more.  So "-p\0x\0"
 * is { "daemonize", "-p", "x" }, and two NULs in a row give an empty
 * argument, which the parser must refuse politely.
 *
 * options_parse() ends the process with errx(3) on bad input and with
 * exit(0) for --help and --version, so every input gets a process of
 * its own: AFL++'s fork server gives one, and -n forks one an input.
 * An exit status other than 0, 1 or 2, a signal, or a sanitizer report
 * is a finding; so is a state that parsed but breaks what the rest of
 * the program takes for granted (see check_state()), which aborts.
 */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <paths.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

#define INPUT_MAX	65536	/* bytes read from one input */
#define ARGS_MAX	64	/* arguments after argv[0] */
#define REPORT_MAX	16384	/* bytes of a child's stderr kept */
#define CHILD_SECONDS	10	/* a parse that takes longer hangs */
#define PARSED		(EXIT_USAGE + 1) /* tally slot after 0, 1, 2 */

static void	usage(void) __attribute__((__noreturn__));
static size_t	read_input(int, unsigned char *, size_t);
static void	parse_input(const unsigned char *, size_t)
		    __attribute__((__noreturn__));
static void	check_state(void);
static bool	absolute_or_null(const char *);
static uint64_t	next_random(void);
static bool	append(unsigned char *, size_t, size_t *, const char *);
static size_t	generate(unsigned char *, size_t);
static bool	run_child(const unsigned char *, size_t, unsigned long long,
		    unsigned long long *);
static void	show_input(const unsigned char *, size_t);

/*
 * Static, as in main(): what options_parse() allocates stays reachable,
 * so LeakSanitizer reports real leaks only.  The argument strings are
 * kept for the same reason; the state points into them.
 */
static struct daemon_state ds = DAEMON_STATE_INIT;
static char *args[ARGS_MAX + 2];
static unsigned char input[INPUT_MAX];
static uint64_t rng_state;
static bool generating;		/* -n: tell a parse from --help */

/*
 * Sanitizer reports must end the process by SIGABRT: their default exit
 * status, 1, is also the parser's EXIT_ERR and would hide them.  AFL++
 * sets its own options in the environment, which take precedence.  The
 * names are the sanitizers' documented hooks, reserved or not.
 */
/* NOLINTBEGIN(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *
__asan_default_options(void)
{
	return ("abort_on_error=1:detect_leaks=1");
}

const char *
__ubsan_default_options(void)
{
	return ("halt_on_error=1:abort_on_error=1:print_stacktrace=1");
}
/* NOLINTEND(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

static void
usage(void)
{
	(void)fprintf(stderr, "usage: fuzz-options [file]\n"
	    "       fuzz-options -n count [-s seed]\n");
	exit(2);
}

static size_t
read_input(int fd, unsigned char *buf, size_t size)
{
	size_t len;
	ssize_t n;

	for (len = 0; len < size; len += (size_t)n) {
		n = read(fd, buf + len, size - len);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n == -1)
			err(1, "read");
		if (n == 0)
			break;
	}
	return (len);
}

/* The one input, as main() would get it; exits, as the parser does. */
static void
parse_input(const unsigned char *buf, size_t len)
{
	const unsigned char *p, *end, *nul;
	size_t n;
	int argc;

	args[0] = strdup("daemonize");
	if (args[0] == NULL)
		err(1, "strdup");
	argc = 1;
	end = buf + len;
	for (p = buf; p < end && argc <= ARGS_MAX; p = nul + 1) {
		nul = memchr(p, '\0', (size_t)(end - p));
		if (nul == NULL)
			nul = end;
		n = (size_t)(nul - p);
		if ((args[argc] = malloc(n + 1)) == NULL)
			err(1, "malloc");
		memcpy(args[argc], p, n);
		args[argc][n] = '\0';
		argc++;
	}
	args[argc] = NULL;

	/* glibc: 0, not 1, re-initialises getopt, our own parse included. */
	optind = 0;
	options_parse(&ds, argc, args);
	check_state();
	if (generating)
		(void)fputs("parsed\n", stderr);
	exit(0);
}

static bool
absolute_or_null(const char *path)
{
	return (path == NULL || path[0] == '/');
}

#define EXPECT(cond) do {						\
	if (!(cond)) {							\
		warnx("broken after a successful parse: %s", #cond);	\
		abort();						\
	}								\
} while (0)

/* What main() and the modules after it rely on once parsing returned. */
static void
check_state(void)
{
	size_t i, j;

	EXPECT(ds.argv != NULL);
	EXPECT(ds.umask <= 0777);
	EXPECT(absolute_or_null(ds.pid.path));
	EXPECT(absolute_or_null(ds.chdir_dir));
	EXPECT(absolute_or_null(ds.out.path));
	EXPECT(absolute_or_null(ds.err.path));
	EXPECT(ds.verbose >= 0);
	for (i = 0; i < ds.nenv; i++) {
		EXPECT(ds.env[i] != NULL);
		EXPECT(strchr(ds.env[i], '=') != NULL);
		EXPECT(ds.env[i][0] != '=');
	}
	if (ds.mode != MODE_START) {
		EXPECT(ds.pid.path != NULL);
		EXPECT(ds.argv[0] == NULL);
		EXPECT(ds.timeout == -1 ||
		    (ds.mode == MODE_STOP && ds.timeout >= 1 &&
		    ds.timeout <= 31536000));
		if (ds.mode != MODE_STATUS)
			EXPECT(ds.signal >= 1 && ds.signal < NSIG);
		return;
	}
	EXPECT(ds.argv[0] != NULL && ds.argv[0][0] != '\0');
	EXPECT(ds.timeout >= 1 && ds.timeout <= 31536000);
	EXPECT(ds.ready == READY_EXEC || !ds.foreground);
	if (ds.ready == READY_FD)
		EXPECT(ds.ready_fd >= 3 && ds.ready_fd <= 1048575);
	/* The settings: in the ranges the kernel takes as they are. */
	EXPECT(ds.nice_arg == NULL || (ds.nice >= -20 && ds.nice <= 19));
	EXPECT(ds.oom_arg == NULL || (ds.oom >= -1000 && ds.oom <= 1000));
	EXPECT(ds.ionice_arg == NULL || (ds.ioclass >= 1 &&
	    ds.ioclass <= 3 && ds.iolevel >= 0 && ds.iolevel <= 7));
	EXPECT(ds.sched_arg == NULL || ds.priority >= 0);
	EXPECT(ds.cpus_arg == NULL || (ds.cpus != NULL &&
	    CPU_COUNT(ds.cpus) > 0));
	EXPECT(ds.caps_arg == NULL || ds.caps != 0);
	for (i = 0; i < ds.nlimits; i++) {
		EXPECT(ds.limits[i].soft_set || ds.limits[i].hard_set);
		EXPECT(!ds.limits[i].soft_set || !ds.limits[i].hard_set ||
		    ds.limits[i].soft_max ||
		    ds.limits[i].soft <= ds.limits[i].hard);
		for (j = 0; j < i; j++)
			EXPECT(ds.limits[j].resource != ds.limits[i].resource);
	}
	EXPECT(ds.nkeep_env == 0 || ds.clear_env);
	EXPECT(absolute_or_null(ds.chroot_dir));
	for (i = 0; i < ds.nenv_files; i++)
		EXPECT(absolute_or_null(ds.env_files[i]));
}

/* splitmix64: the same inputs from the same seed, on any platform. */
static uint64_t
next_random(void)
{
	uint64_t z;

	z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

/*
 * Random bytes alone would die at the first unknown option; pieces of
 * real command lines, glued and bent at random, reach the checks that
 * look at several options together.
 */
static const char *const opts[] = {
	"-c", "-E", "-e", "-f", "-h", "-l", "-m", "-o", "-p", "-s", "-t",
	"-u", "-V", "-v", "-fv", "-vvv", "-x", "-:", "-?", "-", "--",
	"--chdir", "--env", "--stderr", "--foreground", "--help", "--log",
	"--umask", "--stdout", "--notify", "--pidfile", "--ready-fd",
	"--signal", "--status", "--stop", "--stop-signal", "--timeout",
	"--user", "--version", "--verbose", "--st", "--s", "--no",
	"--help=1", "--notify=x", "--status=", "--stop=1",
	"-G", "-I", "-N", "--caps", "--chroot", "--clear-env",
	"--cpu-affinity", "--env-file", "--keep-env", "--limit",
	"--no-new-privs", "--oom-score-adj", "--scheduler", "--clear-env=1",
};
static const char *const values[] = {
	"", "/", ".", "..", "x", "a/b", "../x", "/abs/x.pid", "x.log",
	"0", "00", "1", "2", "3", "022", "0777", "0778", "1000", "8", "-1",
	"+1", " 1", "1 ", "0x10", "31536000", "31536001", "1048575",
	"1048576", "99999999999999999999", "TERM", "sigterm", "SIG", "SIGK",
	"KILL", "9", "64", "65", "0", "NAME=VALUE", "=x", "A=", "==",
	"nobody", "root:root", ":", "root:", ":root", "sleep", "/abs/true",
	"sh", "-c", "%s%n%s", "\xff\xfe",
	"nofile=1024", "nofile=max:4K", "core=:unlimited", "nice=41",
	"cpu=0", "nofile=5:4", "nofile=:", "as=1T:", "stack=max",
	"best-effort:7", "idle:1", "realtime", "fifo:99", "rr:0", "batch",
	"0-1,3", "1-0", "0,", "-20", "19", "-1000", "1001",
	"net_bind_service", "CAP_NET_RAW,sys_admin", "cap_", ",",
};

/* Append one argument; false when the buffer is full. */
static bool
append(unsigned char *buf, size_t size, size_t *len, const char *arg)
{
	size_t n;

	n = strlen(arg);
	if (*len + n + 1 > size)
		return (false);
	memcpy(buf + *len, arg, n);
	*len += n;
	buf[(*len)++] = '\0';
	return (true);
}

#define PICK(list)	\
	((list)[next_random() % (sizeof(list) / sizeof((list)[0]))])

/*
 * Options, most with a value, then maybe "--", then maybe a command:
 * the shape of a real command line, with every part of it bent now and
 * then (a glued value, raw bytes, a value where an option should be).
 */
static size_t
generate(unsigned char *buf, size_t size)
{
	char word[160];
	size_t len, n, i, k, nopts;
	uint64_t r;
	bool room;

	len = 0;
	room = true;
	nopts = next_random() % 9;
	for (i = 0; i < nopts && room; i++) {
		r = next_random() % 20;
		if (r < 13) {
			room = append(buf, size, &len, PICK(opts));
			if (room && next_random() % 4 != 0)
				room = append(buf, size, &len, PICK(values));
		} else if (r < 16) {
			(void)snprintf(word, sizeof(word), "%s%s%s", PICK(opts),
			    next_random() % 2 ? "=" : "", PICK(values));
			room = append(buf, size, &len, word);
		} else if (r < 18)
			room = append(buf, size, &len, PICK(values));
		else {
			/* Raw bytes, NUL excepted: it ends the argument. */
			n = next_random() % 40;
			for (k = 0; k < n; k++)
				word[k] = (char)(1 + next_random() % 255);
			word[n] = '\0';
			room = append(buf, size, &len, word);
		}
	}
	r = next_random() % 10;
	if (room && r < 2)
		room = append(buf, size, &len, "--");
	if (room && r < 7) {
		room = append(buf, size, &len, PICK(values));
		for (n = next_random() % 3; room && n > 0; n--)
			room = append(buf, size, &len, PICK(values));
	}
	/* Now and then a long argument, for the paths built from it. */
	if (room && next_random() % 50 == 0 && len + 5000 <= size) {
		memset(buf + len, 'a', 4999);
		len += 4999;
		buf[len++] = '\0';
	}
	return (len);
}

static void
show_input(const unsigned char *buf, size_t len)
{
	size_t i;

	(void)fputs("  argv: daemonize", stderr);
	if (len == 0) {
		(void)fputc('\n', stderr);
		return;
	}
	(void)fputs(" \"", stderr);
	for (i = 0; i < len; i++) {
		if (buf[i] == '\0')
			(void)fputs(i + 1 < len ? "\" \"" : "", stderr);
		else if (buf[i] == '"' || buf[i] == '\\')
			(void)fprintf(stderr, "\\%c", buf[i]);
		else if (buf[i] < 0x20 || buf[i] >= 0x7f)
			(void)fprintf(stderr, "\\x%02x", buf[i]);
		else
			(void)fputc(buf[i], stderr);
	}
	(void)fputs("\"\n", stderr);
}

/* Parse one input in a child; true when it ended as the parser may. */
static bool
run_child(const unsigned char *buf, size_t len, unsigned long long n,
    unsigned long long *tally)
{
	static char report[REPORT_MAX + 1];
	char sink[4096];
	size_t got;
	ssize_t r;
	pid_t pid;
	int fds[2], null, status;
	bool ok;

	if (pipe(fds) == -1)
		err(1, "pipe");
	(void)fflush(NULL);
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		/* stdout only ever carries --help and --version. */
		if ((null = open(_PATH_DEVNULL, O_WRONLY)) == -1 ||
		    dup2(null, STDOUT_FILENO) == -1 ||
		    dup2(fds[1], STDERR_FILENO) == -1)
			_exit(125);
		(void)close(null);
		(void)close(fds[0]);
		(void)close(fds[1]);
		(void)alarm(CHILD_SECONDS);
		parse_input(buf, len);
	}
	(void)close(fds[1]);
	/* Read to the end, or the child could block on a full pipe. */
	got = 0;
	for (;;) {
		if (got < REPORT_MAX)
			r = read(fds[0], report + got, REPORT_MAX - got);
		else
			r = read(fds[0], sink, sizeof(sink));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (got < REPORT_MAX)
			got += (size_t)r;
	}
	report[got] = '\0';
	(void)close(fds[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			err(1, "waitpid");

	ok = WIFEXITED(status) && WEXITSTATUS(status) <= EXIT_USAGE &&
	    strstr(report, "Sanitizer") == NULL &&
	    strstr(report, "runtime error") == NULL;
	if (ok && WEXITSTATUS(status) == 0 &&
	    strcmp(report, "parsed\n") == 0)
		tally[PARSED]++;
	else if (ok)
		tally[WEXITSTATUS(status)]++;
	else {
		if (WIFSIGNALED(status))
			warnx("input %llu: killed by signal %d", n,
			    WTERMSIG(status));
		else
			warnx("input %llu: exit status %d", n,
			    WEXITSTATUS(status));
		show_input(buf, len);
		(void)fprintf(stderr, "%s", report);
	}
	return (ok);
}

int
main(int argc, char *argv[])
{
	const char *errstr;
	unsigned long long count, i, failed, tally[PARSED + 1];
	size_t len;
	int ch, fd;

	count = 0;
	rng_state = 1;
	while ((ch = getopt(argc, argv, "n:s:")) != -1) {
		switch (ch) {
		case 'n':
			count = (unsigned long long)strtonum(optarg, 1,
			    100000000, &errstr);
			if (errstr != NULL)
				errx(2, "-n %s: %s", optarg, errstr);
			break;
		case 's':
			rng_state = (uint64_t)strtonum(optarg, 0, LLONG_MAX,
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

	if (count == 0) {
		if (argc > 1)
			usage();
		if (argc == 0)
			fd = STDIN_FILENO;
		else if ((fd = open(argv[0], O_RDONLY)) == -1)
			err(1, "%s", argv[0]);
		len = read_input(fd, input, sizeof(input));
		parse_input(input, len);
	}
	if (argc != 0)
		usage();

	generating = true;
	failed = 0;
	memset(tally, 0, sizeof(tally));
	for (i = 0; i < count; i++) {
		len = generate(input, sizeof(input));
		if (!run_child(input, len, i, tally))
			failed++;
	}
	(void)printf("%llu inputs: %llu parsed, %llu --help or --version, "
	    "%llu exit 1, %llu exit 2, %llu failed\n", count,
	    tally[PARSED], tally[0], tally[1], tally[2], failed);
	if (failed != 0)
		errx(1, "%llu of %llu inputs failed", failed, count);
	return (0);
}
