/* reload.c: -r: --reload: a new run beside the old one, its readiness and settling, then the old run's drain, and the requester's answer. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

#define CLOSE_GRACE_MS	500	/* a run that closed its fd may be exiting */

enum phase {
	IDLE,
	READYING,	/* the new run starts: waiting for its word */
	SETTLING,	/* it said ready: it must live --settle more */
	FAILING,	/* it failed: waiting for its end to answer */
	DRAINING,	/* it took over: the old run is asked to go */
	ABORTED,	/* the supervisor stops: both runs go */
};

static struct {
	enum phase		phase;
	int			conn;	/* the requester; -1 once answered */
	pid_t			fresh;	/* the new run, until it takes over */
	pid_t			old;	/* the run it took over from */
	pid_t			took;	/* the new run, once it took over */
	int			ready_fd; /* --ready-fd: the new run's pipe */
	long long		started;
	long long		ready_at;
	long long		deadline;
	long long		term_at;	/* FAILING: SIGTERM to its group */
	long long		kill_at;	/* and SIGKILL */
	long long		settle;
	bool			killed;	/* the old run needed SIGKILL */
	struct status_msg	why;	/* FAILING: what to answer */
	char			status[NOTIFY_STATUS_MAX + 1];
} rl = { .conn = -1, .fresh = -1, .old = -1, .ready_fd = -1, .term_at = -1,
    .kill_at = -1 };

static void	answer(int, pid_t);
static void	answer_failure(const struct daemon_state *);
static void	fail(const struct daemon_state *, int, int, long long);
static void	close_ready(void);
static void	settle(void);

/* The requester's answer, and the end of its connection. */
static void
answer(int code, pid_t pid)
{
	channel_end(rl.conn, code, pid);
	rl.conn = -1;
}

/*
 * The new run failed: its reason and the end of the log, in the words a
 * failed start has, for the requester; one line for the log.
 */
static void
answer_failure(const struct daemon_state *ds)
{
	int was, code;

	code = EXIT_NOTREADY;
	if (rl.conn != -1) {
		was = err_to(rl.conn);
		if (rl.why.step == STEP_DIED && rl.ready_at != -1 &&
		    WIFSIGNALED(rl.why.value))
			warnx("%s: killed by SIG%s %d ms after it said ready "
			    "(--settle %lld)", ds->argv[0],
			    value_signame(WTERMSIG(rl.why.value)),
			    rl.why.detail, rl.settle / 1000);
		else if (rl.why.step == STEP_DIED && rl.ready_at != -1)
			warnx("%s: exited with status %d %d ms after it said "
			    "ready (--settle %lld)", ds->argv[0],
			    WEXITSTATUS(rl.why.value), rl.why.detail,
			    rl.settle / 1000);
		else
			code = report_failure(ds, &rl.why);
		if (rl.status[0] != '\0')
			warnx("%s: its last status: %s", ds->argv[0],
			    rl.status);
		warnx("the old run, pid %ld, goes on", (long)rl.old);
		ready_log_tail(ds, rl.conn);
		(void)err_to(was);
	}
	logfile_own_line();
	warnx("%s: reload failed; pid %ld goes on", ds->argv[0],
	    (long)rl.old);
	answer(code, -1);
	rl.old = -1;
}

/* The new run will not do: stop its group after grace ms, then answer. */
static void
fail(const struct daemon_state *ds, int step, int value, long long grace)
{
	rl.why = (struct status_msg){ step, value, 0 };
	rl.phase = FAILING;
	close_ready();
	rl.term_at = ready_now_ms() + grace;
	rl.kill_at = rl.term_at + ds->stop_timeout * 1000;
}

static void
close_ready(void)
{
	if (rl.ready_fd != -1)
		(void)close(rl.ready_fd);
	rl.ready_fd = -1;
}

/* Ready: it must still run --settle from now. */
static void
settle(void)
{
	close_ready();
	rl.phase = SETTLING;
	rl.ready_at = ready_now_ms();
	rl.deadline = rl.ready_at + rl.settle;
}

/* A reload is under way: another request must wait its end. */
bool
reload_busy(void)
{
	return (rl.phase != IDLE);
}

