/* options.c: the command line: one table of options drives getopt_long, the per-mode checks and --help; fills the state, does nothing else. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>

#include <err.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "daemonize.h"

/* The modes an option belongs to. */
#define M_START		0x01	/* a start */
#define M_SV		0x02	/* a start with -r */
#define M_STATUS	0x04
#define M_STOP		0x08
#define M_SIGNAL	0x10
#define M_RESTART	0x20
#define M_RELOAD	0x40
#define M_UPGRADE	0x80
#define M_VERBS		(M_STATUS | M_STOP | M_SIGNAL | M_RESTART | M_RELOAD | \
			    M_UPGRADE)
#define M_ALL		(M_START | M_SV | M_VERBS)

/*
 * Every option, once: getopt_long's table, the short option string, the
 * check of which mode takes what, and --help are all made from this.
 * In the order --help shows them.
 */
static const struct opt {
	const char	*name;
	int		 ch;	/* the short letter, or an OPT_ value */
	int		 arg;	/* getopt_long's has_arg; -r has none */
	unsigned int	 modes;
	const char	*argname;	/* for --help */
	const char	*help;	/* a '\n' continues below it */
} opts[] = {
	{ "caps", OPT_CAPS, required_argument, M_START, "LIST",
	    "capabilities -u's user keeps, ambient (Linux)" },
	{ "chdir", 'c', required_argument, M_START, "DIR",
	    "working directory of the daemon (default /)" },
	{ "chroot", OPT_CHROOT, required_argument, M_START, "DIR",
	    "run the command with DIR as its root directory" },
	{ "clear-env", OPT_CLEAR_ENV, no_argument, M_START, NULL,
	    "start the command's environment empty" },
	{ "cpu-affinity", OPT_CPU_AFFINITY, required_argument, M_START,
	    "LIST", "the CPUs the command may run on (0-3,8)" },
	{ "env", 'E', required_argument, M_START, "NAME=VALUE",
	    "set a variable for the command; repeatable" },
	{ "env-file", OPT_ENV_FILE, required_argument, M_START, "FILE",
	    "NAME=VALUE lines for the command; repeatable" },
	{ "stderr", 'e', required_argument, M_START, "FILE",
	    "append the command's stderr to FILE" },
	{ "foreground", 'f', no_argument, M_START, NULL,
	    "do not fork or detach; everything else as usual" },
	{ "groups", 'G', required_argument, M_START, "LIST",
	    "more supplementary groups for -u's user" },
	{ "help", 'h', no_argument, M_ALL, NULL,
	    "print this help and exit" },
	{ "ionice", 'I', required_argument, M_START, "CLASS[:LEVEL]",
	    "I/O class idle, best-effort or realtime; level 0-7" },
	{ "keep-env", OPT_KEEP_ENV, required_argument, M_START, "NAME",
	    "keep NAME with --clear-env; repeatable" },
	{ "limit", OPT_LIMIT, required_argument, M_START, "RES=VALUE",
	    "a resource limit, as prlimit(1) writes it; repeatable" },
	{ "log", 'l', required_argument, M_START, "FILE",
	    "append stdout and stderr to FILE" },
	{ "listen", OPT_LISTEN, required_argument, M_START, "ADDR[,OPT]",
	    "bind tcp:HOST:PORT or unix:PATH, hand it on as LISTEN_FDS" },
	{ "umask", 'm', required_argument, M_START, "MODE",
	    "octal umask of the daemon (default 022)" },
	{ "nice", 'N', required_argument, M_START, "N",
	    "the command's nice value, -20 to 19, absolute" },
	{ "no-new-privs", OPT_NO_NEW_PRIVS, no_argument, M_START, NULL,
	    "the command can gain no privileges through exec" },
	{ "notify", OPT_NOTIFY, no_argument, M_START, NULL,
	    "wait for READY=1 on $NOTIFY_SOCKET (sd_notify)" },
	{ "oom-score-adj", OPT_OOM_SCORE_ADJ, required_argument, M_START,
	    "N", "the OOM killer's adjustment, -1000 to 1000" },
	{ "stdout", 'o', required_argument, M_START, "FILE",
	    "append the command's stdout to FILE" },
	{ "pidfile", 'p', required_argument, M_START | M_VERBS, "FILE",
	    "write and lock the daemon's pid in FILE" },
	{ "ready-fd", OPT_READY_FD, required_argument, M_START, "N",
	    "wait for a newline on the daemon's descriptor N" },
	{ "respawn", 'r', optional_argument, M_START, "[=WHEN]",
	    "supervise: start the command again on-failure\n"
	    "(the default) or always" },
	{ "min-uptime", OPT_MIN_UPTIME, required_argument, M_SV, "S",
	    "a shorter run is a failed start (10)" },
	{ "backoff-max", OPT_BACKOFF_MAX, required_argument, M_SV, "S",
	    "longest wait between failed starts (60)" },
	{ "max-failures", OPT_MAX_FAILURES, required_argument, M_SV, "N",
	    "failed starts in a row before giving up (5)" },
	{ "stop-timeout", OPT_STOP_TIMEOUT, required_argument, M_SV, "S",
	    "SIGTERM to SIGKILL when stopping the child (10)" },
	{ "drain-signal", OPT_DRAIN_SIGNAL, required_argument, M_SV, "SIG",
	    "what an old run gets first, at a stop, restart\n"
	    "or reload; its group gets SIGKILL later (TERM)" },
	{ "drain-timeout", OPT_DRAIN_TIMEOUT, required_argument, M_SV, "S",
	    "from --drain-signal to SIGKILL (--stop-timeout)" },
	{ "restart", OPT_RESTART, no_argument, M_RESTART, NULL,
	    "restart a supervised command now" },
	{ "reload", OPT_RELOAD, no_argument, M_RELOAD, NULL,
	    "start a new run, and once it is ready end the old one" },
	{ "settle", OPT_SETTLE, required_argument, M_SV | M_RELOAD, "S",
	    "a reloaded run must live S s after ready (1)" },
	{ "supervisor-pidfile", 'P', required_argument, M_SV | M_VERBS,
	    "FILE", "the supervisor's own pidfile (-r)" },
	{ "log-size", OPT_LOG_SIZE, required_argument, M_SV, "SIZE",
	    "rotate a log at SIZE bytes (k, M, G: powers of 1024)" },
	{ "log-keep", OPT_LOG_KEEP, required_argument, M_SV, "N",
	    "rotated logs kept, FILE.1 to FILE.N (5)" },
	{ "timestamps", OPT_TIMESTAMPS, no_argument, M_SV, NULL,
	    "an RFC 3339 time before each line (-r)" },
	{ "syslog", OPT_SYSLOG, optional_argument, M_SV, "[=FACILITY]",
	    "each line to syslog too, as NAME (-r)" },
	{ "name", 'n', required_argument, M_SV, "NAME",
	    "the syslog tag (default: the command's name)" },
	{ "scheduler", OPT_SCHEDULER, required_argument, M_START,
	    "POLICY[:PRIO]", "other, batch, idle, fifo:PRIO or rr:PRIO" },
	{ "stop-signal", 's', required_argument, M_STOP, "SIG",
	    "the signal --stop sends (default TERM)" },
	{ "signal", OPT_SIGNAL, required_argument, M_SIGNAL, "SIG",
	    "send SIG to the running daemon" },
	{ "status", OPT_STATUS, no_argument, M_STATUS, NULL,
	    "report whether the daemon runs (LSB codes)" },
	{ "stop", OPT_STOP, no_argument, M_STOP, NULL,
	    "stop the running daemon" },
	{ "timeout", 't', required_argument,
	    M_START | M_STOP | M_RELOAD | M_UPGRADE, "SECONDS",
	    "readiness wait (60), --stop's grace period (10),\n"
	    "or how long --reload (no limit) or --upgrade (30)\n"
	    "wait for the answer" },
	{ "upgrade", OPT_UPGRADE, optional_argument, M_UPGRADE, "[=PATH]",
	    "the supervisor execs a new daemonize in its place" },
	{ "user", 'u', required_argument, M_START, "USER[:GROUP]",
	    "run the command as USER (without root: yourself)" },
	{ "version", 'V', no_argument, M_ALL, NULL,
	    "print the version and exit" },
	{ "verbose", 'v', no_argument, M_ALL, NULL,
	    "say what is done on stderr" },
};
#define NOPTS	(sizeof(opts) / sizeof(opts[0]))

