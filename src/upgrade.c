/* upgrade.c: -r: --upgrade: the supervisor execs a new daemonize in its own process, carrying its state in a sealed memfd; the preflight, the exec, the new image's adoption, and the way back. */

/*
 * The old image checks the binary on one descriptor and preflights
 * that very descriptor in a check mode on a snapshot of the state: only
 * a daemonize that read this state answers with its checksum.  Then it
 * blocks every signal, handles what is pending, writes the state into a
 * sealed memfd and execs the binary with its own command line after a
 * first argument naming the memfd, so that the new image has the same
 * room for its process title and parses the same options.  The new
 * image verifies every descriptor the state names, closes the rest and
 * goes on supervising; if it cannot, it execs the old binary through a
 * descriptor opened before the upgrade, which works after the package
 * manager deleted the file, and the old image reports the way back.
 */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"

#define RESUME_ARG	"--upgraded="
#define CHECK_ARG	"--upgrade-check="
#define ROLLBACK_TAG	":rollback"
#define PREFLIGHT_MS	5000	/* how long the check mode may take */
#define FDS_MAX		64	/* descriptors the state may name */

extern char **environ;

/* The keys this version understands; "name." takes name.0, name.1 ... */
static const char *const known[] = {
	"binary", "cwd", "held", "fd.", "sv", "listen.", "notify.dir",
	"notify.path", "run.", "stream.", "sink.", NULL,
};

static struct {
	enum { NONE, RESUME, CHECK } mode;
	struct state	st;		/* the state read, in a new image */
	int		memfd;
	int		fallback;	/* the old binary, in a new image */
	int		conn;		/* the requester, in a new image */
	bool		rollback;	/* the new image sent us back */
	bool		adopting;	/* an exit now goes back to the old */
	char		**argv;		/* as we were started, in a new image */
	int		carried[FDS_MAX];	/* in the old image */
	size_t		ncarried;
} up = { .memfd = -1, .fallback = -1, .conn = -1 };

static int	trusted_binary(int, const char *, char *, size_t);
static int	take_fd(const struct state *, const char *, int *);
static int	seal(const struct state *);
static char	**image_argv(const struct daemon_state *, const char *);
static int	preflight(const struct daemon_state *, int, int,
		    const struct state *, char *, size_t);
static void	cloexec(bool);
static int	snapshot(struct daemon_state *, const struct upgrade_hooks *,
		    const char *, int, int, long long, struct state *);
static long long now_us(void);
static void	refuse(int, const char *);
static void	go_back(void);
static void	fail(const char *, ...)
		    __attribute__((__format__(__printf__, 1, 2), __noreturn__));

/*
 * A descriptor the new image gets, as "fd.NAME N DEV INO CLOEXEC": it
 * checks that N is still the file it was, and once it supervises sets
 * close-on-exec back as it was.  Every descriptor goes so, and the new
 * image closes every one that the state does not name.
 */
