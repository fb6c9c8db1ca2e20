/* options.c: command-line parsing and validation; fills the state, does nothing else. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>

#include <err.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "daemonize.h"

/* Options with no short form. */
enum {
	OPT_BACKOFF_MAX = 256,
	OPT_MAX_FAILURES,
	OPT_MIN_UPTIME,
	OPT_NOTIFY,
	OPT_RESTART,
	OPT_STOP_TIMEOUT,
	OPT_SYSLOG,
	OPT_TIMESTAMPS,
	OPT_READY_FD,
	OPT_SIGNAL,
	OPT_STATUS,
	OPT_STOP,
};

static mode_t	parse_umask(const char *);
static void	set_mode(struct daemon_state *, enum mode, const char *);
static long long seconds(const char *, const char *, long long);
static int	facility(const char *, const char *);
static void	check(struct daemon_state *, int);
static void	add_env(struct daemon_state *, char *);
static void	set_log(struct logfile *, const char *);

static const char short_opts[] = "+:c:E:e:fhl:m:n:o:P:p:rs:t:u:Vv";

static const struct {
	const char	*name;
	int		 number;
} signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
	{ "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
	{ "IO", SIGIO }, { "SYS", SIGSYS },
};

static const struct {
	const char	*name;
	int		 number;
} facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

static const struct option long_opts[] = {
	{ "backoff-max", required_argument,	NULL,	OPT_BACKOFF_MAX },
	{ "chdir",	required_argument,	NULL,	'c' },
	{ "env",	required_argument,	NULL,	'E' },
	{ "stderr",	required_argument,	NULL,	'e' },
	{ "foreground",	no_argument,		NULL,	'f' },
	{ "help",	no_argument,		NULL,	'h' },
	{ "log",	required_argument,	NULL,	'l' },
	{ "umask",	required_argument,	NULL,	'm' },
	{ "stdout",	required_argument,	NULL,	'o' },
	{ "max-failures", required_argument,	NULL,	OPT_MAX_FAILURES },
	{ "min-uptime",	required_argument,	NULL,	OPT_MIN_UPTIME },
	{ "name",	required_argument,	NULL,	'n' },
	{ "notify",	no_argument,		NULL,	OPT_NOTIFY },
	{ "pidfile",	required_argument,	NULL,	'p' },
	{ "ready-fd",	required_argument,	NULL,	OPT_READY_FD },
	{ "respawn",	optional_argument,	NULL,	'r' },
	{ "restart",	no_argument,		NULL,	OPT_RESTART },
	{ "signal",	required_argument,	NULL,	OPT_SIGNAL },
	{ "status",	no_argument,		NULL,	OPT_STATUS },
	{ "stop",	no_argument,		NULL,	OPT_STOP },
	{ "stop-signal", required_argument,	NULL,	's' },
	{ "stop-timeout", required_argument,	NULL,	OPT_STOP_TIMEOUT },
	{ "supervisor-pidfile", required_argument, NULL, 'P' },
	{ "syslog",	optional_argument,	NULL,	OPT_SYSLOG },
	{ "timestamps",	no_argument,		NULL,	OPT_TIMESTAMPS },
	{ "timeout",	required_argument,	NULL,	't' },
	{ "user",	required_argument,	NULL,	'u' },
	{ "version",	no_argument,		NULL,	'V' },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ NULL,		0,			NULL,	0 }
};