static const char synopsis[] =
    "usage: daemonize [-fhrVv] [-c dir] [-E name=value] [-e file] "
    "[-l file]\n"
    "                 [-m umask] [-o file] [-P pidfile] [-p pidfile] "
    "[-u user[:group]]\n"
    "                 [-G groups] [-I class[:level]] [-N nice] [--caps list]\n"
    "                 [--chroot dir] [--clear-env] [--cpu-affinity list]\n"
    "                 [--env-file file] [--keep-env name] [--limit res=value]\n"
    "                 [--no-new-privs] [--oom-score-adj n] "
    "[--scheduler policy]\n"
    "                 [--listen addr[,option ...]] [--notify | --ready-fd n]\n"
    "                 [-t seconds] [--] command [arg ...]\n"
    "       daemonize -r [--log-size size] [--log-keep n] [--timestamps] "
    "[...]\n"
    "       daemonize --status | --stop [-s signal] [-t seconds] | "
    "--signal signal |\n"
    "                 --restart [-v] -p pidfile | -P pidfile\n"
    "       daemonize --reload [--settle seconds] [-t seconds] [-v]\n"
    "                 -p pidfile | -P pidfile\n"
    "       daemonize --upgrade[=path] [-t seconds] [-v] "
    "-p pidfile | -P pidfile\n";

