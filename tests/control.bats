#!/usr/bin/env bats
# --status, --stop and --signal: decided by the pidfile's lock.

load test_helper/common

@test "--status says 0 and prints the pid while the daemon runs" {
	start_sleeper "$T/d.pid"
	run -0 --separate-stderr "$DAEMONIZE" --status -p "$T/d.pid"
	assert_output "$(cat "$T/d.pid")"
}

@test "--status says 1 for a pidfile whose daemon is gone" {
	start_sleeper "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	kill -KILL "$pid"
	wait_until 5 gone "$pid"
	run -1 --separate-stderr "$DAEMONIZE" --status -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: $T/d.pid: not running (stale pidfile)"
	[ -e "$T/d.pid" ]
}

@test "--status says 3 when there is no pidfile" {
	run -3 --separate-stderr "$DAEMONIZE" --status -p "$T/none.pid"
	assert_equal "$stderr" "daemonize: $T/none.pid: not running"
}

@test "--status says 4 when it cannot tell" {
	mkdir "$T/dir.pid"
	run -4 --separate-stderr "$DAEMONIZE" --status -p "$T/dir.pid"
	assert_equal "$stderr" "daemonize: $T/dir.pid: not a regular file"
}

@test "--status trusts the lock, not a live pid in an unlocked file" {
	echo $$ >"$T/d.pid"
	run -1 "$DAEMONIZE" --status -p "$T/d.pid"
}

@test "--stop ends the daemon, waits for its lock and removes the pidfile" {
	start_sleeper "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	run -0 --separate-stderr "$DAEMONIZE" --stop -v -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: $T/d.pid: pid $pid stopped"
	[ ! -e "$T/d.pid" ]
	# The lock was free when --stop returned: the process is done.
	wait_until 1 gone "$pid"
}

@test "--stop escalates to SIGKILL when the daemon ignores SIGTERM" {
	"$DAEMONIZE" -p "$T/d.pid" sh -c 'trap "" TERM; exec sleep 300' 3>&-
	remember_pidfile "$T/d.pid"
	local pid start
	pid=$(cat "$T/d.pid")
	start=$(date +%s)
	run -0 --separate-stderr "$DAEMONIZE" --stop -t 1 -p "$T/d.pid"
	assert_equal "$stderr" \
		"daemonize: $T/d.pid: pid $pid still running after 1 s, sending SIGKILL"
	[ $(( $(date +%s) - start )) -le 4 ]
	[ ! -e "$T/d.pid" ]
	gone "$pid"
}

@test "--stop -s sends the signal asked for" {
	"$DAEMONIZE" -p "$T/d.pid" -o "$T/out" sh -c '
		trap "echo got-usr2; exit 0" USR2
		while :; do sleep 0.05; done' 3>&-
	remember_pidfile "$T/d.pid"
	run -0 "$DAEMONIZE" --stop -s USR2 -p "$T/d.pid"
	[ "$(cat "$T/out")" = got-usr2 ]
}

@test "--stop of a stale pidfile whose pid was reused signals nobody" {
	sleep 300 3>&- &
	local unrelated=$!
	remember "$unrelated"
	echo "$unrelated" >"$T/d.pid"
	run -0 "$DAEMONIZE" --stop -p "$T/d.pid"
	alive "$unrelated"
	[ ! -e "$T/d.pid" ]
}

@test "--stop refuses to signal a pid that does not hold the lock" {
	start_sleeper "$T/d.pid"
	local daemon
	daemon=$(cat "$T/d.pid")
	sleep 300 3>&- &
	local unrelated=$!
	remember "$unrelated"
	# Someone rewrote the file; the lock is still the daemon's.
	cat >"$T/d.pid" <<<"$unrelated"
	run -1 --separate-stderr "$DAEMONIZE" --stop -p "$T/d.pid"
	assert_equal "$stderr" \
		"daemonize: $T/d.pid: locked, but pid $unrelated does not hold it: nothing signalled"
	alive "$unrelated"
	alive "$daemon"
}

