# common.bash: shared setup for the daemonize bats suite.
#
# Every test works in its own $BATS_TEST_TMPDIR.  Daemons are started
# with fd 3 closed (bats waits on it otherwise) and remembered by the pid
# in their pidfile, so that teardown ends exactly what the test started.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

common_setup() {
	if [ -z "${DAEMONIZE:-}" ]; then
		DAEMONIZE="$(cd "$BATS_TEST_DIRNAME/.." && pwd)/src/daemonize"
	fi
	[ -x "$DAEMONIZE" ] || {
		echo "no daemonize binary at $DAEMONIZE (run make first)" >&2
		return 1
	}
	export DAEMONIZE
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

# End every process the test remembered, by pid, and wait for it.
common_teardown() {
	local pid dir
	if [ -f "$T/.dirs" ]; then
		while read -r dir; do
			rm -rf -- "$dir"
		done <"$T/.dirs"
	fi
	if [ ! -f "$T/.started" ]; then
		unmount_remembered
		return 0
	fi
	while read -r pid; do
		[ -n "$pid" ] || continue
		kill -KILL "$pid" 2>/dev/null || true
	done <"$T/.started"
	while read -r pid; do
		[ -n "$pid" ] || continue
		wait_until 5 gone "$pid" || true
	done <"$T/.started"
	unmount_remembered
}

# remember_mount DIR: teardown unmounts it, once what used it is gone.
remember_mount() {
	echo "$1" >>"$T/.mounts"
}

unmount_remembered() {
	local dir
	[ -f "$T/.mounts" ] || return 0
	while read -r dir; do
		umount "$dir" 2>/dev/null || umount -l "$dir" || true
	done <"$T/.mounts"
	rm -f "$T/.mounts"
}

setup() { common_setup; }
teardown() { common_teardown; }

# remember PID: teardown will end it.
remember() {
	echo "$1" >>"$T/.started"
}

# remember_pidfile FILE: remember the pid a pidfile names.
remember_pidfile() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 0
	[ -n "$pid" ] && remember "$pid"
	return 0
}

# wait_until SECONDS COMMAND...: poll every 20 ms until COMMAND succeeds.
wait_until() {
	local limit=$(( $1 * 50 )) i=0
	shift
	until "$@"; do
		i=$((i + 1))
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.02
	done
}

# stat_field PID N: field N of /proc/PID/stat, counting as proc(5) does
# (1 is the pid, 3 the state); the name in field 2 may hold spaces.
stat_field() {
	[ -r "/proc/$1/stat" ] || return 1
	awk -v n="$2" '{ sub(/^.*\) /, ""); split($0, f, " "); print f[n - 2] }' \
		"/proc/$1/stat" 2>/dev/null
}

# alive PID: the process exists and is not a zombie.  A zombie has closed
# its descriptors already, so kill -0 would lie about it.
alive() {
	local state
	state=$(stat_field "$1" 3) || return 1
	[ "$state" != Z ] && [ "$state" != X ]
}

gone() { ! alive "$1"; }

# finished PIDFILE: the daemon the pidfile names has exited.
finished() {
	local pid
	pid=$(cat "$1") && gone "$pid"
}

# status_field PID NAME: a field of /proc/PID/status, e.g. SigIgn.
status_field() {
	awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' \
		"/proc/$1/status"
}

# fds_of PID: "fd -> target" lines for each open descriptor, sorted.
fds_of() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		printf '%s -> %s\n' "${fd##*/}" "$(readlink "$fd")"
	done | sort -n
}

# no_process_mentions STRING: no live process has STRING in its argv.
# Every daemonize a test starts names a file in $T, so this finds any
# launcher, middle process or daemon a failed start left behind.
no_process_mentions() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[ "$pid" = "$$" ] && continue
		[ "$pid" = "$BASHPID" ] && continue
		if tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "$1"; then
			alive "$pid" || continue
			echo "process $pid still mentions $1:" \
				"$(tr '\0' ' ' <"$f")" >&2
			return 1
		fi
	done
	return 0
}

# start_sleeper PIDFILE [OPTIONS...]: daemonize "sleep 300" and remember it.
start_sleeper() {
	local pf=$1
	shift
	"$DAEMONIZE" -p "$pf" "$@" sleep 300 3>&-
	local rc=$?
	remember_pidfile "$pf"
	return "$rc"
}

# need_root: skip unless we can change users.
need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

# need_strace: skip unless strace is installed.
need_strace() {
	command -v strace >/dev/null || skip "strace is not installed"
}

# public_dir: a fresh directory that every user may enter, removed in
# teardown; $T itself may sit below directories only root can enter.
public_dir() {
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/daemonize-test.XXXXXX")
	chmod 755 "$dir"
	echo "$dir" >>"$T/.dirs"
	echo "$dir"
}

# traced STRACE-OPTIONS... -- DAEMONIZE-ARGS...: run daemonize under
# strace -f, for system call fault injection.  LeakSanitizer cannot run
# under ptrace, in a sanitizer build.
traced() {
	local opts=()
	while [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		timeout 30 strace -f -qq -o /dev/null "${opts[@]}" \
		"$DAEMONIZE" "$@" 3>&-
}

# leak_checks_off COMMAND...: run COMMAND with LeakSanitizer off, for a
# daemon that strace will attach to later (trace_running): in a
# sanitizer build it cannot run under ptrace.
leak_checks_off() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$@"
}

