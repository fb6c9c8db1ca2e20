/* report.c: the status pipe: the daemon's messages on it, and the caller's one line and exit status for each. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

static const char	*interpreter(const char *, char *, size_t);
static const char	*setting(const struct daemon_state *,
			    const struct status_msg *, char *, size_t);
static void		 setting_failed(const struct daemon_state *,
			    const struct status_msg *, const char *);
static int		 exec_failure(const struct daemon_state *, int);
static int		 not_ready(const struct daemon_state *,
			    const struct status_msg *);

void
report_send(int fd, int step, int value)
{
	struct status_msg msg = { .step = step, .value = value };

	report_send_msg(fd, &msg);
}

void
report_send_msg(int fd, const struct status_msg *msg)
{
	/* Smaller than PIPE_BUF, so it arrives whole or not at all. */
	(void)write(fd, msg, sizeof(*msg));
}

/* The interpreter named on a script's "#!" line, for the message. */
static const char *
interpreter(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) ==
	    -1)
		return (NULL);
	n = read(fd, buf, len - 1);
	(void)close(fd);
	if (n < 3 || buf[0] != '#' || buf[1] != '!')
		return (NULL);
	buf[n] = '\0';
	buf += 2;
	buf += strspn(buf, " \t");
	buf[strcspn(buf, " \t\r\n")] = '\0';
	return (*buf == '\0' ? NULL : buf);
}

/* Exit like a shell: 127 for nothing to run, 126 for what cannot run. */
static int
exec_failure(const struct daemon_state *ds, int errnum)
{
	const char *cmd = ds->argv[0], *interp, *path;
	char buf[256], host[PATH_MAX];
	struct stat sb;

	/* With --chroot, where the caller finds the daemon's program. */
	path = chroot_host_path(ds, ds->exec_path, host, sizeof(host));
	switch (errnum) {
	case ENOENT:
	case ENOTDIR:
		if (stat(path, &sb) == -1) {
			warnx("%s: %s", cmd, strerror(errnum));
			return (EXIT_NOTFOUND);
		}
		/* The file is there: its interpreter is not. */
		interp = interpreter(path, buf, sizeof(buf));
		warnx("%s: bad interpreter %s: %s", cmd,
		    interp != NULL ? interp : "(unknown)", strerror(errnum));
		return (EXIT_NOEXEC);
	case E2BIG:
	case EAGAIN:
	case EIO:
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		warnx("%s: %s", cmd, strerror(errnum));
		return (EXIT_ERR);
	case EACCES:
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			warnx("%s: is a directory", cmd);
			return (EXIT_NOEXEC);
		}
		/* FALLTHROUGH */
	default:
		warnx("%s: %s", cmd, strerror(errnum));
		return (EXIT_NOEXEC);
	}
}

/* A failed step in a word, for the supervisor's log. */
const char *
report_step_name(int step)
{
	switch (step) {
	case STEP_FORK:		return ("fork");
	case STEP_PIPE:		return ("pipe");
	case STEP_CHDIR:	return ("chdir");
	case STEP_STDIO:	return ("standard streams");
	case STEP_FDS:		return ("descriptors");
	case STEP_SIGNALS:	return ("resetting signals");
	case STEP_SETGROUPS:	return ("setgroups");
	case STEP_SETGID:	return ("setgid");
	case STEP_SETUID:	return ("setuid");
	case STEP_VERIFY:	return ("privileges not fully taken");
	case STEP_ENV:		return ("environment");
	case STEP_EXEC:		return ("exec");
	case STEP_SUPERVISOR:	return ("tying it to the supervisor");
	default:		return ("setup");
	}
}

