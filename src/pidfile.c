/* pidfile.c: the pidfile: lock, write, hand down, remove; "already running". */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

static pid_t	read_holder(const char *);
static int	lock_open(const char *);
static void	acquire(struct pidfile *);
static void	discard(struct pidfile *);
static void	release(struct pidfile *);
static void	refuse_foreign(const char *, const struct stat *);

/*
 * Someone else's file, or one with a second name elsewhere, could make
 * root's init script believe a pid the owner chose.
 */
static void
refuse_foreign(const char *path, const struct stat *sb)
{
	if (sb->st_uid != geteuid())
		errx(EXIT_ERR, "%s: owned by uid %ld, not by us, refused",
		    path, (long)sb->st_uid);
	if (sb->st_nlink != 1)
		errx(EXIT_ERR, "%s: has %ld hard links, refused", path,
		    (long)sb->st_nlink);
}

/* The pid a pidfile holds: digits and a newline, or -1. */
pid_t
pidfile_read(int fd)
{
	char buf[32], *nl;
	const char *errstr;
	ssize_t n;
	pid_t pid;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return (-1);
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	pid = (pid_t)value_number(buf, 1, INT_MAX, &errstr);
	return (errstr == NULL ? pid : -1);
}

/*
 * The holder writes its pid right after taking the lock, so an empty
 * file means "a start is under way": give it a moment to appear.
 */
static pid_t
read_holder(const char *path)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	pid_t pid;
	int fd, tries;

	for (tries = 0; tries < 50; tries++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
		    O_NOCTTY);
		if (fd == -1)
			return (-1);
		pid = pidfile_read(fd);
		(void)close(fd);
		if (pid > 0)
			return (pid);
		(void)nanosleep(&pause, NULL);
	}
	return (-1);
}

/*
 * --status and --stop probe the lock for a moment; a start that meets
 * such a probe tries again before it calls the daemon "running".
 */
static int
lock_open(const char *path)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	int fd, tries;

	for (tries = 0; ; tries++) {
		fd = flopen(path, O_RDONLY | O_CREAT | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
		if (fd != -1 || errno != EWOULDBLOCK || tries == 10)
			return (fd);
		(void)nanosleep(&pause, NULL);
	}
}

/*
 * Lock the pidfile before the first fork, so that "already running" and
 * every other error reach the caller's terminal.  The lock lives on a
 * read-only descriptor that the daemon inherits: it keeps the lock for
 * exactly the daemon's lifetime and cannot be used to rewrite the file.
 * libbsd's pidfile_open() cannot do that (its lock sits on a writable
 * descriptor), so we build on flopen(3), which pidfile_open() uses too.
 */
static void
acquire(struct pidfile *pf)
{
	struct stat lsb, wsb;
	pid_t pid;
	bool existed;
	int fd, serrno;

	files_refuse_open_dir(pf->path);
	existed = files_refuse_special(pf->path);
	/* Before locking, so that a planted file cannot claim "running". */
	if (existed && lstat(pf->path, &lsb) == 0)
		refuse_foreign(pf->path, &lsb);
	if ((fd = lock_open(pf->path)) == -1) {
		if (errno == EWOULDBLOCK) {
			if ((pid = read_holder(pf->path)) > 0)
				errx(EXIT_RUNNING, "%s: already running as "
				    "pid %ld", pf->path, (long)pid);
			errx(EXIT_RUNNING, "%s: already running",
			    pf->path);
		}
		if (errno == ELOOP)
			errx(EXIT_ERR, "%s: is a symbolic link, refused",
			    pf->path);
		/*
		 * Created, but not lockable (a file system without
		 * locks): no other instance can hold it either.
		 */
		serrno = errno;
		if (!existed)
			(void)unlink(pf->path);
		errc(EXIT_ERR, serrno, "%s", pf->path);
	}
	if (fstat(fd, &lsb) == -1) {
		serrno = errno;
		if (!existed)
			(void)unlink(pf->path);
		errc(EXIT_ERR, serrno, "%s", pf->path);
	}
	if (!S_ISREG(lsb.st_mode))
		errx(EXIT_ERR, "%s: not a regular file, refused", pf->path);
	refuse_foreign(pf->path, &lsb);
	pf->lockfd = fd;

	/* From here on the file is ours: failures remove it. */
	if ((lsb.st_mode & 07777) != 0644 && fchmod(fd, 0644) == -1)
		err(EXIT_ERR, "%s: chmod", pf->path);
	pf->writefd = open(pf->path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY);
	if (pf->writefd == -1)
		err(EXIT_ERR, "%s", pf->path);
	if (fstat(pf->writefd, &wsb) == -1)
		err(EXIT_ERR, "%s", pf->path);
	if (wsb.st_dev != lsb.st_dev || wsb.st_ino != lsb.st_ino)
		errx(EXIT_ERR, "%s: replaced while being opened, refused",
		    pf->path);
	/*
	 * A stale pid must not be shown while the lock is ours.  Only a
	 * file with something in it is cut: on ext4, cutting a file to
	 * nothing makes its last close write it out to disk, and that close
	 * is the daemon's exec, which would wait for it.
	 */
	if (wsb.st_size != 0 && ftruncate(pf->writefd, 0) == -1)
		err(EXIT_ERR, "%s", pf->path);
	pf->empty = true;
}