static const char exit_codes[] =
    "Exit status: 0 running, 1 system error, 2 usage, 3 already running,\n"
    "4 died or timed out before ready, 126 command cannot be executed,\n"
    "127 command not found; --reload: 5 busy, 6 the old run was killed;\n"
    "--upgrade: 4 not upgraded, 5 no verdict in time.\n";

/* -c was relative: which with --chroot has no meaning inside the root. */

static const struct opt *find(int);
static bool	is_verb(const struct opt *);
static const char *flag(const struct opt *, char *, size_t);
static void	make_getopt(char *, struct option *);
static void	unknown(int, char **, const char *)
		    __attribute__((__noreturn__));
static unsigned int mode_bit(const struct daemon_state *);
static const char *verb_name(enum mode);
static void	verb_takes(unsigned int, char *, size_t);
static void	check_modes(const struct daemon_state *, const bool *);
static void	check(struct daemon_state *, int, bool);

static const struct opt *
find(int ch)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (opts[i].ch == ch)
			return (&opts[i]);
	return (NULL);
}

/* The options that choose a mode, and those that leave at once. */
static bool
is_verb(const struct opt *o)
{
	return (o->ch == OPT_STATUS || o->ch == OPT_STOP ||
	    o->ch == OPT_SIGNAL || o->ch == OPT_RESTART ||
	    o->ch == OPT_RELOAD || o->ch == OPT_UPGRADE || o->ch == 'h' ||
	    o->ch == 'V');
}

/* The option as a user would write it: "-p", or "--notify". */
static const char *
flag(const struct opt *o, char *buf, size_t size)
{
	if (o->ch < 256)
		(void)snprintf(buf, size, "-%c", o->ch);
	else
		(void)snprintf(buf, size, "--%s", o->name);
	return (buf);
}

/* The short option string and getopt_long's table, from opts[]. */
static void
make_getopt(char *shorts, struct option *longs)
{
	size_t i;
	char *p;

	p = shorts;
	/* Stop at the command; report a missing argument as ':'. */
	*p++ = '+';
	*p++ = ':';
	for (i = 0; i < NOPTS; i++) {
		longs[i] = (struct option){ opts[i].name, opts[i].arg, NULL,
		    opts[i].ch };
		if (opts[i].ch >= 256)
			continue;
		*p++ = (char)opts[i].ch;
		if (opts[i].arg == required_argument)
			*p++ = ':';
	}
	*p = '\0';
	longs[NOPTS] = (struct option){ NULL, 0, NULL, 0 };
}

void
options_usage(void)
{
	char left[64];
	const char *h, *nl;
	size_t i;
	int n;

	(void)fputs(synopsis, stdout);
	(void)putchar('\n');
	for (i = 0; i < NOPTS; i++) {
		if (opts[i].ch < 256)
			n = snprintf(left, sizeof(left), "  -%c, --%s",
			    opts[i].ch, opts[i].name);
		else
			n = snprintf(left, sizeof(left), "      --%s",
			    opts[i].name);
		if (opts[i].argname != NULL)
			(void)snprintf(left + n, sizeof(left) - (size_t)n,
			    "%s%s", opts[i].argname[0] == '[' ? "" : " ",
			    opts[i].argname);
		/* The help at column 26, or two spaces after a long left. */
		printf("%-*s", strlen(left) < 25 ? 26 : (int)strlen(left) + 2,
		    left);
		for (h = opts[i].help; (nl = strchr(h, '\n')) != NULL;
		    h = nl + 1)
			printf("%.*s\n%26s", (int)(nl - h), h, "");
		printf("%s\n", h);
	}
	(void)putchar('\n');
	(void)fputs(exit_codes, stdout);
}