void
options_usage(void)
{
	printf("usage: daemonize [-fhrVv] [-c dir] [-E name=value] [-e file] "
	    "[-l file]\n"
	    "                 [-m umask] [-o file] [-P pidfile] [-p pidfile] "
	    "[-u user[:group]]\n"
	    "                 [--notify | --ready-fd n] [-t seconds] "
	    "[--] command [arg ...]\n"
	    "       daemonize --status | --stop [-s signal] [-t seconds] | "
	    "--signal signal |\n"
	    "                 --restart [-v] -p pidfile | -P pidfile\n"
	    "\n"
	    "  -c, --chdir DIR         working directory of the daemon "
	    "(default /)\n"
	    "  -E, --env NAME=VALUE    set a variable for the command; "
	    "repeatable\n"
	    "  -e, --stderr FILE       append the command's stderr to FILE\n"
	    "  -f, --foreground        do not fork or detach; "
	    "everything else as usual\n"
	    "  -h, --help              print this help and exit\n"
	    "  -l, --log FILE          append stdout and stderr to FILE\n"
	    "  -m, --umask MODE        octal umask of the daemon "
	    "(default 022)\n"
	    "      --notify            wait for READY=1 on $NOTIFY_SOCKET "
	    "(sd_notify)\n"
	    "  -o, --stdout FILE       append the command's stdout to FILE\n"
	    "  -p, --pidfile FILE      write and lock the daemon's pid "
	    "in FILE\n"
	    "      --ready-fd N        wait for a newline on the daemon's "
	    "descriptor N\n"
	    "  -r, --respawn[=WHEN]    supervise: start the command again "
	    "on-failure\n"
	    "                          (the default) or always\n"
	    "      --min-uptime S      a shorter run is a failed start "
	    "(10)\n"
	    "      --backoff-max S     longest wait between failed starts "
	    "(60)\n"
	    "      --max-failures N    failed starts in a row before giving "
	    "up (5)\n"
	    "      --stop-timeout S    SIGTERM to SIGKILL when stopping the "
	    "child (10)\n"
	    "      --restart           restart a supervised command now\n"
	    "  -P, --supervisor-pidfile FILE  the supervisor's own pidfile "
	    "(-r)\n"
	    "      --timestamps        an RFC 3339 time before each line "
	    "(-r)\n"
	    "      --syslog[=FACILITY] each line to syslog too, as NAME "
	    "(-r)\n"
	    "  -n, --name NAME         the syslog tag (default: the "
	    "command's name)\n"
	    "  -s, --stop-signal SIG   the signal --stop sends "
	    "(default TERM)\n"
	    "      --signal SIG        send SIG to the running daemon\n"
	    "      --status            report whether the daemon runs "
	    "(LSB codes)\n"
	    "      --stop              stop the running daemon\n"
	    "  -t, --timeout SECONDS   readiness wait (60), or --stop's "
	    "grace period (10)\n"
	    "  -u, --user USER[:GROUP] run the command as USER "
	    "(without root: yourself)\n"
	    "  -V, --version           print the version and exit\n"
	    "  -v, --verbose           say what is done on stderr\n"
	    "\n"
	    "Exit status: 0 running, 1 system error, 2 usage, "
	    "3 already running,\n"
	    "4 died or timed out before ready, 126 command cannot be "
	    "executed,\n127 command not found.\n");
}

/*
 * Paths are made absolute before anything forks, so that a relative
 * name means what the caller meant even after the daemon's chdir("/").
 */
char *
options_absolute(const char *path)
{
	char *abs, *cwd;

	if (path[0] == '/') {
		if ((abs = strdup(path)) == NULL)
			err(EXIT_ERR, "strdup");
		return (abs);
	}
	if ((cwd = getcwd(NULL, 0)) == NULL)
		err(EXIT_ERR, "current directory");
	if (asprintf(&abs, "%s%s%s", cwd,
	    cwd[strlen(cwd) - 1] == '/' ? "" : "/", path) == -1)
		err(EXIT_ERR, "asprintf");
	free(cwd);
	return (abs);
}

/* A signal by name, with or without "SIG", or by number. */
int
options_signal(const char *s)
{
	const char *errstr, *name;
	size_t i;
	int sig;

	name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(name, signals[i].name) == 0)
			return (signals[i].number);
	sig = (int)strtonum(s, 1, NSIG - 1, &errstr);
	if (errstr != NULL)
		errx(EXIT_USAGE, "%s: no such signal", s);
	return (sig);
}

const char *
options_signame(int sig)
{
	static char num[16];
	size_t i;

	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].number == sig)
			return (signals[i].name);
	(void)snprintf(num, sizeof(num), "%d", sig);
	return (num);
}

static int
facility(const char *opt, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(name, facilities[i].name) == 0)
			return (facilities[i].number);
	errx(EXIT_USAGE, "%s: no such facility (daemon, user, local0 to "
	    "local7)", opt);
}

/* A count or a number of seconds, min to a year. */
static long long
seconds(const char *arg, const char *opt, long long min)
{
	const char *errstr;
	long long v;

	v = strtonum(arg, min, 31536000, &errstr);
	if (errstr != NULL)
		errx(EXIT_USAGE, "%s %s: %s (%lld to 31536000)", opt, arg,
		    errstr, min);
	return (v);
}

static void
set_mode(struct daemon_state *ds, enum mode mode, const char *name)
{
	if (ds->mode != MODE_START && ds->mode != mode)
		errx(EXIT_USAGE, "%s: only one of --status, --stop, "
		    "--signal and --restart", name);
	ds->mode = mode;
}

/* A umask is strict octal: digits 0-7 only, no sign, at most 0777. */
static mode_t
parse_umask(const char *s)
{
	const char *p;
	unsigned long v;

	if (*s == '\0')
		errx(EXIT_USAGE, "umask '': not an octal mode");
	v = 0;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			errx(EXIT_USAGE, "umask '%s': not an octal mode", s);
		v = v * 8 + (unsigned long)(*p - '0');
		if (v > 0777)
			errx(EXIT_USAGE, "umask '%s': larger than 0777", s);
	}
	return ((mode_t)v);
}

