/* daemonize.c: main(): parse; a verb, or acquire, detach, then supervise or exec (the man page, in order). */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>

#include <err.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"

static void	cleanup(void);

extern char **environ;

/* Set while a failed start still has files of ours to take back. */
static struct daemon_state *undo;

static void
cleanup(void)
{
	if (undo == NULL)
		return;
	/* A log that failed to open as the user leaves us acting as it. */
	(void)privs_restore(undo);
	pidfile_discard(undo);
	listen_remove(undo);
	output_discard(undo);
	ready_discard(undo);
	pidfile_release(undo);
	output_release(undo);
}

int
main(int argc, char *argv[])
{
	/* Static, so that what it points to is never taken for a leak. */
	static struct daemon_state ds = DAEMON_STATE_INIT;
	char **title_argv = argv;
	int title_argc = argc, repfd;
	bool upgraded;

	output_guard_stdio();
	privs_refuse_setid();
	/* A new image of --upgrade reads its state and our options again. */
	upgraded = upgrade_open(&argc, &argv);
	ds.args = argv;
	options_parse(&ds, argc, argv);
#ifdef LIBBSD_OVERLAY
	/*
	 * Only the supervisor has a title: libbsd needs the original
	 * argument area for it, untouched so far (getopt does not permute
	 * behind '+'), and copying the environment costs every start.
	 */
	if (ds.respawn != RESPAWN_NO)
		setproctitle_init(title_argc, title_argv, environ);
#else
	(void)title_argc;
	(void)title_argv;
#endif
	switch (ds.mode) {
	case MODE_STATUS:
		return (control_status(&ds));
	case MODE_STOP:
		return (control_stop(&ds));
	case MODE_SIGNAL:
		return (control_signal(&ds));
	case MODE_RESTART:
		return (control_restart(&ds));
	case MODE_RELOAD:
		return (control_reload(&ds));
	case MODE_UPGRADE:
		return (control_upgrade(&ds));
	case MODE_START:
		break;
	}

	if (ds.chdir_dir == NULL && (ds.chdir_dir = strdup("/")) == NULL)
		err(EXIT_ERR, "strdup");
	privs_resolve(&ds);
	/* The daemon's settings: what the kernel would refuse, refused now. */
	tune_check(&ds);
	limits_check(&ds);
	caps_check(&ds);
	chroot_check(&ds);
	envfile_read(&ds);
	exec_resolve(&ds);
	/* --upgrade: the supervisor goes on here, in a new image. */
	if (upgraded) {
		upgrade_adopt(&ds);
		supervise_resume(&ds);
	}

	/* Acquire everything before detaching, so errors reach the caller. */
	undo = &ds;
	if (atexit(cleanup) != 0)
		errx(EXIT_ERR, "atexit failed");
	pidfile_acquire(&ds);
	listen_open(&ds);
	output_open(&ds);
	ready_prepare(&ds);
	/* A caller ignoring SIGCHLD would leave the middle one unwaitable. */
	(void)signal(SIGCHLD, SIG_DFL);

	/* The caller waits in there for the daemon's word, and exits. */
	repfd = detach_start(&ds);
	undo = NULL;
	exec_prepare(&ds, &repfd);
	if (ds.respawn != RESPAWN_NO)
		supervise(&ds, repfd);
	exec_command(&ds, repfd);
}
