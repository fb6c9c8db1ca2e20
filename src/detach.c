/* detach.c: fork, setsid, fork; the caller waits on the status pipe and exits with the truth; returns in the daemon. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemonize.h"

static int	middle(struct daemon_state *, int);
static void	caller(struct daemon_state *, pid_t, int)
		    __attribute__((__noreturn__));
static void	end_lost(pid_t, const struct outcome *);

/*
 * The first child: a new session without a terminal, then a second fork
 * so the daemon is no session leader and can never acquire one.  SIGHUP
 * is ignored because this process, the session leader, is about to exit.
 * Returns in the daemon; the middle process itself waits for readiness,
 * if there is any to wait for, and exits.
 */
static int
middle(struct daemon_state *ds, int repfd)
{
	pid_t pid;

	if (setsid() == -1) {
		report_send(repfd, STEP_SETSID, errno);
		_exit(EXIT_ERR);
	}
	(void)signal(SIGHUP, SIG_IGN);
	if (ds->ready != READY_EXEC && ready_arm() == -1) {
		report_send(repfd, STEP_WAIT, errno);
		_exit(EXIT_ERR);
	}
	switch (pid = fork()) {
	case -1:
		report_send(repfd, STEP_FORK, errno);
		_exit(EXIT_ERR);
	case 0:
		/*
		 * A process group of its own, so that a daemon that fails
		 * to get ready can be stopped with every child it made.
		 */
		(void)setpgid(0, 0);
		return (repfd);
	}
	if (ds->ready == READY_EXEC)
		_exit(EXIT_OK);
	/* The daemon writes the pidfile first; a MAINPID= of ours cuts. */
	ds->pid.empty = false;
	/* Should we be killed before the verdict, the caller ends it. */
	report_send(repfd, STEP_DAEMON, (int)pid);
	/* Only the daemon may hold the write end, or EOF never comes. */
	if (ds->ready == READY_FD)
		(void)close(ds->ready_pipe[1]);
	ready_wait(ds, repfd, pid);
}

/*
 * The middle process was killed while it waited for readiness: the
 * caller says the start failed, so nothing of it may run on.  Only what
 * is still in the middle's session is ours: a pid since reused is not.
 */
static void
end_lost(pid_t middle, const struct outcome *out)
{
	pid_t pids[2] = { out->group, out->pid };
	int i;

	for (i = 0; i < 2; i++) {
		if (pids[i] <= 0 || getsid(pids[i]) != middle)
			continue;
		if (getpgid(pids[i]) == pids[i])
			(void)kill(-pids[i], SIGKILL);
		(void)kill(pids[i], SIGKILL);
	}
}

/*
 * The caller's side: the daemon has its own copies of everything, so
 * ours go but the lock; then the daemon's word, and the exit.  A failure
 * leaves through exit(3), so that main()'s clean-up takes back what the
 * start acquired; success through _exit(2), leaving all to the daemon.
 */
static void
caller(struct daemon_state *ds, pid_t pid, int fd)
{
	struct outcome out;
	int code, wstatus;

	output_release(ds);
	if (ds->pid.writefd != -1) {
		(void)close(ds->pid.writefd);
		ds->pid.writefd = -1;
	}
	if (ds->ready == READY_FD) {
		(void)close(ds->ready_pipe[0]);
		(void)close(ds->ready_pipe[1]);
	} else if (ds->ready == READY_NOTIFY)
		(void)close(ds->notify_sock);

	code = report_outcome(ds, fd, &out);
	/* The supervisor keeps the socket for the runs of its reloads. */
	if (code != EXIT_OK || ds->respawn == RESPAWN_NO)
		ready_discard(ds);
	/* A daemon that failed to get ready usually said why in its log. */
	if (code == EXIT_NOTREADY)
		ready_log_tail(ds, STDERR_FILENO);
	while (waitpid(pid, &wstatus, 0) == -1)
		if (errno != EINTR)
			err(EXIT_ERR, "waitpid");
	if (out.lost)
		end_lost(pid, &out);
	if (code != EXIT_OK)
		exit(code);
	/* The daemon holds its own; ours go, the lock the last. */
	listen_release(ds);
	pidfile_release(ds);
	(void)fflush(stdout);
	_exit(EXIT_OK);
}

/*
 * Become the daemon, as daemon(3) does: the caller waits for the
 * daemon's word and exits with it; the function returns only in the
 * daemon, with the status pipe to report its remaining steps on.  With
 * -f nothing forks, and the caller's stderr takes the status pipe's
 * place.
 */
int
detach_start(struct daemon_state *ds)
{
	int fds[2];
	pid_t pid;

	if (ds->foreground) {
		/* Close-on-exec, to report a failure and be gone after. */
		if ((fds[1] = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC,
		    STDERR_FILENO + 1)) == -1)
			err(EXIT_ERR, "dup");
		return (fds[1]);
	}
	if (pipe2(fds, O_CLOEXEC) == -1)
		err(EXIT_ERR, "pipe");
	switch (pid = fork()) {
	case -1:
		err(EXIT_ERR, "fork");
	case 0:
		(void)close(fds[0]);
		return (middle(ds, fds[1]));
	}
	(void)close(fds[1]);
	caller(ds, pid, fds[0]);
}