static void
add_env(struct daemon_state *ds, char *arg)
{
	char **env;
	char *eq;

	eq = strchr(arg, '=');
	if (eq == NULL)
		errx(EXIT_USAGE, "-E '%s': not NAME=VALUE", arg);
	if (eq == arg)
		errx(EXIT_USAGE, "-E '%s': empty variable name", arg);
	env = reallocarray(ds->env, ds->nenv + 1, sizeof(*env));
	if (env == NULL)
		err(EXIT_ERR, "reallocarray");
	env[ds->nenv++] = arg;
	ds->env = env;
}

static void
set_log(struct logfile *lf, const char *arg)
{
	if (*arg == '\0')
		errx(EXIT_USAGE, "empty log file name");
	free(lf->path);
	lf->path = options_absolute(arg);
}

void
options_parse(struct daemon_state *ds, int argc, char **argv)
{
	const char *errstr, *cur, *when, *sv_only = NULL;
	bool stop_signal = false, start_only = false;
	int ch;

	opterr = 0;
	for (;;) {
		/* The word getopt works on, for messages about it. */
		cur = optind < argc ? argv[optind] : "";
		if ((ch = getopt_long(argc, argv, short_opts, long_opts,
		    NULL)) == -1)
			break;
		switch (ch) {
		case 'c':
			start_only = true;
			if (*optarg == '\0')
				errx(EXIT_USAGE, "empty directory name");
			free(ds->chdir_dir);
			ds->chdir_dir = options_absolute(optarg);
			break;
		case 'E':
			start_only = true;
			add_env(ds, optarg);
			break;
		case 'e':
			start_only = true;
			set_log(&ds->err, optarg);
			break;
		case 'f':
			start_only = true;
			ds->foreground = true;
			break;
		case 'h':
			options_usage();
			exit(EXIT_OK);
		case 'l':
			start_only = true;
			set_log(&ds->out, optarg);
			set_log(&ds->err, optarg);
			break;
		case 'm':
			start_only = true;
			ds->umask = parse_umask(optarg);
			break;
		case 'o':
			start_only = true;
			set_log(&ds->out, optarg);
			break;
		case 'n':
			sv_only = "-n";
			start_only = true;
			if (*optarg == '\0')
				errx(EXIT_USAGE, "empty name");
			ds->name = optarg;
			break;
		case OPT_SYSLOG:
			sv_only = "--syslog";
			start_only = true;
			ds->syslog = true;
			ds->syslog_facility = LOG_DAEMON;
			/* Only --syslog=FACILITY carries a value. */
			if ((when = strchr(cur, '=')) != NULL)
				ds->syslog_facility = facility(cur, when + 1);
			break;
		case OPT_TIMESTAMPS:
			sv_only = "--timestamps";
			start_only = true;
			ds->timestamps = true;
			break;
		case 'P':
			if (*optarg == '\0')
				errx(EXIT_USAGE, "empty pidfile name");
			free(ds->svpid.path);
			ds->svpid.path = options_absolute(optarg);
			break;
		case 'p':
			if (*optarg == '\0')
				errx(EXIT_USAGE, "empty pidfile name");
			free(ds->pid.path);
			ds->pid.path = options_absolute(optarg);
			break;
		case 'r':
			start_only = true;
			/* Only --respawn=WHEN has a value; -r never does. */
			when = strncmp(cur, "--", 2) == 0 ? strchr(cur, '=') :
			    NULL;
			if (when == NULL || strcmp(when + 1, "on-failure") == 0)
				ds->respawn = RESPAWN_FAILURE;
			else if (strcmp(when + 1, "always") == 0)
				ds->respawn = RESPAWN_ALWAYS;
			else
				errx(EXIT_USAGE, "%s: not on-failure or always",
				    cur);
			break;
		case OPT_BACKOFF_MAX:
			sv_only = "--backoff-max";
			start_only = true;
			ds->backoff_max = seconds(optarg, "--backoff-max", 1);
			break;
		case OPT_MAX_FAILURES:
			sv_only = "--max-failures";
			start_only = true;
			ds->max_failures = seconds(optarg, "--max-failures", 1);
			break;
		case OPT_MIN_UPTIME:
			sv_only = "--min-uptime";
			start_only = true;
			ds->min_uptime = seconds(optarg, "--min-uptime", 0);
			break;
		case OPT_STOP_TIMEOUT:
			sv_only = "--stop-timeout";
			start_only = true;
			ds->stop_timeout = seconds(optarg, "--stop-timeout", 1);
			break;
		case OPT_RESTART:
			set_mode(ds, MODE_RESTART, "--restart");
			break;
		case 's':
			ds->signal = options_signal(optarg);
			stop_signal = true;
			break;
		case 't':
			ds->timeout = strtonum(optarg, 1, 31536000, &errstr);
			if (errstr != NULL)
				errx(EXIT_USAGE, "-t %s: %s (1 to 31536000 "
				    "seconds)", optarg, errstr);
			break;
		case 'u':
			start_only = true;
			ds->user_spec = optarg;
			break;
		case OPT_NOTIFY:
			start_only = true;
			if (ds->ready == READY_FD)
				errx(EXIT_USAGE, "--notify: not with "
				    "--ready-fd");
			ds->ready = READY_NOTIFY;
			break;
		case OPT_READY_FD:
			start_only = true;
			if (ds->ready == READY_NOTIFY)
				errx(EXIT_USAGE, "--ready-fd: not with "
				    "--notify");
			ds->ready = READY_FD;
			ds->ready_fd = (int)strtonum(optarg, 3, 1048575,
			    &errstr);
			if (errstr != NULL)
				errx(EXIT_USAGE, "--ready-fd %s: %s (3 to "
				    "1048575)", optarg, errstr);
			break;
		case OPT_SIGNAL:
			set_mode(ds, MODE_SIGNAL, "--signal");
			ds->signal = options_signal(optarg);
			break;
		case OPT_STATUS:
			set_mode(ds, MODE_STATUS, "--status");
			break;
		case OPT_STOP:
			set_mode(ds, MODE_STOP, "--stop");
			break;
		case 'V':
			printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			exit(EXIT_OK);
		case 'v':
			ds->verbose++;
			break;
		case ':':
			errx(EXIT_USAGE, "%s: option requires an argument",
			    argv[optind - 1]);
		default:
			if (strncmp(cur, "--", 2) == 0) {
				if (optopt != 0 && strchr(cur, '=') != NULL)
					errx(EXIT_USAGE, "%s: option takes no "
					    "value", cur);
				errx(EXIT_USAGE, "%s: unknown option "
				    "(see daemonize --help)", cur);
			}
			errx(EXIT_USAGE, "-%c: unknown option "
			    "(see daemonize --help)", optopt);
		}
	}
	argc -= optind;
	argv += optind;

	if (stop_signal && ds->mode != MODE_STOP)
		errx(EXIT_USAGE, "-s: only with --stop");
	if (sv_only != NULL && ds->mode == MODE_START &&
	    ds->respawn == RESPAWN_NO)
		errx(EXIT_USAGE, "%s: only with -r", sv_only);
	if (start_only && ds->mode != MODE_START)
		errx(EXIT_USAGE, "%s: takes only -P, -p, -s, -t and -v",
		    ds->mode == MODE_STATUS ? "--status" :
		    ds->mode == MODE_STOP ? "--stop" :
		    ds->mode == MODE_SIGNAL ? "--signal" : "--restart");
	if (ds->mode == MODE_STOP && !stop_signal)
		ds->signal = SIGTERM;
	check(ds, argc);
	if (ds->mode == MODE_START && *argv[0] == '\0')
		errx(EXIT_USAGE, "empty command name");
	ds->argv = argv;
	if (ds->name == NULL && argc > 0)
		ds->name = strrchr(argv[0], '/') != NULL ?
		    strrchr(argv[0], '/') + 1 : argv[0];
}

