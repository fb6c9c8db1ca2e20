#!/usr/bin/env bats
# Readiness: the caller returns only once the daemon says it is ready.

load test_helper/common

# now_ms: milliseconds since the epoch.
now_ms() {
	date +%s%3N
}

# notifier: writes a daemon, "notify.py SECONDS MESSAGE...", that waits,
# sends each MESSAGE as one datagram to $NOTIFY_SOCKET, then sleeps; and
# prints its path.
notifier() {
	cat >"$T/notify.py" <<'PY'
import os, socket, sys, time
time.sleep(float(sys.argv[1]))
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for m in sys.argv[2:]:
    s.sendto(m.encode(), os.environ["NOTIFY_SOCKET"])
os.execvp("sleep", ["sleep", "300"])
PY
	echo "$T/notify.py"
}

@test "--ready-fd returns only after the daemon writes its newline" {
	local before after
	before=$(now_ms)
	run -0 "$DAEMONIZE" -p "$T/d.pid" --ready-fd 5 sh -c '
		sleep 1
		date +%s%3N >'"$T"'/ready-at
		echo >&5
		exec sleep 300' 3>&-
	after=$(now_ms)
	remember_pidfile "$T/d.pid"
	# The daemon wrote its time before the caller returned, a second in.
	[ -s "$T/ready-at" ]
	[ "$(cat "$T/ready-at")" -le "$after" ]
	[ $((after - before)) -ge 1000 ]
	alive "$(cat "$T/d.pid")"
}

@test "the readiness descriptor is the one asked for, beside the pidfile lock" {
	"$DAEMONIZE" -p "$T/d.pid" --ready-fd 3 sh -c 'echo >&3; exec sleep 300' 3>&-
	remember_pidfile "$T/d.pid"
	run fds_of "$(cat "$T/d.pid")"
	assert_line "4 -> $T/d.pid"
	assert_line --regexp '^3 -> pipe:'
}

