/* files.c: checks shared by every path the caller hands us (pidfile, logs, env files, the root). */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

/*
 * Refuse anything but a regular file before opening it: opening a FIFO
 * or a device can block or have side effects, and a symlink could aim
 * us at a file the caller never named.  The open that follows uses
 * O_NOFOLLOW and fstat(2) again, so a swap after this check fails too.
 * Returns whether the file exists.
 */
bool
files_refuse_special(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return (false);
		err(EXIT_ERR, "%s", path);
	}
	if (S_ISLNK(sb.st_mode))
		errx(EXIT_ERR, "%s: is a symbolic link, refused", path);
	if (!S_ISREG(sb.st_mode))
		errx(EXIT_ERR, "%s: not a regular file, refused", path);
	return (true);
}

/*
 * A directory that others may write to without the sticky bit lets them
 * swap our file for their own between any two system calls.  "Others"
 * is anyone but us and root: a group, the world, or another owner
 * (who may add the write bit whenever it likes).
 */
void
files_refuse_open_dir(const char *path)
{
	struct stat sb;
	char *dir, *slash;

	if ((dir = strdup(path)) == NULL)
		err(EXIT_ERR, "strdup");
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	/* A directory we cannot stat is reported by the open that follows. */
	if (stat(dir, &sb) == 0 && (sb.st_mode & S_ISVTX) == 0 &&
	    ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (sb.st_uid != geteuid() && sb.st_uid != 0)))
		errx(EXIT_ERR, "%s: directory writable by others, refused",
		    dir);
	free(dir);
}

/*
 * A file that says what root's daemon will be (an env file, the root
 * of --chroot): root's or ours, and nobody else may change it.
 */
void
files_refuse_untrusted(const char *path, const struct stat *sb)
{
	if (sb->st_uid != 0 && sb->st_uid != geteuid())
		errx(EXIT_ERR, "%s: owned by uid %ld, not by root or us, "
		    "refused", path, (long)sb->st_uid);
	if ((sb->st_mode & S_IWOTH) != 0)
		errx(EXIT_ERR, "%s: writable by others, refused", path);
	if ((sb->st_mode & S_IWGRP) != 0)
		errx(EXIT_ERR, "%s: writable by its group, refused", path);
}
