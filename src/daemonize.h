/* daemonize.h: the program state, exit codes and the functions modules share. */

#ifndef DAEMONIZE_H
#define DAEMONIZE_H

#include <sys/types.h>
#include <sys/socket.h>

#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Exit statuses; each one is listed in the man page's EXIT STATUS. */
#define EXIT_OK		0	/* the command runs as a daemon */
#define EXIT_ERR	1	/* a system or I/O error */
#define EXIT_USAGE	2	/* bad option, value or missing command */
#define EXIT_RUNNING	3	/* the pidfile is locked by a live instance */
#define EXIT_NOTREADY	4	/* the daemon died or timed out before ready */
#define EXIT_BUSY	5	/* --reload: another reload is under way */
#define EXIT_KILLED	6	/* --reload: the old run had to be killed */

/* --status answers in the LSB's words. */
#define STATUS_RUNNING	0
#define STATUS_DEAD	1	/* not running, but the pidfile exists */
#define STATUS_STOPPED	3	/* not running */
#define STATUS_UNKNOWN	4

/* What this run of daemonize does: the whole state machine. */
enum mode {
	MODE_START,
	MODE_STATUS,
	MODE_STOP,
	MODE_SIGNAL,
	MODE_RESTART,
	MODE_RELOAD,
	MODE_UPGRADE,
};

/* -r: when the supervisor starts the command again. */
enum respawn {
	RESPAWN_NO,
	RESPAWN_FAILURE,	/* non-zero exit, or a signal we did not send */
	RESPAWN_ALWAYS,
};

/* How the daemon says it is ready, if it does. */
enum ready {
	READY_EXEC,	/* ready once exec succeeded */
	READY_FD,	/* s6: a newline on a descriptor */
	READY_NOTIFY,	/* systemd: READY=1 on a datagram socket */
};
#define EXIT_NOEXEC	126	/* the command exists but cannot run */
#define EXIT_NOTFOUND	127	/* the command does not exist */

/* The steps that can fail after the first fork, on the status pipe. */
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
	STEP_WAIT,	/* the middle process cannot wait for readiness */
	STEP_LOST,	/* the daemon vanished without a word */
	/* From the middle process, while it waits for readiness: */
	STEP_READY,	/* the daemon is ready */
	STEP_DIED,	/* it exited first; value is its wait status */
	STEP_TIMEOUT,	/* not ready in time; it was stopped */
	STEP_CLOSED,	/* it closed the readiness descriptor unready */
	STEP_NOTIFY_ERRNO, /* it sent ERRNO=value; it was stopped */
	STEP_STATUS,	/* value bytes of its last STATUS= follow */
	STEP_MAINPID,	/* it named value as its main process */
	STEP_PIPE,	/* -r: a run's pipes could not be made */
	STEP_SUPERVISOR, /* -r: a run could not be tied to its supervisor */
	STEP_DAEMON,	/* not a failure: from the middle, the daemon's pid */
	/* The daemon's execution environment; detail names the setting: */
	STEP_OOM,	/* --oom-score-adj */
	STEP_NICE,	/* -N */
	STEP_AUTOGROUP,	/* -N, written to /proc/self/autogroup */
	STEP_IONICE,	/* -I */
	STEP_SCHED,	/* --scheduler */
	STEP_AFFINITY,	/* --cpu-affinity */
	STEP_LIMIT,	/* --limit: detail is its index */
	STEP_CHROOT,	/* --chroot */
	STEP_CAPS,	/* --caps: keeping or narrowing them */
	STEP_AMBIENT,	/* --caps: detail is the capability not raised */
	STEP_NNP,	/* --no-new-privs */
};

/*
 * One message on the status pipe: a step and its errno (or the pid),
 * and for a setting that failed, which one.
 */
struct status_msg {
	int	step;
	int	value;
	int	detail;
};

/* --limit RESOURCE=VALUE, checked before the fork, set in the daemon. */
struct limit {
	const char	*arg;		/* as given, for messages */
	int		 resource;	/* RLIMIT_ */
	bool		 soft_set;
	bool		 hard_set;
	bool		 soft_max;	/* "max": the hard limit */
	uint64_t	 soft;		/* UINT64_MAX for unlimited; both */
	uint64_t	 hard;		/* as the daemon sets them, once checked */
};

/* What the caller learnt of a start from the status pipe. */
struct outcome {
	pid_t	group;	/* the daemon's process group, from the middle */
	pid_t	pid;	/* the daemon, its MAINPID=, or the first run of -r */
	bool	lost;	/* no verdict came: the middle process was killed */
};