/* getopt_long's '?' or ':', in our words. */
static void
unknown(int ch, char **argv, const char *cur)
{
	if (ch == ':')
		errx(EXIT_USAGE, "%s: option requires an argument",
		    argv[optind - 1]);
	if (strncmp(cur, "--", 2) == 0) {
		if (optopt != 0 && strchr(cur, '=') != NULL)
			errx(EXIT_USAGE, "%s: option takes no value", cur);
		errx(EXIT_USAGE, "%s: unknown option (see daemonize --help)",
		    cur);
	}
	errx(EXIT_USAGE, "-%c: unknown option (see daemonize --help)",
	    optopt);
}

static unsigned int
mode_bit(const struct daemon_state *ds)
{
	switch (ds->mode) {
	case MODE_STATUS:	return (M_STATUS);
	case MODE_STOP:		return (M_STOP);
	case MODE_SIGNAL:	return (M_SIGNAL);
	case MODE_RESTART:	return (M_RESTART);
	case MODE_RELOAD:	return (M_RELOAD);
	case MODE_UPGRADE:	return (M_UPGRADE);
	default:
		return (ds->respawn != RESPAWN_NO ? M_START | M_SV : M_START);
	}
}

static const char *
verb_name(enum mode mode)
{
	switch (mode) {
	case MODE_STATUS:	return ("--status");
	case MODE_STOP:		return ("--stop");
	case MODE_SIGNAL:	return ("--signal");
	case MODE_RESTART:	return ("--restart");
	case MODE_RELOAD:	return ("--reload");
	case MODE_UPGRADE:	return ("--upgrade");
	default:		return ("a start");
	}
}

/* "-p, -P and -v": what a verb takes, itself and -h and -V aside. */
static void
verb_takes(unsigned int mode, char *list, size_t size)
{
	char name[32];
	size_t i, last, len;

	last = NOPTS;
	for (i = 0; i < NOPTS; i++)
		if ((opts[i].modes & mode) != 0 && !is_verb(&opts[i]))
			last = i;
	len = 0;
	list[0] = '\0';
	for (i = 0; i < NOPTS && len < size; i++) {
		if ((opts[i].modes & mode) == 0 || is_verb(&opts[i]))
			continue;
		len += (size_t)snprintf(list + len, size - len, "%s%s",
		    len == 0 ? "" : i == last ? " and " : ", ",
		    flag(&opts[i], name, sizeof(name)));
	}
}

/*
 * Each option given must belong to the mode: a verb says what it takes,
 * from the table; a start says what the option needs.
 */
static void
check_modes(const struct daemon_state *ds, const bool *seen)
{
	char list[256], name[32];
	unsigned int mode;
	size_t i;

	mode = mode_bit(ds);
	for (i = 0; i < NOPTS; i++) {
		if (!seen[i] || (opts[i].modes & mode) != 0)
			continue;
		(void)flag(&opts[i], name, sizeof(name));
		if (ds->mode == MODE_START && (opts[i].modes & M_SV) != 0)
			errx(EXIT_USAGE, "%s: only with -r", name);
		if (ds->mode == MODE_START)
			errx(EXIT_USAGE, "%s: only with --stop", name);
		verb_takes(mode, list, sizeof(list));
		errx(EXIT_USAGE, "%s: takes only %s", verb_name(ds->mode),
		    list);
	}
}