/* A setting of the execution environment, as the caller gave it. */
static const char *
setting(const struct daemon_state *ds, const struct status_msg *msg,
    char *buf, size_t size)
{
	switch (msg->step) {
	case STEP_OOM:
		(void)snprintf(buf, size, "--oom-score-adj %s", ds->oom_arg);
		break;
	case STEP_NICE:
		(void)snprintf(buf, size, "-N %s", ds->nice_arg);
		break;
	case STEP_AUTOGROUP:
		(void)snprintf(buf, size, "-N %s: /proc/self/autogroup",
		    ds->nice_arg);
		break;
	case STEP_IONICE:
		(void)snprintf(buf, size, "-I %s", ds->ionice_arg);
		break;
	case STEP_SCHED:
		(void)snprintf(buf, size, "--scheduler %s", ds->sched_arg);
		break;
	case STEP_AFFINITY:
		(void)snprintf(buf, size, "--cpu-affinity %s", ds->cpus_arg);
		break;
	case STEP_LIMIT:
		(void)snprintf(buf, size, "--limit %s", msg->detail >= 0 &&
		    (size_t)msg->detail < ds->nlimits ?
		    ds->limits[msg->detail].arg : "?");
		break;
	case STEP_CHROOT:
		(void)snprintf(buf, size, "--chroot %s", ds->chroot_dir);
		break;
	case STEP_CAPS:
		(void)snprintf(buf, size, "--caps %s", ds->caps_arg);
		break;
	case STEP_AMBIENT:
		(void)snprintf(buf, size, "--caps %s: raising %s into the "
		    "ambient set", ds->caps_arg, caps_name(msg->detail));
		break;
	case STEP_NNP:
		(void)snprintf(buf, size, "--no-new-privs");
		break;
	default:
		return (NULL);
	}
	return (buf);
}

/* What a failed step was, for the supervisor's log: a setting or a word. */
const char *
report_what(const struct daemon_state *ds, const struct status_msg *msg,
    char *buf, size_t size)
{
	const char *s;

	if ((s = setting(ds, msg, buf, size)) != NULL)
		return (s);
	return (report_step_name(msg->step));
}

/* The setting and why, where errno alone would not say it. */
static void
setting_failed(const struct daemon_state *ds, const struct status_msg *msg,
    const char *what)
{
	const char *cmd = ds->argv[0];

	if (msg->step == STEP_AFFINITY && msg->value == EINVAL)
		warnx("%s: %s: some of these CPUs cannot be used here",
		    cmd, what);
	else if (msg->step == STEP_OOM && msg->value == EACCES)
		warnx("%s: %s: %s (lowering it needs CAP_SYS_RESOURCE)", cmd,
		    what, strerror(msg->value));
	else
		warnc(msg->value, "%s: %s", cmd, what);
}

/* The daemon ended, or was ended, before it said it was ready. */
static int
not_ready(const struct daemon_state *ds, const struct status_msg *msg)
{
	const char *cmd = ds->argv[0];

	switch (msg->step) {
	case STEP_DIED:
		if (msg->value == -1)
			warnx("%s: its main process ended before it was ready",
			    cmd);
		else if (WIFSIGNALED(msg->value))
			warnx("%s: killed by SIG%s before it was ready", cmd,
			    value_signame(WTERMSIG(msg->value)));
		else
			warnx("%s: exited with status %d before it was ready",
			    cmd, WEXITSTATUS(msg->value));
		break;
	case STEP_TIMEOUT:
		warnx("%s: not ready after %d s, stopped", cmd,
		    msg->value);
		break;
	case STEP_CLOSED:
		warnx("%s: closed descriptor %d without a newline, stopped",
		    cmd, msg->value);
		break;
	default:
		warnx("%s: not ready: %s, stopped", cmd, strerror(msg->value));
		break;
	}
	return (EXIT_NOTREADY);
}

