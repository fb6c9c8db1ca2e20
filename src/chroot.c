/* chroot.c: --chroot: the root checked and the command looked up inside it before the fork, entered in the daemon, and left again by -f to clean up. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#ifdef __linux__
#include <linux/capability.h>
#include <linux/openat2.h>
#endif
#include <sys/stat.h>
#include <sys/syscall.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

static int	open_inside(const struct daemon_state *, const char *);

/*
 * The root is root's: a directory of ours or root's, which nobody else
 * may write to, in one nobody else may swap it in.  We need the right
 * to enter it, too.
 */
void
chroot_check(const struct daemon_state *ds)
{
	struct stat sb;

	if (ds->chroot_dir == NULL)
		return;
	files_refuse_open_dir(ds->chroot_dir);
	if (lstat(ds->chroot_dir, &sb) == -1)
		err(EXIT_ERR, "--chroot %s", ds->chroot_dir);
	if (!S_ISDIR(sb.st_mode))
		errx(EXIT_ERR, "--chroot %s: not a directory", ds->chroot_dir);
	files_refuse_untrusted(ds->chroot_dir, &sb);
#ifdef CAP_SYS_CHROOT
	if (!caps_effective(CAP_SYS_CHROOT))
		errx(EXIT_ERR, "--chroot %s: needs root or CAP_SYS_CHROOT",
		    ds->chroot_dir);
#endif
}

/*
 * A path inside the root, opened as the daemon will see it: absolute
 * symbolic links and ".." stay inside.  Where the kernel cannot do that
 * (before Linux 5.6), the path is taken below the root as it is.
 */
static int
open_inside(const struct daemon_state *ds, const char *path)
{
	char *host;
	int fd;
#if defined(SYS_openat2) && defined(RESOLVE_IN_ROOT)
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT,
	};
	int dfd, serrno;

	if ((dfd = open(ds->chroot_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return (-1);
	fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
	serrno = errno;
	(void)close(dfd);
	errno = serrno;
	if (fd != -1 || errno != ENOSYS)
		return (fd);
#endif
	if (asprintf(&host, "%s%s", ds->chroot_dir, path) == -1)
		return (-1);
	fd = open(host, O_PATH | O_CLOEXEC);
	free(host);
	return (fd);
}

/*
 * For exec_resolve(): whether path, inside the root, is a program root
 * may run (any execute bit): 1, 0 for a file that is not, -1 for none.
 */
int
chroot_probe(const struct daemon_state *ds, const char *path)
{
	struct stat sb;
	int fd, rc;

	if ((fd = open_inside(ds, path)) == -1)
		return (-1);
	rc = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (sb.st_mode & 0111) != 0;
	(void)close(fd);
	return (rc);
}

/*
 * In the daemon, as root: into the root, and at once to its "/", or a
 * relative path would still lead out.  -f keeps a way back to remove
 * the pidfile should a later step fail; it is closed on exec.
 */
int
chroot_enter(struct daemon_state *ds)
{
	if (ds->chroot_dir == NULL)
		return (0);
	if (ds->foreground && (ds->host_root = open("/", O_PATH |
	    O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	if (chroot(ds->chroot_dir) == -1 || chdir("/") == -1)
		return (-1);
	ds->in_root = true;
	return (0);
}

/* -f, on the way out of a failed start: back out, while we are root. */
void
chroot_leave(struct daemon_state *ds)
{
	if (!ds->in_root || ds->host_root == -1)
		return;
	if (fchdir(ds->host_root) == 0 && chroot(".") == 0)
		ds->in_root = false;
}

/* A path inside the root, as this process sees it. */
const char *
chroot_host_path(const struct daemon_state *ds, const char *path, char *buf,
    size_t size)
{
	if (ds->chroot_dir == NULL || ds->in_root)
		return (path);
	(void)snprintf(buf, size, "%s%s", ds->chroot_dir, path);
	return (buf);
}