@test "--stop says 0 when nothing runs" {
	run -0 --separate-stderr "$DAEMONIZE" --stop -p "$T/none.pid"
	assert_equal "$stderr" ""
}

@test "--signal sends a signal by name, with or without SIG, or by number" {
	"$DAEMONIZE" -p "$T/d.pid" -o "$T/out" sh -c '
		trap "echo hup" HUP; trap "echo usr1" USR1; trap "echo usr2" USR2
		while :; do sleep 0.05; done' 3>&-
	remember_pidfile "$T/d.pid"
	run -0 "$DAEMONIZE" --signal HUP -p "$T/d.pid"
	wait_until 5 grep -q hup "$T/out"
	run -0 "$DAEMONIZE" --signal SIGUSR1 -p "$T/d.pid"
	wait_until 5 grep -q usr1 "$T/out"
	run -0 "$DAEMONIZE" --signal 12 -p "$T/d.pid"
	wait_until 5 grep -q usr2 "$T/out"
}

@test "--signal says 3 when the daemon does not run" {
	run -3 --separate-stderr "$DAEMONIZE" --signal HUP -p "$T/none.pid"
	assert_equal "$stderr" "daemonize: $T/none.pid: not running"
	echo $$ >"$T/stale.pid"
	run -3 "$DAEMONIZE" --signal HUP -p "$T/stale.pid"
}

@test "the verbs check their options" {
	run -2 --separate-stderr "$DAEMONIZE" --status
	assert_equal "$stderr" "daemonize: --status: needs -p pidfile"
	run -2 --separate-stderr "$DAEMONIZE" --stop -p "$T/d.pid" sleep 1
	assert_equal "$stderr" "daemonize: --stop: takes no command"
	run -2 --separate-stderr "$DAEMONIZE" --signal NOPE -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: NOPE: no such signal"
	run -2 --separate-stderr "$DAEMONIZE" --status --stop -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: --stop: only one of --status, --stop, --signal, --restart, --reload and --upgrade"
	run -2 --separate-stderr "$DAEMONIZE" -s KILL -p "$T/d.pid" sleep 1
	assert_equal "$stderr" "daemonize: -s: only with --stop"
}

@test "a start meeting a --status probe still starts" {
	local i
	# A stale file, so that every probe takes its lock for a moment.
	echo 99999999 >"$T/d.pid"
	for i in $(seq 20); do
		"$DAEMONIZE" --status -p "$T/d.pid" >/dev/null 2>&1 &
	done
	start_sleeper "$T/d.pid"
	wait
	alive "$(cat "$T/d.pid")"
}

@test "--status says 4 when a leftover child holds the lock of a dead daemon" {
	"$DAEMONIZE" -p "$T/d.pid" sh -c 'sleep 300 & echo $! >'"$T"'/child; exit 0' 3>&-
	wait_until 5 test -s "$T/child"
	remember "$(cat "$T/child")"
	local pid
	pid=$(cat "$T/d.pid")
	wait_until 5 gone "$pid"
	run -4 --separate-stderr "$DAEMONIZE" --status -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: $T/d.pid: locked, but pid $pid does not hold it"
}

@test "--stop still escalates when its caller blocked SIGALRM" {
	"$DAEMONIZE" -p "$T/d.pid" sh -c 'trap "" TERM; exec sleep 300' 3>&-
	remember_pidfile "$T/d.pid"
	run -0 timeout 20 python3 -c '
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
os.execv(sys.argv[1], sys.argv[1:])' "$DAEMONIZE" --stop -t 1 -p "$T/d.pid"
	[ ! -e "$T/d.pid" ]
}

