/* caps.c: --caps: capability names, the checks before the fork, and keeping exactly these across the drop into the ambient set; raw system calls, no libcap. */

/* First, so that the feature macros reach every system header. */
#include "config.h"

#include <sys/types.h>
#ifdef __linux__
#include <linux/capability.h>
#include <sys/prctl.h>
#endif
#include <sys/syscall.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemonize.h"

/*
 * By number, as <linux/capability.h> has them.  A reason marks those
 * refused: each leads back to root, by itself or with a file or program
 * any system has; the man page says how.
 */
static const struct {
	const char	*name;
	const char	*refused;
} caps[] = {
	{ "chown", "can take any file, /etc/shadow too" },
	{ "dac_override", "can write any file" },
	{ "dac_read_search", "can read any file, and open one by handle" },
	{ "fowner", "can change the mode of any file" },
	{ "fsetid", NULL },
	{ "kill", NULL },
	{ "setgid", "can take any group" },
	{ "setuid", "can become root" },
	{ "setpcap", "can add any capability to its inheritable set" },
	{ "linux_immutable", NULL },
	{ "net_bind_service", NULL },
	{ "net_broadcast", NULL },
	{ "net_admin", NULL },
	{ "net_raw", NULL },
	{ "ipc_lock", NULL },
	{ "ipc_owner", NULL },
	{ "sys_module", "loads code into the kernel" },
	{ "sys_rawio", "reaches memory and devices directly" },
	{ "sys_chroot", "can run a set-user-ID program in a root it made" },
	{ "sys_ptrace", "can take over root's processes" },
	{ "sys_pacct", NULL },
	{ "sys_admin", "is nearly root by itself" },
	{ "sys_boot", "can load and start a new kernel" },
	{ "sys_nice", NULL },
	{ "sys_resource", NULL },
	{ "sys_time", NULL },
	{ "sys_tty_config", NULL },
	{ "mknod", "can make a device node for any disk" },
	{ "lease", NULL },
	{ "audit_write", NULL },
	{ "audit_control", NULL },
	{ "setfcap", "can give any of its files every capability" },
	{ "mac_override", NULL },
	{ "mac_admin", NULL },
	{ "syslog", NULL },
	{ "wake_alarm", NULL },
	{ "block_suspend", NULL },
	{ "audit_read", NULL },
	{ "perfmon", "with bpf, can write into any process's memory" },
	{ "bpf", "with perfmon, can write into any process's memory" },
	{ "checkpoint_restore", NULL },
};
#define NCAPS	((int)(sizeof(caps) / sizeof(caps[0])))

static const char *upper(int, char *, size_t);
#if defined(__linux__) && defined(PR_CAP_AMBIENT)
static void	held(const struct daemon_state *);
#endif
#ifdef __linux__
static int	get(struct __user_cap_data_struct *);
static int	set(uint64_t, uint64_t, uint64_t);
static uint64_t	bits(const struct __user_cap_data_struct *, int);
#endif

const char *
caps_name(int cap)
{
	return (cap >= 0 && cap < NCAPS ? caps[cap].name : "?");
}

/* "net_bind_service,CAP_NET_RAW": names, with or without cap_, any case. */
void
caps_parse(struct daemon_state *ds, char *arg)
{
	const char *p, *end, *name;
	size_t len;
	int c;

	ds->caps_arg = arg;
	ds->caps = 0;
	for (p = arg; ; p = end + 1) {
		end = p + strcspn(p, ",");
		name = p;
		if (end - p > 4 && strncasecmp(p, "cap_", 4) == 0)
			name += 4;
		len = (size_t)(end - name);
		for (c = 0; c < NCAPS; c++)
			if (strlen(caps[c].name) == len &&
			    strncasecmp(caps[c].name, name, len) == 0)
				break;
		if (c == NCAPS)
			errx(EXIT_USAGE, "--caps %s: '%.*s': no such capability",
			    arg, (int)len, name);
		if (caps[c].refused != NULL)
			errx(EXIT_USAGE, "--caps %s: %s %s, refused", arg,
			    caps[c].name, caps[c].refused);
		ds->caps |= 1ULL << c;
		if (*end == '\0')
			break;
	}
}

/* CAP_NET_BIND_SERVICE, as the man pages write them. */
static const char *
upper(int cap, char *buf, size_t size)
{
	size_t i;

	(void)snprintf(buf, size, "CAP_%s", caps_name(cap));
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] = (char)(buf[i] - 'a' + 'A');
	return (buf);
}

#ifdef __linux__
static int
get(struct __user_cap_data_struct *data)
{
	struct __user_cap_header_struct hdr = {
		_LINUX_CAPABILITY_VERSION_3, 0
	};

	return ((int)syscall(SYS_capget, &hdr, data));
}

