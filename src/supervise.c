/* supervise.c: -r: the supervisor that keeps the command alive, forwards signals and owns its output. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

#define PUMP_SIZE	(1024 * 1024)	/* most moved from a pipe at once */
#define SYSLOG_LINE	1024	/* the longest line sent to syslog */
#define PIPE_SIZE	(1024 * 1024)	/* the child's output pipes */

enum sv_state {
	SV_RUNNING,
	SV_BACKOFF,	/* waiting before the next start */
	SV_GIVENUP,	/* too many failed starts: waiting for --restart */
	SV_STOPPING,	/* SIGTERM or SIGINT came: ending the child */
};

/* The child's stdout or stderr, on its way to our own, the log. */
struct stream {
	int			in;	/* pipe from the child, or -1 */
	int			out;	/* STDOUT_FILENO or STDERR_FILENO */
	int			severity; /* for --syslog */
	unsigned long long	dropped; /* bytes the log would not take */
	bool			midline; /* the last byte moved was no '\n' */
	bool			cut;	/* the log's last byte is no '\n' */
	char			line[SYSLOG_LINE];	/* for --syslog */
	size_t			linelen;
};

/* Signals that are the child's business: passed on unchanged. */
static const int forwarded[] = {
	SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP,
};

static int		sig_pipe[2] = { -1, -1 };
static struct stream	streams[2] = {
	{ .in = -1, .out = STDOUT_FILENO, .severity = LOG_INFO },
	{ .in = -1, .out = STDERR_FILENO, .severity = LOG_ERR },
};
static int		log_sock = -1;	/* --syslog */
/* The pump's buffer: page-aligned, so that going idle can give it back. */
static char		pump_buf[PUMP_SIZE] __attribute__((__aligned__(4096)));
static bool		pump_dirty;
static enum sv_state	state;
static pid_t		child = -1;
static long long	child_started, next_start, stop_deadline;
static long long	failures, restarts;
static bool		restart_asked;
static bool		answered;	/* the caller has had its answer */

static void	on_signal(int);
static int	catch_signals(void);
static void	emit(struct stream *, const char *, size_t);
static void	send_syslog(const struct daemon_state *, struct stream *);
static void	stamp(struct stream *);
static void	lines(const struct daemon_state *, struct stream *,
		    const char *, size_t);
static void	pump(const struct daemon_state *, struct stream *, bool);
static pid_t	spawn(struct daemon_state *, int *, int *);
static bool	start(struct daemon_state *);
static void	back_off(struct daemon_state *);
static void	child_exited(struct daemon_state *, int);
static void	handle(struct daemon_state *, int);
static void	leave(struct daemon_state *, int) __attribute__((__noreturn__));
static char	**copy_args(char **);
static void	title(const struct daemon_state *);

/* The handler only wakes the loop up: the loop does the work. */
static void
on_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int serrno = errno;

	(void)write(sig_pipe[1], &c, 1);
	errno = serrno;
}

