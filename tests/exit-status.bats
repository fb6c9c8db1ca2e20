#!/usr/bin/env bats
# Every failure reaches the caller: one line, its status, nothing left behind.

load test_helper/common

# refused STATUS MESSAGE ARGS...: daemonize ARGS fails with STATUS and
# MESSAGE as its only output, leaving no pidfile and no process.
refused() {
	local want=$1 msg=$2
	shift 2
	run "-$want" --separate-stderr "$DAEMONIZE" -p "$T/d.pid" "$@" 3>&-
	assert_equal "$stderr" "$msg"
	assert_equal "$output" ""
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "a command not found in PATH exits 127" {
	refused 127 "daemonize: no-such-command-here: command not found" \
		no-such-command-here
}

@test "a missing command path exits 127" {
	refused 127 "daemonize: ./missing: No such file or directory" ./missing
}

@test "a file without execute permission exits 126" {
	printf '#!/bin/sh\nexit 0\n' >"$T/noexec"
	chmod 644 "$T/noexec"
	refused 126 "daemonize: $T/noexec: Permission denied" "$T/noexec"
}

@test "a command found in PATH without execute permission exits 126" {
	mkdir "$T/bin"
	printf '#!/bin/sh\n' >"$T/bin/tool"
	chmod 644 "$T/bin/tool"
	PATH="$T/bin:$PATH" refused 126 \
		"daemonize: tool: found in PATH but not executable" tool
}

@test "a directory as command exits 126" {
	mkdir "$T/adir"
	refused 126 "daemonize: $T/adir: is a directory" "$T/adir"
}

@test "a script with a missing interpreter exits 126 and names it" {
	printf '#!/nonexistent/interp -x\necho hi\n' >"$T/script"
	chmod 755 "$T/script"
	refused 126 \
		"daemonize: $T/script: bad interpreter /nonexistent/interp: No such file or directory" \
		"$T/script"
}

@test "a file in no executable format exits 126" {
	printf '\001\002\003 garbage\n' >"$T/garbage"
	chmod 755 "$T/garbage"
	refused 126 "daemonize: $T/garbage: Exec format error" "$T/garbage"
}

@test "a working directory that does not exist exits 1" {
	refused 1 "daemonize: sleep: chdir $T/nowhere: No such file or directory" \
		-c "$T/nowhere" sleep 300
}

@test "a pidfile in a missing directory exits 1" {
	run -1 --separate-stderr "$DAEMONIZE" -p "$T/no/d.pid" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: $T/no/d.pid: No such file or directory"
	no_process_mentions "$T/"
}

@test "a log in a missing directory exits 1 and removes the pidfile" {
	refused 1 "daemonize: $T/no/d.log: No such file or directory" \
		-l "$T/no/d.log" sleep 300
}

@test "a failed exec removes the log file it created" {
	refused 127 "daemonize: ./missing: No such file or directory" \
		-l "$T/d.log" ./missing
	[ ! -e "$T/d.log" ]
}

@test "a failed exec keeps an existing log file as it was" {
	echo "earlier line" >"$T/d.log"
	refused 127 "daemonize: ./missing: No such file or directory" \
		-l "$T/d.log" ./missing
	[ "$(cat "$T/d.log")" = "earlier line" ]
}

@test "a failed exec removes a stale pidfile it had taken over" {
	echo 99999999 >"$T/d.pid"
	refused 127 "daemonize: ./missing: No such file or directory" ./missing
}

@test "exit status 0 means the command is already running" {
	run -0 "$DAEMONIZE" -p "$T/d.pid" sleep 300 3>&-
	remember_pidfile "$T/d.pid"
	assert_output ""
	alive "$(cat "$T/d.pid")"
}