/* The runs it has besides the current one. */
int
reload_runs(pid_t *fresh, pid_t *old)
{
	/* Until the new run takes over, the old one is the current run. */
	*fresh = rl.fresh;
	*old = rl.phase == DRAINING || rl.phase == ABORTED ? rl.old : -1;
	return ((*fresh > 0) + (*old > 0));
}

/*
 * A request from conn: start the new run beside current, with a fresh
 * readiness pipe of its own, its own group and output pipes, the same
 * sockets.  settle is the request's --settle, or -1 for ours.
 */
void
reload_begin(struct daemon_state *ds, int conn, long long settle_s,
    pid_t current)
{
	int p[2] = { -1, -1 };

	if (rl.phase != IDLE) {
		(void)channel_say(conn, "a reload is under way: try again "
		    "once it is done");
		channel_end(conn, EXIT_BUSY, -1);
		return;
	}
	rl.conn = conn;
	rl.old = current;
	rl.settle = (settle_s >= 0 ? settle_s : ds->settle) * 1000;
	rl.status[0] = '\0';
	rl.killed = false;
	rl.ready_at = -1;
	rl.term_at = rl.kill_at = -1;
	if (ds->ready == READY_FD) {
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
			rl.why = (struct status_msg){ STEP_PIPE, errno, 0 };
			answer_failure(ds);
			return;
		}
		ds->ready_pipe[1] = p[1];
	}
	rl.fresh = child_start(ds, &rl.why);
	if (p[1] != -1)
		(void)close(p[1]);
	ds->ready_pipe[1] = -1;
	rl.ready_fd = p[0];
	rl.started = ready_now_ms();
	if (rl.fresh == -1) {
		close_ready();
		answer_failure(ds);
		return;
	}
	rl.phase = READYING;
	rl.deadline = rl.started + ds->timeout * 1000;
	if (ds->ready == READY_EXEC)
		settle();
}

/* The new run's readiness pipe to wait on, or -1. */
int
reload_fd(void)
{
	return (rl.phase == READYING ? rl.ready_fd : -1);
}

/* Its readiness pipe can be read: a newline, or its end. */
void
reload_ready_fd(const struct daemon_state *ds)
{
	char buf[64];
	ssize_t n;

	if (rl.phase != READYING)
		return;
	while ((n = read(rl.ready_fd, buf, sizeof(buf))) > 0)
		if (memchr(buf, '\n', (size_t)n) != NULL) {
			settle();
			return;
		}
	if (n == 0)
		fail(ds, STEP_CLOSED, ds->ready_fd, CLOSE_GRACE_MS);
}

/*
 * Datagrams on the notify socket: only the new run's, from its pid or
 * its group, count, and only while it gets ready; the rest are read so
 * that no sender ever waits on a full socket.
 */
void
reload_notify(const struct daemon_state *ds)
{
	struct notify_news news;
	int step;

	memset(&news, 0, sizeof(news));
	step = notify_read(ds, rl.phase == READYING ? rl.fresh : -1,
	    rl.fresh, &news);
	if (rl.phase != READYING)
		return;
	if (news.status[0] != '\0')
		(void)strlcpy(rl.status, news.status, sizeof(rl.status));
	if (news.extend_ms >= 0 && ready_now_ms() + news.extend_ms >
	    rl.deadline)
		rl.deadline = ready_now_ms() + news.extend_ms;
	if (step == STEP_READY)
		settle();
	else if (step == STEP_NOTIFY_ERRNO)
		fail(ds, STEP_NOTIFY_ERRNO, news.errnum, 0);
}

/*
 * A run ended: the new one or the old one of the reload?  Then it is
 * handled here: its last output logged, what it left in its group
 * killed, the requester answered.
 */
bool
reload_exited(const struct daemon_state *ds, pid_t pid, int status)
{
	long long now = ready_now_ms();

	if (pid <= 0 || (pid != rl.fresh && pid != rl.old))
		return (false);
	logpipe_drain(ds, pid);
	(void)kill(-pid, SIGKILL);
	if (pid == rl.old) {
		rl.old = -1;
		if (rl.phase == DRAINING) {
			rl.phase = IDLE;
			answer(rl.killed ? EXIT_KILLED : EXIT_OK, rl.took);
		}
	} else {
		rl.fresh = -1;
		close_ready();
		if (rl.phase != ABORTED) {
			/* A death of its own, or soon after it closed its fd. */
			if (rl.phase != FAILING || (rl.why.step == STEP_CLOSED &&
			    rl.term_at != -1))
				rl.why = (struct status_msg){ STEP_DIED, status,
				    rl.ready_at == -1 ? 0 :
				    (int)(now - rl.ready_at) };
			else
				rl.ready_at = -1;
			rl.phase = FAILING;
			answer_failure(ds);
			rl.phase = IDLE;
		}
	}
	if (rl.phase == ABORTED && rl.fresh <= 0 && rl.old <= 0)
		rl.phase = IDLE;
	return (true);
}

