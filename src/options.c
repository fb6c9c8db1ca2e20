/* options.c: command-line parsing and validation; fills the state, does nothing else. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>

#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

static mode_t	parse_umask(const char *);
static void	add_env(struct daemon_state *, char *);
static void	set_log(struct logfile *, const char *);

static const char short_opts[] = "+:c:E:e:fhl:m:o:p:u:Vv";

static const struct option long_opts[] = {
	{ "chdir",	required_argument,	NULL,	'c' },
	{ "env",	required_argument,	NULL,	'E' },
	{ "stderr",	required_argument,	NULL,	'e' },
	{ "foreground",	no_argument,		NULL,	'f' },
	{ "help",	no_argument,		NULL,	'h' },
	{ "log",	required_argument,	NULL,	'l' },
	{ "umask",	required_argument,	NULL,	'm' },
	{ "stdout",	required_argument,	NULL,	'o' },
	{ "pidfile",	required_argument,	NULL,	'p' },
	{ "user",	required_argument,	NULL,	'u' },
	{ "version",	no_argument,		NULL,	'V' },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ NULL,		0,			NULL,	0 }
};

void
options_usage(void)
{
	printf("usage: daemonize [-fhVv] [-c dir] [-E name=value] [-e file] "
	    "[-l file]\n"
	    "                 [-m umask] [-o file] [-p pidfile] "
	    "[-u user[:group]]\n"
	    "                 [--] command [arg ...]\n"
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
	    "  -o, --stdout FILE       append the command's stdout to FILE\n"
	    "  -p, --pidfile FILE      write and lock the daemon's pid "
	    "in FILE\n"
	    "  -u, --user USER[:GROUP] run the command as USER "
	    "(root only)\n"
	    "  -V, --version           print the version and exit\n"
	    "  -v, --verbose           say what is done on stderr\n"
	    "\n"
	    "Exit status: 0 running, 1 system error, 2 usage, "
	    "3 already running,\n"
	    "126 command cannot be executed, 127 command not found.\n");
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
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, short_opts, long_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (*optarg == '\0')
				errx(EXIT_USAGE, "empty directory name");
			free(ds->chdir_dir);
			ds->chdir_dir = options_absolute(optarg);
			break;
		case 'E':
			add_env(ds, optarg);
			break;
		case 'e':
			set_log(&ds->err, optarg);
			break;
		case 'f':
			ds->foreground = true;
			break;
		case 'h':
			options_usage();
			exit(EXIT_OK);
		case 'l':
			set_log(&ds->out, optarg);
			set_log(&ds->err, optarg);
			break;
		case 'm':
			ds->umask = parse_umask(optarg);
			break;
		case 'o':
			set_log(&ds->out, optarg);
			break;
		case 'p':
			if (*optarg == '\0')
				errx(EXIT_USAGE, "empty pidfile name");
			free(ds->pidfile);
			ds->pidfile = options_absolute(optarg);
			break;
		case 'u':
			ds->user_spec = optarg;
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
			if (optopt != 0)
				errx(EXIT_USAGE, "-%c: unknown option "
				    "(see daemonize --help)", optopt);
			errx(EXIT_USAGE, "%s: unknown option "
			    "(see daemonize --help)", argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;

	if (argc == 0)
		errx(EXIT_USAGE, "no command given (see daemonize --help)");
	if (*argv[0] == '\0')
		errx(EXIT_USAGE, "empty command name");
	ds->argv = argv;
}
