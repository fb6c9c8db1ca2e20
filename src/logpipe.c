/* logpipe.c: -r: the runs' output on its way from their pipes to the log files and syslog, line by line where it must be, never blocking a run. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

#define PUMP_SIZE	(1024 * 1024)	/* most moved from a pipe at once */
#define LINES_SIZE	(256 * 1024)	/* stamped lines, written at once */
#define PIPE_SIZE	(1024 * 1024)	/* the runs' output pipes */
#define IDLE_MS		200	/* quiet that long after a burst: idle */
#define HOLD_SIZE	(64 * 1024)	/* a line held while two runs write */
#define RUNS		2	/* at most: the old and the new of a reload */

/*
 * A run's stdout or stderr, on its way to its log file.  While two runs
 * write, each stream moves whole lines only and holds the rest, and none
 * moves while another has left the same file in the middle of a line:
 * their lines never interleave.  A line longer than the hold goes out
 * as it is.
 */
struct stream {
	int			in;	/* pipe from the run, or -1 */
	struct sink		*to;
	int			severity; /* for --syslog */
	bool			midline; /* the last byte moved was no '\n' */
	char			line[LOGSYS_LINE];	/* for --syslog */
	size_t			linelen;
	char			*held;	/* HOLD_SIZE bytes, touched only then */
	size_t			heldlen;
};

/* The runs' streams: slot by slot, stdout then stderr. */
static struct stream	streams[RUNS][2];
static char		holds[RUNS][2][HOLD_SIZE]
			    __attribute__((__aligned__(4096)));
static pid_t		runs[RUNS];	/* whose slot it is; 0: free */
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

static void	stamp(void);
static void	add(const struct daemon_state *, struct stream *,
		    const char *, size_t);
static void	flush(const struct daemon_state *, struct stream *);
static void	lines(const struct daemon_state *, struct stream *,
		    const char *, size_t, pid_t);
static void	move(const struct daemon_state *, struct stream *,
		    const char *, size_t, pid_t);
static bool	blocked(const struct stream *);
static void	release(const struct daemon_state *, struct stream *, bool,
		    pid_t);
static void	pump(const struct daemon_state *, struct stream *, bool,
		    pid_t);
static int	live(void);

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
		logfile_write(ds, s->to, p, n);
		return;
	}
	memcpy(lines_buf + lines_len, p, n);
	lines_len += n;
}

static void
flush(const struct daemon_state *ds, struct stream *s)
{
	if (lines_len > 0)
		logfile_write(ds, s->to, lines_buf, lines_len);
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
				logsys_send(ds, s->severity, s->line,
				    s->linelen, run, now_stamp.syslog);
				s->linelen = 0;
			}
		}
		s->midline = nl == NULL;
		p += seg;
		n -= seg;
	}
	flush(ds, s);
}

/* Bytes a run wrote, on to the file as the options say. */
static void
move(const struct daemon_state *ds, struct stream *s, const char *p,
    size_t n, pid_t run)
{
	if (ds->timestamps || ds->syslog)
		lines(ds, s, p, n, run);
	else {
		logfile_write(ds, s->to, p, n);
		s->midline = p[n - 1] != '\n';
	}
}

/* Another stream left our file in the middle of one of its lines. */
static bool
blocked(const struct stream *s)
{
	int r, k;

	for (r = 0; r < RUNS; r++)
		for (k = 0; k < 2; k++)
			if (&streams[r][k] != s && streams[r][k].to == s->to &&
			    streams[r][k].midline)
				return (true);
	return (false);
}

/* The whole lines held, or with all everything held. */
static void
release(const struct daemon_state *ds, struct stream *s, bool all,
    pid_t run)
{
	const char *nl;
	size_t n;

	if (s->heldlen == 0 || (!all && blocked(s)))
		return;
	if (all)
		n = s->heldlen;
	else if ((nl = memrchr(s->held, '\n', s->heldlen)) != NULL)
		n = (size_t)(nl - s->held) + 1;
	else
		return;
	move(ds, s, s->held, n, run);
	memmove(s->held, s->held + n, s->heldlen - n);
	s->heldlen -= n;
}

/* How many runs have pipes here: two while a reload runs. */
static int
live(void)
{
	int r, n;

	for (n = 0, r = 0; r < RUNS; r++)
		n += runs[r] != 0;
	return (n);
}

