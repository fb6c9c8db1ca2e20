/* child.c: -r: starting one run of the command: its process group, output pipes and exec-status pipe. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "daemonize.h"

static void	run(struct daemon_state *, pid_t, int, int, int)
		    __attribute__((__noreturn__));
static void	close_pair(int *);

static void
close_pair(int *p)
{
	if (p[0] != -1)
		(void)close(p[0]);
	if (p[1] != -1)
		(void)close(p[1]);
	p[0] = p[1] = -1;
}

/*
 * In the new run: a group of its own, our death its SIGTERM, the pipes
 * on its stdout and stderr, then the last steps every daemon takes.  The
 * pidfiles and their locks stay with the supervisor.
 */
static void
run(struct daemon_state *ds, pid_t supervisor, int out, int err, int repfd)
{
	(void)setpgid(0, 0);
	ds->supervisor = supervisor;
	if (exec_tie(ds) == -1)
		_exit(EXIT_ERR);
	/* Forgotten first, so that a failure here cannot remove them. */
	ds->pid.lockfd = ds->pid.writefd = -1;
	ds->svpid.lockfd = ds->svpid.writefd = -1;
	ds->notify_sock = -1;
	if (dup2(out, STDOUT_FILENO) == -1 || dup2(err, STDERR_FILENO) == -1)
		exec_fail(ds, repfd, STEP_STDIO);
	if (exec_arrange(ds, &repfd) == -1)
		exec_fail(ds, repfd, STEP_FDS);
	exec_command(ds, repfd);
}

/*
 * Start the command once: its output into pipes that the log pipe takes
 * over, its exec status on a pipe of its own.  Returns its pid, or -1
 * with *why saying what failed (step, errno and detail); nothing of the
 * attempt is left open then.
 */
pid_t
child_start(struct daemon_state *ds, struct status_msg *why)
{
	struct status_msg msg;
	sigset_t all, old;
	int sp[2] = { -1, -1 }, op[2] = { -1, -1 }, ep[2] = { -1, -1 };
	pid_t pid, supervisor;
	ssize_t n;

	*why = (struct status_msg){ 0, 0, 0 };
	if (pipe2(sp, O_CLOEXEC) == -1 || pipe2(op, O_CLOEXEC) == -1 ||
	    pipe2(ep, O_CLOEXEC) == -1) {
		why->step = STEP_PIPE;
		goto fail;
	}
	supervisor = getpid();
	/* No handler of ours may run in the run before its reset. */
	(void)sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == -1) {
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		why->step = STEP_FORK;
		goto fail;
	}
	if (pid == 0)
		run(ds, supervisor, op[1], ep[1], sp[1]);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	(void)close(sp[1]);
	(void)close(op[1]);
	(void)close(ep[1]);
	logpipe_attach(pid, op[0], ep[0]);
	/* End of file: it exec'd.  Anything else: the step that failed. */
	while ((n = read(sp[0], &msg, sizeof(msg))) == sizeof(msg) ||
	    (n == -1 && errno == EINTR)) {
		if (n == sizeof(msg) && msg.step != STEP_PID)
			*why = msg;
	}
	(void)close(sp[0]);
	if (why->step != 0) {
		(void)waitpid(pid, NULL, 0);
		logpipe_drain(ds, pid);
		errno = why->value;
		return (-1);
	}
	return (pid);
fail:
	why->value = errno;
	close_pair(sp);
	close_pair(op);
	close_pair(ep);
	errno = why->value;
	return (-1);
}
