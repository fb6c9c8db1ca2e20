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
#include <limits.h>
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
static int		ctl = -1;	/* the control socket */
static int		asking = -1;	/* a requester, its request on the way */
static long long	generation;	/* how many --upgrade execs we are */

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
static void	stop_run(struct daemon_state *, long long);
static void	restart(struct daemon_state *);
static void	request(struct daemon_state *);
static void	take_over(struct daemon_state *, pid_t);
static void	reaped(struct daemon_state *, pid_t, int);
static const char *not_now(void);
static void	save(const struct daemon_state *, struct state *);
static const char *last_look(struct daemon_state *);
static void	own_copies(struct daemon_state *);
static void	loop(struct daemon_state *) __attribute__((__noreturn__));

static const struct upgrade_hooks hooks = { save, last_look };

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
	reload_current_gone();
	if (state == SV_STOPPING)
		return;
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
	} else if (clean && ds->respawn == RESPAWN_FAILURE && !reload_busy())
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

	pid_t pid, fresh, old;

	switch (sig) {
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			reaped(ds, pid, status);
		break;
	case SIGTERM:
	case SIGINT:
		if (state == SV_STOPPING)
			break;
		reload_abort(ds, false);
		if (child <= 0 && reload_runs(&fresh, &old) == 0)
			leave(ds, EXIT_OK);
		state = SV_STOPPING;
		stop_run(ds, ds->drain_timeout);
		title(ds);
		break;
	case SIGHUP:
		logfile_reopen(ds);
		if (child > 0)
			(void)kill(child, SIGHUP);
		break;
	default:
		if (sig == SIGRTMIN + 2)
			answered = true;
		else if (sig == SIGRTMIN + 1 && !reload_busy())
			restart(ds);
		else if (child > 0)
			(void)kill(child, sig);
		break;
	}
}

/* A run ended: the current one, or one of a reload. */
static void
reaped(struct daemon_state *ds, pid_t pid, int status)
{
	pid_t fresh, old;

	if (pid == child)
		child_exited(ds, status);
	else
		(void)reload_exited(ds, pid, status);
	if (state == SV_STOPPING && child <= 0 &&
	    reload_runs(&fresh, &old) == 0)
		leave(ds, EXIT_OK);
	title(ds);
}

/*
 * The end of the current run, as systemd's KillMode=mixed has it:
 * --drain-signal to its main process only, so that it can finish what
 * it serves, and SIGKILL to its whole group after seconds.
 */
static void
stop_run(struct daemon_state *ds, long long seconds)
{
	stop_deadline = ready_now_ms() + seconds * 1000;
	if (child > 0)
		(void)kill(child, ds->drain_signal);
}

/* --restart: now, and revive a given-up child. */
static void
restart(struct daemon_state *ds)
{
	failures = 0;
	if (child > 0) {
		restart_asked = true;
		stop_run(ds, ds->drain_timeout);
	} else if (state != SV_STOPPING) {
		next_start = ready_now_ms();
		state = SV_BACKOFF;
	}
}

/*
 * A request on the control socket: --restart or --reload.  One at a
 * time: a reload under way, or a restart, makes the other wait.
 */
static void
request(struct daemon_state *ds)
{
	const char *errstr, *refusal;
	char buf[PATH_MAX + 16];
	long long settle;
	int r, fd;

	if ((r = channel_request(asking, buf, sizeof(buf))) == 0)
		return;
	fd = asking;
	asking = -1;
	if (r < 0) {
		/* Refused: answered and closed already. */
		if (r == -1)
			(void)close(fd);
		return;
	}
	if (strncmp(buf, "upgrade ", 8) == 0) {
		if ((refusal = not_now()) != NULL) {
			(void)channel_say(fd, refusal);
			channel_end(fd, EXIT_NOTREADY, -1);
		} else
			upgrade_run(ds, fd, buf + 8, &hooks);
	} else if (state == SV_STOPPING) {
		(void)channel_say(fd, "the supervisor is stopping");
		channel_end(fd, EXIT_ERR, -1);
	} else if (reload_busy() || restart_asked) {
		(void)channel_say(fd, reload_busy() ? "a reload is under way: "
		    "try again once it is done" : "a restart is under way");
		channel_end(fd, EXIT_BUSY, -1);
	} else if (strcmp(buf, "restart") == 0) {
		restart(ds);
		channel_end(fd, EXIT_OK, child);
	} else if (strncmp(buf, "reload ", 7) == 0 &&
	    (settle = strcmp(buf + 7, "-1") == 0 ? -1 :
	    value_number(buf + 7, 0, 31536000, &errstr), settle == -1 ||
	    errstr == NULL)) {
		reload_begin(ds, fd, settle, child);
		title(ds);
	} else {
		(void)channel_say(fd, "an unknown request, refused");
		channel_end(fd, EXIT_USAGE, -1);
	}
}