static int
catch_signals(void)
{
	const int ours[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	struct sigaction sa;
	size_t i;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return (-1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	(void)sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (sigaction(ours[i], &sa, NULL) == -1)
			return (-1);
	for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		if (sigaction(forwarded[i], &sa, NULL) == -1)
			return (-1);
	/* Our own command, --restart, steals none of the child's signals. */
	if (sigaction(SIGRTMIN + 1, &sa, NULL) == -1)
		return (-1);
	/* And the middle process's end: the caller has its answer. */
	if (sigaction(SIGRTMIN + 2, &sa, NULL) == -1)
		return (-1);
	(void)signal(SIGPIPE, SIG_IGN);
	/* A log over the file size limit fails writes: count them dropped. */
	(void)signal(SIGXFSZ, SIG_IGN);
	/* Whatever our caller blocked, we must hear these. */
	(void)sigemptyset(&sa.sa_mask);
	return (sigprocmask(SIG_SETMASK, &sa.sa_mask, NULL));
}

/*
 * Write to the log.  The child must never wait on us: when the log will
 * not take it (ENOSPC), count it as dropped, and say how much once the
 * log takes writes again.
 */
static void
emit(struct stream *s, const char *p, size_t n)
{
	char note[96];
	ssize_t w;
	int len;

	if (s->dropped > 0) {
		/* A line of its own, after whatever the full log cut short. */
		len = snprintf(note, sizeof(note), "%sdaemonize: dropped %llu "
		    "bytes of output: the log was full\n", s->cut ? "\n" : "",
		    s->dropped);
		if (write(s->out, note, (size_t)len) != len) {
			s->dropped += n;
			return;
		}
		s->dropped = 0;
		s->cut = false;
	}
	while (n > 0) {
		if ((w = write(s->out, p, n)) <= 0) {
			s->dropped += n;
			return;
		}
		s->cut = p[w - 1] != '\n';
		p += w;
		n -= (size_t)w;
	}
}

/* One line to syslog: RFC 3164, over a datagram socket. */
static void
send_syslog(const struct daemon_state *ds, struct stream *s)
{
	struct sockaddr_un sun;
	char msg[SYSLOG_LINE + 128], when[32];
	const char *path;
	struct tm tm;
	time_t now;
	int len;

	if (log_sock == -1) {
		log_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0);
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		/* A documented switch, so the tests need no syslogd. */
		if ((path = getenv("DAEMONIZE_SYSLOG_SOCKET")) == NULL)
			path = _PATH_LOG;
		(void)strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
		if (log_sock != -1 && connect(log_sock,
		    (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			(void)close(log_sock);
			log_sock = -1;
		}
	}
	if (s->linelen > 0 && s->line[s->linelen - 1] == '\n')
		s->linelen--;
	now = time(NULL);
	(void)localtime_r(&now, &tm);
	(void)strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
	len = snprintf(msg, sizeof(msg), "<%d>%s %s[%ld]: %.*s",
	    ds->syslog_facility | s->severity, when, ds->name, (long)child,
	    (int)s->linelen, s->line);
	if (log_sock != -1 && len > 0)
		(void)send(log_sock, msg, (size_t)len < sizeof(msg) ?
		    (size_t)len : sizeof(msg) - 1, 0);
	s->linelen = 0;
}

/* An RFC 3339 time, to the millisecond, before each line. */
static void
stamp(struct stream *s)
{
	char buf[48], zone[8];
	struct timespec ts;
	struct tm tm;
	size_t len;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)localtime_r(&ts.tv_sec, &tm);
	len = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	(void)strftime(zone, sizeof(zone), "%z", &tm);
	len += (size_t)snprintf(buf + len, sizeof(buf) - len,
	    ".%03ld%.3s:%s ", ts.tv_nsec / 1000000, zone, zone + 3);
	emit(s, buf, len);
}

/* Line by line, for --timestamps and --syslog. */
static void
lines(const struct daemon_state *ds, struct stream *s, const char *p,
    size_t n)
{
	const char *nl;
	size_t seg, room, done, take;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		seg = nl != NULL ? (size_t)(nl - p) + 1 : n;
		if (ds->timestamps && !s->midline)
			stamp(s);
		emit(s, p, seg);
		/* A line longer than syslog takes goes in pieces. */
		for (done = 0; ds->syslog && done < seg; done += take) {
			room = sizeof(s->line) - s->linelen;
			take = seg - done < room ? seg - done : room;
			memcpy(s->line + s->linelen, p + done, take);
			s->linelen += take;
			if (s->linelen == sizeof(s->line) ||
			    (nl != NULL && done + take == seg))
				send_syslog(ds, s);
		}
		s->midline = nl == NULL;
		p += seg;
		n -= seg;
	}
}

/*
 * Move what the child wrote to the log, and never block it.  With all,
 * read until the pipe is empty (before a respawn or exit).
 */
static void
pump(const struct daemon_state *ds, struct stream *s, bool all)
{
	char *buf = pump_buf;
	ssize_t n;

	do {
		if (s->in == -1)
			return;
		n = read(s->in, buf, sizeof(pump_buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			(void)close(s->in);
			s->in = -1;
			if (ds->syslog && s->linelen > 0)
				send_syslog(ds, s);
			return;
		}
		pump_dirty = true;
		if (ds->timestamps || ds->syslog)
			lines(ds, s, buf, (size_t)n);
		else
			emit(s, buf, (size_t)n);
	} while (all);
}

/*
 * Start the command once: its output into our pipes, its exec status on
 * a pipe of its own.  Returns its pid, or -1 with *step and errno set.
 */
static pid_t
spawn(struct daemon_state *ds, int *step, int *errnum)
{
	struct status_msg msg;
	sigset_t all, old;
	int sp[2], op[2], ep[2], keep, spfd, lo, hi;
	pid_t pid, supervisor;
	ssize_t n;

	*step = 0;
	if (pipe2(sp, O_CLOEXEC) == -1)
		goto fail;
	if (pipe2(op, O_CLOEXEC) == -1 || pipe2(ep, O_CLOEXEC) == -1)
		goto fail;
	supervisor = getpid();
	/* No handler of ours may run in the child before its reset. */
	(void)sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == -1) {
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		goto fail;
	}
	if (pid == 0) {
		(void)setpgid(0, 0);
#ifdef __linux__
		/* Never run on unsupervised: our death is its SIGTERM. */
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != supervisor)
			_exit(EXIT_ERR);
#endif
		/* The first child keeps the readiness pipe at its number. */
		keep = ds->ready == READY_FD && !answered ? ds->ready_fd : -1;
		spfd = keep == 3 ? 4 : 3;
		if (dup2(op[1], STDOUT_FILENO) == -1 ||
		    dup2(ep[1], STDERR_FILENO) == -1 ||
		    (sp[1] != spfd && dup2(sp[1], spfd) == -1) ||
		    fcntl(spfd, F_SETFD, FD_CLOEXEC) == -1)
			_exit(EXIT_ERR);
		/* The pidfiles and their locks stay with the supervisor. */
		ds->pid.lockfd = ds->pid.writefd = -1;
		ds->svpid.lockfd = ds->svpid.writefd = -1;
		/* Close all but spfd and keep (3 and 4 when keep is 3). */
		lo = keep == -1 || keep > spfd ? spfd : keep;
		hi = keep == -1 ? spfd : keep > spfd ? keep : spfd;
		(void)detach_close_between(3, (unsigned int)lo - 1);
		(void)detach_close_between((unsigned int)lo + 1,
		    (unsigned int)hi - 1);
		(void)detach_close_between((unsigned int)hi + 1, ~0U);
		detach_exec(ds, spfd);
	}
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	(void)close(sp[1]);
	(void)close(op[1]);
	(void)close(ep[1]);
#ifdef F_SETPIPE_SZ
	/* Fewer trips through the supervisor for a fast writer. */
	(void)fcntl(op[0], F_SETPIPE_SZ, PIPE_SIZE);
	(void)fcntl(ep[0], F_SETPIPE_SZ, PIPE_SIZE);
#endif
	(void)fcntl(op[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(ep[0], F_SETFL, O_NONBLOCK);
	/* What an earlier child left running may still hold its pipes. */
	for (int k = 0; k < 2; k++)
		if (streams[k].in != -1)
			(void)close(streams[k].in);
	streams[0].in = op[0];
	streams[1].in = ep[0];
	/* End of file: it exec'd.  Anything else: the step that failed. */
	while ((n = read(sp[0], &msg, sizeof(msg))) == sizeof(msg) ||
	    (n == -1 && errno == EINTR)) {
		if (n == sizeof(msg) && msg.step != STEP_PID) {
			*step = msg.step;
			*errnum = msg.value;
		}
	}
	(void)close(sp[0]);
	if (*step != 0) {
		(void)waitpid(pid, NULL, 0);
		pump(ds, &streams[0], true);
		pump(ds, &streams[1], true);
		errno = *errnum;
		return (-1);
	}
	return (pid);
fail:
	*step = STEP_FORK;
	*errnum = errno;
	return (-1);
}

/* A start that could not exec counts as a failed start. */
static bool
start(struct daemon_state *ds)
{
	int step, errnum;

	if ((child = spawn(ds, &step, &errnum)) == -1) {
		warnc(errnum, "%s: could not start: %s", ds->argv[0],
		    detach_step_name(step));
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
	pump(ds, &streams[0], true);
	pump(ds, &streams[1], true);
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
			    options_signame(WTERMSIG(status)));
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
		output_reopen(ds);
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
	pidfile_discard(ds);
	_exit(status);
}

/*
 * The daemon proper with -r: start the command, and again when it ends,
 * as the policy says.  Idle, it sleeps in poll(2) with no timeout.
 */
void
supervise(struct daemon_state *ds, int repfd)
{
	struct pollfd pfd[3];
	unsigned char sigs[64];
	long long timeout, now;
	ssize_t n, i;
	int step, errnum, k;

	/*
	 * The process title is written over our argument area, where the
	 * command and the -E strings still live: copy them out first.
	 */
	ds->argv = copy_args(ds->argv);
	if ((ds->name = strdup(ds->name)) == NULL)
		leave(ds, EXIT_ERR);
	for (size_t e = 0; e < ds->nenv; e++)
		if ((ds->env[e] = strdup(ds->env[e])) == NULL)
			leave(ds, EXIT_ERR);
	if (catch_signals() == -1 || chdir("/") == -1) {
		(void)write(repfd, &(struct status_msg){ STEP_WAIT, errno },
		    sizeof(struct status_msg));
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
		(void)write(repfd, &(struct status_msg){ STEP_PIDFILE, errno },
		    sizeof(struct status_msg));
		leave(ds, EXIT_ERR);
	}
	/* The first start: its exec status is the caller's answer. */
	if ((child = spawn(ds, &step, &errnum)) == -1) {
		(void)write(repfd, &(struct status_msg){ step, errnum },
		    sizeof(struct status_msg));
		leave(ds, EXIT_ERR);
	}
	/* Only the first child may hold it, or end of file never comes. */
	if (ds->ready == READY_FD)
		(void)close(ds->ready_fd);
	child_started = ready_now_ms();
	state = SV_RUNNING;
	(void)pidfile_store(&ds->pid, child);
	title(ds);
	(void)write(repfd, &(struct status_msg){ STEP_PID, (int)child },
	    sizeof(struct status_msg));
	(void)close(repfd);

	for (;;) {
		now = ready_now_ms();
		timeout = -1;
		if (state == SV_BACKOFF)
			timeout = next_start > now ? next_start - now : 0;
		else if (state == SV_STOPPING || restart_asked)
			timeout = stop_deadline > now ? stop_deadline - now : 0;
		pfd[0] = (struct pollfd){ sig_pipe[0], POLLIN, 0 };
		pfd[1] = (struct pollfd){ streams[0].in, POLLIN, 0 };
		pfd[2] = (struct pollfd){ streams[1].in, POLLIN, 0 };
		/*
		 * About to sleep for good: hand the buffer's pages back,
		 * so that an idle supervisor stays small after a burst.
		 */
		if (timeout == -1 && pump_dirty && poll(pfd, 3, 0) == 0) {
			(void)madvise(pump_buf, sizeof(pump_buf),
			    MADV_DONTNEED);
			pump_dirty = false;
		}
		if (timeout > 60000)
			timeout = 60000;
		if (poll(pfd, 3, (int)timeout) == -1 && errno != EINTR)
			leave(ds, EXIT_ERR);
		for (k = 1; k <= 2; k++)
			if (pfd[k].fd != -1 && pfd[k].revents != 0)
				pump(ds, &streams[k - 1], false);
		if (pfd[0].revents != 0) {
			while ((n = read(sig_pipe[0], sigs, sizeof(sigs))) > 0)
				for (i = 0; i < n; i++)
					handle(ds, sigs[i]);
		}
		now = ready_now_ms();
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
