/* ready.c: readiness: the --ready-fd pipe and the sd_notify socket, waited for by the middle process. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

#define STOP_SECONDS	10	/* how long a daemon that failed gets to go */
#define STATUS_MAX	NOTIFY_STATUS_MAX

static int	chld_pipe[2] = { -1, -1 };
static pid_t	main_pid = -1;	/* MAINPID=, while we watch it */
static int	main_fd = -1;	/* its pidfd, where the kernel has them */

static void	on_sigchld(int);
static void	watch_main(pid_t);
static bool	main_gone(void);
static void	signal_main(int);
static void	send_text(int, const char *);
static int	wait_child(pid_t, long long, int *);
static void	stop(pid_t, pid_t);
static void	finish(struct daemon_state *, int, const char *, int, int,
		    pid_t) __attribute__((__noreturn__));
static int	heed(struct daemon_state *, int, pid_t, pid_t *, long long *,
		    char *, int *);

/*
 * Before forking: the pipe or the socket the daemon will report on, so
 * that a failure to make them still reaches the caller's terminal.
 */
void
ready_prepare(struct daemon_state *ds)
{
	switch (ds->ready) {
	case READY_EXEC:
		return;
	case READY_FD:
		if (ds->ready_fd >= getdtablesize())
			errx(EXIT_USAGE, "--ready-fd %d: not below the "
			    "descriptor limit (%d)", ds->ready_fd,
			    getdtablesize());
		if (pipe2(ds->ready_pipe, O_CLOEXEC) == -1)
			err(EXIT_ERR, "pipe");
		return;
	case READY_NOTIFY:
		break;
	}
	notify_prepare(ds);
}

/* In the daemon: where to say it is ready, if anywhere. */
int
ready_environ(const struct daemon_state *ds)
{
	return (ds->ready == READY_NOTIFY ? notify_environ(ds) : 0);
}

/* Remove the socket and its directory; the caller does it once done. */
void
ready_discard(struct daemon_state *ds)
{
	notify_discard(ds);
}

/* After a failed start: the end of the log, where the daemon said why. */
void
ready_log_tail(const struct daemon_state *ds, int to)
{
	const char *path;
	char buf[8192], *p;
	ssize_t n;
	off_t size;
	int fd, lines;

	path = ds->err.path != NULL ? ds->err.path : ds->out.path;
	if (path == NULL)
		return;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof(buf) - 1)
		(void)lseek(fd, size - (off_t)sizeof(buf) + 1, SEEK_SET);
	else
		(void)lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (buf[n - 1] == '\n')
		buf[--n] = '\0';
	for (lines = 0, p = buf + n; p > buf; p--)
		if (p[-1] == '\n' && ++lines == 10)
			break;
	warnx("the last lines of %s:", path);
	(void)dprintf(to, "%s\n", p);
}

/* Milliseconds on the monotonic clock: deadlines that no clock step moves. */
long long
ready_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* The handler only wakes the loop up; the loop does the waiting. */
static void
on_sigchld(int sig)
{
	int serrno = errno;

	(void)sig;
	(void)write(chld_pipe[1], "", 1);
	errno = serrno;
}

/* A header and the text in one write, so it arrives whole. */
static void
send_text(int fd, const char *text)
{
	char buf[sizeof(struct status_msg) + STATUS_MAX];
	struct status_msg msg = { STEP_STATUS, 0, 0 };
	size_t len;

	len = strnlen(text, STATUS_MAX);
	msg.value = (int)len;
	memcpy(buf, &msg, sizeof(msg));
	memcpy(buf + sizeof(msg), text, len);
	(void)write(fd, buf, sizeof(msg) + len);
}

/*
 * Watch the main process MAINPID= named.  It is no child of ours: a
 * pidfd tells when it exits and signals it without any risk that its
 * pid was reused.  Without pidfds, kill(2) on the pid has to do.
 */
static void
watch_main(pid_t pid)
{
	if (main_fd != -1)
		(void)close(main_fd);
	main_fd = -1;
	main_pid = pid;
#ifdef SYS_pidfd_open
	main_fd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
}