/* A pidfile: its name and the two descriptors we hold on it. */
struct pidfile {
	char	*path;		/* absolute, or NULL */
	int	 lockfd;	/* read-only, holds the flock(2) lock */
	int	 writefd;	/* write-only, close-on-exec */
	bool	 empty;		/* nothing written to it yet */
};

/* An output file: stdout, stderr, or both when they name the same file. */
struct logfile {
	char	*path;		/* absolute, or NULL for /dev/null */
	int	 fd;
	bool	 created;	/* made by this run, removed again on failure */
};

/* --listen: one socket, bound before the first fork. */
struct listener {
	const char		*spec;	/* as given, for messages */
	char			*words;	/* our copy of it, cut up */
	int			 family;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			*path;	/* unix: absolute */
	const char		*name;	/* its LISTEN_FDNAMES entry */
	int			 backlog;
	bool			 dualstack;
	bool			 reuseport;
	mode_t			 mode;	/* unix */
	bool			 owner_given;
	uid_t			 uid;
	gid_t			 gid;
	int			 fd;
	bool			 bound;	/* unix: the file is the one we made */
	dev_t			 dev;
	ino_t			 ino;
};

struct daemon_state {
	enum mode	  mode;
	char		**args;		/* our whole command line, for --upgrade */
	char		 *self_path;	/* -r: the binary we were started from */
	char		 *start_dir;	/* -r: the directory we were started in */
	char		**argv;		/* the command and its arguments */
	char		 *exec_path;	/* the absolute path for execve(2) */
	struct pidfile	  pid;		/* -p: the daemon, or -r's child */
	struct pidfile	  svpid;	/* -P: the supervisor of -r */
	struct logfile	  out;
	struct logfile	  err;
	struct listener	 *listen;	/* --listen, in order */
	size_t		  nlisten;
	char		 *chdir_dir;	/* absolute */
	bool		  chdir_relative; /* -c was given relative */
	mode_t		  umask;
	char		**env;		/* NAME=VALUE strings from -E */
	pid_t		  supervisor;	/* in a run of -r: its supervisor */
	size_t		  nenv;
	char		**env_files;	/* --env-file, absolute, in order */
	size_t		  nenv_files;
	char		**file_env;	/* NAME=VALUE read from them */
	size_t		  nfile_env;
	bool		  clear_env;
	char		**keep_env;	/* --keep-env names */
	size_t		  nkeep_env;
	bool		  foreground;
	int		  verbose;
	long long	  timeout;	/* -t seconds, or -1 for the default */
	int		  signal;	/* --signal, or -s for --stop */

	/* -r: the supervisor. */
	enum respawn	  respawn;
	long long	  min_uptime;	/* seconds a start must last */
	long long	  backoff_max;	/* seconds */
	long long	  max_failures;	/* failed starts before giving up */
	long long	  stop_timeout;	/* seconds from SIGTERM to SIGKILL */
	int		  drain_signal;	/* an ending run's first signal */
	long long	  drain_timeout; /* seconds from it to SIGKILL, or -1 */
	long long	  settle;	/* seconds a reloaded run must last, or -1 */
	char		 *upgrade_path;	/* --upgrade=PATH, absolute, or NULL */
	bool		  timestamps;	/* an RFC 3339 time before each line */
	bool		  syslog;	/* each line to syslog too */
	long long	  log_size;	/* --log-size bytes, or 0 */
	long long	  log_keep;	/* --log-keep */
	int		  syslog_facility;
	const char	 *name;		/* -n: the syslog tag */

	/* Readiness, waited for by the middle process. */
	enum ready	  ready;
	int		  ready_fd;	/* --ready-fd: the daemon's number */
	int		  ready_pipe[2];
	int		  notify_sock;
	char		 *notify_dir;
	char		 *notify_path;

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
	char		 *extra_groups;	/* -G, as given */

	/* The execution environment, set in the daemon and in every run. */
	char		 *oom_arg;	/* --oom-score-adj, as given, or NULL */
	int		  oom;
	char		 *nice_arg;	/* -N */
	int		  nice;
	char		 *ionice_arg;	/* -I */
	int		  ioclass;
	int		  iolevel;
	char		 *sched_arg;	/* --scheduler */
	int		  policy;
	int		  priority;
	char		 *cpus_arg;	/* --cpu-affinity */
	cpu_set_t	 *cpus;
	struct limit	 *limits;	/* --limit, in the order given */
	size_t		  nlimits;
	char		 *caps_arg;	/* --caps */
	uint64_t	  caps;		/* bit N: capability N */
	bool		  no_new_privs;
	char		 *chroot_dir;	/* --chroot, absolute */
	bool		  in_root;	/* this process has entered it */
	int		  host_root;	/* -f: the way out, to clean up */
};

