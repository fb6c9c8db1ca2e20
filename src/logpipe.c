/* logpipe.c: -r: the runs' output on its way from their pipes to the log files and syslog, never blocking a run. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

#define PUMP_SIZE	(1024 * 1024)	/* most moved from a pipe at once */
#define SYSLOG_LINE	1024	/* the longest line sent to syslog */
#define PIPE_SIZE	(1024 * 1024)	/* the runs' output pipes */

/* A run's stdout or stderr, on its way to our own, the log. */
struct stream {
	int			in;	/* pipe from the run, or -1 */
	int			out;	/* STDOUT_FILENO or STDERR_FILENO */
	int			severity; /* for --syslog */
	unsigned long long	dropped; /* bytes the log would not take */
	bool			midline; /* the last byte moved was no '\n' */
	bool			cut;	/* the log's last byte is no '\n' */
	char			line[SYSLOG_LINE];	/* for --syslog */
	size_t			linelen;
};

static struct stream	streams[2] = {
	{ .in = -1, .out = STDOUT_FILENO, .severity = LOG_INFO },
	{ .in = -1, .out = STDERR_FILENO, .severity = LOG_ERR },
};
static int		log_sock = -1;	/* --syslog */
/* The pump's buffer: page-aligned, so that going idle can give it back. */
static char		pump_buf[PUMP_SIZE] __attribute__((__aligned__(4096)));
static bool		pump_dirty;

static void	emit(struct stream *, const char *, size_t);
static void	send_syslog(const struct daemon_state *, struct stream *,
		    pid_t);
static void	stamp(struct stream *);
static void	lines(const struct daemon_state *, struct stream *,
		    const char *, size_t, pid_t);
static void	pump(const struct daemon_state *, struct stream *, bool,
		    pid_t);

/*
 * Write to the log.  The run must never wait on us: when the log will
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
send_syslog(const struct daemon_state *ds, struct stream *s, pid_t run)
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
	    ds->syslog_facility | s->severity, when, ds->name, (long)run,
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
    size_t n, pid_t run)
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
				send_syslog(ds, s, run);
		}
		s->midline = nl == NULL;
		p += seg;
		n -= seg;
	}
}

/*
 * Move what the run wrote to the log, and never block it.  With all,
 * read until the pipe is empty (before a respawn or exit).
 */
static void
pump(const struct daemon_state *ds, struct stream *s, bool all, pid_t run)
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
				send_syslog(ds, s, run);
			return;
		}
		pump_dirty = true;
		if (ds->timestamps || ds->syslog)
			lines(ds, s, buf, (size_t)n, run);
		else
			emit(s, buf, (size_t)n);
	} while (all);
}

/*
 * A new run's output pipes, in place of the last run's.  What an earlier
 * run left running may still hold those: they are ours no longer.
 */
void
logpipe_attach(int out, int err)
{
	int fds[2] = { out, err };
	int k;

	for (k = 0; k < 2; k++) {
#ifdef F_SETPIPE_SZ
		/* Fewer trips through the supervisor for a fast writer. */
		(void)fcntl(fds[k], F_SETPIPE_SZ, PIPE_SIZE);
#endif
		(void)fcntl(fds[k], F_SETFL, O_NONBLOCK);
		if (streams[k].in != -1)
			(void)close(streams[k].in);
		streams[k].in = fds[k];
	}
}

/* The two pipes to wait on, as pfd[0] and pfd[1]; -1 where closed. */
void
logpipe_poll(struct pollfd *pfd)
{
	int k;

	for (k = 0; k < 2; k++)
		pfd[k] = (struct pollfd){ streams[k].in, POLLIN, 0 };
}

/* After poll(2): move what is waiting, without blocking anyone. */
void
logpipe_pump(const struct daemon_state *ds, const struct pollfd *pfd,
    pid_t run)
{
	int k;

	for (k = 0; k < 2; k++)
		if (pfd[k].fd != -1 && pfd[k].revents != 0)
			pump(ds, &streams[k], false, run);
}

/* Everything a run left in its pipes: before its successor or our exit. */
void
logpipe_drain(const struct daemon_state *ds, pid_t run)
{
	pump(ds, &streams[0], true, run);
	pump(ds, &streams[1], true, run);
}

/*
 * About to sleep for good: hand the buffer's pages back, so that an
 * idle supervisor stays small after a burst.  Only when no pipe has
 * anything waiting, or the pages would come straight back.
 */
void
logpipe_idle(void)
{
	struct pollfd pfd[2];

	if (!pump_dirty)
		return;
	logpipe_poll(pfd);
	if (poll(pfd, 2, 0) != 0)
		return;
	(void)madvise(pump_buf, sizeof(pump_buf), MADV_DONTNEED);
	pump_dirty = false;
}
