/* optset.c: what each option of the table sets in the state, its value checked as it is read. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "daemonize.h"

static void	set_mode(struct daemon_state *, enum mode, const char *);
static void	add_env(struct daemon_state *, char *);
static void	set_path(char **, const char *, const char *);
static void	add_string(char ***, size_t *, char *);
static char	*own(char **, const char *);

static void
set_mode(struct daemon_state *ds, enum mode mode, const char *name)
{
	if (ds->mode != MODE_START && ds->mode != mode)
		errx(EXIT_USAGE, "%s: only one of --status, --stop, "
		    "--signal, --restart, --reload and --upgrade", name);
	ds->mode = mode;
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
set_path(char **path, const char *arg, const char *empty)
{
	if (*arg == '\0')
		errx(EXIT_USAGE, "%s", empty);
	free(*path);
	*path = value_path(arg);
}

/* What a start of the daemon takes: where, who, what it reads, how. */
void
optset_start(struct daemon_state *ds, int ch, char *arg, const char *cur)
{
	const char *errstr, *when;

	switch (ch) {
	case 'c':
		set_path(&ds->chdir_dir, arg, "empty directory name");
		ds->chdir_relative = *arg != '/';
		break;
	case 'E':
		add_env(ds, arg);
		break;
	case 'e':
		set_path(&ds->err.path, arg, "empty log file name");
		break;
	case 'f':
		ds->foreground = true;
		break;
	case 'l':
		set_path(&ds->out.path, arg, "empty log file name");
		set_path(&ds->err.path, arg, "empty log file name");
		break;
	case 'm':
		ds->umask = value_umask(arg);
		break;
	case 'o':
		set_path(&ds->out.path, arg, "empty log file name");
		break;
	case 'r':
		/* Only --respawn=WHEN has a value; -r never does. */
		when = strncmp(cur, "--", 2) == 0 ? strchr(cur, '=') : NULL;
		if (when == NULL || strcmp(when + 1, "on-failure") == 0)
			ds->respawn = RESPAWN_FAILURE;
		else if (strcmp(when + 1, "always") == 0)
			ds->respawn = RESPAWN_ALWAYS;
		else
			errx(EXIT_USAGE, "%s: not on-failure or always", cur);
		break;
	case 'u':
		ds->user_spec = arg;
		break;
	case OPT_LISTEN:
		listen_parse(ds, arg);
		break;
	case OPT_NOTIFY:
		if (ds->ready == READY_FD)
			errx(EXIT_USAGE, "--notify: not with --ready-fd");
		ds->ready = READY_NOTIFY;
		break;
	case OPT_READY_FD:
		if (ds->ready == READY_NOTIFY)
			errx(EXIT_USAGE, "--ready-fd: not with --notify");
		ds->ready = READY_FD;
		ds->ready_fd = (int)value_number(arg, 3, 1048575, &errstr);
		if (errstr != NULL)
			errx(EXIT_USAGE, "--ready-fd %s: %s (3 to 1048575)",
			    arg, errstr);
		break;
	}
}

static void
add_string(char ***list, size_t *n, char *s)
{
	char **l;

	if ((l = reallocarray(*list, *n + 1, sizeof(*l))) == NULL)
		err(EXIT_ERR, "reallocarray");
	l[(*n)++] = s;
	*list = l;
}

/*
 * A copy of an argument the daemon's steps name or use: in the
 * supervisor of -r the process title is written over argv.  An option
 * given twice frees its first copy.
 */
static char *
own(char **slot, const char *arg)
{
	free(*slot);
	if ((*slot = strdup(arg)) == NULL)
		err(EXIT_ERR, "strdup");
	return (*slot);
}

