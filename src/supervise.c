/* supervise.c: -r: the supervisor's event loop and restart policy: signals, respawns with backoff, stop, the process title. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

enum sv_state {
	SV_RUNNING,
	SV_BACKOFF,	/* waiting before the next start */
	SV_GIVENUP,	/* too many failed starts: waiting for --restart */
	SV_STOPPING,	/* SIGTERM or SIGINT came: ending the child */
};

/*
 * Every catchable signal has a fate.  Ours are handled in the loop; the
 * faults of a bug of our own kill us as they should (the run gets its
 * SIGTERM from our death); these two are ignored; every other one is
 * the run's business and passed on to it unchanged.
 */
static const int faults[] = { SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGSEGV };
static const int ignored[] = {
	SIGPIPE,
	SIGXFSZ,	/* a log over the size limit: its writes are dropped */
};

/*
 * A full self-pipe must lose no signal: the handler marks the signal
 * pending, and the byte it writes only wakes the loop, which then looks
 * at every mark.  A signal that comes twice before that is seen once.
 */
static volatile sig_atomic_t pending[NSIG];
static int		sig_pipe[2] = { -1, -1 };
static enum sv_state	state;
static pid_t		child = -1;
static long long	child_started, next_start, stop_deadline;
static long long	failures, restarts;
static bool		restart_asked;
static bool		answered;	/* the caller has had its answer */

static void	on_signal(int);
static bool	listed(int, const int *, size_t);
static int	catch_signals(void);
static void	take_signals(struct daemon_state *);
static bool	start(struct daemon_state *);
static void	back_off(struct daemon_state *);
static void	child_exited(struct daemon_state *, int);
static void	handle(struct daemon_state *, int);
static void	leave(struct daemon_state *, int) __attribute__((__noreturn__));
static char	**copy_args(char **);
static void	title(const struct daemon_state *);
static void	begin(struct daemon_state *, int);
static bool	poll_failed(struct daemon_state *);
static void	end_run(struct daemon_state *);

/* The handler marks the signal and wakes the loop: the loop does the work. */
static void
on_signal(int sig)
{
	int serrno = errno;

	pending[sig] = 1;
	(void)write(sig_pipe[1], "", 1);
	errno = serrno;
}

static bool
listed(int sig, const int *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i] == sig)
			return (true);
	return (false);
}

static int
catch_signals(void)
{
	struct sigaction sa;
	int sig;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return (-1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	(void)sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP ||
		    listed(sig, faults, sizeof(faults) / sizeof(faults[0])))
			continue;
		if (listed(sig, ignored, sizeof(ignored) / sizeof(ignored[0])))
			(void)signal(sig, SIG_IGN);
		/* The C library keeps a few real-time ones: EINVAL. */
		else if (sigaction(sig, &sa, NULL) == -1 && errno != EINVAL)
			return (-1);
	}
	/* Whatever our caller blocked, we must hear these. */
	return (sigprocmask(SIG_SETMASK, &sa.sa_mask, NULL));
}

/* Every signal marked since the last look, each once. */
static void
take_signals(struct daemon_state *ds)
{
	char drain[64];
	int sig;

	while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
		;
	for (sig = 1; sig < NSIG; sig++) {
		if (!pending[sig])
			continue;
		pending[sig] = 0;
		handle(ds, sig);
	}
}

/* A start that could not exec counts as a failed start. */
static bool
start(struct daemon_state *ds)
{
	struct status_msg why;
	char buf[512];

	if ((child = child_start(ds, &why)) == -1) {
		warnc(why.value, "%s: could not start: %s", ds->argv[0],
		    report_what(ds, &why, buf, sizeof(buf)));
		return (false);
	}
	child_started = ready_now_ms();
	state = SV_RUNNING;
	(void)pidfile_store(&ds->pid, child);
	title(ds);
	return (true);
}

/* After a failed start: wait 1 s, 2 s, 4 s ... up to the maximum. */
static void
back_off(struct daemon_state *ds)
{
	long long delay;

	/* Between children, the pidfile names the supervisor. */
	(void)pidfile_store(&ds->pid, getpid());
	if (failures >= ds->max_failures) {
		state = SV_GIVENUP;
		title(ds);
		warnx("%s: gave up after %lld failed starts in a row; "
		    "daemonize --restart starts it again", ds->argv[0],
		    failures);
		return;
	}
	delay = failures == 0 ? 0 : 1LL << (failures - 1 < 30 ?
	    failures - 1 : 30);
	if (delay > ds->backoff_max)
		delay = ds->backoff_max;
	if (delay > 0)
		warnx("%s: restarting in %lld s", ds->argv[0], delay);
	state = SV_BACKOFF;
	next_start = ready_now_ms() + delay * 1000;
	title(ds);
}

