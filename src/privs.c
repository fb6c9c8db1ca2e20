/* privs.c: the user to run as: lookup before forking, and the ordered, verified drop. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

static char	*copy(const char *);
static gid_t	 lookup_group(const char *);
static void	 add_groups(struct daemon_state *);

/*
 * A set-user-ID daemonize would let anyone start anything as its owner,
 * with files of their choosing: refuse before reading a single option.
 */
void
privs_refuse_setid(void)
{
	if (getuid() != geteuid() || getgid() != getegid())
		errx(EXIT_ERR, "refusing to run set-user-ID or set-group-ID");
}

static char *
copy(const char *s)
{
	char *p;

	if ((p = strdup(s != NULL ? s : "")) == NULL)
		err(EXIT_ERR, "strdup");
	return (p);
}

static gid_t
lookup_group(const char *name)
{
	const char *errstr;
	struct group *gr;
	gid_t gid;

	if ((gr = getgrnam(name)) != NULL)
		return (gr->gr_gid);
	gid = (gid_t)value_number(name, 0, INT_MAX, &errstr);
	if (errstr == NULL && getgrgid(gid) != NULL)
		return (gid);
	errx(EXIT_USAGE, "-u: %s: no such group", name);
}

/* -G: more supplementary groups, each once, after those of -u. */
static void
add_groups(struct daemon_state *ds)
{
	const char *p, *end, *errstr;
	struct group *gr;
	char *name;
	gid_t gid, *groups;
	int i;

	if (ds->extra_groups == NULL)
		return;
	if (!ds->change_user)
		errx(EXIT_USAGE, "-G %s: only root can give -u's user more "
		    "groups", ds->extra_groups);
	for (p = ds->extra_groups; ; p = end + 1) {
		end = p + strcspn(p, ",");
		if ((name = strndup(p, (size_t)(end - p))) == NULL)
			err(EXIT_ERR, "strndup");
		if ((gr = getgrnam(name)) != NULL)
			gid = gr->gr_gid;
		else {
			gid = (gid_t)value_number(name, 0, INT_MAX, &errstr);
			if (errstr != NULL || getgrgid(gid) == NULL)
				errx(EXIT_USAGE, "-G: '%s': no such group",
				    name);
		}
		free(name);
		for (i = 0; i < ds->ngroups && ds->groups[i] != gid; i++)
			;
		if (i == ds->ngroups) {
			if ((groups = reallocarray(ds->groups,
			    (size_t)ds->ngroups + 1, sizeof(gid_t))) == NULL)
				err(EXIT_ERR, "reallocarray");
			groups[ds->ngroups++] = gid;
			ds->groups = groups;
		}
		if (*end == '\0')
			break;
	}
}

/*
 * Look the user and groups up now, while errors still reach the caller
 * and the name service is certainly reachable; the daemon only applies
 * what was found here.
 */
void
privs_resolve(struct daemon_state *ds)
{
	const char *errstr;
	struct passwd *pw;
	char *user, *group;
	gid_t *groups;
	uid_t uid;
	int n;

	if (ds->user_spec == NULL) {
		if (ds->extra_groups != NULL)
			errx(EXIT_USAGE, "-G: only with -u");
		return;
	}
	user = copy(ds->user_spec);
	if ((group = strchr(user, ':')) != NULL) {
		*group++ = '\0';
		if (*group == '\0')
			errx(EXIT_USAGE, "-u '%s': empty group name",
			    ds->user_spec);
	}
	if (*user == '\0')
		errx(EXIT_USAGE, "-u '%s': empty user name", ds->user_spec);
	if ((pw = getpwnam(user)) == NULL) {
		uid = (uid_t)value_number(user, 0, INT_MAX, &errstr);
		if (errstr != NULL || (pw = getpwuid(uid)) == NULL)
			errx(EXIT_USAGE, "-u: %s: no such user", user);
	}
	ds->uid = pw->pw_uid;
	ds->gid = pw->pw_gid;
	ds->user_name = copy(pw->pw_name);
	ds->user_home = copy(pw->pw_dir);
	ds->user_shell = copy(*pw->pw_shell != '\0' ? pw->pw_shell : "/bin/sh");
	if (group != NULL) {
		ds->group_given = true;
		ds->gid = lookup_group(group);
	}
	free(user);

	if (geteuid() != 0) {
		/* Without root, -u can only name who we already are. */
		if (ds->uid != getuid() || ds->gid != getgid())
			errx(EXIT_USAGE, "-u %s: only root can run a command "
			    "as another user", ds->user_spec);
		add_groups(ds);
		return;
	}
	ds->change_user = true;
	if (ds->group_given) {
		/* USER:GROUP means that group alone, and no other. */
		if ((ds->groups = malloc(sizeof(gid_t))) == NULL)
			err(EXIT_ERR, "malloc");
		ds->groups[0] = ds->gid;
		ds->ngroups = 1;
		add_groups(ds);
		return;
	}
	/* What initgroups(3) would set, found now rather than after forking. */
	n = 16;
	for (;;) {
		if ((groups = reallocarray(NULL, (size_t)n, sizeof(gid_t))) ==
		    NULL)
			err(EXIT_ERR, "reallocarray");
		if (getgrouplist(ds->user_name, ds->gid, groups, &n) != -1)
			break;
		free(groups);
		if (n > 65536)
			errx(EXIT_ERR, "-u %s: too many groups", ds->user_spec);
	}
	ds->groups = groups;
	ds->ngroups = n;
	add_groups(ds);
}

