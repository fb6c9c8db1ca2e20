/* logfile.c: -r: the log files as the supervisor writes them: whole lines across rotations by SIGHUP or by size, and what a full disk drops. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "daemonize.h"

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

static struct sink	sinks[2] = {
	{ .fds = { STDOUT_FILENO, -1 }, .next = -1 },
	{ .fds = { STDERR_FILENO, -1 }, .next = -1 },
};

static void	put(struct sink *, const char *, size_t);
static void	switch_to_next(struct sink *);
static void	cut_line(struct sink *);
static void	say(const struct daemon_state *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));
static bool	rotate(const struct daemon_state *, struct sink *);
static size_t	fits(const struct daemon_state *, struct sink *,
		    const char *, size_t, bool *);

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
	logfile_own_line();
	warnx("%s", msg);
	if (ds->syslog)
		logsys_send(ds, LOG_ERR, msg, strlen(msg), getpid(), NULL);
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
void
logfile_write(const struct daemon_state *ds, struct sink *k, const char *p,
    size_t n)
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

/*
 * In the supervisor, before the first run: which log files there are.
 * stdout and stderr on one file (-l, or two names for it) are one, so
 * that it is rotated once and both streams follow.
 */
void
logfile_init(const struct daemon_state *ds)
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
	}
}

/* Where stream 0 (stdout) or 1 (stderr) of a run goes. */
struct sink *
logfile_of(int stream)
{
	return (sinks[stream].fds[0] != -1 ? &sinks[stream] : &sinks[0]);
}

/*
 * A run ended: a line it left unfinished ends here, so that the next
 * run's first line, or our word about the end, starts a line of its
 * own, and a rotation waiting for that line need wait no longer.
 */
void
logfile_end_run(void)
{
	int i;

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
 * Before a word of our own in the log, amid a run's output: on a line
 * of its own, even when the run is in the middle of one, whose rest
 * then follows on the next line.
 */
void
logfile_own_line(void)
{
	struct sink *k = logfile_of(1);

	if (k->cut)
		put(k, "\n", 1);
	k->cut = false;
}

/*
 * SIGHUP: the log files again by their names, once each file is at the
 * end of a line.  One that cannot be opened keeps the old one.
 */
void
logfile_reopen(struct daemon_state *ds)
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
logfile_deadline(void)
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
logfile_tick(long long now)
{
	int i;

	for (i = 0; i < 2; i++)
		if (sinks[i].next != -1 && now >= sinks[i].next_by)
			cut_line(&sinks[i]);
}

/* A rotation waits for a line's end: an upgrade must wait for that. */
bool
logfile_busy(void)
{
	return (sinks[0].next != -1 || sinks[1].next != -1);
}

/*
 * --upgrade: whether each file is in the middle of a line, and what a
 * full disk has dropped so far; the rest the new image finds again.
 */
void
logfile_save(struct state *st)
{
	state_put(st, "!sink.0", "%d %llu", sinks[0].cut, sinks[0].dropped);
	state_put(st, "!sink.1", "%d %llu", sinks[1].cut, sinks[1].dropped);
}

/* In a new image, after logfile_init(). */
int
logfile_load(const struct state *st)
{
	long long v[2];
	char key[32];
	int i;

	for (i = 0; i < 2; i++) {
		(void)snprintf(key, sizeof(key), "sink.%d", i);
		if (state_numbers(st, key, v, 2, 0, LLONG_MAX) == -1 ||
		    v[0] > 1)
			return (-1);
		sinks[i].cut = v[0] == 1;
		sinks[i].dropped = (unsigned long long)v[1];
	}
	return (0);
}