static bool
main_gone(void)
{
	struct pollfd pfd = { .fd = main_fd, .events = POLLIN };

	if (main_fd != -1)
		return (poll(&pfd, 1, 0) == 1);
	return (kill(main_pid, 0) == -1 && errno == ESRCH);
}

static void
signal_main(int sig)
{
	if (main_pid <= 0)
		return;
#ifdef SYS_pidfd_send_signal
	if (main_fd != -1) {
		(void)syscall(SYS_pidfd_send_signal, main_fd, sig, NULL, 0);
		return;
	}
#endif
	if (getsid(main_pid) == getpid())
		(void)kill(main_pid, sig);
}

/*
 * Wait until the process exits or the deadline passes.  Returns 1 when
 * it is gone, 0 at the deadline.  The main process named by MAINPID= is
 * no child of ours and sends no SIGCHLD: its pidfd wakes us, or, where
 * there are none, we look every 100 ms.
 */
static int
wait_child(pid_t pid, long long deadline, int *status)
{
	struct pollfd pfd = { .fd = chld_pipe[0], .events = POLLIN };
	char drain[64];
	long long left;
	bool ours;

	ours = pid != main_pid;
	if (!ours && main_fd != -1)
		pfd.fd = main_fd;
	for (;;) {
		if (ours && waitpid(pid, status, WNOHANG) == pid)
			return (1);
		if (!ours && main_gone())
			return (1);
		if ((left = deadline - ready_now_ms()) <= 0)
			return (0);
		if (!ours && main_fd == -1 && left > 100)
			left = 100;
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) > 0 &&
		    pfd.fd == chld_pipe[0])
			(void)read(chld_pipe[0], drain, sizeof(drain));
	}
}

/*
 * Stop a daemon that failed to get ready, as --stop would: SIGTERM, a
 * grace period, then SIGKILL; and with it its process group, so that no
 * child it made runs on holding the lock.  A main process it named with
 * MAINPID= is signalled too, while it is still in the daemon's session.
 */
static void
stop(pid_t pid, pid_t group)
{
	int status;

	signal_main(SIGTERM);
	(void)kill(-group, SIGTERM);
	if (pid != main_pid)
		(void)kill(pid, SIGTERM);
	if (wait_child(pid, ready_now_ms() + STOP_SECONDS * 1000,
	    &status) == 0) {
		if (pid != main_pid)
			(void)kill(pid, SIGKILL);
		signal_main(SIGKILL);
		(void)wait_child(pid, ready_now_ms() + STOP_SECONDS * 1000,
		    &status);
	}
	/* What it left in its group must not run on unsupervised. */
	(void)kill(-group, SIGKILL);
	signal_main(SIGKILL);
}

/*
 * What the datagrams said: a main process to watch and name in the
 * pidfile, a later deadline, a status; the step they lead to.
 */
static int
heed(struct daemon_state *ds, int repfd, pid_t pid, pid_t *mainpid,
    long long *deadline, char *status, int *errnum)
{
	struct notify_news news;
	int step;

	memset(&news, 0, sizeof(news));
	step = notify_read(ds, pid, 0, &news);
	if (news.mainpid > 0) {
		*mainpid = news.mainpid;
		watch_main(*mainpid);
		(void)pidfile_store(&ds->pid, *mainpid);
		report_send(repfd, STEP_MAINPID, (int)*mainpid);
	}
	if (news.extend_ms >= 0 && ready_now_ms() + news.extend_ms > *deadline)
		*deadline = ready_now_ms() + news.extend_ms;
	if (news.status[0] != '\0')
		(void)strlcpy(status, news.status, STATUS_MAX + 1);
	*errnum = news.errnum;
	return (step);
}

/*
 * The middle process, parent of the daemon until it is ready: wait for
 * its word, its death or the deadline, tell the caller which, and go.
 * The daemon is then the child of the system's reaper, as usual.
 */