/* The command's execution environment: limits, privileges, its root. */
void
optset_env(struct daemon_state *ds, int ch, char *arg)
{
	char *copy = NULL;

	switch (ch) {
	case 'G':
		if (*arg == '\0')
			errx(EXIT_USAGE, "-G: empty group list");
		(void)own(&ds->extra_groups, arg);
		break;
	case 'I':
		tune_ionice(ds, own(&ds->ionice_arg, arg));
		break;
	case 'N':
		tune_nice(ds, own(&ds->nice_arg, arg));
		break;
	case OPT_CAPS:
		caps_parse(ds, own(&ds->caps_arg, arg));
		break;
	case OPT_CHROOT:
		set_path(&ds->chroot_dir, arg, "empty directory name");
		break;
	case OPT_CLEAR_ENV:
		ds->clear_env = true;
		break;
	case OPT_CPU_AFFINITY:
		tune_affinity(ds, own(&ds->cpus_arg, arg));
		break;
	case OPT_ENV_FILE:
		if (*arg == '\0')
			errx(EXIT_USAGE, "empty env file name");
		add_string(&ds->env_files, &ds->nenv_files,
		    value_path(arg));
		break;
	case OPT_KEEP_ENV:
		if (*arg == '\0' || strchr(arg, '=') != NULL)
			errx(EXIT_USAGE, "--keep-env '%s': not a variable name",
			    arg);
		add_string(&ds->keep_env, &ds->nkeep_env, own(&copy, arg));
		break;
	case OPT_LIMIT:
		limits_add(ds, own(&copy, arg));
		break;
	case OPT_NO_NEW_PRIVS:
		ds->no_new_privs = true;
		break;
	case OPT_OOM_SCORE_ADJ:
		tune_oom(ds, own(&ds->oom_arg, arg));
		break;
	case OPT_SCHEDULER:
		tune_scheduler(ds, own(&ds->sched_arg, arg));
		break;
	}
}

/* What only the supervisor of -r takes: its policy and its logging. */
void
optset_supervisor(struct daemon_state *ds, int ch, const char *arg, const char *cur)
{
	const char *errstr, *when;

	switch (ch) {
	case 'n':
		if (*arg == '\0')
			errx(EXIT_USAGE, "empty name");
		ds->name = arg;
		break;
	case OPT_SYSLOG:
		ds->syslog = true;
		ds->syslog_facility = LOG_DAEMON;
		/* Only --syslog=FACILITY carries a value. */
		if ((when = strchr(cur, '=')) != NULL)
			ds->syslog_facility = value_facility(cur, when + 1);
		break;
	case OPT_TIMESTAMPS:
		ds->timestamps = true;
		break;
	case OPT_BACKOFF_MAX:
		ds->backoff_max = value_seconds(arg, "--backoff-max", 1);
		break;
	case OPT_MAX_FAILURES:
		ds->max_failures = value_seconds(arg, "--max-failures", 1);
		break;
	case OPT_MIN_UPTIME:
		ds->min_uptime = value_seconds(arg, "--min-uptime", 0);
		break;
	case OPT_LOG_SIZE:
		ds->log_size = value_size(arg);
		break;
	case OPT_LOG_KEEP:
		ds->log_keep = value_number(arg, 1, 1000, &errstr);
		if (errstr != NULL)
			errx(EXIT_USAGE, "--log-keep %s: %s (1 to 1000)", arg,
			    errstr);
		break;
	case OPT_STOP_TIMEOUT:
		ds->stop_timeout = value_seconds(arg, "--stop-timeout", 1);
		break;
	case OPT_DRAIN_SIGNAL:
		ds->drain_signal = value_signal(arg);
		break;
	case OPT_DRAIN_TIMEOUT:
		ds->drain_timeout = value_seconds(arg, "--drain-timeout", 1);
		break;
	case OPT_SETTLE:
		ds->settle = value_seconds(arg, "--settle", 0);
		break;
	}
}

/* The verbs, the pidfiles they and a start share, and the rest. */
void
optset_verb(struct daemon_state *ds, int ch, const char *arg,
    const char *cur)
{
	const char *errstr, *when;

	switch (ch) {
	case 'P':
		set_path(&ds->svpid.path, arg, "empty pidfile name");
		break;
	case 'p':
		set_path(&ds->pid.path, arg, "empty pidfile name");
		break;
	case 's':
		ds->signal = value_signal(arg);
		break;
	case 't':
		ds->timeout = value_number(arg, 1, 31536000, &errstr);
		if (errstr != NULL)
			errx(EXIT_USAGE, "-t %s: %s (1 to 31536000 seconds)",
			    arg, errstr);
		break;
	case 'v':
		ds->verbose++;
		break;
	case OPT_RESTART:
		set_mode(ds, MODE_RESTART, "--restart");
		break;
	case OPT_RELOAD:
		set_mode(ds, MODE_RELOAD, "--reload");
		break;
	case OPT_UPGRADE:
		set_mode(ds, MODE_UPGRADE, "--upgrade");
		/* Only --upgrade=PATH carries a value. */
		if ((when = strchr(cur, '=')) != NULL)
			set_path(&ds->upgrade_path, when + 1,
			    "--upgrade: empty path");
		break;
	case OPT_SIGNAL:
		set_mode(ds, MODE_SIGNAL, "--signal");
		ds->signal = value_signal(arg);
		break;
	case OPT_STATUS:
		set_mode(ds, MODE_STATUS, "--status");
		break;
	case OPT_STOP:
		set_mode(ds, MODE_STOP, "--stop");
		break;
	}
}