/* The reloaded run settled: it is the current run from now on. */
static void
take_over(struct daemon_state *ds, pid_t fresh)
{
	child = fresh;
	child_started = ready_now_ms();
	state = SV_RUNNING;
	(void)pidfile_store(&ds->pid, child);
	reload_took_over(ds);
	title(ds);
}

/* Why an upgrade cannot be done now, or NULL. */
static const char *
not_now(void)
{
	if (state == SV_STOPPING)
		return ("not upgraded: the supervisor is stopping");
	if (reload_busy() || restart_asked || logpipe_shared())
		return ("not upgraded: a reload or a restart is under way");
	if (!answered)
		return ("not upgraded: the first run is not ready yet");
	if (logfile_busy())
		return ("not upgraded: a log rotation waits for a line's end");
	return (NULL);
}

/*
 * --upgrade: what the loop knows, for the new image: the policy's
 * state and clocks (the monotonic clock goes on across the exec), the
 * control socket, the runs' pipes and the log files' lines.
 */
static void
save(const struct daemon_state *ds, struct state *st)
{
	(void)ds;
	state_put(st, "!sv", "%d %ld %lld %lld %lld %lld %lld", (int)state,
	    (long)child, child_started, next_start, failures, restarts,
	    generation + 1);
	(void)upgrade_put_fd(st, "ctl", ctl);
	logpipe_save(st);
	logfile_save(st);
}

/*
 * With every signal blocked, the last look before the exec: what came
 * is handled now, and may make the upgrade wait.  What comes later
 * stays pending, and the new image takes it.
 */
static const char *
last_look(struct daemon_state *ds)
{
	take_signals(ds);
	return (not_now());
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

	pid_t fresh, old;

	name = strrchr(ds->argv[0], '/') != NULL ?
	    strrchr(ds->argv[0], '/') + 1 : ds->argv[0];
	if (reload_runs(&fresh, &old) > 0)
		setproctitle("-daemonize: %s [child %ld] reloading: %s %ld, "
		    "%lld restarts", name, (long)child, fresh > 0 ? "new run" :
		    "old run", (long)(fresh > 0 ? fresh : old), restarts);
	else if (state == SV_STOPPING)
		setproctitle("-daemonize: %s [child %ld] stopping, %lld "
		    "restarts", name, (long)child, restarts);
	else if (state == SV_RUNNING)
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
	ready_discard(ds);
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
	char dir[PATH_MAX], self[PATH_MAX];
	ssize_t n;

	own_copies(ds);
	/* Where --upgrade finds the binary and the options their meaning. */
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		ds->self_path = strdup(self);
	}
	if (getcwd(dir, sizeof(dir)) != NULL)
		ds->start_dir = strdup(dir);
	logpipe_init(ds);
	if (catch_signals() == -1 || chdir("/") == -1 ||
	    (ctl = channel_open()) == -1) {
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
 * The process title is written over our argument area, where the
 * command, the -E strings and the whole command line, which --upgrade
 * hands on, still live: copy them out first.
 */
static void
own_copies(struct daemon_state *ds)
{
	size_t e;

	ds->argv = copy_args(ds->argv);
	ds->args = copy_args(ds->args);
	if ((ds->name = strdup(ds->name)) == NULL)
		leave(ds, EXIT_ERR);
	for (e = 0; e < ds->nenv; e++)
		if ((ds->env[e] = strdup(ds->env[e])) == NULL)
			leave(ds, EXIT_ERR);
}

/*
 * A new image of --upgrade: the loop's state as the old image left it,
 * every signal still blocked until our handlers are in place; then the
 * run is looked at once, as a SIGCHLD in the window came to nobody.
 */
void
supervise_resume(struct daemon_state *ds)
{
	const struct state *st = upgrade_state();
	long long v[7];

	own_copies(ds);
	logpipe_init(ds);
	if (state_numbers(st, "sv", v, 7, -1, LLONG_MAX) == -1 ||
	    v[0] < SV_RUNNING || v[0] > SV_GIVENUP || v[1] > INT_MAX ||
	    logpipe_load(st) == -1 || logfile_load(st) == -1 ||
	    (ctl = upgrade_fd("ctl")) == -1)
		errx(EXIT_ERR, "upgrade: the supervisor's part of the state "
		    "is not whole");
	state = (enum sv_state)v[0];
	child = (pid_t)v[1];
	child_started = v[2];
	next_start = v[3];
	failures = v[4];
	restarts = v[5];
	generation = v[6];
	answered = true;
	if (catch_signals() == -1)
		err(EXIT_ERR, "upgrade: signals");
	pending[SIGCHLD] = 1;
	(void)write(sig_pipe[1], "", 1);
	title(ds);
	upgrade_done(child);
	loop(ds);
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
 * Without poll(2) there is no loop to wait in: stop the runs as a stop
 * does, --drain-signal, SIGKILL to the groups after --drain-timeout,
 * waiting for them by their exit status alone, so that nothing runs on
 * orphaned.
 */
static void
end_run(struct daemon_state *ds)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	long long deadline;
	pid_t pid, fresh, old;
	int status;

	reload_abort(ds, false);
	stop_run(ds, ds->drain_timeout);
	deadline = ready_now_ms() + ds->drain_timeout * 1000;
	while (child > 0 || reload_runs(&fresh, &old) > 0) {
		if ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == child) {
				logpipe_drain(ds, child);
				(void)kill(-child, SIGKILL);
				child = -1;
			} else
				(void)reload_exited(ds, pid, status);
			continue;
		}
		if (pid == -1 && errno == ECHILD)
			break;
		if (ready_now_ms() >= deadline) {
			if (child > 0)
				(void)kill(-child, SIGKILL);
			reload_abort(ds, true);
		}
		(void)nanosleep(&pause, NULL);
	}
}

