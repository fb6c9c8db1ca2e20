#!/usr/bin/env bats
# contrib/init.d/daemonize-example: the LSB init script built on daemonize,
# pointed at a pidfile and a log in the test's own directory.

load test_helper/common

setup() {
	common_setup
	SCRIPT=$BATS_TEST_DIRNAME/../contrib/init.d/daemonize-example
	export PIDFILE=$T/example.pid LOGFILE=$T/example.log
	# Short sleeps, so that a service that ignored SIGTERM would show.
	export INTERVAL=1
	unset DAEMON_USER START_TIMEOUT STOP_TIMEOUT
}

# initd ACTION...: run the init script, with fd 3 closed for the daemon.
initd() {
	"$SCRIPT" "$@" 3>&-
}

# start_service: start it, check it succeeded, remember its pid.
start_service() {
	run -0 initd start
	remember_pidfile "$PIDFILE"
}

@test "start exits 0 once the service is ready and its pidfile names it" {
	start_service
	local pid
	pid=$(cat "$PIDFILE")
	alive "$pid"
	assert_output "daemonize-example started, ready as pid $pid"
	# Ready means the service's first line is already in the log.
	grep -q "pid $pid started" "$LOGFILE"
}

@test "status reports 0 and prints the pid while the service runs" {
	start_service
	run -0 initd status
	assert_output "daemonize-example is running as pid $(cat "$PIDFILE")"
}

@test "a second start exits 0 and leaves the running service alone" {
	start_service
	local pid
	pid=$(cat "$PIDFILE")
	run -0 initd start
	assert_output "daemonize-example is already running as pid $pid"
	assert_equal "$(cat "$PIDFILE")" "$pid"
	alive "$pid"
	[ "$(grep -c started "$LOGFILE")" -eq 1 ]
}

@test "a start that loses the race to another start still exits 0" {
	start_service
	local pid
	pid=$(cat "$PIDFILE")
	# A daemonize whose --status missed the first start: the start
	# itself must then find the lock taken and exit 3.
	cat >"$T/late-daemonize" <<-EOF
		#!/bin/sh
		[ "\$1" = --status ] && exit 3
		exec "$DAEMONIZE" "\$@"
	EOF
	chmod +x "$T/late-daemonize"
	DAEMONIZE=$T/late-daemonize
	run -0 --separate-stderr initd start
	assert_output "daemonize-example is already running"
	# daemonize's own word on stderr; its wording is cli.bats's business.
	[[ "$stderr" == *"already running"* ]]
	assert_equal "$(cat "$PIDFILE")" "$pid"
	alive "$pid"
}

@test "restart replaces the service with a new process" {
	start_service
	local old new
	old=$(cat "$PIDFILE")
	run -0 initd restart
	remember_pidfile "$PIDFILE"
	new=$(cat "$PIDFILE")
	[ "$new" != "$old" ]
	alive "$new"
	# The old lock was free before the new start: the old shell is done.
	wait_until 5 gone "$old"
	grep -q "pid $old stopping" "$LOGFILE"
}

@test "force-reload restarts the service as restart does" {
	start_service
	local old
	old=$(cat "$PIDFILE")
	run -0 initd force-reload
	remember_pidfile "$PIDFILE"
	[ "$(cat "$PIDFILE")" != "$old" ]
	alive "$(cat "$PIDFILE")"
	wait_until 5 gone "$old"
}

@test "restart starts a service that was not running" {
	run -0 initd restart
	remember_pidfile "$PIDFILE"
	alive "$(cat "$PIDFILE")"
}

@test "stop ends the service cleanly and removes its pidfile" {
	start_service
	local pid
	pid=$(cat "$PIDFILE")
	run -0 initd stop
	assert_output "daemonize-example stopped"
	[ ! -e "$PIDFILE" ]
	wait_until 5 gone "$pid"
	# It exited through its SIGTERM trap, not by SIGKILL.
	grep -q "pid $pid stopping" "$LOGFILE"
}

@test "status reports 3 once the service is stopped" {
	start_service
	run -0 initd stop
	run -3 initd status
	assert_output "daemonize-example is not running"
}

@test "status reports 3 when the service was never started" {
	run -3 initd status
	assert_output "daemonize-example is not running"
}

@test "status reports 1 when the service died and left its pidfile" {
	start_service
	local pid
	pid=$(cat "$PIDFILE")
	kill -KILL "$pid"
	wait_until 5 gone "$pid"
	run -1 initd status
	assert_output "daemonize-example is not running, but $PIDFILE remains"
}

@test "status reports 4 when it cannot tell" {
	mkdir "$PIDFILE"
	run -4 --separate-stderr initd status
	assert_output "daemonize-example: status unknown"
	# What stopped daemonize from telling is passed on.
	[[ "$stderr" == *"$PIDFILE"* ]]
}

@test "stop exits 0 when the service is not running" {
	start_service
	run -0 initd stop
	run -0 initd stop
	assert_output "daemonize-example was not running"
}

@test "stop clears a stale pidfile and start then succeeds" {
	start_service
	local pid
	pid=$(cat "$PIDFILE")
	kill -KILL "$pid"
	wait_until 5 gone "$pid"
	run -0 initd stop
	[ ! -e "$PIDFILE" ]
	start_service
	alive "$(cat "$PIDFILE")"
}

@test "start exits 1 when the service cannot be started" {
	LOGFILE=$T/missing/example.log
	run -1 --separate-stderr initd start
	assert_output ""
	# daemonize says why, then the script says what failed.
	[[ "$stderr" == *"$T/missing/example.log"* ]]
	assert_equal "${stderr##*$'\n'}" "daemonize-example could not be started"
	[ ! -e "$PIDFILE" ]
}

@test "an unknown action exits 2 and prints the usage" {
	run -2 --separate-stderr initd frobnicate
	assert_output ""
	assert_equal "$stderr" \
		"usage: $SCRIPT {start|stop|restart|force-reload|status}"
}

@test "no action, or more than one, exits 2" {
	run -2 initd
	run -2 initd start stop
	[ ! -e "$PIDFILE" ]
}

@test "reload is an LSB action the sample does not implement: 3" {
	run -3 --separate-stderr initd reload
	assert_equal "$stderr" "daemonize-example: reload: not implemented"
}

@test "without daemonize, start says 5 and status 4" {
	DAEMONIZE=$T/no-such-daemonize
	run -5 --separate-stderr initd start
	assert_equal "$stderr" \
		"daemonize-example: $T/no-such-daemonize: not found, or not daemonize"
	run -4 initd status
	[ ! -e "$PIDFILE" ]
}