/*
 * Move what the run wrote to the log, and never block it.  With all,
 * read until the pipe is empty (before a respawn or exit).
 */
static void
pump(const struct daemon_state *ds, struct stream *s, bool all, pid_t run)
{
	ssize_t n;
	bool shared;

	shared = live() > 1;
	do {
		if (s->in == -1)
			return;
		if (shared)
			n = read(s->in, s->held + s->heldlen,
			    HOLD_SIZE - s->heldlen);
		else
			n = read(s->in, pump_buf, sizeof(pump_buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			(void)close(s->in);
			s->in = -1;
			release(ds, s, true, run);
			if (ds->syslog && s->linelen > 0)
				logsys_send(ds, s->severity, s->line,
				    s->linelen, run, now_stamp.syslog);
			s->linelen = 0;
			return;
		}
		pump_dirty = true;
		if (shared) {
			s->heldlen += (size_t)n;
			/* Full: no line may wait longer than that. */
			release(ds, s, s->heldlen == HOLD_SIZE, run);
		} else
			move(ds, s, pump_buf, (size_t)n, run);
	} while (all);
}

/* Before the first run: the log files each stream goes to. */
void
logpipe_init(const struct daemon_state *ds)
{
	int r, k;

	logfile_init(ds);
	for (r = 0; r < RUNS; r++)
		for (k = 0; k < 2; k++) {
			streams[r][k].in = -1;
			streams[r][k].held = holds[r][k];
			streams[r][k].to = logfile_of(k);
			streams[r][k].severity = k == 0 ? LOG_INFO : LOG_ERR;
		}
}

/*
 * A new run's output pipes, in a free slot.  There is always one: a run
 * gives its slot back when it ends, and at most two run at once.
 */
void
logpipe_attach(pid_t run, int out, int err)
{
	int fds[2] = { out, err };
	int r, k;

	for (r = 0; r < RUNS - 1 && runs[r] != 0; r++)
		;
	runs[r] = run;
	for (k = 0; k < 2; k++) {
#ifdef F_SETPIPE_SZ
		/* Fewer trips through the supervisor for a fast writer. */
		(void)fcntl(fds[k], F_SETPIPE_SZ, PIPE_SIZE);
#endif
		(void)fcntl(fds[k], F_SETFL, O_NONBLOCK);
		if (streams[r][k].in != -1)
			(void)close(streams[r][k].in);
		streams[r][k].in = fds[k];
	}
}

/* The pipes to wait on, as pfd[0] to pfd[LOGPIPE_FDS - 1]; -1 where closed. */
void
logpipe_poll(struct pollfd *pfd)
{
	int r, k;

	for (r = 0; r < RUNS; r++)
		for (k = 0; k < 2; k++)
			pfd[r * 2 + k] = (struct pollfd){ streams[r][k].in,
			    POLLIN, 0 };
}

/* After poll(2): move what is waiting, without blocking anyone. */
void
logpipe_pump(const struct daemon_state *ds, const struct pollfd *pfd)
{
	int r, k;

	for (r = 0; r < RUNS; r++)
		for (k = 0; k < 2; k++)
			if (pfd[r * 2 + k].fd != -1 &&
			    pfd[r * 2 + k].revents != 0)
				pump(ds, &streams[r][k], false, runs[r]);
	/* A line finished may free another stream's lines. */
	for (r = 0; r < RUNS; r++)
		for (k = 0; k < 2; k++)
			release(ds, &streams[r][k], false, runs[r]);
}

/*
 * Everything a run left in its pipes, and its slot given back: after it
 * ended, before its successor or our exit.  What it left running may
 * still hold its pipes: they are ours no longer.
 */
void
logpipe_drain(const struct daemon_state *ds, pid_t run)
{
	struct stream *s;
	int r, k;

	for (r = 0; r < RUNS && runs[r] != run; r++)
		;
	if (r == RUNS)
		return;
	for (k = 0; k < 2; k++) {
		s = &streams[r][k];
		pump(ds, s, true, run);
		release(ds, s, true, run);
		if (s->in != -1)
			(void)close(s->in);
		s->in = -1;
		s->midline = false;
	}
	runs[r] = 0;
	logfile_end_run();
	/* The one left writes alone again: what it held may go. */
	for (r = 0; r < RUNS; r++)
		for (k = 0; k < 2; k++)
			release(ds, &streams[r][k], true, runs[r]);
}

/*
 * After a burst the buffers' pages are worth handing back, so that an
 * idle supervisor stays small: say how long to wait for more output
 * before doing so (-1: nothing to hand back), so that a busy pipe costs
 * no extra system call.
 */
int
logpipe_idle_after(void)
{
	return (pump_dirty ? IDLE_MS : -1);
}

/* The wait of logpipe_idle_after() passed with nothing to read. */
void
logpipe_idle(void)
{
	int r, k;

	if (!pump_dirty)
		return;
	(void)madvise(pump_buf, sizeof(pump_buf), MADV_DONTNEED);
	(void)madvise(lines_buf, sizeof(lines_buf), MADV_DONTNEED);
	for (r = 0; r < RUNS; r++)
		for (k = 0; k < 2; k++)
			if (streams[r][k].heldlen == 0)
				(void)madvise(holds[r][k], HOLD_SIZE,
				    MADV_DONTNEED);
	pump_dirty = false;
}

/* Two runs write: an upgrade must wait for the end of that. */
bool
logpipe_shared(void)
{
	return (live() > 1);
}

/*
 * --upgrade: each run's pipes, and where each stream stands in its
 * line, so that the new image stamps no line in its middle.  A partial
 * line kept for syslog goes along, in hex.
 */
void
logpipe_save(struct state *st)
{
	char name[64], hex[2 * LOGSYS_LINE + 1];
	const struct stream *s;
	size_t i;
	int r, k;

	for (r = 0; r < RUNS; r++) {
		if (runs[r] == 0)
			continue;
		(void)snprintf(name, sizeof(name), "!run.%d", r);
		state_put(st, name, "%ld", (long)runs[r]);
		for (k = 0; k < 2; k++) {
			s = &streams[r][k];
			(void)snprintf(name, sizeof(name), "pipe.%d.%d", r, k);
			(void)upgrade_put_fd(st, name, s->in);
			for (i = 0; i < s->linelen; i++)
				(void)snprintf(hex + 2 * i, 3, "%02x",
				    (unsigned char)s->line[i]);
			hex[2 * s->linelen] = '\0';
			(void)snprintf(name, sizeof(name), "!stream.%d.%d", r,
			    k);
			state_put(st, name, "%d %zu%s%s", s->midline,
			    s->linelen, s->linelen > 0 ? " " : "", hex);
			if (s->heldlen > 0)
				st->failed = true;
		}
	}
}

/* In a new image, after logpipe_init(): the runs' pipes again. */
int
logpipe_load(const struct state *st)
{
	char name[64], word[3] = { 0, 0, 0 }, num[8];
	const char *v, *hex, *errstr;
	struct stream *s;
	long long pid;
	size_t i, len;
	int r, k;

	for (r = 0; r < RUNS; r++) {
		(void)snprintf(name, sizeof(name), "run.%d", r);
		if (state_get(st, name) == NULL)
			continue;
		if (state_numbers(st, name, &pid, 1, 1, INT_MAX) == -1)
			return (-1);
		runs[r] = (pid_t)pid;
		for (k = 0; k < 2; k++) {
			s = &streams[r][k];
			(void)snprintf(name, sizeof(name), "pipe.%d.%d", r, k);
			s->in = upgrade_fd(name);
			(void)snprintf(name, sizeof(name), "stream.%d.%d", r,
			    k);
			if ((v = state_get(st, name)) == NULL ||
			    (v[0] != '0' && v[0] != '1') || v[1] != ' ')
				return (-1);
			s->midline = v[0] == '1';
			len = strspn(v + 2, "0123456789");
			if (len == 0 || len > 4)
				return (-1);
			memcpy(num, v + 2, len);
			num[len] = '\0';
			s->linelen = (size_t)value_number(num, 0, LOGSYS_LINE,
			    &errstr);
			if (errstr != NULL)
				return (-1);
			hex = v + 2 + len;
			if (s->linelen > LOGSYS_LINE || (s->linelen > 0 &&
			    (*hex++ != ' ' || strlen(hex) != 2 * s->linelen)) ||
			    (s->linelen == 0 && *hex != '\0'))
				return (-1);
			for (i = 0; i < s->linelen; i++) {
				memcpy(word, hex + 2 * i, 2);
				if (strspn(word, "0123456789abcdef") != 2)
					return (-1);
				s->line[i] = (char)strtol(word, NULL, 16);
			}
		}
	}
	return (0);
}