static void
child_exited(struct daemon_state *ds, int status)
{
	bool clean, quick;

	/* No byte lost: what it wrote is in the log before anything else. */
	logpipe_drain(ds, child);
	/*
	 * What it started in its group would run on beside the next run.
	 * The group's id cannot be reused while any of them is left.
	 */
	(void)kill(-child, SIGTERM);
	child = -1;
	if (state == SV_STOPPING)
		leave(ds, EXIT_OK);
	/*
	 * With readiness, the middle process waits for the first child;
	 * should that die before its word, we die the same way, so that the
	 * caller learns how: no respawn before the caller has its answer.
	 */
	if (!answered) {
		pidfile_discard(ds);
		if (WIFSIGNALED(status)) {
			(void)signal(WTERMSIG(status), SIG_DFL);
			(void)kill(getpid(), WTERMSIG(status));
		}
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_ERR);
	}
	clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (restart_asked) {
		restart_asked = false;
		failures = 0;
	} else if (clean && ds->respawn == RESPAWN_FAILURE)
		leave(ds, EXIT_OK);
	else {
		if (WIFSIGNALED(status))
			warnx("%s: killed by SIG%s", ds->argv[0],
			    value_signame(WTERMSIG(status)));
		else
			warnx("%s: exited with status %d", ds->argv[0],
			    WEXITSTATUS(status));
		quick = ready_now_ms() - child_started < ds->min_uptime * 1000;
		failures = quick ? failures + 1 : 0;
	}
	restarts++;
	back_off(ds);
}

static void
handle(struct daemon_state *ds, int sig)
{
	int status;

	switch (sig) {
	case SIGCHLD:
		while (child > 0 && waitpid(child, &status, WNOHANG) == child)
			child_exited(ds, status);
		break;
	case SIGTERM:
	case SIGINT:
		if (child <= 0)
			leave(ds, EXIT_OK);
		state = SV_STOPPING;
		stop_deadline = ready_now_ms() + ds->stop_timeout * 1000;
		(void)kill(-child, sig);
		break;
	case SIGHUP:
		logfile_reopen(ds);
		if (child > 0)
			(void)kill(child, SIGHUP);
		break;
	default:
		if (sig == SIGRTMIN + 2)
			answered = true;
		else if (sig == SIGRTMIN + 1) {
			/* --restart: now, and revive a given-up child. */
			failures = 0;
			if (child > 0) {
				restart_asked = true;
				stop_deadline = ready_now_ms() +
				    ds->stop_timeout * 1000;
				(void)kill(-child, SIGTERM);
			} else if (state != SV_STOPPING) {
				next_start = ready_now_ms();
				state = SV_BACKOFF;
			}
		} else if (child > 0)
			(void)kill(child, sig);
		break;
	}
}

/* A copy of a NULL-terminated vector of strings, on the heap. */
static char **
copy_args(char **argv)
{
	char **copy;
	size_t n, i;

	n = 0;
	while (argv[n] != NULL)
		n++;
	if ((copy = reallocarray(NULL, n + 1, sizeof(*copy))) == NULL)
		return (argv);
	for (i = 0; i < n; i++)
		if ((copy[i] = strdup(argv[i])) == NULL)
			return (argv);
	copy[n] = NULL;
	return (copy);
}

/*
 * "daemonize: NAME [child PID]" in ps(1), and after it the state and the
 * restarts, which --status reads back from here.
 */
static void
title(const struct daemon_state *ds)
{
	const char *name;

	name = strrchr(ds->argv[0], '/') != NULL ?
	    strrchr(ds->argv[0], '/') + 1 : ds->argv[0];
	if (state == SV_RUNNING)
		setproctitle("-daemonize: %s [child %ld] running, %lld "
		    "restarts", name, (long)child, restarts);
	else
		setproctitle("-daemonize: %s [no child] %s, %lld restarts",
		    name, state == SV_GIVENUP ? "given up" : "backing off",
		    restarts);
}

/* The end: the pidfile goes, while we still hold its lock. */
static void
leave(struct daemon_state *ds, int status)
{
	listen_remove(ds);
	pidfile_discard(ds);
	_exit(status);
}

/*
 * Before the loop: our own copies of what the title overwrites, our
 * signals, our pidfile, and the first run, whose exec status is the
 * caller's answer.  A failure goes to repfd, and we are gone.
 */
