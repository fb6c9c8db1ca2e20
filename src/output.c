/* output.c: the daemon's standard streams and log files: open, wire to stdio, reopen and rotate. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <paths.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

static void	open_log(struct logfile *);

/*
 * Make sure descriptors 0, 1 and 2 are open before we open anything:
 * a caller that closed them would otherwise see our pidfile or log land
 * on "stderr", and the daemon would write its messages into it.
 */
void
output_guard_stdio(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (open(_PATH_DEVNULL, fd == 0 ? O_RDONLY : O_WRONLY) == -1)
			_exit(EXIT_ERR);	/* nowhere to report it */
	}
}

/* Append only, never truncate, never follow a link, never become a tty. */
static void
open_log(struct logfile *lf)
{
	struct stat sb;
	int flags, fd;

	files_refuse_special(lf->path);
	flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC |
	    O_NONBLOCK;
	fd = open(lf->path, flags | O_CREAT | O_EXCL, 0640);
	if (fd != -1) {
		lf->created = true;
		/* 0640 whatever the umask, as documented. */
		if (fchmod(fd, 0640) == -1)
			err(EXIT_ERR, "%s: chmod", lf->path);
	} else if (errno == EEXIST)
		fd = open(lf->path, flags);
	if (fd == -1) {
		if (errno == ELOOP)
			errx(EXIT_ERR, "%s: is a symbolic link, refused",
			    lf->path);
		err(EXIT_ERR, "%s", lf->path);
	}
	lf->fd = fd;
	if (fstat(fd, &sb) == -1)
		err(EXIT_ERR, "%s", lf->path);
	if (!S_ISREG(sb.st_mode))
		errx(EXIT_ERR, "%s: not a regular file, refused", lf->path);
	if (fcntl(fd, F_SETFL, O_APPEND) == -1)
		err(EXIT_ERR, "%s", lf->path);
}

/* Open the log file(s) before detaching, so errors reach the caller. */
void
output_open(struct daemon_state *ds)
{
	struct stat osb, esb;

	if (ds->out.path == NULL && ds->err.path == NULL)
		return;
	/* With -u, as the user: its links cannot aim root at other files. */
	privs_assume(ds);
	if (ds->out.path != NULL)
		open_log(&ds->out);
	if (ds->err.path != NULL && ds->out.path != NULL &&
	    strcmp(ds->out.path, ds->err.path) == 0) {
		/* One open file for both keeps their lines in order. */
		ds->err.fd = ds->out.fd;
	} else if (ds->err.path != NULL)
		open_log(&ds->err);
	if (privs_restore(ds) == -1)
		err(EXIT_ERR, "taking back our privileges");
	if (ds->out.fd == -1 || ds->err.fd == -1 || ds->err.fd == ds->out.fd)
		return;
	/* Two names for one file ("log" and "./log") are one file too. */
	if (fstat(ds->out.fd, &osb) == 0 &&
	    fstat(ds->err.fd, &esb) == 0 && osb.st_dev == esb.st_dev &&
	    osb.st_ino == esb.st_ino) {
		(void)close(ds->err.fd);
		ds->err.fd = ds->out.fd;
	}
}

/*
 * In the daemon: stdin from /dev/null (read-only), stdout and stderr to
 * the logs or to /dev/null (write-only), opened once for both.  Our own
 * copies are closed afterwards; they are close-on-exec anyway, but
 * closing frees the numbers.
 */
