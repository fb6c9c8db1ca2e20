#!/usr/bin/env bats
# The pidfile: its content, its lock, and the starts it refuses.

load test_helper/common

@test "the pidfile holds the daemon's pid and a newline before the caller returns" {
	start_sleeper "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	[ "$(od -An -c "$T/d.pid" | tr -d ' ')" = "${pid}\n" ]
	# Already the command, not a daemonize on its way to exec.
	[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$(command -v sleep)")" ]
}

@test "the pidfile is mode 0644 whatever the umask" {
	umask 077
	start_sleeper "$T/d.pid"
	[ "$(stat -c %a "$T/d.pid")" = 644 ]
}

@test "the lock is held while the daemon lives and released when it dies" {
	start_sleeper "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	run flock -n "$T/d.pid" true
	assert_failure
	kill "$pid"
	wait_until 5 gone "$pid"
	run flock -n "$T/d.pid" true
	assert_success
}

@test "a second start is refused with status 3, names the pid and leaves the file untouched" {
	start_sleeper "$T/d.pid"
	local pid before
	pid=$(cat "$T/d.pid")
	before=$(stat -c '%i %s %Y %a' "$T/d.pid")
	run -3 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: $T/d.pid: already running as pid $pid"
	[ "$(cat "$T/d.pid")" = "$pid" ]
	[ "$(stat -c '%i %s %Y %a' "$T/d.pid")" = "$before" ]
	alive "$pid"
}

@test "twenty starts at once give exactly one daemon" {
	local i
	for i in $(seq 20); do
		( set +e; "$DAEMONIZE" -p "$T/d.pid" sleep 300 3>&- 2>/dev/null
		  echo $? >"$T/rc.$i" ) &
	done
	wait
	remember_pidfile "$T/d.pid"
	run sort "$T"/rc.*
	assert_output "$(printf '0\n'; printf '3\n%.0s' $(seq 19))"
	alive "$(cat "$T/d.pid")"
	# Exactly one sleep runs with our pidfile locked.
	run sh -c "ls -l /proc/[0-9]*/fd/3 2>/dev/null | grep -c -- '-> $T/d.pid\$'"
	assert_output 1
}

@test "a stale pidfile left by a daemon killed with SIGKILL is taken over" {
	start_sleeper "$T/d.pid"
	local old
	old=$(cat "$T/d.pid")
	kill -KILL "$old"
	wait_until 5 gone "$old"
	start_sleeper "$T/d.pid"
	local new
	new=$(cat "$T/d.pid")
	[ "$new" != "$old" ]
	alive "$new"
}

@test "a stale pidfile naming a live unrelated process is taken over" {
	# $$ is alive, but it does not hold the lock: the lock decides.
	echo $$ >"$T/d.pid"
	start_sleeper "$T/d.pid"
	[ "$(cat "$T/d.pid")" != $$ ]
}

@test "a stale pidfile with garbage in it is taken over" {
	printf 'not a pid at all, and longer than the pid will be\n' >"$T/d.pid"
	start_sleeper "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	[ "$(od -An -c "$T/d.pid" | tr -d ' ')" = "${pid}\n" ]
}

@test "a symlinked pidfile is refused and its target untouched" {
	echo precious >"$T/target"
	ln -s "$T/target" "$T/d.pid"
	run -1 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: $T/d.pid: is a symbolic link, refused"
	[ "$(cat "$T/target")" = precious ]
	[ -L "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "a dangling symlink as pidfile is refused and nothing is created" {
	ln -s "$T/nowhere" "$T/d.pid"
	run -1 "$DAEMONIZE" -p "$T/d.pid" sleep 300 3>&-
	[ ! -e "$T/nowhere" ]
}

@test "a pidfile that is a directory or a FIFO is refused" {
	mkdir "$T/dir.pid"
	mkfifo "$T/fifo.pid"
	run -1 --separate-stderr "$DAEMONIZE" -p "$T/dir.pid" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: $T/dir.pid: not a regular file, refused"
	run -1 --separate-stderr "$DAEMONIZE" -p "$T/fifo.pid" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: $T/fifo.pid: not a regular file, refused"
	[ -d "$T/dir.pid" ] && [ -p "$T/fifo.pid" ]
	no_process_mentions "$T/"
}

@test "a relative pidfile is resolved against the caller's directory" {
	mkdir "$T/here"
	cd "$T/here"
	start_sleeper rel.pid
	[ -s "$T/here/rel.pid" ]
	run flock -n "$T/here/rel.pid" true
	assert_failure
}

@test "the daemon's lock descriptor is read-only" {
	start_sleeper "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	[ "$(readlink "/proc/$pid/fd/3")" = "$T/d.pid" ]
	[ $(( $(awk '/^flags:/ { print "0" $2 }' "/proc/$pid/fdinfo/3") & 3 )) = 0 ]
}

@test "a stale pid is not shown while a new start holds the lock" {
	command -v strace >/dev/null || skip "strace is not installed"
	echo 1 >"$T/d.pid"
	# Hold the new daemon just before it writes its pid.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -o /dev/null -e trace=umask \
		-e inject=umask:delay_enter=1500000 \
		"$DAEMONIZE" -p "$T/d.pid" true 3>&- &
	local launcher=$!
	wait_until 5 sh -c "! flock -n '$T/d.pid' true"
	# Locked, empty: running, pid not yet known; never the stale "1".
	run -0 --separate-stderr "$DAEMONIZE" --status -p "$T/d.pid"
	assert_output running
	wait "$launcher"
}
