/* err.c: err(3) and warn(3) as every module calls them, but each message is one line, written whole, with control characters escaped. */

/*
 * The words of a message come from the caller: a path, a command name, a
 * daemon's STATUS=.  One with a newline in it would make two lines of
 * one message, or forge a second "daemonize: ..." line for a script that
 * reads them.  So these stand in for the C library's, with the same
 * prototypes: the message is formatted, its control characters shown as
 * \n, \t, \r or \ooo, and the line goes out in one write(2), so that it
 * is never interleaved with another process's.
 */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

#define LINE_MAX_BYTES	4096	/* longer messages are cut */

static int	target = STDERR_FILENO;

static void	say(int, const char *, va_list)
		    __attribute__((__format__(__printf__, 2, 0)));

/* "daemonize: message[: why]\n", errnum -1 for none. */
static void
say(int errnum, const char *fmt, va_list ap)
{
	char msg[LINE_MAX_BYTES], line[LINE_MAX_BYTES * 4 + 256];
	const unsigned char *p;
	size_t len;
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		msg[0] = '\0';
	len = (size_t)snprintf(line, sizeof(line), "%s: ", getprogname());
	for (p = (const unsigned char *)msg; *p != '\0'; p++) {
		if (*p == '\n')
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    "\\n");
		else if (*p == '\t')
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    "\\t");
		else if (*p == '\r')
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    "\\r");
		else if (*p < 0x20 || *p == 0x7f)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    "\\%03o", *p);
		else
			line[len++] = (char)*p;
	}
	if (errnum != -1)
		len += (size_t)snprintf(line + len, sizeof(line) - len, ": %s",
		    strerror(errnum));
	line[len++] = '\n';
	(void)write(target, line, len);
}

/*
 * Where the messages go from now on, and where they went: the
 * supervisor gives a requester the words a failed start would have.
 */
int
err_to(int fd)
{
	int was = target;

	target = fd;
	return (was);
}

void
err(int eval, const char *fmt, ...)
{
	va_list ap;
	int serrno = errno;

	va_start(ap, fmt);
	say(serrno, fmt, ap);
	va_end(ap);
	exit(eval);
}

void
errc(int eval, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(code, fmt, ap);
	va_end(ap);
	exit(eval);
}

void
errx(int eval, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(-1, fmt, ap);
	va_end(ap);
	exit(eval);
}

void
warn(const char *fmt, ...)
{
	va_list ap;
	int serrno = errno;

	va_start(ap, fmt);
	say(serrno, fmt, ap);
	va_end(ap);
	errno = serrno;
}

void
warnc(int code, const char *fmt, ...)
{
	va_list ap;
	int serrno = errno;

	va_start(ap, fmt);
	say(code, fmt, ap);
	va_end(ap);
	errno = serrno;
}

void
warnx(const char *fmt, ...)
{
	va_list ap;
	int serrno = errno;

	va_start(ap, fmt);
	say(-1, fmt, ap);
	va_end(ap);
	errno = serrno;
}