void
ready_wait(struct daemon_state *ds, int repfd, pid_t pid)
{
	char status[STATUS_MAX + 1] = "", drain[64];
	struct pollfd pfd[2];
	long long deadline, left, started;
	pid_t mainpid = -1, group = pid;
	bool exited;
	ssize_t n;
	int step, wstatus = 0, waited, serrno = 0;

	started = ready_now_ms();
	deadline = started + ds->timeout * 1000;
	pfd[0].fd = chld_pipe[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = ds->ready == READY_FD ? ds->ready_pipe[0] : ds->notify_sock;
	pfd[1].events = POLLIN;
	step = 0;
	while (step == 0) {
		if (pid != main_pid)
			exited = waitpid(pid, &wstatus, WNOHANG) == pid;
		else if ((exited = main_gone()))
			wstatus = -1;	/* not our child: no status to read */
		/*
		 * Wait for the next event, or, once the daemon has exited,
		 * only look at what it said on its way out.
		 */
		left = exited ? 0 : deadline - ready_now_ms();
		if (!exited && left <= 0) {
			step = STEP_TIMEOUT;
			break;
		}
		if (pid == main_pid && main_fd == -1 && left > 100)
			left = 100;
		if (poll(pfd, 2, left > INT_MAX ? INT_MAX : (int)left) > 0) {
			if (pfd[0].revents != 0)
				(void)read(chld_pipe[0], drain, sizeof(drain));
			if (pfd[1].revents != 0 && ds->ready == READY_FD) {
				n = read(ds->ready_pipe[0], drain,
				    sizeof(drain));
				if (n > 0 && memchr(drain, '\n', (size_t)n) !=
				    NULL)
					step = STEP_READY;
				else if (n == 0 && !exited)
					step = STEP_CLOSED;
			} else if (pfd[1].revents != 0)
				step = heed(ds, repfd, pid, &mainpid,
				    &deadline, status, &serrno);
		}
		if (step != 0 || !exited)
			continue;
		/* After MAINPID=, the first process may go. */
		if (mainpid > 0 && mainpid != pid && WIFEXITED(wstatus) &&
		    WEXITSTATUS(wstatus) == 0) {
			pfd[0].fd = main_fd;
			pid = mainpid;
			continue;
		}
		finish(ds, repfd, status, STEP_DIED, wstatus, group);
	}
	if (step == STEP_READY)
		finish(ds, repfd, status, STEP_READY, 0, 0);
	/*
	 * A daemon that exits closes the pipe a moment before it can be
	 * reaped: say that it died, not merely that it closed the pipe.
	 */
	if (step == STEP_CLOSED &&
	    wait_child(pid, ready_now_ms() + 500, &wstatus))
		finish(ds, repfd, status, STEP_DIED, wstatus, group);
	/* How long it had, EXTEND_TIMEOUT_USEC= included. */
	waited = (int)((ready_now_ms() - started + 500) / 1000);
	stop(pid, group);
	finish(ds, repfd, status, step, step == STEP_NOTIFY_ERRNO ? serrno :
	    step == STEP_TIMEOUT ? waited : ds->ready_fd, 0);
}

/*
 * Tell the caller and go.  The caller may be gone already (^C), so the
 * clean-up is done here too: the socket, and after a failure what the
 * daemon left in its group and the pidfile, whose lock we still share.
 */
static void
finish(struct daemon_state *ds, int repfd, const char *status, int step,
    int value, pid_t group)
{
	if (step != STEP_READY) {
		if (group > 0)
			(void)kill(-group, SIGKILL);
		pidfile_discard(ds);
		if (*status != '\0')
			send_text(repfd, status);
	}
	/* The supervisor keeps the socket for the runs of its reloads. */
	if (step != STEP_READY || ds->respawn == RESPAWN_NO)
		ready_discard(ds);
	report_send(repfd, step, value);
	_exit(EXIT_OK);
}

/*
 * In the middle process, before the fork: SIGCHLD arrives through a
 * self-pipe, so that one poll(2) waits for the daemon's word and death.
 */
int
ready_arm(void)
{
	struct sigaction sa;

	if (pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return (-1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		return (-1);
	/* A caller that blocked SIGCHLD would hide the daemon's death. */
	(void)sigaddset(&sa.sa_mask, SIGCHLD);
	return (sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL));
}