int
upgrade_put_fd(struct state *st, const char *name, int fd)
{
	char key[64];
	struct stat sb;
	int flags;

	if (fd < 0)
		return (0);
	if (fstat(fd, &sb) == -1 || (flags = fcntl(fd, F_GETFD)) == -1 ||
	    up.ncarried == FDS_MAX) {
		st->failed = true;
		return (-1);
	}
	(void)snprintf(key, sizeof(key), "!fd.%s", name);
	state_put(st, key, "%d %llu %llu %d", fd,
	    (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino,
	    (flags & FD_CLOEXEC) != 0);
	up.carried[up.ncarried++] = fd;
	return (0);
}

/* The descriptor key names, verified: 0, or -1 if it is not the same. */
static int
take_fd(const struct state *st, const char *key, int *fd)
{
	long long v[4];
	struct stat sb;

	*fd = -1;
	if (state_numbers(st, key, v, 4, 0, LLONG_MAX) == -1 || v[3] > 1 ||
	    v[0] > INT_MAX || fstat((int)v[0], &sb) == -1 ||
	    (unsigned long long)sb.st_dev != (unsigned long long)v[1] ||
	    (unsigned long long)sb.st_ino != (unsigned long long)v[2])
		return (-1);
	*fd = (int)v[0];
	return (0);
}

/* In a new image: the verified descriptor of fd.NAME, or -1. */
int
upgrade_fd(const char *name)
{
	char key[64];
	int fd;

	(void)snprintf(key, sizeof(key), "fd.%s", name);
	if (state_get(&up.st, key) == NULL || take_fd(&up.st, key, &fd) == -1)
		return (-1);
	return (fd);
}

/* In a new image: the state it read, or NULL in any other process. */
const struct state *
upgrade_state(void)
{
	return (up.mode == RESUME ? &up.st : NULL);
}

/*
 * The binary to run: a regular, executable file, not set-id, owned by
 * root or by us, writable by nobody else, in a directory nobody else
 * can write to; checked on the descriptor that will be run.
 */
static int
trusted_binary(int fd, const char *path, char *why, size_t size)
{
	struct stat sb, db;
	char *dir, *slash;
	int r;

	if (fstat(fd, &sb) == -1) {
		(void)snprintf(why, size, "upgrade: %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	if (!S_ISREG(sb.st_mode) || (sb.st_mode & 0111) == 0) {
		(void)snprintf(why, size, "upgrade: %s: not an executable file",
		    path);
		return (-1);
	}
	if ((sb.st_mode & (S_ISUID | S_ISGID)) != 0 || (sb.st_uid != 0 &&
	    sb.st_uid != geteuid()) || (sb.st_mode & 022) != 0) {
		(void)snprintf(why, size, "upgrade: %s: set-id, not owned by "
		    "root or us, or writable by others: not trusted", path);
		return (-1);
	}
	if ((dir = strdup(path)) == NULL) {
		(void)snprintf(why, size, "out of memory");
		return (-1);
	}
	slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	r = stat(dir, &db);
	if (r == -1 || (db.st_uid != 0 && db.st_uid != geteuid()) ||
	    ((db.st_mode & 022) != 0 && (db.st_mode & S_ISVTX) == 0)) {
		(void)snprintf(why, size, "upgrade: %s: its directory is "
		    "writable by others or not owned by root or us: not "
		    "trusted", path);
		r = -1;
	}
	free(dir);
	return (r);
}

/* The state in an anonymous memfd that nobody can change any more. */
static int
seal(const struct state *st)
{
	int fd;

	if ((fd = memfd_create("daemonize-state", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1)
		return (-1);
	if (write(fd, st->buf, st->len) != (ssize_t)st->len ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1) {
		(void)close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * The new image's argument vector: our own command line after a first
 * argument that names the state, for the same options and title room.
 */
static char **
image_argv(const struct daemon_state *ds, const char *first)
{
	char **v;
	size_t n, i;

	for (n = 0; ds->args[n] != NULL; n++)
		;
	if ((v = calloc(n + 2, sizeof(*v))) == NULL)
		return (NULL);
	v[0] = ds->args[0];
	v[1] = (char *)first;
	for (i = 1; i < n; i++)
		v[i + 1] = ds->args[i];
	return (v);
}

/*
 * Run the binary in its check mode on the state: it must read it whole,
 * parse our command line and answer with the state's checksum, which no
 * other program can give.  Returns 0, or -1 with why.
 */
static int
preflight(const struct daemon_state *ds, int bin, int memfd,
    const struct state *st, char *why, size_t size)
{
	char out[512], want[64], first[32], **argv;
	struct pollfd pfd;
	long long deadline;
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int p[2], status;

	/* The binary gets its output pipe and the state, nothing else. */
	(void)snprintf(first, sizeof(first), "%s%d", CHECK_ARG,
	    STDERR_FILENO + 1);
	if ((argv = image_argv(ds, first)) == NULL ||
	    pipe2(p, O_CLOEXEC) == -1) {
		free(argv);
		(void)snprintf(why, size, "preflight: %s", strerror(errno));
		return (-1);
	}
	if ((pid = fork()) == 0) {
		/* Out of the way first, then on 3 and 4, and nothing else. */
		memfd = fcntl(memfd, F_DUPFD, 10);
		bin = fcntl(bin, F_DUPFD, 10);
		if (dup2(p[1], STDOUT_FILENO) == -1 ||
		    dup2(p[1], STDERR_FILENO) == -1 ||
		    dup2(memfd, STDERR_FILENO + 1) == -1 ||
		    dup2(bin, STDERR_FILENO + 2) == -1 ||
		    fcntl(STDERR_FILENO + 2, F_SETFD, FD_CLOEXEC) == -1)
			_exit(127);
		bin = STDERR_FILENO + 2;
		closefrom(bin + 1);
		(void)fexecve(bin, argv, environ);
		(void)dprintf(STDERR_FILENO, "exec: %s\n", strerror(errno));
		_exit(127);
	}
	free(argv);
	(void)close(p[1]);
	if (pid == -1) {
		(void)close(p[0]);
		(void)snprintf(why, size, "preflight: fork: %s",
		    strerror(errno));
		return (-1);
	}
	deadline = ready_now_ms() + PREFLIGHT_MS;
	pfd = (struct pollfd){ p[0], POLLIN, 0 };
	while (len < sizeof(out) - 1) {
		if (ready_now_ms() >= deadline) {
			(void)kill(pid, SIGKILL);
			break;
		}
		if (poll(&pfd, 1, (int)(deadline - ready_now_ms())) <= 0)
			continue;
		if ((n = read(p[0], out + len, sizeof(out) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	(void)close(p[0]);
	out[len] = '\0';
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, &status, 0);
	(void)snprintf(want, sizeof(want), "daemonize-state-ok 1 %016llx\n",
	    (unsigned long long)st->sum);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    strcmp(out, want) == 0)
		return (0);
	out[strcspn(out, "\n")] = '\0';
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		(void)snprintf(why, size, "preflight: the new binary was "
		    "killed by SIG%s%s%s", value_signame(WTERMSIG(status)),
		    *out != '\0' ? ": " : "", out);
	else
		(void)snprintf(why, size, "preflight: the new binary %s%s%s",
		    *out == '\0' ? "gave no answer" : "did not take the state",
		    *out != '\0' ? ": " : "", out);
	return (-1);
}

/* Close-on-exec off for the exec, and on again if it failed. */
static void
cloexec(bool on)
{
	size_t i;

	for (i = 0; i < up.ncarried; i++)
		(void)fcntl(up.carried[i], F_SETFD, on ? FD_CLOEXEC : 0);
}

/* The monotonic clock in microseconds: it goes on across an exec. */
static long long
now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/*
 * The whole state, sealed in a memfd: its descriptor, or -1.  held is
 * when the signals were blocked, for the new image to say how long.
 */
static int
snapshot(struct daemon_state *ds, const struct upgrade_hooks *h,
    const char *path, int conn, int fallback, long long held,
    struct state *st)
{
	size_t i;

	up.ncarried = 0;
	state_init(st);
	if (held > 0)
		state_put(st, "held", "%lld", held);
	state_put(st, "binary", "%s", path);
	state_put(st, "cwd", "%s", ds->start_dir);
	(void)upgrade_put_fd(st, "conn", conn);
	(void)upgrade_put_fd(st, "fallback", fallback);
	(void)upgrade_put_fd(st, "stdout", STDOUT_FILENO);
	(void)upgrade_put_fd(st, "stderr", STDERR_FILENO);
	(void)upgrade_put_fd(st, "lock", ds->pid.lockfd);
	(void)upgrade_put_fd(st, "pidw", ds->pid.writefd);
	(void)upgrade_put_fd(st, "svlock", ds->svpid.lockfd);
	(void)upgrade_put_fd(st, "svpidw", ds->svpid.writefd);
	(void)upgrade_put_fd(st, "notify", ds->notify_sock);
	if (ds->notify_dir != NULL) {
		state_put(st, "notify.dir", "%s", ds->notify_dir);
		state_put(st, "notify.path", "%s", ds->notify_path);
	}
	for (i = 0; i < ds->nlisten; i++) {
		char key[32];

		(void)snprintf(key, sizeof(key), "listen.%zu", i);
		(void)upgrade_put_fd(st, key, ds->listen[i].fd);
		(void)snprintf(key, sizeof(key), "!listen.%zu", i);
		state_put(st, key, "%d %llu %llu", ds->listen[i].bound,
		    (unsigned long long)ds->listen[i].dev,
		    (unsigned long long)ds->listen[i].ino);
	}
	h->save(ds, st);
	if (state_seal(st) == -1)
		return (-1);
	return (seal(st));
}

static void
refuse(int conn, const char *why)
{
	(void)channel_say(conn, why);
	channel_end(conn, EXIT_NOTREADY, -1);
}

/*
 * In the supervisor, for a request on conn: exec path (or the binary we
 * were started from) in our place, carrying the state that the hooks
 * and this module write.  Returns only if the upgrade did not happen,
 * having answered conn with the reason.
 */
void
upgrade_run(struct daemon_state *ds, int conn, const char *path,
    const struct upgrade_hooks *h)
{
	char why[1024], first[64], **argv = NULL;
	const char *refusal;
	struct state st;
	sigset_t all, old;
	long long held;
	int bin, fallback, memfd;

	if (*path == '\0')
		path = ds->self_path;
	if (path == NULL || *path != '/') {
		refuse(conn, "upgrade: the binary we were started from is "
		    "not known: name one");
		return;
	}
	if ((bin = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		(void)snprintf(why, sizeof(why), "upgrade: %s: %s", path,
		    strerror(errno));
		refuse(conn, why);
		return;
	}
	/* The way back, should the new image not take the state. */
	fallback = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (trusted_binary(bin, path, why, sizeof(why)) == -1 ||
	    (fallback == -1 && snprintf(why, sizeof(why), "upgrade: our own "
	    "binary: %s", strerror(errno)) > 0)) {
		refuse(conn, why);
		goto out;
	}
	if ((memfd = snapshot(ds, h, path, conn, fallback, 0, &st)) == -1) {
		state_free(&st);
		refuse(conn, "upgrade: the state could not be written");
		goto out;
	}
	if (preflight(ds, bin, memfd, &st, why, sizeof(why)) == -1) {
		(void)close(memfd);
		state_free(&st);
		refuse(conn, why);
		goto out;
	}
	(void)close(memfd);
	state_free(&st);
	/*
	 * The window: nothing may change between the state and the exec.
	 * What is pending is handled first; it may refuse the upgrade.
	 */
	(void)sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &old);
	held = now_us();
	if ((refusal = h->pending(ds)) != NULL) {
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		refuse(conn, refusal);
		goto out;
	}
	if ((memfd = snapshot(ds, h, path, conn, fallback, held, &st)) ==
	    -1) {
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		state_free(&st);
		refuse(conn, "upgrade: the state could not be written");
		goto out;
	}
	state_free(&st);
	(void)snprintf(first, sizeof(first), "%s%d,%d,%d", RESUME_ARG, memfd,
	    fallback, conn);
	up.carried[up.ncarried++] = memfd;
	if ((argv = image_argv(ds, first)) != NULL) {
		cloexec(false);
		(void)fexecve(bin, argv, environ);
		(void)snprintf(why, sizeof(why), "upgrade: exec %s: %s", path,
		    strerror(errno));
		cloexec(true);
	} else
		(void)snprintf(why, sizeof(why), "upgrade: out of memory");
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	(void)close(memfd);
	free(argv);
	refuse(conn, why);
out:
	if (fallback != -1)
		(void)close(fallback);
	(void)close(bin);
}

/*
 * The new image cannot go on: say why, to the requester and the log,
 * and give the state back to the old binary.
 */
static void
fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)err_to(STDERR_FILENO);
	if (up.mode == CHECK) {
		(void)printf("%s\n", msg);
		exit(EXIT_ERR);
	}
	warnx("upgrade: %s", msg);
	if (up.conn != -1) {
		char line[600];

		(void)snprintf(line, sizeof(line), "upgrade: the new image: %s",
		    msg);
		(void)channel_say(up.conn, line);
	}
	go_back();
	exit(EXIT_ERR);
}

/*
 * The way back: exec the old binary through the descriptor opened on it
 * before the upgrade, with the same state, marked so that it answers the
 * requester that it rolled back.  At most once: a rolled-back image that
 * fails has nowhere to go, and its command gets its SIGTERM.
 */
static void
go_back(void)
{
	char first[64];

	if (!up.adopting)
		return;
	up.adopting = false;
	(void)err_to(STDERR_FILENO);
	if (up.rollback || up.fallback == -1 || up.argv == NULL)
		return;
	(void)snprintf(first, sizeof(first), "%s%d,%d,%d%s", RESUME_ARG,
	    up.memfd, up.fallback, up.conn, ROLLBACK_TAG);
	up.argv[1] = first;
	(void)fexecve(up.fallback, up.argv, environ);
}

/*
 * In main(), before the options: is this a new image (or its check
 * mode) started by --upgrade?  Then read the state, go to where the
 * old image was started, so that the options mean what they meant, and
 * take our first argument away.  Returns true in a new image.
 */
bool
upgrade_open(int *argc, char ***argv)
{
	const char *arg, *why, *errstr;
	char buf[STATE_MAX + 1], word[16], *comma, **shifted;
	long long v[3] = { -1, -1, -1 };
	int i;
	ssize_t n;

	if (*argc < 2)
		return (false);
	arg = (*argv)[1];
	if (strncmp(arg, RESUME_ARG, sizeof(RESUME_ARG) - 1) == 0) {
		up.mode = RESUME;
		arg += sizeof(RESUME_ARG) - 1;
	} else if (strncmp(arg, CHECK_ARG, sizeof(CHECK_ARG) - 1) == 0) {
		up.mode = CHECK;
		arg += sizeof(CHECK_ARG) - 1;
	} else
		return (false);
	/* "MEMFD[,FALLBACK,CONN[:rollback]]" */
	for (i = 0; i < 3 && *arg != '\0'; i++) {
		(void)strlcpy(word, arg, sizeof(word));
		if ((comma = strpbrk(word, ",:")) != NULL)
			*comma = '\0';
		v[i] = value_number(word, 0, INT_MAX, &errstr);
		if (errstr != NULL)
			errx(EXIT_USAGE, "%s: not the state's descriptors",
			    (*argv)[1]);
		arg += strlen(word);
		if (*arg == ',')
			arg++;
		else
			break;
	}
	up.rollback = strcmp(arg, ROLLBACK_TAG) == 0;
	if (*arg != '\0' && !up.rollback)
		errx(EXIT_USAGE, "%s: not the state's descriptors", (*argv)[1]);
	up.memfd = (int)v[0];
	up.fallback = (int)v[1];
	up.conn = (int)v[2];
	up.argv = *argv;
	if (up.mode == RESUME) {
		up.adopting = true;
		if (atexit(go_back) != 0)
			fail("atexit failed");
		/* Until we supervise, our words are the requester's. */
		if (!up.rollback && up.conn > STDERR_FILENO)
			(void)err_to(up.conn);
	}
	if ((n = pread(up.memfd, buf, sizeof(buf), 0)) == -1)
		fail("the state: %s", strerror(errno));
	if (state_parse(&up.st, buf, (size_t)n, known, &why) == -1)
		fail("the state: %s", why);
	if (state_get(&up.st, "cwd") == NULL ||
	    chdir(state_get(&up.st, "cwd")) == -1)
		fail("%s: the directory the supervisor was started in: %s "
		    "(its command line's relative paths would change meaning)",
		    state_get(&up.st, "cwd") != NULL ? state_get(&up.st,
		    "cwd") : "", strerror(errno));
	/*
	 * We were started as "daemonize --upgraded=... ARGS": the options
	 * are ARGS, in a vector of their own, since the title needs ours.
	 */
	if ((shifted = calloc((size_t)*argc, sizeof(*shifted))) == NULL)
		fail("out of memory");
	shifted[0] = (*argv)[0];
	for (i = 2; i < *argc; i++)
		shifted[i - 1] = (*argv)[i];
	*argv = shifted;
	(*argc)--;
	return (true);
}

/*
 * In main(), once the options are parsed and checked as a start checks
 * them: the check mode answers and exits; a new image takes over every
 * descriptor the state names, each verified, and closes all the others.
 */
void
upgrade_adopt(struct daemon_state *ds)
{
	int keep[FDS_MAX + 4], fd, lo;
	const char *key;
	size_t i, j, n;
	long long v[3];
	char name[32];

	if (up.mode == CHECK) {
		(void)printf("daemonize-state-ok 1 %016llx\n",
		    (unsigned long long)up.st.sum);
		exit(EXIT_OK);
	}
	if (ds->mode != MODE_START || ds->respawn == RESPAWN_NO)
		fail("not the command line of a supervisor");
	n = 0;
	keep[n++] = STDIN_FILENO;
	keep[n++] = STDOUT_FILENO;
	keep[n++] = STDERR_FILENO;
	keep[n++] = up.memfd;
	for (i = 0; i < up.st.n; i++) {
		key = up.st.keys[i];
		if (strncmp(key, "fd.", 3) != 0)
			continue;
		if (n == sizeof(keep) / sizeof(keep[0]) ||
		    take_fd(&up.st, key, &fd) == -1)
			fail("%s: not the descriptor the state names", key);
		keep[n++] = fd;
	}
	/* Sorted, to close what lies between. */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			fd = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = fd;
		}
	for (lo = 0, i = 0; i < n; lo = keep[i] + 1, i++)
		for (fd = lo; fd < keep[i]; fd++)
			(void)close(fd);
	closefrom(lo);
	ds->pid.lockfd = upgrade_fd("lock");
	ds->pid.writefd = upgrade_fd("pidw");
	ds->pid.empty = false;
	ds->svpid.lockfd = upgrade_fd("svlock");
	ds->svpid.writefd = upgrade_fd("svpidw");
	ds->svpid.empty = false;
	ds->notify_sock = upgrade_fd("notify");
	if ((key = state_get(&up.st, "notify.dir")) != NULL &&
	    (ds->notify_dir = strdup(key)) == NULL)
		fail("out of memory");
	if ((key = state_get(&up.st, "notify.path")) != NULL &&
	    (ds->notify_path = strdup(key)) == NULL)
		fail("out of memory");
	for (i = 0; i < ds->nlisten; i++) {
		(void)snprintf(name, sizeof(name), "listen.%zu", i);
		if ((ds->listen[i].fd = upgrade_fd(name)) == -1 ||
		    state_numbers(&up.st, name, v, 3, 0, LLONG_MAX) == -1)
			fail("--listen %s: not in the state", ds->listen[i].spec);
		ds->listen[i].bound = v[0] != 0;
		ds->listen[i].dev = (dev_t)v[1];
		ds->listen[i].ino = (ino_t)v[2];
	}
	if ((ds->self_path = strdup(state_get(&up.st, "binary") != NULL ?
	    state_get(&up.st, "binary") : "")) == NULL ||
	    (ds->start_dir = strdup(state_get(&up.st, "cwd"))) == NULL)
		fail("out of memory");
	(void)close(up.memfd);
	up.memfd = -1;
	(void)chdir("/");
}

/*
 * The new image supervises: from now on an exit is ours, and the
 * requester hears the verdict.
 */
void
upgrade_done(pid_t child)
{
	long long held, v[4];
	size_t i;

	up.adopting = false;
	(void)err_to(STDERR_FILENO);
	/* The exec left every descriptor inheritable: as they were, now. */
	for (i = 0; i < up.st.n; i++)
		if (strncmp(up.st.keys[i], "fd.", 3) == 0 &&
		    state_numbers(&up.st, up.st.keys[i], v, 4, 0, LLONG_MAX) ==
		    0 && v[0] > STDERR_FILENO)
			(void)fcntl((int)v[0], F_SETFD, v[3] != 0 ? FD_CLOEXEC :
			    0);
	if (up.fallback != -1)
		(void)close(up.fallback);
	up.fallback = -1;
	if (up.rollback) {
		logfile_own_line();
		warnx("upgrade: rolled back; this binary supervises on");
		(void)channel_say(up.conn, "not upgraded: the old binary "
		    "supervises on");
		channel_end(up.conn, EXIT_NOTREADY, -1);
	} else {
		if (state_numbers(&up.st, "held", &held, 1, 0, LLONG_MAX) == -1)
			held = now_us();
		held = now_us() - held;
		logfile_own_line();
		if (child > 0)
			warnx("upgrade: %s supervises on, pid %ld, child %ld; "
			    "signals held %lld.%02lld ms", state_get(&up.st,
			    "binary"), (long)getpid(), (long)child,
			    held / 1000, held % 1000 / 10);
		else
			warnx("upgrade: %s supervises on, pid %ld, no child; "
			    "signals held %lld.%02lld ms", state_get(&up.st,
			    "binary"), (long)getpid(), held / 1000,
			    held % 1000 / 10);
		channel_end(up.conn, EXIT_OK, child);
	}
	up.conn = -1;
	state_free(&up.st);
}