/*
 * The current run ended while the new one got ready: the policy waits
 * for the reload's end, and there is no old run left to drain.
 */
void
reload_current_gone(void)
{
	if (rl.phase != DRAINING)
		rl.old = -1;
}

/* The next moment something is due, or -1. */
long long
reload_deadline(void)
{
	switch (rl.phase) {
	case READYING:
	case SETTLING:
		return (rl.deadline);
	case FAILING:
		return (rl.term_at != -1 ? rl.term_at : rl.kill_at);
	case DRAINING:
		return (rl.killed ? -1 : rl.deadline);
	default:
		return (-1);
	}
}

/*
 * The clock moved: a deadline may have passed.  Returns the new run's
 * pid once it has settled, for the supervisor to make it the current
 * run, then call reload_took_over(); else -1.
 */
pid_t
reload_tick(const struct daemon_state *ds, long long now)
{
	switch (rl.phase) {
	case READYING:
		if (now >= rl.deadline)
			fail(ds, STEP_TIMEOUT,
			    (int)((now - rl.started + 500) / 1000), 0);
		break;
	case SETTLING:
		if (now >= rl.deadline)
			return (rl.fresh);
		break;
	case FAILING:
		if (rl.term_at != -1 && now >= rl.term_at) {
			(void)kill(-rl.fresh, SIGTERM);
			rl.term_at = -1;
		} else if (rl.term_at == -1 && rl.kill_at != -1 &&
		    now >= rl.kill_at) {
			(void)kill(-rl.fresh, SIGKILL);
			rl.kill_at = -1;
		}
		break;
	case DRAINING:
		if (!rl.killed && now >= rl.deadline) {
			/* Its whole group: nothing it started runs on. */
			(void)kill(-rl.old, SIGKILL);
			rl.killed = true;
		}
		break;
	default:
		break;
	}
	return (-1);
}

/*
 * The new run is the current one now: the old one gets --drain-signal,
 * its main process only, so that it finishes what it serves; its group
 * gets SIGKILL after --drain-timeout.
 */
void
reload_took_over(const struct daemon_state *ds)
{
	rl.took = rl.fresh;
	rl.fresh = -1;
	if (rl.old <= 0) {
		rl.phase = IDLE;
		answer(EXIT_OK, rl.took);
		return;
	}
	logfile_own_line();
	warnx("%s: reloaded: pid %ld took over from pid %ld", ds->argv[0],
	    (long)rl.took, (long)rl.old);
	rl.phase = DRAINING;
	rl.deadline = ready_now_ms() + ds->drain_timeout * 1000;
	(void)kill(rl.old, ds->drain_signal);
}

/*
 * The supervisor stops mid-reload: both runs are asked to go, the
 * requester is told, and with kill their groups are killed.
 */
void
reload_abort(const struct daemon_state *ds, bool kill_now)
{
	int sig = kill_now ? SIGKILL : ds->drain_signal;

	if (rl.phase == IDLE)
		return;
	if (rl.fresh > 0)
		(void)kill(kill_now ? -rl.fresh : rl.fresh, sig);
	/* Before it took over, the old run is the supervisor's own. */
	if (rl.phase != DRAINING && rl.phase != ABORTED)
		rl.old = -1;
	if (rl.old > 0)
		(void)kill(kill_now ? -rl.old : rl.old, sig);
	if (rl.conn != -1) {
		(void)channel_say(rl.conn, "the supervisor is stopping: "
		    "the reload is abandoned");
		answer(EXIT_ERR, -1);
	}
	close_ready();
	rl.phase = rl.fresh > 0 || rl.old > 0 ? ABORTED : IDLE;
}