static void
begin(struct daemon_state *ds, int repfd)
{
	struct status_msg why;
	size_t e;

	/*
	 * The process title is written over our argument area, where the
	 * command and the -E strings still live: copy them out first.
	 */
	ds->argv = copy_args(ds->argv);
	if ((ds->name = strdup(ds->name)) == NULL)
		leave(ds, EXIT_ERR);
	for (e = 0; e < ds->nenv; e++)
		if ((ds->env[e] = strdup(ds->env[e])) == NULL)
			leave(ds, EXIT_ERR);
	logpipe_init(ds);
	if (catch_signals() == -1 || chdir("/") == -1) {
		report_send(repfd, STEP_WAIT, errno);
		leave(ds, EXIT_ERR);
	}
	answered = ds->ready == READY_EXEC;
#ifdef __linux__
	/* The middle process waits for readiness; its end is our cue. */
	if (!answered) {
		(void)prctl(PR_SET_PDEATHSIG, SIGRTMIN + 2);
		if (getppid() == 1)
			answered = true;
	}
#else
	answered = true;
#endif
	if (pidfile_store(&ds->svpid, getpid()) == -1) {
		report_send(repfd, STEP_PIDFILE, errno);
		leave(ds, EXIT_ERR);
	}
	if ((child = child_start(ds, &why)) == -1) {
		report_send_msg(repfd, &why);
		leave(ds, EXIT_ERR);
	}
	/* Only the first run may hold it, or end of file never comes. */
	if (ds->ready == READY_FD) {
		(void)close(ds->ready_fd);
		ds->ready_pipe[1] = -1;
	}
	child_started = ready_now_ms();
	state = SV_RUNNING;
	(void)pidfile_store(&ds->pid, child);
	title(ds);
	report_send(repfd, STEP_PID, (int)child);
	(void)close(repfd);
}

/*
 * poll(2) failed.  A signal is no failure; a lack of memory passes, so
 * wait a moment and try again, saying so once; anything else is a bug
 * that would spin, so say what and go, taking the run with us.  Returns
 * whether the descriptors may be looked at.
 */
static bool
poll_failed(struct daemon_state *ds)
{
	const struct timespec pause = { 0, 50 * 1000 * 1000 };
	static bool said;

	if (errno == EINTR)
		return (true);
	if (errno == ENOMEM || errno == EAGAIN) {
		if (!said)
			warn("poll: trying again");
		said = true;
		(void)nanosleep(&pause, NULL);
		return (false);
	}
	warn("poll: the supervisor stops");
	end_run(ds);
	leave(ds, EXIT_ERR);
}

/*
 * Without poll(2) there is no loop to wait in: stop the run as a stop
 * does, SIGTERM to its group, SIGKILL after --stop-timeout, waiting for
 * it by its exit status alone, so that nothing runs on orphaned.
 */
static void
end_run(struct daemon_state *ds)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	long long deadline;
	int status;

	if (child <= 0)
		return;
	(void)kill(-child, SIGTERM);
	deadline = ready_now_ms() + ds->stop_timeout * 1000;
	while (waitpid(child, &status, WNOHANG) == 0) {
		if (ready_now_ms() >= deadline) {
			(void)kill(-child, SIGKILL);
			(void)waitpid(child, &status, 0);
			break;
		}
		(void)nanosleep(&pause, NULL);
	}
	logpipe_drain(ds, child);
	(void)kill(-child, SIGKILL);
	child = -1;
}

/*
 * The daemon proper with -r: start the command, and again when it ends,
 * as the policy says.  Idle, it sleeps in poll(2) with no timeout.
 */
void
supervise(struct daemon_state *ds, int repfd)
{
	struct pollfd pfd[3];
	long long timeout, now, by;
	bool idle;
	int n;

	begin(ds, repfd);
	for (;;) {
		now = ready_now_ms();
		timeout = -1;
		if (state == SV_BACKOFF)
			timeout = next_start > now ? next_start - now : 0;
		else if (state == SV_STOPPING || restart_asked)
			timeout = stop_deadline > now ? stop_deadline - now : 0;
		if ((by = logfile_deadline()) != -1 && (timeout == -1 ||
		    by - now < timeout))
			timeout = by > now ? by - now : 0;
		idle = timeout == -1 && (timeout = logpipe_idle_after()) != -1;
		if (timeout > 60000)
			timeout = 60000;
		pfd[0] = (struct pollfd){ sig_pipe[0], POLLIN, 0 };
		logpipe_poll(&pfd[1]);
		if ((n = poll(pfd, 3, (int)timeout)) == -1 && !poll_failed(ds))
			continue;
		if (n == 0 && idle)
			logpipe_idle();
		logpipe_pump(ds, &pfd[1], child);
		if (pfd[0].revents != 0)
			take_signals(ds);
		now = ready_now_ms();
		logfile_tick(now);
		if (state == SV_BACKOFF && now >= next_start && !start(ds)) {
			failures++;
			back_off(ds);
		} else if ((state == SV_STOPPING || restart_asked) &&
		    child > 0 && now >= stop_deadline) {
			/* Its whole group: nothing it started runs on. */
			(void)kill(-child, SIGKILL);
			stop_deadline = now + 60000;
		}
	}
}
