/* output.c: the daemon's standard streams: /dev/null, log files, stdio wiring. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

static void	open_log(struct logfile *);
static int	wire(int, int, int);

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

static int
wire(int src, int dst, int mode)
{
	int fd;

	if (src != -1)
		return (dup2(src, dst) == -1 ? -1 : 0);
	if ((fd = open(_PATH_DEVNULL, mode | O_NOCTTY | O_CLOEXEC)) == -1)
		return (-1);
	if (dup2(fd, dst) == -1)
		return (-1);
	return (close(fd));
}

/*
 * In the daemon: stdin from /dev/null (read-only), stdout and stderr to
 * the logs or /dev/null.  Our own copies are closed afterwards; they are
 * close-on-exec anyway, but closing frees the numbers.
 */
int
output_wire(struct daemon_state *ds)
{
	if (wire(-1, STDIN_FILENO, O_RDONLY) == -1 ||
	    wire(ds->out.fd, STDOUT_FILENO, O_WRONLY) == -1 ||
	    wire(ds->err.fd, STDERR_FILENO, O_WRONLY) == -1)
		return (-1);
	if (ds->err.fd != -1 && ds->err.fd != ds->out.fd)
		(void)close(ds->err.fd);
	if (ds->out.fd != -1)
		(void)close(ds->out.fd);
	ds->out.fd = ds->err.fd = -1;
	return (0);
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
 * -r, on SIGHUP: open the logs again under their names, after a rotation
 * moved them, and put them on stdout and stderr.  The supervisor must
 * not die of it: a log that cannot be opened keeps the old one.
 */
void
output_reopen(struct daemon_state *ds)
{
	struct logfile *lfs[] = { &ds->out, &ds->err };
	struct stat sb;
	int fd, i, outfd;

	outfd = -1;
	privs_assume(ds);
	for (i = 0; i < 2; i++) {
		if (lfs[i]->path == NULL)
			continue;
		if (i == 1 && outfd != -1 && ds->out.path != NULL &&
		    strcmp(ds->out.path, ds->err.path) == 0) {
			(void)dup2(outfd, STDERR_FILENO);
			continue;
		}
		fd = open(lfs[i]->path, O_WRONLY | O_APPEND | O_CREAT |
		    O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0640);
		if (fd == -1 || fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
			warnx("%s: cannot reopen, keeping the old log",
			    lfs[i]->path);
			if (fd != -1)
				(void)close(fd);
			continue;
		}
		(void)fcntl(fd, F_SETFL, O_APPEND);
		(void)dup2(fd, i == 0 ? STDOUT_FILENO : STDERR_FILENO);
		if (i == 0)
			outfd = STDOUT_FILENO;
		(void)close(fd);
	}
	(void)privs_restore(ds);
}