void
pidfile_acquire(struct daemon_state *ds)
{
	if (ds->pid.path != NULL)
		acquire(&ds->pid);
	if (ds->svpid.path != NULL)
		acquire(&ds->svpid);
}

/*
 * Write "pid\n" over whatever was there.  The write descriptor stays
 * open, close-on-exec: the daemon never has it, and a setup step that
 * fails later can still empty the file where it may not remove it.
 */
int
pidfile_store(struct pidfile *pf, pid_t pid)
{
	char buf[32], *p;
	int len;

	if (pf->writefd == -1)
		return (0);
	/* By hand: the daemon's last steps need no stdio. */
	p = buf + sizeof(buf);
	*--p = '\n';
	do
		*--p = (char)('0' + pid % 10);
	while ((pid /= 10) > 0);
	len = (int)(buf + sizeof(buf) - p);
	/* Write, then cut: a reader never finds the file empty. */
	if (pwrite(pf->writefd, p, (size_t)len, 0) != len) {
		if (errno == 0)
			errno = EIO;
		return (-1);
	}
	/* The first pid in a file still empty needs no cut. */
	if (pf->empty) {
		pf->empty = false;
		return (0);
	}
	return (ftruncate(pf->writefd, len));
}

/*
 * Remove the pidfile of a start that failed, if the name still is the
 * file we locked.  The daemon removes it first where it can; once it
 * has, the name may already be another instance's new file.  While our
 * lock is held, nobody else can have replaced our file under the name.
 */
static void
discard(struct pidfile *pf)
{
	struct stat fsb, psb;

	if (pf->path == NULL || pf->lockfd == -1)
		return;
	if (fstat(pf->lockfd, &fsb) == 0 &&
	    lstat(pf->path, &psb) == 0 &&
	    fsb.st_dev == psb.st_dev && fsb.st_ino == psb.st_ino &&
	    unlink(pf->path) == 0)
		return;
	/*
	 * Not ours to remove any more (-f -u), or out of sight (-f inside
	 * --chroot as the user): at least say nothing.  The file is ours
	 * while we hold its lock, whatever its name is now.
	 */
	if (pf->writefd != -1)
		(void)ftruncate(pf->writefd, 0);
}

void
pidfile_discard(struct daemon_state *ds)
{
	discard(&ds->pid);
	discard(&ds->svpid);
}

/* The caller's copies, once the daemon holds its own. */
static void
release(struct pidfile *pf)
{
	if (pf->lockfd != -1)
		(void)close(pf->lockfd);
	if (pf->writefd != -1)
		(void)close(pf->writefd);
	pf->lockfd = pf->writefd = -1;
}

void
pidfile_release(struct daemon_state *ds)
{
	release(&ds->pid);
	release(&ds->svpid);
}