/* Say what failed, in the caller's words, and choose the exit status. */
int
report_failure(const struct daemon_state *ds, const struct status_msg *msg)
{
	const char *cmd = ds->argv[0], *what;
	char buf[512];

	if ((what = setting(ds, msg, buf, sizeof(buf))) != NULL) {
		setting_failed(ds, msg, what);
		return (EXIT_ERR);
	}
	errno = msg->value;
	switch (msg->step) {
	case STEP_EXEC:
		return (exec_failure(ds, msg->value));
	case STEP_DIED:
	case STEP_TIMEOUT:
	case STEP_CLOSED:
	case STEP_NOTIFY_ERRNO:
		return (not_ready(ds, msg));
	case STEP_SETSID:
		warn("setsid");
		break;
	case STEP_FORK:
		warn("fork");
		break;
	case STEP_PIPE:
		warn("pipe");
		break;
	case STEP_CHDIR:
		warn("%s: chdir %s", cmd, ds->chdir_dir);
		break;
	case STEP_STDIO:
		warn("%s: standard streams", cmd);
		break;
	case STEP_FDS:
		warn("%s: closing inherited descriptors", cmd);
		break;
	case STEP_PIDFILE:
		warn("%s: writing %s", cmd, ds->pid.path);
		break;
	case STEP_SETGROUPS:
		warn("%s: setgroups", cmd);
		break;
	case STEP_SETGID:
		warn("%s: setgid %ld", cmd, (long)ds->gid);
		break;
	case STEP_SETUID:
		warn("%s: setuid %s", cmd, ds->user_name);
		break;
	case STEP_VERIFY:
		warn("%s: privileges of %s not fully taken", cmd,
		    ds->user_name);
		break;
	case STEP_SIGNALS:
		warn("%s: resetting signals", cmd);
		break;
	case STEP_ENV:
		warn("%s: setting the environment", cmd);
		break;
	case STEP_LOST:
		warnx("%s: the daemon died before it could start", cmd);
		break;
	case STEP_WAIT:
		warn("preparing to wait for readiness");
		break;
	default:
		warnx("%s: unknown failure %d", cmd, msg->step);
		break;
	}
	return (EXIT_ERR);
}

/*
 * The caller's side: read the status pipe until every writer is gone
 * (the exec, or the middle process's exit), then say what happened.
 * End of file without a failure means the exec succeeded, because the
 * pipe is close-on-exec.  Returns the exit status.
 */
int
report_outcome(struct daemon_state *ds, int fd, struct outcome *out)
{
	struct status_msg msg, failure = { 0, 0, 0 };
	char status_text[512] = "";
	bool ready;
	ssize_t n;
	int code;

	*out = (struct outcome){ -1, -1, false };
	ready = ds->ready == READY_EXEC;
	for (;;) {
		n = read(fd, &msg, sizeof(msg));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			err(EXIT_ERR, "status pipe");
		if (n == 0)
			break;
		if (n != sizeof(msg))
			errx(EXIT_ERR, "status pipe: short message");
		switch (msg.step) {
		case STEP_PID:
		case STEP_MAINPID:
			out->pid = msg.value;
			break;
		case STEP_DAEMON:
			out->group = msg.value;
			break;
		case STEP_READY:
			ready = true;
			break;
		case STEP_STATUS:
			/* Sent in the same write as its header. */
			n = read(fd, status_text, (size_t)msg.value <
			    sizeof(status_text) ? (size_t)msg.value :
			    sizeof(status_text) - 1);
			status_text[n > 0 ? n : 0] = '\0';
			break;
		default:
			/* The first failure is the cause; the rest follow. */
			if (failure.step == 0)
				failure = msg;
		}
	}
	(void)close(fd);

	if (failure.step == 0 && (out->pid == -1 || !ready)) {
		/* Neither an exec nor a verdict: a process was killed. */
		failure.step = STEP_LOST;
		out->lost = true;
	}
	if (failure.step == 0) {
		if (ds->verbose)
			warnx("%s: running as pid %ld", ds->argv[0],
			    (long)out->pid);
		return (EXIT_OK);
	}
	code = report_failure(ds, &failure);
	if (code == EXIT_NOTREADY && *status_text != '\0')
		warnx("%s: its last status: %s", ds->argv[0], status_text);
	return (code);
}