/* What the options mean together. */
static void
check(struct daemon_state *ds, int argc)
{
	const char *verb;

	if (ds->mode != MODE_START) {
		verb = ds->mode == MODE_STATUS ? "--status" :
		    ds->mode == MODE_STOP ? "--stop" :
		    ds->mode == MODE_SIGNAL ? "--signal" : "--restart";
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
		if (ds->timeout != -1 && ds->mode != MODE_STOP)
			errx(EXIT_USAGE, "-t: not with %s", verb);
		return;
	}
	if (argc == 0)
		errx(EXIT_USAGE, "no command given (see daemonize --help)");
	if (ds->svpid.path != NULL && ds->respawn == RESPAWN_NO)
		errx(EXIT_USAGE, "-P: only with -r");

	if (ds->respawn != RESPAWN_NO && ds->foreground)
		errx(EXIT_USAGE, "-r: not with -f");
	if (ds->ready != READY_EXEC && ds->foreground)
		errx(EXIT_USAGE, "%s: not with -f, which does not wait",
		    ds->ready == READY_FD ? "--ready-fd" : "--notify");
	if (ds->timeout != -1 && ds->ready == READY_EXEC)
		errx(EXIT_USAGE, "-t: only with --ready-fd, --notify or "
		    "--stop");
	if (ds->timeout == -1)
		ds->timeout = 60;
}
