/* daemonize.h: the program state, exit codes and the functions modules share. */

#ifndef DAEMONIZE_H
#define DAEMONIZE_H

#include <sys/types.h>

#include <stdbool.h>

/* Exit statuses; each one is listed in the man page's EXIT STATUS. */
#define EXIT_OK		0	/* the command runs as a daemon */
#define EXIT_ERR	1	/* a system or I/O error */
#define EXIT_USAGE	2	/* bad option, value or missing command */
#define EXIT_RUNNING	3	/* the pidfile is locked by a live instance */
#define EXIT_NOEXEC	126	/* the command exists but cannot run */
#define EXIT_NOTFOUND	127	/* the command does not exist */

/* The detach steps that can fail after the first fork, reported on the status pipe. */
enum step {
	STEP_PID = 1,	/* not a failure: the daemon's pid, sent first */
	STEP_SETSID,
	STEP_FORK,
	STEP_CHDIR,
	STEP_STDIO,
	STEP_FDS,
	STEP_PIDFILE,
	STEP_SIGNALS,
	STEP_SETGROUPS,
	STEP_SETGID,
	STEP_SETUID,
	STEP_VERIFY,	/* the dropped privileges are not what we asked for */
	STEP_ENV,
	STEP_EXEC,
	STEP_LOST,	/* the daemon vanished without a word */
};

/* One message on the status pipe: a step and its errno (or the pid). */
struct status_msg {
	int	step;
	int	value;
};

/* An output file: stdout, stderr, or both when they name the same file. */
struct logfile {
	char	*path;		/* absolute, or NULL for /dev/null */
	int	 fd;
	bool	 created;	/* made by this run, removed again on failure */
};

struct daemon_state {
	char		**argv;		/* the command and its arguments, untouched */
	char		 *exec_path;	/* absolute path that execve(2) receives */
	char		 *pidfile;	/* absolute, or NULL */
	int		  pid_lockfd;	/* read-only, holds the flock(2) lock */
	int		  pid_writefd;	/* write-only, closed once the pid is in */
	struct logfile	  out;
	struct logfile	  err;
	char		 *chdir_dir;	/* absolute */
	mode_t		  umask;
	char		**env;		/* NAME=VALUE strings from -E */
	size_t		  nenv;
	bool		  foreground;
	int		  verbose;

	/* -u: resolved before forking, dropped in the daemon. */
	char		 *user_spec;	/* USER[:GROUP] as given */
	bool		  change_user;	/* root switching to another user */
	bool		  group_given;
	uid_t		  uid;
	gid_t		  gid;
	gid_t		 *groups;	/* the supplementary groups to set */
	int		  ngroups;
	char		 *user_name;
	char		 *user_home;
	char		 *user_shell;
	gid_t		 *saved_groups;	/* ours, while we act as the user */
	int		  nsaved_groups;
};

/* options.c */
void	options_parse(struct daemon_state *, int, char **);
char	*options_absolute(const char *);
void	options_usage(void);

/* pidfile.c */
void	pidfile_acquire(struct daemon_state *);
int	pidfile_store(struct daemon_state *, pid_t);
void	pidfile_discard(struct daemon_state *);

/* files.c */
bool	files_refuse_special(const char *);
void	files_refuse_open_dir(const char *);

/* privs.c */
void	privs_refuse_setid(void);
void	privs_resolve(struct daemon_state *);
void	privs_assume(struct daemon_state *);
int	privs_restore(struct daemon_state *);
int	privs_drop(const struct daemon_state *);
int	privs_environ(const struct daemon_state *);

/* output.c */
void	output_guard_stdio(void);
void	output_open(struct daemon_state *);
int	output_wire(struct daemon_state *);
void	output_discard(struct daemon_state *);

/* detach.c */
void	detach_resolve(struct daemon_state *);
int	detach_start(struct daemon_state *);
void	detach_foreground(struct daemon_state *) __attribute__((__noreturn__));

#endif /* DAEMONIZE_H */
