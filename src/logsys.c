/* logsys.c: -r: lines to the system log, as RFC 3164 datagrams on /dev/log, one a line. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <paths.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

static int	log_sock = -1;

/*
 * One line to syslog: RFC 3164, over a datagram socket, without its
 * newline; when is its time as the protocol writes it, or NULL for now.
 * Sent without waiting: what the system logger cannot take at once is
 * lost there, never held up here.
 */
void
logsys_send(const struct daemon_state *ds, int severity, const char *line,
    size_t len, pid_t pid, const char *when)
{
	struct sockaddr_un sun;
	char msg[LOGSYS_LINE + 128], now[32];
	const char *path;
	struct tm tm;
	time_t t;
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
	if (when == NULL) {
		t = time(NULL);
		(void)localtime_r(&t, &tm);
		(void)strftime(now, sizeof(now), "%b %e %H:%M:%S", &tm);
		when = now;
	}
	n = snprintf(msg, sizeof(msg), "<%d>%s %s[%ld]: %.*s",
	    ds->syslog_facility | severity, when, ds->name, (long)pid,
	    (int)len, line);
	if (log_sock != -1 && n > 0)
		(void)send(log_sock, msg, (size_t)n < sizeof(msg) ?
		    (size_t)n : sizeof(msg) - 1, 0);
}
