#!/usr/bin/env bats
# Where the daemon's output goes: log files, opened safely, never truncated.

load test_helper/common

@test "-l appends stdout and stderr to one file and never truncates it" {
	echo "line from before" >"$T/d.log"
	run -0 "$DAEMONIZE" -p "$T/d.pid" -l "$T/d.log" \
		sh -c 'echo out; echo err >&2' 3>&-
	wait_until 5 finished "$T/d.pid"
	run cat "$T/d.log"
	assert_output "line from before
out
err"
}

@test "-o and -e send each stream to its own file" {
	run -0 "$DAEMONIZE" -p "$T/d.pid" -o "$T/out.log" -e "$T/err.log" \
		sh -c 'echo out; echo err >&2' 3>&-
	wait_until 5 finished "$T/d.pid"
	[ "$(cat "$T/out.log")" = out ]
	[ "$(cat "$T/err.log")" = err ]
}

@test "-o and -e may name the same file and share one open file" {
	start_sleeper "$T/d.pid" --stdout "$T/both.log" --stderr "$T/both.log"
	local pid
	pid=$(cat "$T/d.pid")
	[ "$(readlink "/proc/$pid/fd/1")" = "$T/both.log" ]
	[ "$(readlink "/proc/$pid/fd/2")" = "$T/both.log" ]
}

@test "a later -e overrides the stderr half of -l" {
	run -0 "$DAEMONIZE" -p "$T/d.pid" -l "$T/all.log" -e "$T/err.log" \
		sh -c 'echo out; echo err >&2' 3>&-
	wait_until 5 finished "$T/d.pid"
	[ "$(cat "$T/all.log")" = out ]
	[ "$(cat "$T/err.log")" = err ]
}

@test "a new log file is created with mode 0640 whatever the umask" {
	umask 000
	start_sleeper "$T/d.pid" -l "$T/d.log"
	[ "$(stat -c %a "$T/d.log")" = 640 ]
}

@test "an existing log file keeps its mode" {
	touch "$T/d.log"
	chmod 600 "$T/d.log"
	start_sleeper "$T/d.pid" -l "$T/d.log"
	[ "$(stat -c %a "$T/d.log")" = 600 ]
}

@test "the log is opened for appending" {
	start_sleeper "$T/d.pid" -l "$T/d.log"
	local pid flags
	pid=$(cat "$T/d.pid")
	flags=$(awk '/^flags:/ { print "0" $2 }' "/proc/$pid/fdinfo/1")
	# O_APPEND is 02000 on Linux.
	[ $(( flags & 02000 )) != 0 ]
}

@test "a symlinked log is refused, its target untouched and no pidfile left" {
	echo precious >"$T/target"
	ln -s "$T/target" "$T/d.log"
	run -1 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" -l "$T/d.log" \
		sleep 300 3>&-
	assert_equal "$stderr" "daemonize: $T/d.log: is a symbolic link, refused"
	[ "$(cat "$T/target")" = precious ]
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "a FIFO or a directory as log is refused without blocking" {
	mkfifo "$T/fifo.log"
	mkdir "$T/dir.log"
	run -1 --separate-stderr timeout 10 "$DAEMONIZE" -p "$T/d.pid" \
		-o "$T/fifo.log" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: $T/fifo.log: not a regular file, refused"
	run -1 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" \
		-e "$T/dir.log" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: $T/dir.log: not a regular file, refused"
	[ ! -e "$T/d.pid" ]
}

@test "a relative log is resolved against the caller's directory" {
	mkdir "$T/here"
	cd "$T/here"
	run -0 "$DAEMONIZE" -p "$T/d.pid" -l rel.log sh -c 'echo hello' 3>&-
	wait_until 5 finished "$T/d.pid"
	[ "$(cat "$T/here/rel.log")" = hello ]
}
