#!/usr/bin/env bats
# System calls that fail on purpose (strace fault injection): each failure
# is reported with its step, and leaves no pidfile and no process; in the
# supervisor's own loop, what passes is survived and the rest is logged.

load test_helper/common

# fails_at MESSAGE STRACE-OPTIONS... -- DAEMONIZE-ARGS...: exit 1 with
# MESSAGE, nothing left behind.
fails_at() {
	local msg=$1
	shift
	run -1 --separate-stderr traced "$@"
	assert_equal "$stderr" "$msg"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "a failing setuid stops the start and leaves no process running as root" {
	need_root
	need_strace
	fails_at "daemonize: sleep: setuid nobody: Resource temporarily unavailable" \
		-e trace=setuid -e inject=setuid:error=EAGAIN -- \
		-u nobody -p "$T/d.pid" sleep 300
}

@test "a failing setgid stops the start" {
	need_root
	need_strace
	fails_at "daemonize: sleep: setgid 65534: Resource temporarily unavailable" \
		-e trace=setgid -e inject=setgid:error=EAGAIN -- \
		-u nobody -p "$T/d.pid" sleep 300
}

@test "a failing setgroups in the daemon stops the start" {
	need_root
	need_strace
	fails_at "daemonize: sleep: setgroups: Operation not permitted" \
		-e trace=setgroups -e inject=setgroups:error=EPERM -- \
		-u nobody -p "$T/d.pid" sleep 300
}

@test "a failing setgroups while opening the log as the user stops the start" {
	need_root
	need_strace
	local dir
	dir=$(public_dir)
	chown nobody "$dir"
	fails_at "daemonize: acting as nobody to open the logs: setgroups: Operation not permitted" \
		-e trace=setgroups -e inject=setgroups:error=EPERM -- \
		-u nobody -p "$T/d.pid" -l "$dir/d.log" sleep 300
	[ ! -e "$dir/d.log" ]
}

@test "a failing exec of the command is reported and removes the pidfile" {
	need_strace
	printf '#!/bin/sh\nexec sleep 300\n' >"$T/cmd"
	chmod 755 "$T/cmd"
	# -P traces only the calls naming the command, so only its exec fails.
	run -126 --separate-stderr traced -P "$T/cmd" -e trace=execve \
		-e inject=execve:error=EACCES -- -p "$T/d.pid" "$T/cmd"
	assert_equal "$stderr" "daemonize: $T/cmd: Permission denied"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "a failing fork is reported" {
	need_strace
	fails_at "daemonize: fork: Resource temporarily unavailable" \
		-e trace=clone,clone3,fork,vfork \
		-e inject=clone,clone3,fork,vfork:error=EAGAIN -- \
		-p "$T/d.pid" sleep 300
}

@test "a failing setsid in the middle process is reported" {
	need_strace
	fails_at "daemonize: setsid: Operation not permitted" \
		-e trace=setsid -e inject=setsid:error=EPERM -- \
		-p "$T/d.pid" sleep 300
}

@test "a failing pipe2 is reported" {
	need_strace
	fails_at "daemonize: pipe: Too many open files" \
		-e trace=pipe2 -e inject=pipe2:error=EMFILE -- \
		-p "$T/d.pid" sleep 300
}

@test "a failing dup2 is reported" {
	need_strace
	fails_at "daemonize: sleep: standard streams: Bad file descriptor" \
		-e trace=dup2,dup3 -e inject=dup2,dup3:error=EBADF -- \
		-p "$T/d.pid" sleep 300
}

@test "a failing close_range is reported" {
	need_strace
	fails_at "daemonize: sleep: closing inherited descriptors: Invalid argument" \
		-e trace=close_range -e inject=close_range:error=EINVAL -- \
		-p "$T/d.pid" sleep 300
}

@test "a failing write of the pidfile is reported and removes it" {
	need_strace
	fails_at "daemonize: sleep: writing $T/d.pid: No space left on device" \
		-e trace=pwrite64 -e inject=pwrite64:error=ENOSPC -- \
		-p "$T/d.pid" sleep 300
}

@test "a failing flock is reported and creates nothing to keep" {
	need_strace
	fails_at "daemonize: $T/d.pid: No locks available" \
		-e trace=flock -e inject=flock:error=ENOLCK -- \
		-p "$T/d.pid" sleep 300
}

# The supervisor's own loop, with strace attached to it while it runs.

# start_supervisor [OPTIONS...]: -r of "sleep 300" that respawns at
# once whatever ends it, with -P sv.pid, -p d.pid and -l d.log; sets
# $sup and $child, both remembered.
start_supervisor() {
	run -0 leak_checks_off "$DAEMONIZE" --respawn=always --min-uptime 0 \
		--max-failures 100 --backoff-max 1 -P "$T/sv.pid" -p "$T/d.pid" \
		-l "$T/d.log" "$@" 3>&-
	sup=$(cat "$T/sv.pid")
	child=$(cat "$T/d.pid")
	remember "$sup"
	remember "$child"
}

# respawned: the pidfile names a new run, neither $child nor $sup; it
# becomes $child, remembered.
respawned() {
	local old=$child
	wait_until 5 sh -c "c=\$(cat '$T/d.pid' 2>/dev/null) &&
		[ \"\$c\" != $old ] &&
		[ \"\$c\" != $sup ]" || return 1
	child=$(cat "$T/d.pid")
	remember "$child"
	alive "$child"
}

@test "failed forks in the supervisor leak no descriptors, and it starts the run once fork works again" {
	need_strace
	start_supervisor sleep 300
	local before
	before=$(fd_count "$sup")
	# glibc's fork is clone; the fourth one works.
	trace_running "$sup" -e trace=clone,clone3,fork,vfork \
		-e inject=clone,clone3,fork,vfork:error=EAGAIN:when=1..3
	kill -KILL "$child"
	respawned
	end_trace
	run grep -c 'could not start: fork: Resource temporarily unavailable' \
		"$T/d.log"
	assert_output 3
	assert_equal "$(fd_count "$sup")" "$before"
}

@test "a failed pipe2 in the supervisor is named as such and leaks no descriptors" {
	need_strace
	start_supervisor sleep 300
	local before
	before=$(fd_count "$sup")
	# The third of a run's three pipes fails, once.
	trace_running "$sup" -e trace=pipe2 -e inject=pipe2:error=EMFILE:when=3
	kill -KILL "$child"
	respawned
	end_trace
	run grep 'could not start' "$T/d.log"
	assert_output "daemonize: sleep: could not start: pipe: Too many open files"
	assert_equal "$(fd_count "$sup")" "$before"
}

@test "poll failing for want of memory is retried: the supervisor stays and still respawns its run" {
	need_strace
	start_supervisor sleep 300
	trace_running "$sup" -e trace=poll,ppoll \
		-e inject=poll,ppoll:error=ENOMEM:when=1..3
	kill -KILL "$child"
	respawned
	end_trace
	alive "$sup"
	run grep -c '^daemonize: poll: trying again: Cannot allocate memory$' \
		"$T/d.log"
	assert_output 1
	run -0 "$DAEMONIZE" --stop -P "$T/sv.pid"
}

# poll_breaks: every poll(2) of the supervisor fails with EINVAL from
# now on; it must leave, and its run with it.
poll_breaks() {
	trace_running "$sup" -e trace=poll,ppoll \
		-e inject=poll,ppoll:error=EINVAL
	# Any signal wakes it up to its next poll.
	kill -WINCH "$sup"
	wait_until 5 gone "$sup"
	wait_until 5 gone "$child"
	end_trace
}

@test "any other poll failure is logged, and the supervisor leaves with its run and its pidfiles" {
	need_strace
	start_supervisor sleep 300
	poll_breaks
	run cat "$T/d.log"
	assert_output "daemonize: poll: the supervisor stops: Invalid argument"
	[ ! -e "$T/sv.pid" ] && [ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "a supervisor that leaves on a poll failure kills a run that ignores SIGTERM after --stop-timeout" {
	need_strace
	start_supervisor --stop-timeout 1 sh -c 'trap "" TERM; exec sleep 300'
	poll_breaks
	[ ! -e "$T/sv.pid" ] && [ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "a failing read of the self-pipe loses no signal: the supervisor still passes it on" {
	need_strace
	start_supervisor sh -c 'trap "echo got USR1" USR1
		while :; do sleep 0.02; done'
	local pipe
	pipe=$(self_pipe "$sup")
	# -P: only the reads of the self-pipe fail, for as long as it is traced.
	trace_running "$sup" -e trace=read -P "$pipe" \
		-e inject=read:error=EIO
	kill -USR1 "$sup"
	wait_until 5 grep -qx 'got USR1' "$T/d.log"
	end_trace
	alive "$sup"
	[ "$(cat "$T/d.pid")" = "$child" ]
	run -0 "$DAEMONIZE" --stop -P "$T/sv.pid"
}
