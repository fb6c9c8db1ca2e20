#!/usr/bin/env bats
# The detach sequence: what the daemon looks like from /proc.

load test_helper/common

@test "the daemon's parent is neither the caller nor the middle process" {
	"$DAEMONIZE" -p "$T/d.pid" sleep 300 3>&- &
	local launcher=$!
	wait "$launcher"
	remember_pidfile "$T/d.pid"
	local pid ppid
	pid=$(cat "$T/d.pid")
	ppid=$(stat_field "$pid" 4)
	[ "$ppid" != "$launcher" ]
	[ "$ppid" != "$$" ]
	# The middle process was a daemonize too; the new parent is a reaper.
	run readlink "/proc/$ppid/exe"
	refute_output "$(readlink -f "$DAEMONIZE")"
}

@test "the daemon is in a new session that it does not lead" {
	start_sleeper "$T/d.pid"
	local pid sid
	pid=$(cat "$T/d.pid")
	sid=$(stat_field "$pid" 6)
	[ "$sid" != "$pid" ]
	[ "$sid" != "$(stat_field $$ 6)" ]
	# It leads a process group of its own, so a failed start can be
	# stopped with its children; leading a group gives no terminal.
	[ "$(stat_field "$pid" 5)" = "$pid" ]
}

@test "the daemon has no controlling terminal" {
	start_sleeper "$T/d.pid"
	[ "$(stat_field "$(cat "$T/d.pid")" 7)" = 0 ]
}

@test "the daemon has no controlling terminal even when started from a pseudo-terminal" {
	# First prove that script(1) gives its command a terminal here.
	run script -qec "cat /proc/self/stat" /dev/null </dev/null
	assert_success
	local tty
	tty=$(printf '%s\n' "$output" | tr -d '\r' | sed 's/^.*) //' | awk '{ print $5 }')
	[ "$tty" != 0 ]

	run script -qec "'$DAEMONIZE' -p '$T/d.pid' sleep 300" /dev/null </dev/null 3>&-
	remember_pidfile "$T/d.pid"
	assert_success
	[ "$(stat_field "$(cat "$T/d.pid")" 7)" = 0 ]
}

@test "the daemon runs in / with umask 022 by default" {
	start_sleeper "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	[ "$(readlink "/proc/$pid/cwd")" = / ]
	[ "$(status_field "$pid" Umask)" = 0022 ]
}

@test "-c and -m set the working directory and the umask" {
	mkdir "$T/work"
	start_sleeper "$T/d.pid" -c "$T/work" -m 0077
	local pid
	pid=$(cat "$T/d.pid")
	[ "$(readlink "/proc/$pid/cwd")" = "$T/work" ]
	[ "$(status_field "$pid" Umask)" = 0077 ]
}

@test "a relative -c is resolved against the caller's directory" {
	mkdir -p "$T/sub/work"
	cd "$T/sub"
	start_sleeper "$T/d.pid" --chdir work --umask 7
	local pid
	pid=$(cat "$T/d.pid")
	[ "$(readlink "/proc/$pid/cwd")" = "$T/sub/work" ]
	[ "$(status_field "$pid" Umask)" = 0007 ]
}

@test "the daemon has only stdin, stdout, stderr and the pidfile lock open" {
	start_sleeper "$T/d.pid" -l "$T/d.log" 5>"$T/five" 200>"$T/twohundred"
	run fds_of "$(cat "$T/d.pid")"
	assert_output "0 -> /dev/null
1 -> $T/d.log
2 -> $T/d.log
3 -> $T/d.pid"
}

@test "without a log the daemon's stdout and stderr are /dev/null and stdin is read-only" {
	start_sleeper "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	run fds_of "$pid"
	assert_output "0 -> /dev/null
1 -> /dev/null
2 -> /dev/null
3 -> $T/d.pid"
	# flags are octal: the low two bits are the access mode.
	[ $(( $(awk '/^flags:/ { print "0" $2 }' "/proc/$pid/fdinfo/0") & 3 )) = 0 ]
	[ $(( $(awk '/^flags:/ { print "0" $2 }' "/proc/$pid/fdinfo/1") & 3 )) = 1 ]
}

