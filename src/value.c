/* value.c: the words and numbers options take: digits-only numbers, sizes, seconds, umasks, absolute paths, signal and facility names. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "daemonize.h"

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

/*
 * Paths are made absolute before anything forks, so that a relative
 * name means what the caller meant even after the daemon's chdir("/").
 */
char *
value_path(const char *path)
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

/*
 * strtonum(3), but digits only: it would take leading blanks and a '+',
 * so that " 0" named root.  A '-' only where negative numbers are meant.
 */
long long
value_number(const char *s, long long min, long long max,
    const char **errstr)
{
	const char *p;

	p = s + (min < 0 && *s == '-');
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
		*errstr = "invalid";
		return (0);
	}
	return (strtonum(s, min, max, errstr));
}

/* A signal by name, with or without "SIG", or by number. */
int
value_signal(const char *s)
{
	const char *errstr, *name;
	size_t i;
	int sig;

	name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(name, signals[i].name) == 0)
			return (signals[i].number);
	sig = (int)value_number(s, 1, NSIG - 1, &errstr);
	if (errstr != NULL)
		errx(EXIT_USAGE, "%s: no such signal", s);
	return (sig);
}

/* A signal's name without "SIG", or its number. */
const char *
value_signame(int sig)
{
	static char num[16];
	size_t i;

	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].number == sig)
			return (signals[i].name);
	(void)snprintf(num, sizeof(num), "%d", sig);
	return (num);
}

/* A syslog facility by name. */
int
value_facility(const char *opt, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(name, facilities[i].name) == 0)
			return (facilities[i].number);
	errx(EXIT_USAGE, "%s: no such facility (daemon, user, local0 to "
	    "local7)", opt);
}

/* A count or a number of seconds, min to a year. */
long long
value_seconds(const char *arg, const char *opt, long long min)
{
	const char *errstr;
	long long v;

	v = value_number(arg, min, 31536000, &errstr);
	if (errstr != NULL)
		errx(EXIT_USAGE, "%s %s: %s (%lld to 31536000)", opt, arg,
		    errstr, min);
	return (v);
}

/* A size in bytes, or with k, M or G after it: powers of 1024. */
long long
value_size(const char *arg)
{
	const char *errstr, *units = "kMG";
	char digits[32];
	long long v, unit;
	size_t len;

	len = strlen(arg);
	unit = 1;
	if (len > 1 && strchr(units, arg[len - 1]) != NULL) {
		unit = 1LL << (10 * (strchr(units, arg[len - 1]) - units + 1));
		len--;
	}
	if (len >= sizeof(digits))
		len = sizeof(digits) - 1;
	memcpy(digits, arg, len);
	digits[len] = '\0';
	v = value_number(digits, 1, (1LL << 50) / unit, &errstr);
	if (errstr != NULL)
		errx(EXIT_USAGE, "--log-size %s: %s (1 to 1P bytes, or with "
		    "k, M or G)", arg, errstr);
	return (v * unit);
}

/* A umask is strict octal: digits 0-7 only, no sign, at most 0777. */
mode_t
value_umask(const char *s)
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
