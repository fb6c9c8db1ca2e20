/* floor.c: the least a daemonizer can do, as a lower bound for bench/launch. */

#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The descriptor the status pipe is moved to; everything above it is closed. */
#define STATUS_FD	3

static void	usage(void) __attribute__((__noreturn__));
static int	close_above(int);
static void	daemon_exec(const char *, char **, int)
		    __attribute__((__noreturn__));

static void
usage(void)
{
	(void)fprintf(stderr, "usage: floor pidfile /path/to/command [arg ...]\n");
	exit(2);
}

static int
close_above(int lowfd)
{
#ifdef CLOSE_RANGE_CLOEXEC
	return (close_range((unsigned int)lowfd, ~0U, 0));
#else
	/* No close_range(2) in these headers: the floor has no fallback. */
	(void)lowfd;
	errno = ENOSYS;
	return (-1);
#endif
}

/*
 * The grandchild: keep only the status pipe, which is close-on-exec so
 * that the caller reads end-of-file exactly when the exec succeeds.
 */
static void
daemon_exec(const char *pidfile, char **argv, int repfd)
{
	int fd, e;

	if (repfd != STATUS_FD) {
		if (dup3(repfd, STATUS_FD, O_CLOEXEC) == -1)
			goto fail;
		repfd = STATUS_FD;
	}
	if (close_above(STATUS_FD + 1) == -1)
		goto fail;
	if ((fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1)
		goto fail;
	if (dprintf(fd, "%ld\n", (long)getpid()) < 0 || close(fd) == -1)
		goto fail;
	(void)execv(argv[0], argv);
fail:
	e = errno;
	(void)write(repfd, &e, sizeof(e));
	_exit(1);
}

int
main(int argc, char *argv[])
{
	pid_t pid;
	ssize_t n;
	int fds[2], status, e;

	if (argc < 3 || argv[2][0] != '/')
		usage();
	if (pipe2(fds, O_CLOEXEC) == -1)
		err(1, "pipe2");
	switch (pid = fork()) {
	case -1:
		err(1, "fork");
	case 0:
		(void)close(fds[0]);
		if (setsid() == -1)
			_exit(1);
		switch (fork()) {
		case -1:
			_exit(1);
		case 0:
			daemon_exec(argv[1], argv + 2, fds[1]);
		default:
			_exit(0);
		}
	}
	(void)close(fds[1]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			err(1, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		errx(1, "the first child failed");
	while ((n = read(fds[0], &e, sizeof(e))) == -1)
		if (errno != EINTR)
			err(1, "status pipe");
	if (n == (ssize_t)sizeof(e)) {
		errno = e;
		err(1, "%s", argv[2]);
	}
	if (n != 0)
		errx(1, "status pipe: short message");
	return (0);
}