/*
 * Act as the target user for a moment, so that the files opened for the
 * daemon (its logs) are opened with its rights: a link the user planted
 * cannot make root open a file the user could not.
 */
void
privs_assume(struct daemon_state *ds)
{
	int n;

	if (!ds->change_user)
		return;
	if ((n = getgroups(0, NULL)) == -1)
		err(EXIT_ERR, "acting as %s to open the logs: getgroups",
		    ds->user_name);
	if ((ds->saved_groups = reallocarray(NULL, (size_t)n + 1,
	    sizeof(gid_t))) == NULL)
		err(EXIT_ERR, "reallocarray");
	if ((ds->nsaved_groups = getgroups(n, ds->saved_groups)) == -1)
		err(EXIT_ERR, "acting as %s to open the logs: getgroups",
		    ds->user_name);
	if (setgroups((size_t)ds->ngroups, ds->groups) == -1)
		err(EXIT_ERR, "acting as %s to open the logs: setgroups",
		    ds->user_name);
	if (setegid(ds->gid) == -1)
		err(EXIT_ERR, "acting as %s to open the logs: setegid",
		    ds->user_name);
	if (seteuid(ds->uid) == -1)
		err(EXIT_ERR, "acting as %s to open the logs: seteuid",
		    ds->user_name);
}

/*
 * Back to root after privs_assume().  Also called on the way out of a
 * failed start, whose clean-up must remove root's files; so it reports
 * instead of exiting.
 */
int
privs_restore(struct daemon_state *ds)
{
	if (ds->saved_groups == NULL)
		return (0);
	if (seteuid(0) == -1 || setegid(getgid()) == -1 ||
	    setgroups((size_t)ds->nsaved_groups, ds->saved_groups) == -1)
		return (-1);
	free(ds->saved_groups);
	ds->saved_groups = NULL;
	return (0);
}

/*
 * In the daemon: groups, then gid, then uid, each checked, and then a
 * check that the change took and cannot be undone, whatever --caps
 * kept.  Returns 0, or the
 * step that failed with errno set.
 */
int
privs_drop(const struct daemon_state *ds)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (!ds->change_user)
		return (0);
	if (setgroups((size_t)ds->ngroups, ds->groups) == -1)
		return (STEP_SETGROUPS);
	if (setgid(ds->gid) == -1)
		return (STEP_SETGID);
	if (setuid(ds->uid) == -1)
		return (STEP_SETUID);
	/* --caps: what setuid(2) kept goes, all but those asked for. */
	if (caps_narrow(ds) == -1)
		return (STEP_CAPS);
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		return (STEP_VERIFY);
	if (ruid != ds->uid || euid != ds->uid || suid != ds->uid ||
	    rgid != ds->gid || egid != ds->gid || sgid != ds->gid) {
		errno = EPERM;
		return (STEP_VERIFY);
	}
	if (ds->uid != 0 && setuid(0) != -1) {
		errno = EPERM;
		return (STEP_VERIFY);
	}
	return (0);
}

/*
 * With -f no caller stays behind, as root, to remove the pidfile when a
 * step as the user fails: try the directory and the command as the user
 * while root can still clean up.  Returns 0, or the step that failed.
 */
int
privs_try(const struct daemon_state *ds)
{
	int serrno, step;

	if (!ds->change_user)
		return (0);
	if (setgroups((size_t)ds->ngroups, ds->groups) == -1)
		return (STEP_SETGROUPS);
	if (setegid(ds->gid) == -1)
		return (STEP_SETGID);
	if (seteuid(ds->uid) == -1)
		return (STEP_SETUID);
	step = 0;
	if (chdir(ds->chdir_dir) == -1)
		step = STEP_CHDIR;
	else if (faccessat(AT_FDCWD, ds->exec_path, X_OK, AT_EACCESS) == -1)
		step = STEP_EXEC;
	serrno = errno;
	if (seteuid(0) == -1 || setegid(getgid()) == -1)
		return (STEP_SETUID);
	errno = serrno;
	return (step);
}

/* HOME, USER, LOGNAME and SHELL of the user, as runuser(1) sets them. */
int
privs_environ(const struct daemon_state *ds)
{
	if (ds->user_spec == NULL)
		return (0);
	if (setenv("HOME", ds->user_home, 1) == -1 ||
	    setenv("USER", ds->user_name, 1) == -1 ||
	    setenv("LOGNAME", ds->user_name, 1) == -1 ||
	    setenv("SHELL", ds->user_shell, 1) == -1)
		return (-1);
	return (0);
}