@test "without a pidfile the daemon keeps only descriptors 0, 1 and 2" {
	"$DAEMONIZE" -o "$T/out" sh -c 'echo $$; exec sleep 300' 3>&- 7>"$T/seven"
	wait_until 5 grep -q . "$T/out"
	local pid
	pid=$(cat "$T/out")
	remember "$pid"
	wait_until 5 test "$(readlink "/proc/$pid/exe")" != "$(readlink -f /bin/sh)"
	run fds_of "$pid"
	assert_output "0 -> /dev/null
1 -> $T/out
2 -> /dev/null"
}

@test "a listening socket of the caller is not inherited and its port can be bound again" {
	run python3 - "$DAEMONIZE" "$T/d.pid" 3>&- <<'PY'
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
os.set_inheritable(s.fileno(), True)
print(s.getsockname()[1], flush=True)
os.execv(sys.argv[1], [sys.argv[1], "-p", sys.argv[2], "sleep", "300"])
PY
	remember_pidfile "$T/d.pid"
	assert_success
	local port=$output
	run fds_of "$(cat "$T/d.pid")"
	refute_output --partial socket:
	run python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
' "$port"
	assert_success
}

@test "signals the caller ignored or blocked are reset for the daemon" {
	local wrap='
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
os.execv(sys.argv[1], sys.argv[1:])
'
	# The wrapper really does ignore and block: seen by a plain exec.
	run python3 -c "$wrap" /bin/grep -E '^Sig(Ign|Blk)' /proc/self/status
	assert_line --regexp '^SigIgn:.*[1-9a-f]'
	assert_line --regexp '^SigBlk:.*[1-9a-f]'

	python3 -c "$wrap" "$DAEMONIZE" -p "$T/d.pid" sleep 300 3>&-
	remember_pidfile "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	[ "$(status_field "$pid" SigIgn)" = 0000000000000000 ]
	[ "$(status_field "$pid" SigBlk)" = 0000000000000000 ]
}

@test "a caller with descriptors 0, 1 and 2 closed still gets everything in the right place" {
	"$DAEMONIZE" -p "$T/d.pid" -l "$T/d.log" \
		sh -c 'echo to-stdout; echo to-stderr >&2; exec sleep 300' \
		<&- >&- 2>&- 3>&-
	local rc=$?
	remember_pidfile "$T/d.pid"
	[ "$rc" = 0 ]
	wait_until 5 grep -q to-stderr "$T/d.log"
	run cat "$T/d.log"
	assert_line to-stdout
	assert_line to-stderr
	run fds_of "$(cat "$T/d.pid")"
	assert_output "0 -> /dev/null
1 -> $T/d.log
2 -> $T/d.log
3 -> $T/d.pid"
}

@test "inherited descriptors are closed in one call whatever the descriptor limit" {
	command -v strace >/dev/null || skip "strace is not installed"
	ulimit -n "$(ulimit -Hn)"
	# strace -f waits for every traced process: the daemon must end.
	# LeakSanitizer cannot run under ptrace, in a sanitizer build.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	run strace -f -qq -e trace=close,close_range -o "$T/trace" \
		"$DAEMONIZE" -p "$T/d.pid" true 3>&- 9>"$T/nine"
	assert_success
	run grep -c 'close_range(' "$T/trace"
	[ "$output" -ge 1 ]
	# A loop over the limit would show thousands of close(2) calls.
	run grep -c ' close(' "$T/trace"
	[ "$output" -lt 50 ]
}

@test "-f runs the command in the foreground with the pidfile naming its own pid" {
	run "$DAEMONIZE" -f -p "$T/f.pid" -o "$T/f.out" sh -c '
		echo "$$ $(cat '"$T"'/f.pid)"
		readlink /proc/$$/fd/3
		[ -e /proc/$$/fd/4 ] || echo no-fd-4
		echo "sid $(ps -o sid= -p $$)"' 3>&-
	assert_success
	run cat "$T/f.out"
	read -r shpid filepid <"$T/f.out"
	[ "$shpid" = "$filepid" ]
	assert_line "$T/f.pid"
	assert_line no-fd-4
	# No fork and no setsid: it stayed in the caller's session.
	assert_line --regexp "^sid +$(stat_field $$ 6)\$"
}

@test "-f reports a command that cannot run and leaves no pidfile" {
	run -127 --separate-stderr "$DAEMONIZE" -f -p "$T/f.pid" "$T/missing"
	[ "$stderr" = "daemonize: $T/missing: No such file or directory" ]
	[ ! -e "$T/f.pid" ]
}
