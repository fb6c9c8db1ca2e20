/* notify.c: --notify: the sd_notify(3) socket, and what the daemon's datagrams on it say, from senders we trust. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <paths.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

static bool	trusted(pid_t, pid_t, pid_t);
static bool	trusted_cred(const struct daemon_state *, const struct ucred *,
		    pid_t, pid_t);

/*
 * Before forking: a socket in a directory of its own, mode 0700, that
 * only root and the daemon's user can reach.
 */
void
notify_prepare(struct daemon_state *ds)
{
	struct sockaddr_un sun;
	const char *tmp;
	int one = 1;

	if ((tmp = getenv("TMPDIR")) == NULL || *tmp != '/')
		tmp = _PATH_TMP;
	if (asprintf(&ds->notify_dir, "%s%sdaemonize.XXXXXX", tmp,
	    tmp[strlen(tmp) - 1] == '/' ? "" : "/") == -1)
		err(EXIT_ERR, "asprintf");
	if (mkdtemp(ds->notify_dir) == NULL)
		err(EXIT_ERR, "%s", ds->notify_dir);
	if (asprintf(&ds->notify_path, "%s/notify", ds->notify_dir) == -1)
		err(EXIT_ERR, "asprintf");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, ds->notify_path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(EXIT_ERR, "%s: name too long for a socket (set TMPDIR)",
		    ds->notify_path);
	ds->notify_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (ds->notify_sock == -1)
		err(EXIT_ERR, "notify socket");
	if (bind(ds->notify_sock, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err(EXIT_ERR, "%s", ds->notify_path);
	/* The kernel vouches for each sender's pid. */
	if (setsockopt(ds->notify_sock, SOL_SOCKET, SO_PASSCRED, &one,
	    sizeof(one)) == -1)
		err(EXIT_ERR, "notify socket: SO_PASSCRED");
	/* The 0700 directory guards the socket; it must let the user in. */
	if (chmod(ds->notify_path, 0666) == -1)
		err(EXIT_ERR, "%s", ds->notify_path);
	if (ds->change_user && chown(ds->notify_dir, ds->uid, ds->gid) == -1)
		err(EXIT_ERR, "%s: chown", ds->notify_dir);
}


/* In the daemon: where to send READY=1. */
int
notify_environ(const struct daemon_state *ds)
{
	return (setenv("NOTIFY_SOCKET", ds->notify_path, 1));
}

/* Remove the socket and its directory; the caller does it once done. */
void
notify_discard(struct daemon_state *ds)
{
	if (ds->notify_path != NULL)
		(void)unlink(ds->notify_path);
	if (ds->notify_dir != NULL)
		(void)rmdir(ds->notify_dir);
	free(ds->notify_path);
	free(ds->notify_dir);
	ds->notify_path = ds->notify_dir = NULL;
}

/*
 * A datagram counts only from the daemon or a process of its session:
 * the middle process leads that session, so its pid is the session id.
 * For a run of the supervisor (group > 0), only from its process group,
 * so that no other run's word counts for it.  None for pid -1.
 */
static bool
trusted(pid_t sender, pid_t daemon_pid, pid_t group)
{
	if (daemon_pid <= 0)
		return (false);
	if (sender == daemon_pid)
		return (true);
	return (group > 0 ? getpgid(sender) == group :
	    getsid(sender) == getpid());
}

/*
 * A helper that sent READY=1 and exited at once has no session left to
 * ask about.  Only root and the daemon's user can reach the socket at
 * all (its directory is 0700), so its uid is the next best witness.
 */
static bool
trusted_cred(const struct daemon_state *ds, const struct ucred *cred,
    pid_t daemon_pid, pid_t group)
{
	if (trusted(cred->pid, daemon_pid, group))
		return (true);
	/* A run of the supervisor has no such excuse: its group is there. */
	if (daemon_pid <= 0 || group > 0)
		return (false);
	return (kill(cred->pid, 0) == -1 && errno == ESRCH &&
	    cred->uid == (ds->change_user ? ds->uid : geteuid()));
}

/*
 * Read every waiting datagram into *news: what the daemon said that we
 * heed.  Returns the step it leads to (READY, or NOTIFY_ERRNO with
 * news->errnum), or 0 to go on waiting.
 */
int
notify_read(const struct daemon_state *ds, pid_t pid, pid_t group,
    struct notify_news *news)
{
	char buf[4096], cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh;
	struct cmsghdr *cm;
	struct ucred cred;
	const char *errstr;
	char *line, *next;
	long long v;
	ssize_t n;
	bool have_cred;
	int result = 0;

	news->mainpid = -1;
	news->extend_ms = -1;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		if ((n = recvmsg(ds->notify_sock, &mh, MSG_CMSG_CLOEXEC)) ==
		    -1)
			return (result);
		have_cred = false;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		    cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_CREDENTIALS) {
				memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
				have_cred = true;
			}
		}
		if (!have_cred || !trusted_cred(ds, &cred, pid, group))
			continue;
		buf[n] = '\0';
		for (line = buf; line != NULL; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			if (strcmp(line, "READY=1") == 0 && result == 0)
				result = STEP_READY;
			else if (strncmp(line, "STATUS=", 7) == 0)
				(void)strlcpy(news->status, line + 7,
				    sizeof(news->status));
			else if (strncmp(line, "ERRNO=", 6) == 0) {
				v = value_number(line + 6, 1, INT_MAX,
				    &errstr);
				if (errstr == NULL) {
					news->errnum = (int)v;
					result = STEP_NOTIFY_ERRNO;
				}
			} else if (strncmp(line, "MAINPID=", 8) == 0) {
				v = value_number(line + 8, 2, INT_MAX,
				    &errstr);
				/* Never this process, gone in a moment. */
				if (errstr == NULL && (pid_t)v != getpid() &&
				    trusted((pid_t)v, pid, group))
					news->mainpid = (pid_t)v;
			} else if (strncmp(line, "EXTEND_TIMEOUT_USEC=", 20) ==
			    0) {
				v = value_number(line + 20, 0, LLONG_MAX / 2,
				    &errstr);
				if (errstr == NULL)
					news->extend_ms = v / 1000;
			}
		}
	}
}

