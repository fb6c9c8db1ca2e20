/* envfile.c: the command's environment from files: --env-file read and trusted before the fork, --clear-env and --keep-env, and their order in the daemon. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

#define ENVFILE_MAX	(1024 * 1024)	/* bytes; more is no config */

extern char **environ;

static char	*slurp(const char *, size_t *);
static void	parse(struct daemon_state *, const char *, char *, size_t);
static char	*line_value(char *, const char **);
static void	add(struct daemon_state *, const char *, size_t, const char *);

/*
 * An env file says what root's daemon will run with: the pidfile's
 * rules, and the owner may be root as well as us.  Read whole, through
 * the descriptor whose file was checked.
 */
static char *
slurp(const char *path, size_t *len)
{
	struct stat sb;
	char *buf;
	ssize_t n;
	int fd;

	files_refuse_open_dir(path);
	if (!files_refuse_special(path))
		errc(EXIT_ERR, ENOENT, "%s", path);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY)) == -1)
		err(EXIT_ERR, "%s", path);
	if (fstat(fd, &sb) == -1)
		err(EXIT_ERR, "%s", path);
	if (!S_ISREG(sb.st_mode))
		errx(EXIT_ERR, "%s: not a regular file, refused", path);
	files_refuse_untrusted(path, &sb);
	if (sb.st_size > ENVFILE_MAX)
		errx(EXIT_ERR, "%s: larger than 1 MiB, refused", path);
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL)
		err(EXIT_ERR, "malloc");
	*len = 0;
	while ((n = read(fd, buf + *len, (size_t)sb.st_size - *len)) > 0)
		*len += (size_t)n;
	if (n == -1)
		err(EXIT_ERR, "%s", path);
	(void)close(fd);
	buf[*len] = '\0';
	return (buf);
}

static void
add(struct daemon_state *ds, const char *name, size_t len, const char *value)
{
	char **env, *s;

	if (asprintf(&s, "%.*s=%s", (int)len, name, value) == -1)
		err(EXIT_ERR, "asprintf");
	env = reallocarray(ds->file_env, ds->nfile_env + 1, sizeof(*env));
	if (env == NULL)
		err(EXIT_ERR, "reallocarray");
	env[ds->nfile_env++] = s;
	ds->file_env = env;
}

/*
 * The value after "=", in place: 'single' quotes keep everything,
 * "double" quotes take \", \\, \$ and \` as the character; unquoted, the
 * rest of the line less trailing blanks.  Nothing is ever expanded.
 * After a closing quote only blanks and a # comment may follow.
 */
static char *
line_value(char *p, const char **why)
{
	char *out, *v, q;

	if (*p != '"' && *p != '\'') {
		v = p + strlen(p);
		while (v > p && (v[-1] == ' ' || v[-1] == '\t'))
			*--v = '\0';
		return (p);
	}
	q = *p++;
	for (v = out = p; *p != q; p++) {
		if (*p == '\0') {
			*why = q == '"' ? "unterminated double quote" :
			    "unterminated single quote";
			return (NULL);
		}
		if (q == '"' && *p == '\\' && p[1] != '\0' &&
		    strchr("\"\\$`", p[1]) != NULL)
			p++;
		*out++ = *p;
	}
	*out = '\0';
	p += 1 + strspn(p + 1, " \t");
	if (*p != '\0' && *p != '#') {
		*why = "text after the closing quote";
		return (NULL);
	}
	return (v);
}

/* NAME=VALUE lines, blank lines, # comments, an optional "export ". */
static void
parse(struct daemon_state *ds, const char *path, char *buf, size_t len)
{
	char *line, *next, *p, *name, *v;
	const char *why;
	size_t lineno, nlen;

	if (memchr(buf, '\0', len) != NULL)
		errx(EXIT_USAGE, "%s: holds a NUL byte", path);
	for (line = buf, lineno = 1; *line != '\0'; line = next, lineno++) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		/* An editor's carriage return belongs to the line's end. */
		if (*line != '\0' && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' ||
		    p[6] == '\t'))
			p += 6 + strspn(p + 6, " \t");
		name = p;
		nlen = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz_0123456789");
		why = "not NAME=VALUE";
		if (nlen == 0 || (*name >= '0' && *name <= '9') ||
		    name[nlen] != '=' ||
		    (v = line_value(name + nlen + 1, &why)) == NULL)
			errx(EXIT_USAGE, "%s:%zu: %s", path, lineno, why);
		add(ds, name, nlen, v);
	}
}

/* Before the fork, each file in order: a bad one fails the start. */
void
envfile_read(struct daemon_state *ds)
{
	size_t i, len;
	char *buf;

	for (i = 0; i < ds->nenv_files; i++) {
		buf = slurp(ds->env_files[i], &len);
		parse(ds, ds->env_files[i], buf, len);
		free(buf);
	}
}

/* The value of the last NAME=VALUE for name in list, or NULL. */
const char *
envfile_find(char *const *list, size_t n, const char *name)
{
	size_t len;

	len = strlen(name);
	while (n-- > 0)
		if (strncmp(list[n], name, len) == 0 && list[n][len] == '=')
			return (list[n] + len + 1);
	return (NULL);
}

/*
 * What the command will find in its environment under name, -E aside:
 * for looking the command up in the PATH it will have.
 */
const char *
envfile_value(const struct daemon_state *ds, const char *name)
{
	const char *v;
	size_t i;

	if ((v = envfile_find(ds->file_env, ds->nfile_env, name)) != NULL)
		return (v);
	if (ds->clear_env) {
		for (i = 0; i < ds->nkeep_env; i++)
			if (strcmp(ds->keep_env[i], name) == 0 &&
			    getenv(name) != NULL)
				return (getenv(name));
		return (strcmp(name, "PATH") == 0 ? _PATH_STDPATH : NULL);
	}
	return (getenv(name));
}

/*
 * In the daemon, first of the environment: with --clear-env, only the
 * kept variables and a PATH, the caller's if kept, else the standard
 * one.  The strings stay where they are; only the list is new.
 */
int
envfile_start(const struct daemon_state *ds)
{
	static char path[] = "PATH=" _PATH_STDPATH;
	char **env, **e;
	size_t i, n, len;
	bool have_path;

	if (!ds->clear_env)
		return (0);
	if ((env = calloc(ds->nkeep_env + 2, sizeof(*env))) == NULL)
		return (-1);
	n = 0;
	have_path = false;
	for (i = 0; i < ds->nkeep_env; i++) {
		len = strlen(ds->keep_env[i]);
		for (e = environ; e != NULL && *e != NULL; e++) {
			if (strncmp(*e, ds->keep_env[i], len) != 0 ||
			    (*e)[len] != '=')
				continue;
			env[n++] = *e;
			if (strcmp(ds->keep_env[i], "PATH") == 0)
				have_path = true;
			break;
		}
	}
	if (!have_path)
		env[n++] = path;
	environ = env;
	return (0);
}

/* After -u's variables and before -E's: the files' ones, in order. */
int
envfile_apply(const struct daemon_state *ds)
{
	size_t i;

	for (i = 0; i < ds->nfile_env; i++)
		if (putenv(ds->file_env[i]) != 0)
			return (-1);
	return (0);
}