# tracer_of PID: the pid tracing PID; fails while none does.
tracer_of() {
	local tracer
	tracer=$(status_field "$1" TracerPid 2>/dev/null) || return 1
	[ -n "$tracer" ] && [ "$tracer" != 0 ] && echo "$tracer"
}

# trace_running PID STRACE-OPTIONS...: attach strace -f to the running
# process PID, for fault injection into what it does from now on (and
# into the children it makes meanwhile, which -f traces too).  strace
# runs in the background under timeout, 30 s at most; $TRACER is
# timeout's pid, for end_trace.  Both are remembered for teardown.
# Returns once the kernel shows PID traced; skips the test where strace
# may not attach to a process that is not its child.
trace_running() {
	local pid=$1
	shift
	timeout 30 strace -f -qq -o /dev/null -p "$pid" "$@" 3>&- &
	TRACER=$!
	remember "$TRACER"
	wait_until 5 attached_or_refused "$pid" || return 1
	if ! tracer_of "$pid" >/dev/null; then
		end_trace
		alive "$pid" || return 1
		skip "strace cannot attach to a running process here"
	fi
	remember "$(tracer_of "$pid")"
}

# attached_or_refused PID: PID is traced, or strace ($TRACER) gave up.
attached_or_refused() {
	tracer_of "$1" >/dev/null || gone "$TRACER"
}

# end_trace: strace detaches (SIGTERM, through timeout) and is waited for.
end_trace() {
	kill -TERM "$TRACER" 2>/dev/null || true
	wait "$TRACER" || true
}

# children_of PID: the pids of PID's children, one a line.
children_of() {
	cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' ' '\n' |
		sed '/^$/d'
}

has_child() { [ -n "$(children_of "$1")" ]; }

# fd_count PID: how many descriptors PID has open.
fd_count() {
	local fds=(/proc/"$1"/fd/*)
	echo "${#fds[@]}"
}

# self_pipe PID: the one pipe both of whose ends PID holds, as /proc
# names it ("pipe:[123]"): a supervisor's self-pipe.
self_pipe() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		readlink "$fd"
	done | grep '^pipe:' | sort | uniq -d |
		awk '{ p = $0; n++ } END { if (n != 1) exit 1; print p }'
}

# fill_self_pipe PID: write zero bytes into PID's self-pipe until it
# takes no more.  Only a stopped PID keeps it full.
fill_self_pipe() {
	local fd pipe
	pipe=$(self_pipe "$1") || return 1
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" = "$pipe" ] && break
	done
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
for size in (4096, 1):
    for _ in range(1 << 20):
        try:
            os.write(fd, bytes(size))
        except BlockingIOError:
            break
    else:
        sys.exit("the pipe never filled")
' "$fd"
}

# signal_storm SECONDS SIGNAL PID: send SIGNAL (a name: HUP) to PID as
# fast as a loop can for SECONDS, or until PID is gone.  For the
# background; bounded in time and in count.
signal_storm() {
	timeout $(($1 + 5)) python3 -c '
import os, signal, sys, time
sig = signal.Signals["SIG" + sys.argv[2]]
pid = int(sys.argv[3])
end = time.monotonic() + float(sys.argv[1])
for _ in range(50_000_000):
    if time.monotonic() >= end:
        break
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        break
' "$@" 3>&- || true
}

# wait_for_new_child PIDFILE PID...: until the pidfile names a pid that
# is none of those given (the old child, the supervisor); teardown will
# end that new child.
wait_for_new_child() {
	local file=$1 cond pid
	shift
	cond="[ -s '$file' ]"
	for pid in "$@"; do
		cond="$cond && [ \"\$(cat '$file')\" != $pid ]"
	done
	wait_until 5 sh -c "$cond" || return 1
	remember "$(cat "$file")"
}

# refuses_unsupervised VERB...: "daemonize VERB..." against a plain
# daemon is exit 1, "not a supervised daemon", leaving it running; and
# against no daemon, by -p or -P, exit 3, "not running".
refuses_unsupervised() {
	start_sleeper "$T/p.pid"
	run -1 --separate-stderr "$DAEMONIZE" "$@" -p "$T/p.pid"
	assert_equal "$stderr" "daemonize: $T/p.pid: not a supervised daemon (-r): nothing asked"
	alive "$(cat "$T/p.pid")"
	run -3 --separate-stderr "$DAEMONIZE" "$@" -p "$T/none.pid"
	assert_equal "$stderr" "daemonize: $T/none.pid: not running"
	run -3 --separate-stderr "$DAEMONIZE" "$@" -P "$T/none.pid"
	assert_equal "$stderr" "daemonize: $T/none.pid: not running"
}

# table_options: "short long arg" for each row of the option table in
# src/options.c ("-" where there is no short letter; arg is
# required_argument, optional_argument or no_argument).
table_options() {
	awk '/^} opts\[\] = \{/ { on = 1; next }
		on && /^};/ { exit }
		on && match($0, /\{ "[a-z-]+", /) {
			name = substr($0, RSTART + 3, RLENGTH - 6)
			rest = substr($0, RSTART + RLENGTH)
			short = rest ~ /^'\''.'\''/ ? substr(rest, 2, 1) : "-"
			arg = "?"
			if (match(rest, /[a-z]+_argument/))
				arg = substr(rest, RSTART, RLENGTH)
			print short, name, arg
		}' "$BATS_TEST_DIRNAME/../src/options.c"
}