/*
 * The daemon proper with -r: start the command, and again when it ends,
 * as the policy says.  Idle, it sleeps in poll(2) with no timeout.
 */
void
supervise(struct daemon_state *ds, int repfd)
{
	begin(ds, repfd);
	loop(ds);
}

/* The event loop: idle, it sleeps in poll(2) with no timeout. */
static void
loop(struct daemon_state *ds)
{
	enum { SIG, LOGS, CTL = LOGS + LOGPIPE_FDS, ASKING, NOTIFY, READY,
	    NFDS };
	struct pollfd pfd[NFDS];
	long long timeout, now, by;
	pid_t fresh;
	bool idle;
	int n;

	for (;;) {
		now = ready_now_ms();
		timeout = -1;
		if (state == SV_BACKOFF && !reload_busy())
			timeout = next_start > now ? next_start - now : 0;
		else if (state == SV_STOPPING || restart_asked)
			timeout = stop_deadline > now ? stop_deadline - now : 0;
		if ((by = logfile_deadline()) != -1 && (timeout == -1 ||
		    by - now < timeout))
			timeout = by > now ? by - now : 0;
		if ((by = reload_deadline()) != -1 && (timeout == -1 ||
		    by - now < timeout))
			timeout = by > now ? by - now : 0;
		idle = timeout == -1 && (timeout = logpipe_idle_after()) != -1;
		if (timeout > 60000)
			timeout = 60000;
		pfd[SIG] = (struct pollfd){ sig_pipe[0], POLLIN, 0 };
		logpipe_poll(&pfd[LOGS]);
		pfd[CTL] = (struct pollfd){ asking == -1 ? ctl : -1, POLLIN, 0 };
		pfd[ASKING] = (struct pollfd){ asking, POLLIN, 0 };
		/* Until the middle process is gone, its datagrams are its. */
		pfd[NOTIFY] = (struct pollfd){ answered ? ds->notify_sock : -1,
		    POLLIN, 0 };
		pfd[READY] = (struct pollfd){ reload_fd(), POLLIN, 0 };
		if ((n = poll(pfd, NFDS, (int)timeout)) == -1 &&
		    !poll_failed(ds))
			continue;
		if (n == 0 && idle)
			logpipe_idle();
		logpipe_pump(ds, &pfd[LOGS]);
		if (pfd[SIG].revents != 0)
			take_signals(ds);
		if (pfd[NOTIFY].fd != -1 && pfd[NOTIFY].revents != 0)
			reload_notify(ds);
		if (pfd[READY].fd != -1 && pfd[READY].revents != 0)
			reload_ready_fd(ds);
		if (pfd[CTL].fd != -1 && pfd[CTL].revents != 0)
			asking = channel_accept(ctl);
		if (asking != -1)
			request(ds);
		now = ready_now_ms();
		logfile_tick(now);
		if ((fresh = reload_tick(ds, now)) > 0)
			take_over(ds, fresh);
		if (state == SV_BACKOFF && now >= next_start &&
		    !reload_busy() && !start(ds)) {
			failures++;
			back_off(ds);
		} else if (((state == SV_STOPPING && (child > 0 ||
		    reload_busy())) || (restart_asked && child > 0)) &&
		    now >= stop_deadline) {
			/* Its whole group: nothing it started runs on. */
			if (child > 0)
				(void)kill(-child, SIGKILL);
			if (state == SV_STOPPING)
				reload_abort(ds, true);
			stop_deadline = now + 60000;
		}
	}
}
