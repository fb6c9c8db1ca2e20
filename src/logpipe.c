/* logpipe.c: -r: the runs' output on its way from their pipes to the log files and syslog: whole lines across rotations, never blocking a run. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

#define PUMP_SIZE	(1024 * 1024)	/* most moved from a pipe at once */
#define LINES_SIZE	(256 * 1024)	/* stamped lines, written at once */
#define SYSLOG_LINE	1024	/* the longest line sent to syslog */
#define PIPE_SIZE	(1024 * 1024)	/* the runs' output pipes */
#define CUT_BYTES	(64 * 1024)	/* a line a rotation waits for, at most */
#define CUT_MS		1000	/* and for how long */
#define RETRY_MS	1000	/* between two tries of a failed rotation */

/*
 * A log file, as our stdout or stderr, or both when they are one file.
 * A rotation waits for the end of the line the file is in: until then
 * the new file waits in next.
 */
struct sink {
	int			fds[2];	/* our descriptors on it; -1 unused */
	const char		*path;	/* NULL: /dev/null */
	off_t			size;	/* for --log-size */
	unsigned long long	dropped; /* bytes the file would not take */
	bool			cut;	/* its last byte is no '\n' */
	int			next;	/* the file after a rotation, or -1 */
	long long		next_by; /* when the line in flight is cut */
	size_t			next_left; /* bytes the old file takes still */
	bool			failed;	/* the last rotation failed: said */
	long long		retry_at;
};

/* A run's stdout or stderr, on its way to a sink. */
struct stream {
	int			in;	/* pipe from the run, or -1 */
	struct sink		*to;
	int			severity; /* for --syslog */
	bool			midline; /* the last byte moved was no '\n' */
	char			line[SYSLOG_LINE];	/* for --syslog */
	size_t			linelen;
};

static struct sink	sinks[2] = {
	{ .fds = { STDOUT_FILENO, -1 }, .next = -1 },
	{ .fds = { STDERR_FILENO, -1 }, .next = -1 },
};
static struct stream	streams[2] = {
	{ .in = -1, .to = &sinks[0], .severity = LOG_INFO },
	{ .in = -1, .to = &sinks[1], .severity = LOG_ERR },
};
static int		log_sock = -1;	/* --syslog */
/* The buffers: page-aligned, so that going idle can give them back. */
static char		pump_buf[PUMP_SIZE] __attribute__((__aligned__(4096)));
static char		lines_buf[LINES_SIZE] __attribute__((__aligned__(4096)));
static size_t		lines_len;
static bool		pump_dirty;

/* The stamp of the moment: remade only when its millisecond moves on. */
static struct {
	time_t		sec;
	long		ms;
	char		text[48];	/* "2026-12-01T22:10:09.123+00:00 " */
	size_t		len;
	size_t		ms_at;		/* where the milliseconds begin */
	char		syslog[32];	/* "Dec  1 22:10:09" */
} now_stamp = { .sec = -1 };

static void	put(struct sink *, const char *, size_t);
static void	switch_to_next(struct sink *);
static void	cut_line(struct sink *);
static bool	rotate(const struct daemon_state *, struct sink *);
static size_t	fits(const struct daemon_state *, struct sink *,
		    const char *, size_t, bool *);
static void	emit(const struct daemon_state *, struct sink *,
		    const char *, size_t);
static void	send_syslog(const struct daemon_state *, int, const char *,
		    size_t, pid_t);
static void	stamp(void);
static void	add(const struct daemon_state *, struct stream *,
		    const char *, size_t);
static void	flush(const struct daemon_state *, struct stream *);
static void	lines(const struct daemon_state *, struct stream *,
		    const char *, size_t, pid_t);
static void	pump(const struct daemon_state *, struct stream *, bool,
		    pid_t);
static void	say(const struct daemon_state *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));

/*
 * Write to the file.  The run must never wait on us: when the file will
 * not take it (ENOSPC), count it as dropped, and say how much once the
 * file takes writes again.
 */
