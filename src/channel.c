/* channel.c: -r: the supervisor's control socket, an abstract unix socket named after its pid and start time, and the verbs' side of it. */

/*
 * An abstract socket leaves nothing on disk and nothing stale after a
 * SIGKILL: its name goes with its last descriptor.  The start time in
 * the name keeps a later process that got the same pid from answering
 * for it, and the peer's credentials, which the kernel vouches for, are
 * checked on both ends.  It lives in the network namespace, so a verb
 * run in another one cannot reach the supervisor.
 */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

static int	name_of(pid_t, struct sockaddr_un *, socklen_t *);
static pid_t	peer(int, uid_t *);
static int	answer(const char *, const char *, pid_t, pid_t *);

/* "\0daemonize/PID/START": START in clock ticks since boot, from /proc. */
static int
name_of(pid_t pid, struct sockaddr_un *sun, socklen_t *len)
{
	long long start;
	int n;

	if ((start = proc_stat_field(pid, 22)) == -1) {
		errno = ESRCH;
		return (-1);
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1,
	    "daemonize/%ld/%lld", (long)pid, start);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    (size_t)n);
	return (0);
}

static pid_t
peer(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return (-1);
	*uid = cred.uid;
	return (cred.pid);
}

/* In the supervisor: the socket its requesters connect to. */
int
channel_open(void)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (name_of(getpid(), &sun, &len) == -1)
		return (-1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (fd == -1)
		return (-1);
	if (bind(fd, (struct sockaddr *)&sun, len) == -1 ||
	    listen(fd, 8) == -1) {
		(void)close(fd);
		return (-1);
	}
	return (fd);
}

/* A requester that connected, or -1 when there is none to take. */
int
channel_accept(int lfd)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	return (accept4(lfd, (struct sockaddr *)&sun, &len, SOCK_CLOEXEC |
	    SOCK_NONBLOCK));
}

/*
 * The request waiting on a connection, as a string in buf: 1 when there
 * is one, 0 while it is still on its way, -1 when the requester left,
 * -2 when it was refused, answered and closed.  Only root and our own user may ask; the -u user of a
 * root supervisor, whose command it runs, may not.  A refusal comes
 * once the request is read: a socket closed with a message unread
 * resets, and the requester would not learn why.
 */
int
channel_request(int fd, char *buf, size_t size)
{
	ssize_t n;
	uid_t uid;

	if ((n = recv(fd, buf, size - 1, MSG_DONTWAIT)) == -1)
		return (errno == EAGAIN || errno == EINTR ? 0 : -1);
	if (n == 0)
		return (-1);
	buf[n] = '\0';
	if (peer(fd, &uid) == -1 || (uid != 0 && uid != geteuid())) {
		(void)channel_say(fd, "the supervisor takes requests from "
		    "root and its own user only");
		channel_end(fd, EXIT_ERR, -1);
		return (-2);
	}
	return (1);
}

/*
 * A line for the requester's stderr, as "daemonize: TEXT".  Never
 * waits: a requester that stopped reading loses lines, not our time.
 */
int
channel_say(int fd, const char *text)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "%s: %s\n", getprogname(), text);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	return (send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    -1 ? -1 : 0);
}

/* The answer, and the end: "\0CODE PID", PID -1 for none. */
void
channel_end(int fd, int code, pid_t pid)
{
	char msg[64];
	int n;

	if (fd == -1)
		return;
	msg[0] = '\0';
	n = snprintf(msg + 1, sizeof(msg) - 1, "%d %ld", code, (long)pid);
	(void)send(fd, msg, (size_t)n + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)close(fd);
}

/* "CODE PID", the end of an answer: CODE, with *pid set. */
static int
answer(const char *text, const char *what, pid_t sup, pid_t *pid)
{
	const char *errstr, *sp;
	char code[8];
	long long c, p;

	if ((sp = strchr(text, ' ')) == NULL || (size_t)(sp - text) >=
	    sizeof(code)) {
		warnx("%s: supervisor %ld: a garbled answer", what, (long)sup);
		return (EXIT_ERR);
	}
	memcpy(code, text, (size_t)(sp - text));
	code[sp - text] = '\0';
	c = value_number(code, 0, 255, &errstr);
	if (errstr == NULL)
		p = strcmp(sp + 1, "-1") == 0 ? -1 :
		    value_number(sp + 1, 1, INT_MAX, &errstr);
	if (errstr != NULL) {
		warnx("%s: supervisor %ld: a garbled answer", what, (long)sup);
		return (EXIT_ERR);
	}
	*pid = (pid_t)p;
	return ((int)c);
}

/*
 * The verbs' side: ask the supervisor sup, print what it says on our
 * stderr, and return the exit status it answers, with *pid the pid it
 * names.  Waits at most timeout seconds (-1: until the answer).  Returns
 * CHANNEL_NONE when there is no control socket to ask, CHANNEL_LATE when
 * the time ran out, having said so.
 */
int
channel_ask(pid_t sup, const char *what, const char *request,
    long long timeout, pid_t *pid)
{
	struct sockaddr_un sun;
	struct pollfd pfd;
	char buf[16384];
	long long deadline, left;
	socklen_t len;
	ssize_t n;
	uid_t uid;
	int fd, r;

	*pid = -1;
	if (name_of(sup, &sun, &len) == -1) {
		warnx("%s: supervisor %ld is gone", what, (long)sup);
		return (EXIT_ERR);
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1) {
		warn("socket");
		return (EXIT_ERR);
	}
	if (connect(fd, (struct sockaddr *)&sun, len) == -1) {
		warn("%s: supervisor %ld: its control socket", what,
		    (long)sup);
		(void)close(fd);
		return (CHANNEL_NONE);
	}
	/* A squatter on the name is no supervisor of ours. */
	if (peer(fd, &uid) != sup) {
		warnx("%s: the control socket of %ld is not its own, refused",
		    what, (long)sup);
		(void)close(fd);
		return (EXIT_ERR);
	}
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) == -1) {
		warn("%s: supervisor %ld", what, (long)sup);
		(void)close(fd);
		return (EXIT_ERR);
	}
	deadline = timeout < 0 ? -1 : ready_now_ms() + timeout * 1000;
	pfd = (struct pollfd){ fd, POLLIN, 0 };
	for (;;) {
		left = deadline == -1 ? -1 : deadline - ready_now_ms();
		if (deadline != -1 && left <= 0) {
			warnx("%s: no answer within %lld s; the supervisor "
			    "goes on", what, timeout);
			(void)close(fd);
			return (CHANNEL_LATE);
		}
		if ((r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left))
		    == -1 && errno != EINTR) {
			warn("poll");
			break;
		}
		if (r <= 0)
			continue;
		if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0) {
			warnx("%s: supervisor %ld ended without an answer",
			    what, (long)sup);
			break;
		}
		buf[n] = '\0';
		if (buf[0] != '\0') {
			(void)write(STDERR_FILENO, buf, (size_t)n);
			continue;
		}
		(void)close(fd);
		return (answer(buf + 1, what, sup, pid));
	}
	(void)close(fd);
	return (EXIT_ERR);
}
