/* proc.c: what Linux's /proc says about a process: the files it holds open, its stat fields, program, age, run and title; nothing of the verbs. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

static bool	is_run(pid_t, pid_t);
static size_t	state_len(const char *);

/*
 * How pid holds the file sb describes: HOLDS_OPEN, with HOLDS_WRITE when
 * for writing too, 0 not at all, HOLDS_UNKNOWN when /proc cannot tell
 * (there is none, or the process is another user's), HOLDS_ERROR when
 * /proc is there but cannot be read now, out of descriptors or memory:
 * that is no licence to trust the pid.
 */
int
proc_holds(pid_t pid, const struct stat *sb)
{
	char path[64];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int how, serrno;

	(void)snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((d = opendir(path)) == NULL) {
		if (errno == EACCES || errno == EPERM)
			return (HOLDS_UNKNOWN);
		if (errno != ENOENT && errno != ESRCH)
			return (HOLDS_ERROR);
		/* Gone, if /proc works at all. */
		if (access("/proc/self/fd", F_OK) == 0)
			return (0);
		return (errno == ENOENT ? HOLDS_UNKNOWN : HOLDS_ERROR);
	}
	how = 0;
	while (how != (HOLDS_OPEN | HOLDS_WRITE)) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (fstatat(dirfd(d), de->d_name, &st, 0) == -1 ||
		    st.st_dev != sb->st_dev || st.st_ino != sb->st_ino)
			continue;
		how |= HOLDS_OPEN;
		/* The link's own mode is the descriptor's: w if writable. */
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IWUSR))
			how |= HOLDS_WRITE;
	}
	serrno = errno;
	(void)closedir(d);
	if (how == 0 && serrno != 0) {
		errno = serrno;
		return (HOLDS_ERROR);
	}
	return (how);
}

/*
 * Field n (3 or more) of /proc/PID/stat as a number, or -1.  The name in
 * field 2 may hold anything: the fields are counted from its last ')'.
 */
long long
proc_stat_field(pid_t pid, int n)
{
	char path[64], buf[1024], *p;
	const char *errstr;
	long long v;
	size_t len;
	FILE *f;
	int i;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return (-1);
	p = fgets(buf, sizeof(buf), f);
	(void)fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return (-1);
	/* p is on ')'; the space after it comes before field 3. */
	for (p++, i = 3; i < n && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return (-1);
	p++;
	len = strcspn(p, " \n");
	p[len] = '\0';
	v = strtonum(p, 0, LLONG_MAX, &errstr);
	return (errstr == NULL ? v : -1);
}

/*
 * The file name of the program that pid runs, from /proc/PID/exe, into
 * buf: without its directory, and without the " (deleted)" of a file
 * that an upgrade replaced since the process started it.  NULL if none.
 * Pid 0 is ourselves, by /proc/self: our own pid names another process
 * in a /proc mounted from another pid namespace.
 */
const char *
proc_program(pid_t pid, char *buf, size_t size)
{
	const char deleted[] = " (deleted)";
	const size_t len = sizeof(deleted) - 1;
	char link[64], *p;
	ssize_t n;

	if (pid == 0)
		(void)snprintf(link, sizeof(link), "/proc/self/exe");
	else
		(void)snprintf(link, sizeof(link), "/proc/%ld/exe", (long)pid);
	if ((n = readlink(link, buf, size - 1)) <= 0)
		return (NULL);
	buf[n] = '\0';
	if ((size_t)n > len && strcmp(buf + n - len, deleted) == 0)
		buf[n - len] = '\0';
	return ((p = strrchr(buf, '/')) != NULL ? p + 1 : buf);
}

/* Seconds since pid started, from /proc, or -1. */
long long
proc_age(pid_t pid)
{
	char buf[64], *p, *end;
	long long start;
	double up;
	FILE *f;

	/* Field 22, the start time in clock ticks since boot. */
	if ((start = proc_stat_field(pid, 22)) == -1)
		return (-1);
	if ((f = fopen("/proc/uptime", "re")) == NULL)
		return (-1);
	p = fgets(buf, sizeof(buf), f);
	(void)fclose(f);
	if (p == NULL)
		return (-1);
	up = strtod(buf, &end);
	if (end == buf)
		return (-1);
	return ((long long)up - start / sysconf(_SC_CLK_TCK));
}

/* Is pid a run of supervisor sup: its child, leading its own group? */
static bool
is_run(pid_t sup, pid_t pid)
{
	return (pid > 1 && proc_stat_field(pid, 4) == sup &&
	    proc_stat_field(pid, 5) == pid);
}

/*
 * The current run of supervisor sup, from the kernel, not from its
 * title, which may have had no room for it: the child of sup that leads
 * a process group of its own, as each run does; named (the pid its
 * pidfile names) first, if it is such a child.  -1 if none.
 */
pid_t
proc_run_of(pid_t sup, pid_t named)
{
	char path[80], buf[256], *p, *word;
	const char *errstr;
	pid_t pid;
	ssize_t n;
	int fd;

	/* During a reload two runs are children: the pidfile's is current. */
	if (named > 1 && is_run(sup, named))
		return (named);
	(void)snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children",
	    (long)sup, (long)sup);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (errno == ENOENT && is_run(sup, named) ? named : -1);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	for (p = buf; (word = strsep(&p, " \n")) != NULL; ) {
		pid = (pid_t)strtonum(word, 2, INT_MAX, &errstr);
		if (errstr == NULL && is_run(sup, pid))
			return (pid);
	}
	return (-1);
}

/*
 * The words of supervisor sup's title after its "[child 1234]" or "[no
 * child]", as "running, 2 restarts", read into title; "" when the title
 * had no room for them whole.  The last that fit: the command's name may
 * look like them.
 */
/* The length of the state at q, ", " included, or 0 if none is there. */
static size_t
state_len(const char *q)
{
	static const char *const states[] = {
		"running, ", "backing off, ", "given up, ", "stopping, ",
	};
	static const char *const reloading[] = {
		"reloading: new run ", "reloading: old run ",
	};
	size_t i, len, digits;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strncmp(q, states[i], strlen(states[i])) == 0)
			return (strlen(states[i]));
	for (i = 0; i < sizeof(reloading) / sizeof(reloading[0]); i++) {
		len = strlen(reloading[i]);
		if (strncmp(q, reloading[i], len) != 0)
			continue;
		digits = strspn(q + len, "0123456789");
		if (digits > 0 && strncmp(q + len + digits, ", ", 2) == 0)
			return (len + digits + 2);
	}
	return (0);
}

const char *
proc_title(pid_t sup, char *title, size_t size)
{
	static const char restarts[] = " restarts";
	char path[64], *p, *q, *words, *end;
	size_t len, digits;
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)sup);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return ("");
	n = read(fd, title, size - 1);
	(void)close(fd);
	if (n <= 0)
		return ("");
	title[n] = '\0';
	words = end = NULL;
	for (p = title; (p = strstr(p, "] ")) != NULL; p++) {
		q = p + 2;
		if ((len = state_len(q)) == 0)
			continue;
		digits = strspn(q + len, "0123456789");
		if (digits > 0 && strncmp(q + len + digits, restarts,
		    sizeof(restarts) - 1) == 0) {
			words = q;
			end = q + len + digits + sizeof(restarts) - 1;
		}
	}
	if (words == NULL)
		return ("");
	/* What the old argument area held after the title is not ours. */
	*end = '\0';
	return (words);
}