static void
put(struct sink *k, const char *p, size_t n)
{
	char note[96];
	ssize_t w;
	int len;

	if (k->dropped > 0) {
		/* A line of its own, after whatever the full log cut short. */
		len = snprintf(note, sizeof(note), "%sdaemonize: dropped %llu "
		    "bytes of output: the log was full\n", k->cut ? "\n" : "",
		    k->dropped);
		if (write(k->fds[0], note, (size_t)len) != len) {
			k->dropped += n;
			return;
		}
		k->size += len;
		k->dropped = 0;
		k->cut = false;
	}
	while (n > 0) {
		if ((w = write(k->fds[0], p, n)) <= 0) {
			k->dropped += n;
			return;
		}
		k->cut = p[w - 1] != '\n';
		k->size += w;
		p += w;
		n -= (size_t)w;
	}
}

/* The new file takes over, on each of our descriptors for the old. */
static void
switch_to_next(struct sink *k)
{
	struct stat sb;
	int i;

	for (i = 0; i < 2; i++)
		if (k->fds[i] != -1)
			(void)dup2(k->next, k->fds[i]);
	k->size = fstat(k->next, &sb) == 0 ? sb.st_size : 0;
	(void)close(k->next);
	k->next = -1;
	k->cut = false;
}

/* A line that outlasts the rotation's wait ends in the old file. */
static void
cut_line(struct sink *k)
{
	static const char note[] = "\ndaemonize: the line above was cut by "
	    "a log rotation; it goes on in the new file\n";

	put(k, note, sizeof(note) - 1);
	switch_to_next(k);
}

/*
 * Say it in the log, and on syslog when the lines go there too: a
 * rotation that failed is the supervisor's business and the admin's.
 */
static void
say(const struct daemon_state *ds, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	warnx("%s", msg);
	if (ds->syslog)
		send_syslog(ds, LOG_ERR, msg, strlen(msg), getpid());
}

/* --log-size: the file is full; false while it cannot be rotated. */
static bool
rotate(const struct daemon_state *ds, struct sink *k)
{
	const char *what;
	long long now;
	int fd;

	now = ready_now_ms();
	if (k->failed && now < k->retry_at)
		return (false);
	if ((fd = output_rotate(k->path, ds->log_keep, k->fds[0], &what)) ==
	    -1) {
		if (!k->failed)
			say(ds, "%s: not rotated: %s: %s; still writing to it",
			    k->path, what, strerror(errno));
		k->failed = true;
		k->retry_at = now + RETRY_MS;
		return (false);
	}
	if (k->failed)
		say(ds, "%s: rotated again", k->path);
	k->failed = false;
	k->next = fd;
	switch_to_next(k);
	return (true);
}

/*
 * How much of p the file takes before --log-size rotates it, at a line
 * boundary: the whole lines that fit, or, in the middle of a line, the
 * rest of it.  *full says that the file is due for rotation once that
 * is written.  All of it when there is no limit.
 */
static size_t
fits(const struct daemon_state *ds, struct sink *k, const char *p, size_t n,
    bool *full)
{
	const char *nl;
	size_t room, take;

	*full = false;
	if (ds->log_size == 0 || k->path == NULL)
		return (n);
	room = k->size < ds->log_size ? (size_t)(ds->log_size - k->size) : 0;
	if (n <= room)
		return (n);
	nl = k->cut ? NULL : memrchr(p, '\n', room);
	if (!k->cut && k->size > 0 && nl == NULL) {
		/* Not one more whole line fits: a fresh file, if it can be had. */
		if (!rotate(ds, k))
			return (n);
		room = (size_t)ds->log_size;
		if (n <= room)
			return (n);
		nl = memrchr(p, '\n', room);
	}
	if (nl != NULL) {
		*full = true;
		return ((size_t)(nl - p) + 1);
	}
	/*
	 * Finish the line in this file first; one longer than the limit
	 * has a file of its own.
	 */
	if ((nl = memchr(p, '\n', n)) == NULL)
		return (n);
	take = (size_t)(nl - p) + 1;
	*full = take >= room;
	return (take);
}

/* Whole lines to the file, and a rotation between two of them only. */
static void
emit(const struct daemon_state *ds, struct sink *k, const char *p, size_t n)
{
	const char *nl;
	size_t take;
	bool full;

	while (n > 0) {
		if (k->next != -1) {
			/* SIGHUP: the old file gets the rest of its line. */
			take = n < k->next_left ? n : k->next_left;
			if ((nl = memchr(p, '\n', take)) != NULL)
				take = (size_t)(nl - p) + 1;
			put(k, p, take);
			k->next_left -= take;
			if (nl != NULL)
				switch_to_next(k);
			else if (k->next_left == 0)
				cut_line(k);
		} else {
			take = fits(ds, k, p, n, &full);
			put(k, p, take);
			if (full && !k->cut)
				(void)rotate(ds, k);
		}
		p += take;
		n -= take;
	}
}