@test "a daemon that exits before it is ready fails with 4 at once and shows its log" {
	local before after
	before=$(now_ms)
	run -4 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" -l "$T/d.log" \
		--ready-fd 4 sh -c 'echo cannot open the database >&2; exit 1' 3>&-
	after=$(now_ms)
	[ $((after - before)) -lt 1000 ]
	assert_equal "$(printf '%s\n' "$stderr" | head -1)" \
		"daemonize: sh: exited with status 1 before it was ready"
	[[ "$stderr" == *"cannot open the database"* ]]
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "a daemon killed before it is ready is reported with its signal" {
	run -4 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" --ready-fd 4 \
		sh -c 'kill -KILL $$' 3>&-
	assert_equal "$stderr" "daemonize: sh: killed by SIGKILL before it was ready"
	[ ! -e "$T/d.pid" ]
}

@test "a daemon not ready in time is stopped, its pidfile removed, exit 4" {
	run -4 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" -t 1 --ready-fd 4 \
		sleep 300 3>&-
	assert_equal "$stderr" "daemonize: sleep: not ready after 1 s, stopped"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "a daemon that ignores SIGTERM past its readiness deadline is killed" {
	run -4 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" -t 1 --ready-fd 4 \
		sh -c 'trap "" TERM; while :; do sleep 0.1; done' 3>&-
	assert_equal "$stderr" "daemonize: sh: not ready after 1 s, stopped"
	no_process_mentions "$T/"
}

@test "--notify returns after READY=1 and exports NOTIFY_SOCKET" {
	local script before after
	script=$(notifier)
	before=$(now_ms)
	run -0 "$DAEMONIZE" -p "$T/d.pid" --notify \
		python3 "$script" 0.5 "STATUS=warming up" READY=1 3>&-
	after=$(now_ms)
	remember_pidfile "$T/d.pid"
	[ $((after - before)) -ge 500 ]
	alive "$(cat "$T/d.pid")"
	# The socket and its directory are gone once the caller returns.
	run grep -z '^NOTIFY_SOCKET=' "/proc/$(cat "$T/d.pid")/environ"
	local sock=${output#NOTIFY_SOCKET=}
	sock=${sock%$'\0'}
	[ -n "$sock" ]
	[ ! -e "$sock" ] && [ ! -e "${sock%/*}" ]
}

@test "--notify fails with the daemon's ERRNO= and shows its last STATUS=" {
	local script
	script=$(notifier)
	run -4 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" --notify \
		python3 "$script" 0.2 "STATUS=no database" ERRNO=2 3>&-
	assert_equal "$stderr" "daemonize: python3: not ready: No such file or directory, stopped
daemonize: python3: its last status: no database"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "--notify honours MAINPID= and rewrites the pidfile" {
	# The parent names its child as the main process and leaves; the
	# child says it is ready later.
	cat >"$T/forker.py" <<'PY'
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
pid = os.fork()
if pid == 0:
    time.sleep(0.3)
    s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
    os.execvp("sleep", ["sleep", "300"])
s.sendto(("MAINPID=%d" % pid).encode(), os.environ["NOTIFY_SOCKET"])
os._exit(0)
PY
	run -0 "$DAEMONIZE" -p "$T/d.pid" --notify python3 "$T/forker.py" 3>&-
	remember_pidfile "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$(command -v sleep)")" ]
	# The lock went with the child, and still guards the file.
	run -3 "$DAEMONIZE" -p "$T/d.pid" sleep 300 3>&-
}

@test "--notify ignores a datagram from a process outside the daemon" {
	local script
	script=$(notifier)
	"$DAEMONIZE" -p "$T/d.pid" --notify python3 "$script" 1.5 READY=1 3>&- &
	local launcher=$! sock= i
	# Find the socket from the daemon's environment, then forge READY=1.
	for i in $(seq 100); do
		if [ -s "$T/d.pid" ] && sock=$(tr '\0' '\n' \
			<"/proc/$(cat "$T/d.pid")/environ" 2>/dev/null |
			sed -n 's/^NOTIFY_SOCKET=//p') && [ -n "$sock" ]; then
			break
		fi
		sleep 0.02
	done
	[ -n "$sock" ]
	python3 -c 'import socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", sys.argv[1])' "$sock"
	local sent
	sent=$(now_ms)
	wait "$launcher"
	remember_pidfile "$T/d.pid"
	# daemonize waited for the daemon's own READY=1, over a second later.
	[ $(( $(now_ms) - sent )) -ge 1000 ]
}

@test "--notify under a timeout stops the daemon and leaves nothing" {
	local script
	script=$(notifier)
	run -4 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" -t 1 --notify \
		python3 "$script" 0 "STATUS=still loading" 3>&-
	assert_equal "$stderr" "daemonize: python3: not ready after 1 s, stopped
daemonize: python3: its last status: still loading"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "readiness options are checked" {
	run -2 --separate-stderr "$DAEMONIZE" --ready-fd 2 sleep 1
	assert_equal "$stderr" "daemonize: --ready-fd 2: too small (3 to 1048575)"
	run -2 --separate-stderr "$DAEMONIZE" --ready-fd 4 --notify sleep 1
	assert_equal "$stderr" "daemonize: --notify: not with --ready-fd"
	run -2 --separate-stderr "$DAEMONIZE" -f --notify sleep 1
	assert_equal "$stderr" "daemonize: --notify: not with -f, which does not wait"
	run -2 --separate-stderr "$DAEMONIZE" -t 5 sleep 1
	assert_equal "$stderr" "daemonize: -t: only with --ready-fd, --notify, --stop, --reload or --upgrade"
	run -2 --separate-stderr "$DAEMONIZE" -t 0 --notify sleep 1
	assert_equal "$stderr" "daemonize: -t 0: too small (1 to 31536000 seconds)"
}

@test "a daemon that fails to get ready is stopped with the children it started" {
	run -4 "$DAEMONIZE" -p "$T/d.pid" -t 1 --ready-fd 5 \
		sh -c 'sleep 300 & echo $! >'"$T"'/child; exec sleep 301' 3>&-
	local child
	child=$(cat "$T/child")
	remember "$child"
	wait_until 5 gone "$child"
	[ ! -e "$T/d.pid" ]
}

@test "a caller that blocked SIGCHLD still hears at once of an early death" {
	local before after
	before=$(now_ms)
	run -4 python3 -c '
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
os.execv(sys.argv[1], sys.argv[1:])' "$DAEMONIZE" -p "$T/d.pid" -t 5 \
		--ready-fd 4 sh -c 'exit 3' 3>&-
	after=$(now_ms)
	[ $((after - before)) -lt 3000 ]
}

@test "a main process named by MAINPID= that dies before READY=1 is reported at once" {
	cat >"$T/quitter.py" <<'PY'
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
pid = os.fork()
if pid == 0:
    time.sleep(0.5)
    os._exit(7)
s.sendto(("MAINPID=%d" % pid).encode(), os.environ["NOTIFY_SOCKET"])
os._exit(0)
PY
	local before after
	before=$(now_ms)
	run -4 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" -t 20 --notify \
		python3 "$T/quitter.py" 3>&-
	after=$(now_ms)
	assert_equal "$stderr" "daemonize: python3: its main process ended before it was ready"
	[ $((after - before)) -lt 5000 ]
	[ ! -e "$T/d.pid" ]
}

# execd_copy PID: PID or a child of it runs the copy of sleep in $T.
execd_copy() {
	local pid
	for pid in "$1" $(children_of "$1"); do
		[ "$(readlink "/proc/$pid/exe")" = "$T/sleep" ] && return 0
	done
	return 1
}

sleeping() { [ "$(stat_field "$1" 3)" = S ]; }

# killed_middle_leaves_nothing DAEMONIZE-ARGS...: start the copy of
# sleep, and once it runs and the middle process waits for its word,
# SIGKILL the middle: the start fails with 1 and leaves nothing of
# itself, and a second start works.
killed_middle_leaves_nothing() {
	cp "$(command -v sleep)" "$T/sleep"
	"$DAEMONIZE" "$@" -p "$T/d.pid" "$T/sleep" 300 3>&- 2>"$T/err" &
	local launcher=$! middle daemon below pid rc=0
	remember "$launcher"
	wait_until 5 has_child "$launcher"
	middle=$(children_of "$launcher")
	remember "$middle"
	wait_until 5 has_child "$middle"
	# The daemon, or with -r the supervisor and its run.
	daemon=$(children_of "$middle")
	remember "$daemon"
	wait_until 5 execd_copy "$daemon"
	below=$(children_of "$daemon")
	for pid in $below; do
		remember "$pid"
	done
	wait_until 5 sleeping "$middle"
	kill -KILL "$middle"
	wait "$launcher" || rc=$?
	assert_equal "$rc" 1
	assert_equal "$(cat "$T/err")" \
		"daemonize: $T/sleep: the daemon died before it could start"
	for pid in "$daemon" $below; do
		wait_until 5 gone "$pid"
	done
	wait_until 5 no_process_mentions "$T/"
	[ ! -e "$T/d.pid" ] && [ ! -e "$T/sv.pid" ]
	start_sleeper "$T/d.pid"
}

@test "a middle process killed while --ready-fd waits takes the daemon with it" {
	killed_middle_leaves_nothing --ready-fd 3
}

@test "a middle process killed while --notify waits takes the daemon with it" {
	killed_middle_leaves_nothing --notify
}

@test "a middle process killed while -r --ready-fd waits takes the supervisor and its run with it" {
	killed_middle_leaves_nothing -r --ready-fd 3 -P "$T/sv.pid"
}

@test "--notify ignores MAINPID= naming the middle process, gone a moment later" {
	cat >"$T/send.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for m in sys.argv[1:]:
    s.sendto(m.encode(), os.environ["NOTIFY_SOCKET"])
PY
	# The daemon's parent is the middle process; python is of its session.
	run -0 "$DAEMONIZE" -p "$T/d.pid" --notify sh -c '
		echo $$ >'"$T"'/daemon
		python3 '"$T"'/send.py "MAINPID=$PPID" READY=1
		exec sleep 300' 3>&-
	remember_pidfile "$T/d.pid"
	local daemon
	daemon=$(cat "$T/daemon")
	remember "$daemon"
	assert_equal "$(cat "$T/d.pid")" "$daemon"
	alive "$daemon"
	run -0 "$DAEMONIZE" --stop -p "$T/d.pid"
	wait_until 5 gone "$daemon"
	[ ! -e "$T/d.pid" ]
}