@test "the verbs refuse options that only a start takes" {
	run -2 --separate-stderr "$DAEMONIZE" --status -p "$T/d.pid" -l "$T/log"
	assert_equal "$stderr" "daemonize: --status: takes only -p, -P and -v"
	run -2 --separate-stderr "$DAEMONIZE" --stop -p "$T/d.pid" -u nobody
	assert_equal "$stderr" "daemonize: --stop: takes only -p, -P, -s, -t and -v"
	run -2 --separate-stderr "$DAEMONIZE" --signal HUP -p "$T/d.pid" -s KILL
	assert_equal "$stderr" "daemonize: --signal: takes only -p, -P and -v"
	[ ! -e "$T/log" ]
}

@test "a /proc/PID/fd that cannot be read now is an error, not a licence to trust the pid" {
	need_strace
	"$DAEMONIZE" -r -P "$T/s.pid" -p "$T/c.pid" sleep 300 3>&-
	remember_pidfile "$T/s.pid"
	remember_pidfile "$T/c.pid"
	local child
	child=$(cat "$T/c.pid")
	# Out of descriptors for just that directory: /proc is still there.
	run -1 --separate-stderr traced -P "/proc/$child/fd" -e trace=openat \
		-e inject=openat:error=EMFILE -- --stop -t 1 -p "$T/c.pid"
	assert_equal "$stderr" \
		"daemonize: $T/c.pid: cannot read /proc/$child/fd: Too many open files"
	run -4 --separate-stderr traced -P "/proc/$child/fd" -e trace=openat \
		-e inject=openat:error=ENOMEM -- --status -p "$T/c.pid"
	assert_equal "$stderr" \
		"daemonize: $T/c.pid: cannot read /proc/$child/fd: Cannot allocate memory"
	# Nothing was signalled: the same run, not a respawned one.
	alive "$child"
	[ "$(cat "$T/c.pid")" = "$child" ]
	alive "$(cat "$T/s.pid")"
}