/* One line to syslog: RFC 3164, over a datagram socket. */
static void
send_syslog(const struct daemon_state *ds, int severity, const char *line,
    size_t len, pid_t pid)
{
	struct sockaddr_un sun;
	char msg[SYSLOG_LINE + 128];
	const char *path;
	int n;

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
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (now_stamp.sec == -1)
		stamp();
	n = snprintf(msg, sizeof(msg), "<%d>%s %s[%ld]: %.*s",
	    ds->syslog_facility | severity, now_stamp.syslog, ds->name,
	    (long)pid, (int)len, line);
	if (log_sock != -1 && n > 0)
		(void)send(log_sock, msg, (size_t)n < sizeof(msg) ?
		    (size_t)n : sizeof(msg) - 1, 0);
}

/*
 * The time of the moment, RFC 3339 to the millisecond, for the lines
 * read now.  Formatted anew only when the second moves on (the zone may
 * change with it); within it, only the milliseconds are rewritten.
 */
static void
stamp(void)
{
	struct timespec ts;
	struct tm tm;
	char zone[8];
	long ms;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ms = ts.tv_nsec / 1000000;
	if (ts.tv_sec == now_stamp.sec && ms == now_stamp.ms)
		return;
	if (ts.tv_sec != now_stamp.sec) {
		(void)localtime_r(&ts.tv_sec, &tm);
		now_stamp.ms_at = strftime(now_stamp.text,
		    sizeof(now_stamp.text), "%Y-%m-%dT%H:%M:%S.", &tm);
		(void)strftime(zone, sizeof(zone), "%z", &tm);
		now_stamp.len = now_stamp.ms_at + (size_t)snprintf(
		    now_stamp.text + now_stamp.ms_at,
		    sizeof(now_stamp.text) - now_stamp.ms_at, "000%.3s:%s ",
		    zone, zone + 3);
		(void)strftime(now_stamp.syslog, sizeof(now_stamp.syslog),
		    "%b %e %H:%M:%S", &tm);
		now_stamp.sec = ts.tv_sec;
	}
	now_stamp.text[now_stamp.ms_at] = (char)('0' + ms / 100);
	now_stamp.text[now_stamp.ms_at + 1] = (char)('0' + ms / 10 % 10);
	now_stamp.text[now_stamp.ms_at + 2] = (char)('0' + ms % 10);
	now_stamp.ms = ms;
}

/* Into the buffer of stamped lines, which goes out whole when full. */
static void
add(const struct daemon_state *ds, struct stream *s, const char *p,
    size_t n)
{
	if (lines_len + n > sizeof(lines_buf))
		flush(ds, s);
	if (n > sizeof(lines_buf)) {
		emit(ds, s->to, p, n);
		return;
	}
	memcpy(lines_buf + lines_len, p, n);
	lines_len += n;
}

static void
flush(const struct daemon_state *ds, struct stream *s)
{
	if (lines_len > 0)
		emit(ds, s->to, lines_buf, lines_len);
	lines_len = 0;
}

/*
 * Line by line, for --timestamps and --syslog: every line read at once
 * has the same stamp, the moment it was read, and the lines go to the
 * file together.  Syslog takes a datagram a line; that is its protocol.
 */
static void
lines(const struct daemon_state *ds, struct stream *s, const char *p,
    size_t n, pid_t run)
{
	const char *nl;
	size_t seg, room, done, take;

	stamp();
	while (n > 0) {
		nl = memchr(p, '\n', n);
		seg = nl != NULL ? (size_t)(nl - p) + 1 : n;
		if (ds->timestamps && !s->midline)
			add(ds, s, now_stamp.text, now_stamp.len);
		add(ds, s, p, seg);
		/* A line longer than syslog takes goes in pieces. */
		for (done = 0; ds->syslog && done < seg; done += take) {
			room = sizeof(s->line) - s->linelen;
			take = seg - done < room ? seg - done : room;
			memcpy(s->line + s->linelen, p + done, take);
			s->linelen += take;
			if (s->linelen == sizeof(s->line) ||
			    (nl != NULL && done + take == seg)) {
				send_syslog(ds, s->severity, s->line,
				    s->linelen, run);
				s->linelen = 0;
			}
		}
		s->midline = nl == NULL;
		p += seg;
		n -= seg;
	}
	flush(ds, s);
}