/* The state before any option: no descriptors, the documented defaults. */
#define DAEMON_STATE_INIT {						\
	.pid = { NULL, -1, -1, false },					\
	.svpid = { NULL, -1, -1, false },				\
	.out = { .fd = -1 },						\
	.err = { .fd = -1 },						\
	.umask = 022,							\
	.timeout = -1,							\
	.ready_pipe = { -1, -1 },					\
	.notify_sock = -1,						\
	.host_root = -1,						\
	.min_uptime = 10,						\
	.backoff_max = 60,						\
	.max_failures = 5,						\
	.stop_timeout = 10,						\
	.drain_signal = SIGTERM,					\
	.drain_timeout = -1,						\
	.settle = -1,							\
	.log_keep = 5,							\
}

/* options.c */
/* Options with no short form. */
enum {
	OPT_BACKOFF_MAX = 256,
	OPT_CAPS,
	OPT_CHROOT,
	OPT_CLEAR_ENV,
	OPT_CPU_AFFINITY,
	OPT_DRAIN_SIGNAL,
	OPT_DRAIN_TIMEOUT,
	OPT_ENV_FILE,
	OPT_KEEP_ENV,
	OPT_LIMIT,
	OPT_NO_NEW_PRIVS,
	OPT_OOM_SCORE_ADJ,
	OPT_SCHEDULER,
	OPT_LOG_KEEP,
	OPT_LISTEN,
	OPT_LOG_SIZE,
	OPT_MAX_FAILURES,
	OPT_MIN_UPTIME,
	OPT_NOTIFY,
	OPT_READY_FD,
	OPT_RELOAD,
	OPT_RESTART,
	OPT_SETTLE,
	OPT_SIGNAL,
	OPT_STATUS,
	OPT_STOP,
	OPT_STOP_TIMEOUT,
	OPT_SYSLOG,
	OPT_TIMESTAMPS,
	OPT_UPGRADE,
};

void	options_parse(struct daemon_state *, int, char **);
void	options_usage(void);

/* optset.c */
void	optset_start(struct daemon_state *, int, char *, const char *);
void	optset_env(struct daemon_state *, int, char *);
void	optset_supervisor(struct daemon_state *, int, const char *,
	    const char *);
void	optset_verb(struct daemon_state *, int, const char *, const char *);

/* value.c */
char	*value_path(const char *);
long long value_number(const char *, long long, long long, const char **);
long long value_seconds(const char *, const char *, long long);
long long value_size(const char *);
mode_t	value_umask(const char *);
int	value_signal(const char *);
const char *value_signame(int);
int	value_facility(const char *, const char *);

/* control.c */
int	control_status(struct daemon_state *);
int	control_stop(struct daemon_state *);
int	control_signal(struct daemon_state *);
int	control_restart(struct daemon_state *);
int	control_reload(struct daemon_state *);
int	control_upgrade(struct daemon_state *);

/* channel.c */
#define CHANNEL_NONE	(-1)	/* no control socket to ask */
#define CHANNEL_LATE	(-2)	/* no answer in time */
int	channel_open(void);
int	channel_accept(int);
int	channel_request(int, char *, size_t);
int	channel_say(int, const char *);
void	channel_end(int, int, pid_t);
int	channel_ask(pid_t, const char *, const char *, long long, pid_t *);

/* err.c */
int	err_to(int);

