/* holder.c: who holds a pidfile's lock: the daemon it names, or a supervisor of ours, found through /proc. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

static bool	supervisor(pid_t, int);
static int	holding_supervisor(const char *, pid_t, const struct stat *);
static pid_t	find_supervisor(const char *, const struct stat *);

/*
 * Who holds the lock of the file naming pid: pid itself, or its parent,
 * as the supervisor of -r keeps the lock while the file names its run,
 * or failing both, if scan, a supervisor that find_supervisor() finds.
 * 0 with *f filled in, 1 when nobody we may signal holds it, -1 when
 * /proc could not be read, said.  The lock says a daemon lives; /proc
 * says it is the one the file names, and not a process that inherited
 * the lock.
 */
int
holder_resolve(const char *path, pid_t pid, const struct stat *sb, bool scan,
    struct found *f)
{
	long long ppid;
	pid_t asked, sup;
	int how;

	*f = (struct found){ pid, -1, false };
	asked = pid;
	if ((how = proc_holds(pid, sb)) == 0 &&
	    (ppid = proc_stat_field(pid, 4)) >= 2 && ppid <= INT_MAX) {
		asked = (pid_t)ppid;
		if ((how = proc_holds(asked, sb)) == HOLDS_UNKNOWN)
			how = 0;
	}
	if (how == HOLDS_ERROR) {
		warn("%s: cannot read /proc/%ld/fd", path, (long)asked);
		return (-1);
	}
	if (how != 0) {
		f->to = asked;
		f->sup = supervisor(f->to, how);
		return (0);
	}
	if (!scan || (sup = find_supervisor(path, sb)) == 0)
		return (1);
	if (sup == -1)
		return (-1);
	*f = (struct found){ sup, sup, true };
	return (0);
}

/*
 * Is pid a supervisor holding the pidfile, and not the middle process of
 * a start, which holds it too while it waits for readiness, and leads
 * its session?  1 yes, 0 no, -1 on an error, said.
 */
static int
holding_supervisor(const char *path, pid_t pid, const struct stat *sb)
{
	int how;

	if ((how = proc_holds(pid, sb)) == HOLDS_ERROR) {
		warn("%s: cannot read /proc/%ld/fd", path, (long)pid);
		return (-1);
	}
	return (supervisor(pid, how) && proc_stat_field(pid, 6) != pid);
}

/*
 * The supervisor holding the pidfile, found without the pid in it: from
 * the moment a supervisor reaps a run until it rewrites the file, that
 * names a dead pid.  Every process running a program of our name is
 * asked.  One whose parent is such a supervisor too is a run between
 * fork and exec; the parent is the answer.  Its pid, 0 if none, -1 on
 * an error, said.
 */
static pid_t
find_supervisor(const char *path, const struct stat *sb)
{
	char self[PATH_MAX], them[PATH_MAX];
	const char *ours, *name, *errstr;
	struct dirent *de;
	long long ppid;
	pid_t pid, found;
	DIR *d;
	int r;

	if ((ours = proc_program(0, self, sizeof(self))) == NULL)
		return (0);
	if ((d = opendir("/proc")) == NULL) {
		warn("%s: cannot read /proc", path);
		return (-1);
	}
	for (found = 0; found == 0; ) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				warn("%s: cannot read /proc", path);
				found = -1;
			}
			break;
		}
		pid = (pid_t)strtonum(de->d_name, 2, INT_MAX, &errstr);
		if (errstr != NULL || pid == getpid())
			continue;
		if ((name = proc_program(pid, them, sizeof(them))) != NULL &&
		    strcmp(name, ours) == 0 &&
		    (found = holding_supervisor(path, pid, sb)) == 1)
			found = pid;
	}
	(void)closedir(d);
	if (found > 0 && (ppid = proc_stat_field(found, 4)) >= 2 &&
	    ppid <= INT_MAX) {
		if ((r = holding_supervisor(path, (pid_t)ppid, sb)) != 0)
			found = r == 1 ? (pid_t)ppid : -1;
	}
	return (found);
}

/*
 * Is pid, which holds the pidfile as proc_holds() said, a supervisor of
 * -r?  Proof enough: it holds the very file open for writing, as a
 * supervisor keeps its pidfiles to rewrite them, and as no verb, no
 * command (the descriptor is close-on-exec) and nothing a command leaves
 * behind ever does; and it runs a program of our name, so that a command
 * that opened its own pidfile is not one.  The name, not the file: after
 * an upgrade the supervisor runs a deleted file, and the verbs may come
 * from another directory.  Faking both takes the lock and write access to
 * the file, which only the one who started it has.
 */
static bool
supervisor(pid_t pid, int how)
{
	char self[PATH_MAX], them[PATH_MAX];
	const char *ours, *theirs;

	if (how <= 0 || (how & HOLDS_WRITE) == 0)
		return (false);
	ours = proc_program(0, self, sizeof(self));
	theirs = proc_program(pid, them, sizeof(them));
	return (ours != NULL && theirs != NULL && strcmp(ours, theirs) == 0);
}