@test "the verbs still know a supervisor whose program file an upgrade replaced" {
	# Another directory than the verbs' own, under the same name.
	mkdir "$T/bin"
	cp "$DAEMONIZE" "$T/bin/daemonize"
	"$T/bin/daemonize" -r --stop-timeout 1 -P "$T/s.pid" -p "$T/c.pid" \
		sh -c 'trap "" TERM; exec sleep 300' 3>&-
	remember_pidfile "$T/s.pid"
	remember_pidfile "$T/c.pid"
	local sup child
	sup=$(cat "$T/s.pid")
	child=$(cat "$T/c.pid")
	# What a package upgrade does: the new file is renamed over the old.
	cp "$T/bin/daemonize" "$T/bin/daemonize.new"
	mv "$T/bin/daemonize.new" "$T/bin/daemonize"
	[[ $(readlink "/proc/$sup/exe") == *" (deleted)" ]]
	run -0 "$DAEMONIZE" --status -p "$T/c.pid"
	assert_line --index 1 --regexp "^supervised by $sup: running, 0 restarts, child $child up"
	run -0 "$DAEMONIZE" --restart -p "$T/c.pid"
	wait_until 5 sh -c "[ \"\$(cat '$T/c.pid')\" != $child ] &&
		[ \"\$(cat '$T/c.pid')\" != $sup ]"
	child=$(cat "$T/c.pid")
	remember "$child"
	# The SIGKILL reaches the run's group, which ignores SIGTERM.
	run -0 "$T/bin/daemonize" --stop -t 1 -p "$T/c.pid"
	wait_until 2 gone "$child"
}

@test "the verbs find a supervisor's run when its title had no room for it" {
	printf '#!/bin/sh\ntrap "" TERM\nexec sleep 300\n' >"$T/s"
	chmod 755 "$T/s"
	# No environment and a short command line: little room for a title.
	(cd "$T" && exec -c -a d "$DAEMONIZE" -r -p c.pid ./s 3>&-)
	remember_pidfile "$T/c.pid"
	local sup child
	child=$(cat "$T/c.pid")
	sup=$(stat_field "$child" 4)
	remember "$sup"
	[[ $(tr '\0' ' ' <"/proc/$sup/cmdline") != *"[child $child]"* ]]
	run -0 --separate-stderr "$DAEMONIZE" --status -p "$T/c.pid"
	assert_line --index 1 --regexp "^supervised by $sup, child $child up [0-9]+ s\$"
	# The SIGKILL reaches the run, which ignores SIGTERM.
	run -0 "$DAEMONIZE" --stop -t 1 -p "$T/c.pid"
	wait_until 2 gone "$child"
}

@test "the verbs find the supervisor however a respawn races them" {
	"$DAEMONIZE" -r --respawn=always --min-uptime 0 -P "$T/s.pid" \
		-p "$T/c.pid" sh -c 'exit 1' 3>&-
	remember_pidfile "$T/s.pid"
	local sup i limit=$((SECONDS + 10))
	sup=$(cat "$T/s.pid")
	# At each of these the pidfile may name a run that is already reaped.
	for i in $(seq 60); do
		"$DAEMONIZE" --status -p "$T/c.pid" >/dev/null ||
			fail "--status exited $? in round $i"
		"$DAEMONIZE" --signal CONT -p "$T/c.pid" ||
			fail "--signal exited $? in round $i"
		"$DAEMONIZE" --restart -p "$T/c.pid" ||
			fail "--restart exited $? in round $i"
		[ "$SECONDS" -lt "$limit" ] || break
	done
	run -0 "$DAEMONIZE" --stop -p "$T/c.pid"
	gone "$sup"
	[ ! -e "$T/c.pid" ]
}

@test "a --stop that meets another --stop removing the pidfile exits 0" {
	local dead i a b
	sh -c 'exit 0' &
	dead=$!
	wait "$dead"
	echo "$dead" >"$T/d.pid"
	# The other --stop: it holds the lock of a daemon that is gone, for
	# as long as it takes to remove the file.
	(flock -x 9 && touch "$T/locked" && sleep 0.2 && rm -f "$T/d.pid") \
		9<"$T/d.pid" 3>&- &
	remember $!
	wait_until 2 test -e "$T/locked"
	run -0 --separate-stderr "$DAEMONIZE" --stop -p "$T/d.pid"
	assert_equal "$stderr" ""
	[ ! -e "$T/d.pid" ]
	# And two real ones at once.
	for i in 1 2 3 4 5; do
		start_sleeper "$T/d.pid"
		"$DAEMONIZE" --stop -p "$T/d.pid" 2>"$T/err.a" &
		a=$!
		"$DAEMONIZE" --stop -p "$T/d.pid" 2>"$T/err.b" &
		b=$!
		wait "$a" || fail "round $i: $(cat "$T/err.a")"
		wait "$b" || fail "round $i: $(cat "$T/err.b")"
	done
}

@test "--stop -t 1 exits 0 when the supervisor went on its own after its run's SIGKILL" {
	need_strace
	"$DAEMONIZE" -r --stop-timeout 60 -P "$T/s.pid" -p "$T/c.pid" \
		sh -c 'trap "" TERM; exec sleep 300' 3>&-
	remember_pidfile "$T/s.pid"
	remember_pidfile "$T/c.pid"
	local sup child
	sup=$(cat "$T/s.pid")
	child=$(cat "$T/c.pid")
	# Each kill(2) of --stop returns late: the supervisor has time to
	# reap its killed run and leave before --stop looks again.
	run -0 --separate-stderr traced -e trace=kill \
		-e inject=kill:delay_exit=300000 -- --stop -t 1 -p "$T/c.pid"
	assert_equal "$stderr" \
		"daemonize: $T/c.pid: pid $child still running after 1 s, sending SIGKILL"
	gone "$child"
	gone "$sup"
	[ ! -e "$T/c.pid" ]
}