/* state.c */
#define STATE_MAX	(256 * 1024)	/* the longest state read */
#define STATE_LINE_MAX	4096	/* the longest value */
#define STATE_KEYS_MAX	256
/* A state being written (buf, len), or one read (keys and values). */
struct state {
	char		*buf;
	size_t		 len;
	size_t		 size;
	bool		 failed;	/* out of room or memory: no state */
	uint64_t	 sum;		/* the end line's hash, once sealed */
	const char	*keys[STATE_KEYS_MAX];
	const char	*values[STATE_KEYS_MAX];
	size_t		 n;
};
uint64_t state_hash(const char *, size_t);
void	state_init(struct state *);
void	state_put(struct state *, const char *, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
int	state_seal(struct state *);
int	state_parse(struct state *, const char *, size_t, const char *const *,
	    const char **);
const char *state_get(const struct state *, const char *);
int	state_numbers(const struct state *, const char *, long long *, size_t,
	    long long, long long);
void	state_free(struct state *);

/* upgrade.c */
/* What the supervisor gives --upgrade: its part of the state, and a last look at its signals. */
struct upgrade_hooks {
	void		(*save)(const struct daemon_state *, struct state *);
	const char	*(*pending)(struct daemon_state *);
};
int	upgrade_put_fd(struct state *, const char *, int);
int	upgrade_fd(const char *);
const struct state *upgrade_state(void);
void	upgrade_run(struct daemon_state *, int, const char *,
	    const struct upgrade_hooks *);
bool	upgrade_open(int *, char ***);
void	upgrade_adopt(struct daemon_state *);
void	upgrade_done(pid_t);

/* holder.c */
struct stat;
/* What the verbs found behind a locked pidfile. */
struct found {
	pid_t	pid;	/* the pid to report: the file's, or the holder's */
	pid_t	to;	/* the holder of the lock, to signal; -1 if none */
	bool	sup;	/* to is a supervisor of -r */
};
int	holder_resolve(const char *, pid_t, const struct stat *, bool,
	    struct found *);

/* proc.c */
struct stat;
#define HOLDS_OPEN	1	/* has the file open */
#define HOLDS_WRITE	2	/* and for writing */
#define HOLDS_UNKNOWN	(-1)	/* no /proc, or not ours to look at */
#define HOLDS_ERROR	(-2)	/* /proc there, unreadable now: errno */
int	proc_holds(pid_t, const struct stat *);
long long proc_stat_field(pid_t, int);
const char *proc_program(pid_t, char *, size_t);
long long proc_age(pid_t);
pid_t	proc_run_of(pid_t, pid_t);
const char *proc_title(pid_t, char *, size_t);

/* ready.c */
void	ready_prepare(struct daemon_state *);
int	ready_arm(void);
long long ready_now_ms(void);
int	ready_environ(const struct daemon_state *);
void	ready_wait(struct daemon_state *, int, pid_t)
	    __attribute__((__noreturn__));
void	ready_discard(struct daemon_state *);
void	ready_log_tail(const struct daemon_state *, int);

/* notify.c */
#define NOTIFY_STATUS_MAX 256	/* the longest STATUS= passed on */
/* What the daemon's datagrams said. */
struct notify_news {
	pid_t		mainpid;	/* MAINPID=, trusted, or -1 */
	long long	extend_ms;	/* EXTEND_TIMEOUT_USEC=, or -1 */
	int		errnum;		/* ERRNO= */
	char		status[NOTIFY_STATUS_MAX + 1];	/* the last STATUS= */
};
void	notify_prepare(struct daemon_state *);
int	notify_environ(const struct daemon_state *);
void	notify_discard(struct daemon_state *);
int	notify_read(const struct daemon_state *, pid_t, pid_t,
	    struct notify_news *);

/* pidfile.c */
void	pidfile_acquire(struct daemon_state *);
pid_t	pidfile_read(int);
int	pidfile_store(struct pidfile *, pid_t);
void	pidfile_discard(struct daemon_state *);
void	pidfile_release(struct daemon_state *);

/* listen.c */
void	listen_parse(struct daemon_state *, const char *);
void	listen_open(struct daemon_state *);
void	listen_release(struct daemon_state *);
void	listen_remove(struct daemon_state *);
int	listen_environ(const struct daemon_state *);

/* files.c */
bool	files_refuse_special(const char *);
void	files_refuse_open_dir(const char *);
void	files_refuse_untrusted(const char *, const struct stat *);

/* limits.c */
void	limits_add(struct daemon_state *, char *);
void	limits_check(struct daemon_state *);
int	limits_apply(const struct daemon_state *, int *);

/* tune.c */
void	tune_oom(struct daemon_state *, char *);
void	tune_nice(struct daemon_state *, char *);
void	tune_ionice(struct daemon_state *, char *);
void	tune_scheduler(struct daemon_state *, char *);
void	tune_affinity(struct daemon_state *, char *);
void	tune_check(const struct daemon_state *);
int	tune_apply(const struct daemon_state *);

/* caps.c */
void	caps_parse(struct daemon_state *, char *);
bool	caps_effective(int);
void	caps_check(const struct daemon_state *);
int	caps_keep(const struct daemon_state *);
int	caps_narrow(const struct daemon_state *);
int	caps_raise(const struct daemon_state *, int *);
const char *caps_name(int);

/* envfile.c */
void	envfile_read(struct daemon_state *);
const char *envfile_find(char *const *, size_t, const char *);
const char *envfile_value(const struct daemon_state *, const char *);
int	envfile_start(const struct daemon_state *);
int	envfile_apply(const struct daemon_state *);

/* chroot.c */
void	chroot_check(const struct daemon_state *);
int	chroot_probe(const struct daemon_state *, const char *);
int	chroot_enter(struct daemon_state *);
void	chroot_leave(struct daemon_state *);
const char *chroot_host_path(const struct daemon_state *, const char *, char *,
	    size_t);

/* privs.c */
void	privs_refuse_setid(void);
void	privs_resolve(struct daemon_state *);
void	privs_assume(struct daemon_state *);
int	privs_restore(struct daemon_state *);
int	privs_try(const struct daemon_state *);
int	privs_drop(const struct daemon_state *);
int	privs_environ(const struct daemon_state *);

/* output.c */
void	output_guard_stdio(void);
void	output_open(struct daemon_state *);
int	output_wire(struct daemon_state *);
void	output_discard(struct daemon_state *);
void	output_release(struct daemon_state *);
int	output_reopen(struct daemon_state *, const char *);
int	output_rotate(const char *, long long, int, const char **);

/* detach.c */
int	detach_start(struct daemon_state *);

/* report.c */
void	report_send(int, int, int);
void	report_send_msg(int, const struct status_msg *);
int	report_failure(const struct daemon_state *, const struct status_msg *);
int	report_outcome(struct daemon_state *, int, struct outcome *);
const char *report_step_name(int);
const char *report_what(const struct daemon_state *, const struct status_msg *,
	    char *, size_t);

/* exec.c */
void	exec_resolve(struct daemon_state *);
int	exec_arrange(struct daemon_state *, int *);
void	exec_prepare(struct daemon_state *, int *);
void	exec_command(struct daemon_state *, int) __attribute__((__noreturn__));
int	exec_tie(const struct daemon_state *);
void	exec_fail(struct daemon_state *, int, int)
	    __attribute__((__noreturn__));
void	exec_fail_detail(struct daemon_state *, int, int, int)
	    __attribute__((__noreturn__));

/* supervise.c */
void	supervise(struct daemon_state *, int) __attribute__((__noreturn__));
void	supervise_resume(struct daemon_state *) __attribute__((__noreturn__));

/* child.c */
pid_t	child_start(struct daemon_state *, struct status_msg *);

/* reload.c */
bool	reload_busy(void);
int	reload_runs(pid_t *, pid_t *);
void	reload_begin(struct daemon_state *, int, long long, pid_t);
int	reload_fd(void);
void	reload_ready_fd(const struct daemon_state *);
void	reload_notify(const struct daemon_state *);
bool	reload_exited(const struct daemon_state *, pid_t, int);
void	reload_current_gone(void);
long long reload_deadline(void);
pid_t	reload_tick(const struct daemon_state *, long long);
void	reload_took_over(const struct daemon_state *);
void	reload_abort(const struct daemon_state *, bool);

/* logpipe.c */
struct pollfd;
void	logpipe_init(const struct daemon_state *);
#define LOGPIPE_FDS	4	/* two runs, stdout and stderr each */
void	logpipe_attach(pid_t, int, int);
void	logpipe_poll(struct pollfd *);
void	logpipe_pump(const struct daemon_state *, const struct pollfd *);
void	logpipe_drain(const struct daemon_state *, pid_t);
int	logpipe_idle_after(void);
bool	logpipe_shared(void);
void	logpipe_save(struct state *);
int	logpipe_load(const struct state *);
void	logpipe_idle(void);

/* logfile.c */
struct sink;
void	logfile_init(const struct daemon_state *);
struct sink *logfile_of(int);
void	logfile_write(const struct daemon_state *, struct sink *, const char *,
	    size_t);
void	logfile_end_run(void);
void	logfile_own_line(void);
void	logfile_reopen(struct daemon_state *);
long long logfile_deadline(void);
bool	logfile_busy(void);
void	logfile_save(struct state *);
int	logfile_load(const struct state *);
void	logfile_tick(long long);

/* logsys.c */
#define LOGSYS_LINE	1024	/* the longest line sent to syslog */
void	logsys_send(const struct daemon_state *, int, const char *, size_t,
	    pid_t, const char *);

#endif /* DAEMONIZE_H */