static uint64_t
bits(const struct __user_cap_data_struct *data, int which)
{
	switch (which) {
	case 'p':
		return ((uint64_t)data[1].permitted << 32 | data[0].permitted);
	case 'e':
		return ((uint64_t)data[1].effective << 32 | data[0].effective);
	default:
		return ((uint64_t)data[1].inheritable << 32 |
		    data[0].inheritable);
	}
}

static int
set(uint64_t permitted, uint64_t effective, uint64_t inheritable)
{
	struct __user_cap_header_struct hdr = {
		_LINUX_CAPABILITY_VERSION_3, 0
	};
	struct __user_cap_data_struct data[2];
	int i;

	for (i = 0; i < 2; i++) {
		data[i].permitted = (uint32_t)(permitted >> (32 * i));
		data[i].effective = (uint32_t)(effective >> (32 * i));
		data[i].inheritable = (uint32_t)(inheritable >> (32 * i));
	}
	return ((int)syscall(SYS_capset, &hdr, data));
}
#endif

/* Whether we hold cap now: one capget(2), for every check before the fork. */
bool
caps_effective(int cap)
{
#ifdef __linux__
	static struct __user_cap_data_struct data[2];
	static bool got;

	if (!got) {
		if (get(data) == -1)
			return (geteuid() == 0);
		got = true;
	}
	return ((bits(data, 'e') >> cap & 1) != 0);
#else
	(void)cap;
	return (geteuid() == 0);
#endif
}

#if defined(__linux__) && defined(PR_CAP_AMBIENT)
/* Each one ours to give: in our effective and bounding sets. */
static void
held(const struct daemon_state *ds)
{
	char name[32];
	int c, bounded;

	for (c = 0; c < NCAPS; c++) {
		if ((ds->caps >> c & 1) == 0)
			continue;
		if ((bounded = prctl(PR_CAPBSET_READ, c, 0, 0, 0)) == -1)
			errx(EXIT_ERR, "--caps %s: this kernel has no %s",
			    ds->caps_arg, upper(c, name, sizeof(name)));
		if (!caps_effective(c) || bounded != 1)
			errx(EXIT_ERR, "--caps %s: we do not have %s "
			    "ourselves", ds->caps_arg,
			    upper(c, name, sizeof(name)));
	}
}
#endif

/* Before the fork: a user to keep them for, who is not root. */
void
caps_check(const struct daemon_state *ds)
{
	if (ds->caps_arg == NULL)
		return;
#if !defined(__linux__) || !defined(PR_CAP_AMBIENT)
	errx(EXIT_USAGE, "--caps: not on this system");
#else
	if (ds->user_spec == NULL || (ds->change_user && ds->uid == 0))
		errx(EXIT_USAGE, "--caps: needs -u naming a user other than "
		    "root");
	if (!ds->change_user)
		errx(EXIT_ERR, "--caps %s: needs root", ds->caps_arg);
	held(ds);
#endif
}

/* Before the drop: setuid(2) is to keep the permitted set, for now. */
int
caps_keep(const struct daemon_state *ds)
{
	if (ds->caps_arg == NULL)
		return (0);
#ifdef __linux__
	return (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
#else
	errno = ENOSYS;
	return (-1);
#endif
}

/*
 * Right after setuid(2), before the drop is verified: exactly these in
 * the permitted and inheritable sets, none effective, and the kernel
 * asked whether that is what we have.  Without --caps the kernel has
 * emptied every set already.
 */
int
caps_narrow(const struct daemon_state *ds)
{
#ifdef __linux__
	struct __user_cap_data_struct data[2];

	if (ds->caps_arg == NULL)
		return (0);
	if (set(ds->caps, 0, ds->caps) == -1 ||
	    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1 || get(data) == -1)
		return (-1);
	if (bits(data, 'p') != ds->caps || bits(data, 'i') != ds->caps ||
	    bits(data, 'e') != 0) {
		errno = EPERM;
		return (-1);
	}
	return (0);
#else
	(void)ds;
	return (0);
#endif
}

/*
 * As the user: the ambient set is what survives an exec of a program
 * without file capabilities, and becomes its effective set.
 */
int
caps_raise(const struct daemon_state *ds, int *cap)
{
	int c;

	for (c = 0; c < NCAPS; c++) {
		if ((ds->caps >> c & 1) == 0)
			continue;
		*cap = c;
#if defined(__linux__) && defined(PR_CAP_AMBIENT)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) == -1)
			return (-1);
#else
		errno = ENOSYS;
		return (-1);
#endif
	}
	return (0);
}