/*
 * Move what the run wrote to the log, and never block it.  With all,
 * read until the pipe is empty (before a respawn or exit).
 */
static void
pump(const struct daemon_state *ds, struct stream *s, bool all, pid_t run)
{
	ssize_t n;

	do {
		if (s->in == -1)
			return;
		n = read(s->in, pump_buf, sizeof(pump_buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			(void)close(s->in);
			s->in = -1;
			if (ds->syslog && s->linelen > 0)
				send_syslog(ds, s->severity, s->line,
				    s->linelen, run);
			s->linelen = 0;
			return;
		}
		pump_dirty = true;
		if (ds->timestamps || ds->syslog)
			lines(ds, s, pump_buf, (size_t)n, run);
		else
			emit(ds, s->to, pump_buf, (size_t)n);
	} while (all);
}

/*
 * In the supervisor, before the first run: which log files there are.
 * stdout and stderr on one file (-l, or two names for it) are one sink,
 * so that it is rotated once and both streams follow.
 */
void
logpipe_init(const struct daemon_state *ds)
{
	struct stat osb, esb;

	sinks[0].path = ds->out.path;
	sinks[1].path = ds->err.path;
	if (fstat(STDOUT_FILENO, &osb) == -1 || fstat(STDERR_FILENO, &esb) ==
	    -1)
		return;
	sinks[0].size = osb.st_size;
	sinks[1].size = esb.st_size;
	if (osb.st_dev == esb.st_dev && osb.st_ino == esb.st_ino) {
		sinks[0].fds[1] = STDERR_FILENO;
		sinks[1].fds[0] = -1;
		streams[1].to = &sinks[0];
	}
}

/*
 * SIGHUP: the log files again by their names, once each file is at the
 * end of a line.  One that cannot be opened keeps the old one.
 */
void
logpipe_reopen(struct daemon_state *ds)
{
	struct sink *k;
	int i, fd;

	for (i = 0; i < 2; i++) {
		k = &sinks[i];
		if (k->fds[0] == -1 || k->path == NULL)
			continue;
		if ((fd = output_reopen(ds, k->path)) == -1)
			continue;
		if (k->next != -1)
			(void)close(k->next);
		k->next = fd;
		k->next_by = ready_now_ms() + CUT_MS;
		k->next_left = CUT_BYTES;
		if (!k->cut)
			switch_to_next(k);
	}
}

/* When a line in flight will have waited long enough, or -1. */
long long
logpipe_deadline(void)
{
	long long by = -1;
	int i;

	for (i = 0; i < 2; i++)
		if (sinks[i].next != -1 && (by == -1 || sinks[i].next_by < by))
			by = sinks[i].next_by;
	return (by);
}

/* The time is up for a line in flight across a rotation: cut it. */
void
logpipe_tick(long long now)
{
	int i;

	for (i = 0; i < 2; i++)
		if (sinks[i].next != -1 && now >= sinks[i].next_by)
			cut_line(&sinks[i]);
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

/*
 * Everything a run left in its pipes: before its successor or our exit.
 * A line it left unfinished ends there, so that the next run's first
 * line, or our word about the end, starts a line of its own, and a
 * rotation waiting for that line need wait no longer.
 */
void
logpipe_drain(const struct daemon_state *ds, pid_t run)
{
	int i;

	for (i = 0; i < 2; i++) {
		pump(ds, &streams[i], true, run);
		streams[i].midline = false;
	}
	for (i = 0; i < 2; i++) {
		if (sinks[i].fds[0] == -1)
			continue;
		if (sinks[i].cut)
			put(&sinks[i], "\n", 1);
		if (sinks[i].next != -1)
			switch_to_next(&sinks[i]);
	}
}

/*
 * About to sleep for good: hand the buffers' pages back, so that an
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
	(void)madvise(lines_buf, sizeof(lines_buf), MADV_DONTNEED);
	pump_dirty = false;
}
