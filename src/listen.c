/* listen.c: --listen: sockets bound as the caller before the first fork, kept by the supervisor, handed to each run by systemd's socket-activation protocol. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

#define NAME_MAX_LEN	255	/* systemd's limit on an fd name */

static void	parse_inet(struct listener *, const char *);
static void	parse_unix(struct listener *, const char *);
static void	parse_option(struct listener *, char *);
static void	parse_owner(struct listener *, const char *);
static int	open_inet(struct listener *);
static int	clear_path(const struct listener *);
static int	open_unix(struct listener *);

/* tcp:HOST:PORT, HOST an IPv4 address or [IPv6]; no names, ever. */
static void
parse_inet(struct listener *l, const char *a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->addr;
	const char *colon, *errstr;
	char host[INET6_ADDRSTRLEN + 2];
	long long port;
	size_t len;

	if ((colon = strrchr(a, ':')) == NULL || colon == a)
		errx(EXIT_USAGE, "--listen %s: not tcp:HOST:PORT", l->spec);
	port = value_number(colon + 1, 1, 65535, &errstr);
	if (errstr != NULL)
		errx(EXIT_USAGE, "--listen %s: port %s: %s (1 to 65535)",
		    l->spec, colon + 1, errstr);
	len = (size_t)(colon - a);
	if (len >= sizeof(host))
		errx(EXIT_USAGE, "--listen %s: not an IP address", l->spec);
	memcpy(host, a, len);
	host[len] = '\0';
	memset(&l->addr, 0, sizeof(l->addr));
	if (host[0] == '[' && host[len - 1] == ']') {
		host[len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			errx(EXIT_USAGE, "--listen %s: not an IPv6 address",
			    l->spec);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		l->family = AF_INET6;
		l->addrlen = sizeof(*sin6);
		return;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		errx(EXIT_USAGE, "--listen %s: not an IPv4 address or [IPv6]",
		    l->spec);
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	l->family = AF_INET;
	l->addrlen = sizeof(*sin);
}

static void
parse_unix(struct listener *l, const char *a)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&l->addr;

	if (*a == '\0')
		errx(EXIT_USAGE, "--listen %s: empty path", l->spec);
	l->path = value_path(a);
	memset(&l->addr, 0, sizeof(l->addr));
	sun->sun_family = AF_UNIX;
	if (strlcpy(sun->sun_path, l->path, sizeof(sun->sun_path)) >=
	    sizeof(sun->sun_path))
		errx(EXIT_USAGE, "--listen %s: path longer than %zu bytes",
		    l->spec, sizeof(sun->sun_path) - 1);
	l->family = AF_UNIX;
	l->addrlen = sizeof(*sun);
}

/* owner=USER[:GROUP], looked up now, as -u is. */
static void
parse_owner(struct listener *l, const char *v)
{
	const char *errstr, *colon;
	struct passwd *pw;
	struct group *gr;
	char user[256];
	size_t len;

	colon = strchr(v, ':');
	len = colon != NULL ? (size_t)(colon - v) : strlen(v);
	if (len == 0 || len >= sizeof(user))
		errx(EXIT_USAGE, "--listen %s: owner=%s: no such user",
		    l->spec, v);
	memcpy(user, v, len);
	user[len] = '\0';
	if ((pw = getpwnam(user)) == NULL) {
		l->uid = (uid_t)value_number(user, 0, INT_MAX, &errstr);
		if (errstr != NULL || (pw = getpwuid(l->uid)) == NULL)
			errx(EXIT_USAGE, "--listen %s: owner=%s: no such user",
			    l->spec, v);
	}
	l->uid = pw->pw_uid;
	l->gid = pw->pw_gid;
	if (colon == NULL)
		goto done;
	if ((gr = getgrnam(colon + 1)) == NULL) {
		l->gid = (gid_t)value_number(colon + 1, 0, INT_MAX, &errstr);
		if (errstr != NULL || (gr = getgrgid(l->gid)) == NULL)
			errx(EXIT_USAGE, "--listen %s: owner=%s: no such group",
			    l->spec, v);
	}
	l->gid = gr->gr_gid;
done:
	l->owner_given = true;
}

static void
parse_option(struct listener *l, char *opt)
{
	const char *errstr, *p;
	char *v;

	if ((v = strchr(opt, '=')) != NULL)
		*v++ = '\0';
	if (strcmp(opt, "name") == 0 && v != NULL) {
		/* systemd's rule: printable ASCII, no ':', at most 255. */
		for (p = v; *p != '\0'; p++)
			if (*p <= ' ' || *p > '~' || *p == ':')
				break;
		if (*v == '\0' || *p != '\0' || strlen(v) > NAME_MAX_LEN)
			errx(EXIT_USAGE, "--listen %s: name=%s: printable, no "
			    "':', 1 to 255 bytes", l->spec, v);
		l->name = v;
	} else if (strcmp(opt, "backlog") == 0 && v != NULL) {
		l->backlog = (int)value_number(v, 1, INT_MAX, &errstr);
		if (errstr != NULL)
			errx(EXIT_USAGE, "--listen %s: backlog=%s: %s",
			    l->spec, v, errstr);
	} else if (strcmp(opt, "dualstack") == 0 && v == NULL &&
	    l->family == AF_INET6)
		l->dualstack = true;
	else if (strcmp(opt, "reuseport") == 0 && v == NULL &&
	    l->family != AF_UNIX)
		l->reuseport = true;
	else if (strcmp(opt, "mode") == 0 && v != NULL &&
	    l->family == AF_UNIX) {
		l->mode = 0;
		for (p = v; *p >= '0' && *p <= '7' && l->mode <= 0777; p++)
			l->mode = l->mode * 8 + (mode_t)(*p - '0');
		if (*v == '\0' || *p != '\0' || l->mode > 0777)
			errx(EXIT_USAGE, "--listen %s: mode=%s: not an octal "
			    "mode up to 0777", l->spec, v);
	} else if (strcmp(opt, "owner") == 0 && v != NULL &&
	    l->family == AF_UNIX)
		parse_owner(l, v);
	else
		errx(EXIT_USAGE, "--listen %s: %s%s%s: no such option for "
		    "this address", l->spec, opt, v != NULL ? "=" : "",
		    v != NULL ? v : "");
}

/* One --listen ADDR[,OPTION...], in the order given. */
void
listen_parse(struct daemon_state *ds, const char *arg)
{
	struct listener *l, *all;
	char *copy, *addr, *opt, *next;

	all = reallocarray(ds->listen, ds->nlisten + 1, sizeof(*all));
	if (all == NULL)
		err(EXIT_ERR, "reallocarray");
	ds->listen = all;
	l = &all[ds->nlisten++];
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->spec = arg;
	l->backlog = INT_MAX;	/* the kernel cuts it to its maximum */
	l->mode = 0660;
	/* Kept with the listener: its name points into it. */
	if ((copy = strdup(arg)) == NULL)
		err(EXIT_ERR, "strdup");
	l->words = copy;
	if ((next = strchr(copy, ',')) != NULL)
		*next++ = '\0';
	addr = copy;
	if (strncmp(addr, "tcp:", 4) == 0) {
		parse_inet(l, addr + 4);
		l->name = "tcp";
	} else if (strncmp(addr, "unix:", 5) == 0) {
		parse_unix(l, addr + 5);
		l->name = "unix";
	} else
		errx(EXIT_USAGE, "--listen %s: not tcp:HOST:PORT or "
		    "unix:PATH", arg);
	for (opt = next; opt != NULL; opt = next) {
		if ((next = strchr(opt, ',')) != NULL)
			*next++ = '\0';
		parse_option(l, opt);
	}
}

static int
open_inet(struct listener *l)
{
	int one = 1, v6only;

	if ((l->fd = socket(l->family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1)
		return (-1);
	if (l->reuseport && setsockopt(l->fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1)
		return (-1);
	v6only = !l->dualstack;
	if (l->family == AF_INET6 && setsockopt(l->fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, sizeof(v6only)) == -1)
		return (-1);
	if (bind(l->fd, (struct sockaddr *)&l->addr, l->addrlen) == -1)
		return (-1);
	return (listen(l->fd, l->backlog));
}

/*
 * What is at the path may go only if it is a socket nobody listens on:
 * a connect that is refused says so.  A link or any other file stays,
 * and so does a socket that answers.
 */
static int
clear_path(const struct listener *l)
{
	struct stat sb;
	int fd, r;

	if (lstat(l->path, &sb) == -1)
		return (errno == ENOENT ? 0 : -1);
	if (S_ISLNK(sb.st_mode))
		errx(EXIT_ERR, "--listen %s: is a symbolic link, refused",
		    l->spec);
	if (!S_ISSOCK(sb.st_mode))
		errx(EXIT_ERR, "--listen %s: not a socket, refused", l->spec);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	r = connect(fd, (const struct sockaddr *)&l->addr, l->addrlen);
	(void)close(fd);
	if (r == 0) {
		errno = EADDRINUSE;
		return (-1);
	}
	if (errno != ECONNREFUSED)
		return (-1);
	return (unlink(l->path));
}

static int
open_unix(struct listener *l)
{
	struct stat sb;
	mode_t old;
	int r;

	files_refuse_open_dir(l->path);
	if (clear_path(l) == -1)
		return (-1);
	if ((l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	/* Nobody may connect before the mode and owner are right. */
	old = umask(0177);
	r = bind(l->fd, (struct sockaddr *)&l->addr, l->addrlen);
	(void)umask(old);
	if (r == -1)
		return (-1);
	if (lstat(l->path, &sb) == -1)
		return (-1);
	l->dev = sb.st_dev;
	l->ino = sb.st_ino;
	l->bound = true;
	if (l->owner_given && lchown(l->path, l->uid, l->gid) == -1)
		return (-1);
	if (chmod(l->path, l->mode) == -1)
		return (-1);
	return (listen(l->fd, l->backlog));
}

/*
 * As the caller, after the pidfile's lock and before the first fork: so
 * that root binds port 80 for -u nobody, and an address in use is the
 * caller's exit status 1 with nothing forked.
 */
void
listen_open(struct daemon_state *ds)
{
	struct listener *l;
	size_t i;

	for (i = 0; i < ds->nlisten; i++) {
		l = &ds->listen[i];
		if ((l->family == AF_UNIX ? open_unix(l) : open_inet(l)) == -1)
			err(EXIT_ERR, "--listen %s", l->spec);
	}
}

/* The caller's copies, once the daemon has its own. */
void
listen_release(struct daemon_state *ds)
{
	size_t i;

	for (i = 0; i < ds->nlisten; i++) {
		if (ds->listen[i].fd != -1)
			(void)close(ds->listen[i].fd);
		ds->listen[i].fd = -1;
	}
}

/* Remove a socket file we bound, if the name is still that socket. */
void
listen_remove(struct daemon_state *ds)
{
	struct listener *l;
	struct stat sb;
	size_t i;

	for (i = 0; i < ds->nlisten; i++) {
		l = &ds->listen[i];
		if (l->bound && lstat(l->path, &sb) == 0 &&
		    sb.st_dev == l->dev && sb.st_ino == l->ino)
			(void)unlink(l->path);
		l->bound = false;
	}
}

/*
 * The protocol of sd_listen_fds(3), for the command: the count and the
 * names, and the command's own pid, set in the process that then execs
 * it.  What our caller had of it never reaches the command: a command
 * that skipped the LISTEN_PID check would take our descriptors for its
 * sockets.
 */
int
listen_environ(const struct daemon_state *ds)
{
	char buf[32], *names, *p;
	size_t i, len;

	if (unsetenv("LISTEN_FDS") == -1 || unsetenv("LISTEN_PID") == -1 ||
	    unsetenv("LISTEN_FDNAMES") == -1)
		return (-1);
	if (ds->nlisten == 0)
		return (0);
	for (len = 0, i = 0; i < ds->nlisten; i++)
		len += strlen(ds->listen[i].name) + 1;
	if ((names = malloc(len)) == NULL)
		return (-1);
	for (p = names, i = 0; i < ds->nlisten; i++)
		p += snprintf(p, len - (size_t)(p - names), "%s%s",
		    i == 0 ? "" : ":", ds->listen[i].name);
	(void)snprintf(buf, sizeof(buf), "%zu", ds->nlisten);
	if (setenv("LISTEN_FDS", buf, 1) == -1 ||
	    setenv("LISTEN_FDNAMES", names, 1) == -1) {
		free(names);
		return (-1);
	}
	free(names);
	(void)snprintf(buf, sizeof(buf), "%ld", (long)getpid());
	return (setenv("LISTEN_PID", buf, 1));
}