void
options_parse(struct daemon_state *ds, int argc, char **argv)
{
	char shorts[2 + 2 * NOPTS + 1];
	struct option longs[NOPTS + 1];
	bool seen[NOPTS] = { false };
	const struct opt *o;
	const char *cur;
	int ch;

	make_getopt(shorts, longs);
	opterr = 0;
	for (;;) {
		/* The word getopt works on, for messages about it. */
		cur = optind < argc ? argv[optind] : "";
		if ((ch = getopt_long(argc, argv, shorts, longs, NULL)) == -1)
			break;
		if ((o = find(ch)) == NULL)
			unknown(ch, argv, cur);
		seen[o - opts] = true;
		if (ch == 'h') {
			options_usage();
			exit(EXIT_OK);
		}
		if (ch == 'V') {
			printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			exit(EXIT_OK);
		}
		/* Each takes its own letters and leaves the rest alone. */
		optset_start(ds, ch, optarg, cur);
		optset_env(ds, ch, optarg);
		optset_supervisor(ds, ch, optarg, cur);
		optset_verb(ds, ch, optarg, cur);
	}
	argc -= optind;
	argv += optind;

	check_modes(ds, seen);
	if (ds->mode == MODE_STOP && !seen[find('s') - opts])
		ds->signal = SIGTERM;
	check(ds, argc, seen[find(OPT_LOG_KEEP) - opts]);
	if (ds->mode == MODE_START && *argv[0] == '\0')
		errx(EXIT_USAGE, "empty command name");
	ds->argv = argv;
	if (ds->name == NULL && argc > 0)
		ds->name = strrchr(argv[0], '/') != NULL ?
		    strrchr(argv[0], '/') + 1 : argv[0];
}

/* What the options mean together. */
static void
check(struct daemon_state *ds, int argc, bool seen_keep)
{
	const char *verb;

	if (ds->mode != MODE_START) {
		verb = verb_name(ds->mode);
		/* --restart is answered at once; --reload waits for its answer. */
		if (ds->mode == MODE_RESTART)
			ds->timeout = 10;
		if (ds->mode == MODE_UPGRADE && ds->timeout == -1)
			ds->timeout = 30;
		/* The verbs take either pidfile of a supervised service. */
		if (ds->pid.path != NULL && ds->svpid.path != NULL)
			errx(EXIT_USAGE, "%s: -p or -P, not both", verb);
		if (ds->pid.path == NULL) {
			ds->pid.path = ds->svpid.path;
			ds->svpid.path = NULL;
		}
		if (ds->pid.path == NULL)
			errx(EXIT_USAGE, "%s: needs -p pidfile", verb);
		if (argc != 0)
			errx(EXIT_USAGE, "%s: takes no command", verb);
		return;
	}
	if (argc == 0)
		errx(EXIT_USAGE, "no command given (see daemonize --help)");
	if (ds->respawn != RESPAWN_NO && ds->foreground)
		errx(EXIT_USAGE, "-r: not with -f");
	if (ds->ready != READY_EXEC && ds->foreground)
		errx(EXIT_USAGE, "%s: not with -f, which does not wait",
		    ds->ready == READY_FD ? "--ready-fd" : "--notify");
	if (ds->timeout != -1 && ds->ready == READY_EXEC)
		errx(EXIT_USAGE, "-t: only with --ready-fd, --notify, --stop, "
		    "--reload or --upgrade");
	if (ds->ready == READY_FD && (size_t)ds->ready_fd < 3 + ds->nlisten)
		errx(EXIT_USAGE, "--ready-fd %d: among the sockets of --listen "
		    "(3 to %zu)", ds->ready_fd, 2 + ds->nlisten);
	if (ds->log_size > 0 && ds->out.path == NULL && ds->err.path == NULL)
		errx(EXIT_USAGE, "--log-size: needs -l, -o or -e");
	if (seen_keep && ds->log_size == 0)
		errx(EXIT_USAGE, "--log-keep: only with --log-size");
	if (ds->nkeep_env > 0 && !ds->clear_env)
		errx(EXIT_USAGE, "--keep-env: only with --clear-env");
	if (ds->chroot_dir != NULL && ds->ready == READY_NOTIFY)
		errx(EXIT_USAGE, "--notify: not with --chroot, whose root "
		    "cannot reach the socket (use --ready-fd)");
	if (ds->chroot_dir != NULL && ds->chdir_relative)
		errx(EXIT_USAGE, "-c: with --chroot, an absolute path inside "
		    "the root");
	if (ds->timeout == -1)
		ds->timeout = 60;
	if (ds->drain_timeout == -1)
		ds->drain_timeout = ds->stop_timeout;
	if (ds->settle == -1)
		ds->settle = 1;
}