int
output_wire(struct daemon_state *ds)
{
	int fd, null, r;

	if ((fd = open(_PATH_DEVNULL, O_RDONLY | O_NOCTTY | O_CLOEXEC)) ==
	    -1)
		return (-1);
	r = dup2(fd, STDIN_FILENO);
	(void)close(fd);
	if (r == -1)
		return (-1);
	null = -1;
	if (ds->out.fd == -1 || ds->err.fd == -1) {
		null = open(_PATH_DEVNULL, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (null == -1)
			return (-1);
	}
	r = dup2(ds->out.fd != -1 ? ds->out.fd : null, STDOUT_FILENO) == -1 ||
	    dup2(ds->err.fd != -1 ? ds->err.fd : null, STDERR_FILENO) == -1 ?
	    -1 : 0;
	if (null != -1)
		(void)close(null);
	if (ds->err.fd != -1 && ds->err.fd != ds->out.fd)
		(void)close(ds->err.fd);
	if (ds->out.fd != -1)
		(void)close(ds->out.fd);
	ds->out.fd = ds->err.fd = -1;
	return (r);
}

/* A failed start removes the log files it created, if still empty. */
void
output_discard(struct daemon_state *ds)
{
	struct logfile *lfs[] = { &ds->out, &ds->err };
	struct stat sb;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (!lfs[i]->created)
			continue;
		if (lstat(lfs[i]->path, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    sb.st_size == 0)
			(void)unlink(lfs[i]->path);
		lfs[i]->created = false;
	}
}

/* The caller's copies of the logs, once the daemon has its own. */
void
output_release(struct daemon_state *ds)
{
	if (ds->err.fd != -1 && ds->err.fd != ds->out.fd)
		(void)close(ds->err.fd);
	if (ds->out.fd != -1)
		(void)close(ds->out.fd);
	ds->out.fd = ds->err.fd = -1;
}

/*
 * -r, on SIGHUP: open a log again under its name, after a rotation moved
 * it, as the user as at the start.  Returns the new descriptor, or -1
 * after saying why: the supervisor then keeps the old one.
 */
int
output_reopen(struct daemon_state *ds, const char *path)
{
	struct stat sb;
	int fd;

	privs_assume(ds);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY |
	    O_NONBLOCK | O_CLOEXEC, 0640);
	(void)privs_restore(ds);
	if (fd == -1 || fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    fcntl(fd, F_SETFL, O_APPEND) == -1) {
		warnx("%s: cannot reopen, keeping the old log", path);
		if (fd != -1)
			(void)close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * --log-size: PATH becomes PATH.1, PATH.1 PATH.2 and so on up to
 * PATH.keep, which the one before replaces, and a fresh PATH is made
 * with the mode and owner of the file on cur.  Renames cannot be led
 * astray by links (a link is renamed, not followed), and the new file
 * is made with O_EXCL, so the supervisor does this itself.  Only the
 * file we write is rotated: if PATH is another file now, someone else
 * rotated it, and SIGHUP is the way to follow.  Returns the new
 * descriptor, or -1 with errno and *what set.
 */
int
output_rotate(const char *path, long long keep, int cur, const char **what)
{
	/* Static: *what may name one of them after we return. */
	static char from[PATH_MAX], to[PATH_MAX];
	struct stat csb, psb;
	long long i;
	int fd;

	*what = "fstat";
	if (fstat(cur, &csb) == -1)
		return (-1);
	*what = path;
	if (lstat(path, &psb) == 0) {
		if (psb.st_dev != csb.st_dev || psb.st_ino != csb.st_ino) {
			*what = "no longer the file written to";
			errno = EEXIST;
			return (-1);
		}
		for (i = keep - 1; i >= 1; i--) {
			(void)snprintf(from, sizeof(from), "%s.%lld", path, i);
			(void)snprintf(to, sizeof(to), "%s.%lld", path, i + 1);
			*what = from;
			if (rename(from, to) == -1 && errno != ENOENT)
				return (-1);
		}
		(void)snprintf(to, sizeof(to), "%s.1", path);
		*what = path;
		if (rename(path, to) == -1)
			return (-1);
	} else if (errno != ENOENT)
		return (-1);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_NOCTTY | O_CLOEXEC, 0600);
	if (fd == -1)
		return (-1);
	if ((fchown(fd, csb.st_uid, csb.st_gid) == -1 && errno != EPERM) ||
	    fchmod(fd, csb.st_mode & 07777) == -1) {
		(void)close(fd);
		return (-1);
	}
	return (fd);
}
