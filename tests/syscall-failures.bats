#!/usr/bin/env bats
# System calls that fail on purpose (strace fault injection): each failure
# is reported with its step, and leaves no pidfile and no process.

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
