/* reaper.c: run a command as a child subreaper, so that bench/supervise reaps its daemons. */

#define _GNU_SOURCE

#include <sys/prctl.h>

#include <err.h>
#include <unistd.h>

/*
 * The attribute survives execve(2): the command itself becomes the
 * subreaper, and the daemons it starts are reparented to it, not to a
 * PID 1 that may never reap them.
 */
int
main(int argc, char *argv[])
{
	if (argc < 2)
		errx(2, "usage: reaper command [arg ...]");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		err(1, "prctl");
	(void)execvp(argv[1], argv + 1);
	err(127, "%s", argv[1]);
}
