#!/usr/bin/env bats
# -r: the supervisor keeps the command alive, passes signals on and owns
# its output.

load test_helper/common

# supervisor_of PIDFILE: the supervisor, parent of the child it names.
supervisor_of() {
	stat_field "$(cat "$1")" 4
}

# remember_supervised PIDFILE: teardown ends the child and its supervisor.
remember_supervised() {
	local child
	child=$(cat "$1")
	remember "$(stat_field "$child" 4)"
	remember "$child"
}

now_ms() {
	date +%s%3N
}

@test "a crash loop backs off 1 s, 2 s, then gives up, and --restart revives it" {
	run -0 "$DAEMONIZE" -r --min-uptime 2 --max-failures 3 -p "$T/d.pid" \
		-l "$T/d.log" sh -c 'echo "run $(date +%s%3N)"; exit 1' 3>&-
	# Between children the pidfile names the supervisor itself.
	wait_until 15 grep -q 'gave up after 3 failed starts' "$T/d.log"
	local sup
	sup=$(cat "$T/d.pid")
	remember "$sup"
	run grep -c '^run ' "$T/d.log"
	assert_output 3
	mapfile -t at < <(sed -n 's/^run //p' "$T/d.log")
	[ $(( at[1] - at[0] )) -ge 900 ] && [ $(( at[1] - at[0] )) -lt 1900 ]
	[ $(( at[2] - at[1] )) -ge 1900 ] && [ $(( at[2] - at[1] )) -lt 2900 ]
	alive "$sup"
	run -0 "$DAEMONIZE" --restart -p "$T/d.pid"
	wait_until 5 sh -c "[ \$(grep -c '^run ' '$T/d.log') -ge 4 ]"
}

@test "a command that exits 0 is not restarted by default, and the supervisor leaves" {
	run -0 "$DAEMONIZE" -r -p "$T/d.pid" -l "$T/d.log" sh -c 'echo ran' 3>&-
	wait_until 5 test ! -e "$T/d.pid"
	run grep -c '^ran$' "$T/d.log"
	assert_output 1
	no_process_mentions "$T/"
}

@test "--respawn=always restarts a command that exits 0" {
	run -0 "$DAEMONIZE" --respawn=always --min-uptime 0 -p "$T/d.pid" \
		-l "$T/d.log" sh -c 'echo ran; sleep 0.1' 3>&-
	remember_supervised "$T/d.pid"
	wait_until 5 sh -c "[ \$(grep -c '^ran\$' '$T/d.log') -ge 3 ]"
	run -0 "$DAEMONIZE" --stop -p "$T/d.pid"
}

@test "SIGTERM to the supervisor ends the child and itself and removes both pidfiles" {
	run -0 "$DAEMONIZE" -r -P "$T/sv.pid" -p "$T/d.pid" sleep 300 3>&-
	remember_supervised "$T/d.pid"
	local child sup
	child=$(cat "$T/d.pid")
	sup=$(supervisor_of "$T/d.pid")
	[ "$(cat "$T/sv.pid")" = "$sup" ]
	kill -TERM "$sup"
	wait_until 5 gone "$child"
	wait_until 5 gone "$sup"
	[ ! -e "$T/d.pid" ] && [ ! -e "$T/sv.pid" ]
	no_process_mentions "$T/"
}

@test "what a command left in its process group is sent SIGTERM when it ends" {
	run -0 "$DAEMONIZE" -r --min-uptime 0 -P "$T/sv.pid" -p "$T/d.pid" \
		-l "$T/d.log" sh -c '
		[ -e '"$T"'/left ] || { sleep 300 & echo $! >'"$T"'/left.new &&
			mv '"$T"'/left.new '"$T"'/left; exit 1; }
		exec sleep 300' 3>&-
	local sup left
	sup=$(cat "$T/sv.pid")
	remember "$sup"
	wait_until 5 test -s "$T/left"
	left=$(cat "$T/left")
	remember "$left"
	wait_until 5 gone "$left"
	# And the next run is under way, named by the pidfile.
	wait_for_new_child "$T/d.pid" "$sup"
	[ "$(stat_field "$(cat "$T/d.pid")" 4)" = "$sup" ]
}

@test "a child that ignores SIGTERM is killed after --stop-timeout" {
	run -0 "$DAEMONIZE" -r --stop-timeout 1 -p "$T/d.pid" \
		sh -c 'trap "" TERM; exec sleep 300' 3>&-
	remember_supervised "$T/d.pid"
	local child start
	child=$(cat "$T/d.pid")
	start=$(now_ms)
	run -0 "$DAEMONIZE" --stop -p "$T/d.pid"
	[ $(( $(now_ms) - start )) -lt 5000 ]
	gone "$child"
	[ ! -e "$T/d.pid" ]
}

@test "--stop running out before the supervisor's --stop-timeout leaves no child behind" {
	run -0 "$DAEMONIZE" -r --stop-timeout 60 -P "$T/sv.pid" -p "$T/d.pid" \
		sh -c 'trap "" TERM; exec sleep 300' 3>&-
	local sup child
	sup=$(cat "$T/sv.pid")
	child=$(cat "$T/d.pid")
	remember "$sup"
	remember "$child"
	run -0 --separate-stderr "$DAEMONIZE" --stop -t 1 -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: $T/d.pid: pid $child still running after 1 s, sending SIGKILL"
	wait_until 5 gone "$child"
	gone "$sup"
	[ ! -e "$T/d.pid" ]
}

@test "--restart kills a child that ignores SIGTERM after --stop-timeout, then starts it again" {
	run -0 "$DAEMONIZE" -r --stop-timeout 1 -P "$T/sv.pid" -p "$T/d.pid" \
		-l "$T/d.log" sh -c 'trap "" TERM; echo run; exec sleep 300' 3>&-
	local sup first start
	sup=$(cat "$T/sv.pid")
	remember "$sup"
	first=$(cat "$T/d.pid")
	remember "$first"
	start=$(now_ms)
	run -0 "$DAEMONIZE" --restart -p "$T/d.pid"
	wait_until 5 gone "$first"
	# It outlived its SIGTERM: the SIGKILL came after the timeout.
	[ $(( $(now_ms) - start )) -ge 900 ]
	wait_until 5 sh -c "[ \$(grep -c '^run\$' '$T/d.log') -eq 2 ]"
	remember "$(cat "$T/d.pid")"
	alive "$(cat "$T/d.pid")"
}

@test "the child does not outlive a supervisor killed with SIGKILL" {
	run -0 "$DAEMONIZE" -r -p "$T/d.pid" sleep 300 3>&-
	remember_supervised "$T/d.pid"
	local child
	child=$(cat "$T/d.pid")
	kill -KILL "$(supervisor_of "$T/d.pid")"
	wait_until 1 gone "$child"
}

@test "the pidfile names the live child after a respawn, and the supervisor keeps the lock" {
	run -0 "$DAEMONIZE" -r --min-uptime 0 -p "$T/d.pid" \
		sh -c 'exec sleep 300' 3>&-
	remember_supervised "$T/d.pid"
	local first sup second
	first=$(cat "$T/d.pid")
	sup=$(supervisor_of "$T/d.pid")
	# The child does not hold the lock; its supervisor does.
	[ -z "$(ls -l "/proc/$first/fd" | grep -F "$T/d.pid")" ]
	kill -KILL "$first"
	wait_for_new_child "$T/d.pid" "$first" "$sup"
	second=$(cat "$T/d.pid")
	alive "$second"
	[ "$(stat_field "$second" 4)" = "$sup" ]
	run flock -n "$T/d.pid" true
	assert_failure
}

@test "a pidfile rewritten at every respawn is never found empty" {
	run -0 "$DAEMONIZE" --respawn=always --min-uptime 0 -P "$T/sv.pid" \
		-p "$T/d.pid" true 3>&-
	remember "$(cat "$T/sv.pid")"
	local i line empty=0
	# Thousands of respawns a second, each a rewrite of the file.
	for ((i = 0; i < 5000; i++)); do
		read -r line <"$T/d.pid" || true
		[ -n "$line" ] || empty=$((empty + 1))
	done
	assert_equal "$empty" 0
	run -0 "$DAEMONIZE" --stop -P "$T/sv.pid"
}

@test "signals are passed on to the child, and --signal reaches it through the supervisor" {
	run -0 "$DAEMONIZE" -r -p "$T/d.pid" -l "$T/d.log" sh -c '
		trap "echo got-usr1" USR1; trap "echo got-hup" HUP
		while :; do sleep 0.05; done' 3>&-
	remember_supervised "$T/d.pid"
	run -0 "$DAEMONIZE" --signal USR1 -p "$T/d.pid"
	wait_until 5 grep -q got-usr1 "$T/d.log"
	kill -HUP "$(supervisor_of "$T/d.pid")"
	wait_until 5 grep -q got-hup "$T/d.log"
}

@test "a log rotated under a fast writer keeps every line exactly once" {
	run -0 "$DAEMONIZE" -r -p "$T/d.pid" -l "$T/d.log" sh -c '
		trap "" HUP; i=0
		while [ ! -e '"$T"'/stop ]; do i=$((i + 1)); echo "line $i"; done
		echo "last $i"; exec sleep 300' 3>&-
	remember_supervised "$T/d.pid"
	wait_until 5 test -s "$T/d.log"
	mv "$T/d.log" "$T/d.log.1"
	kill -HUP "$(supervisor_of "$T/d.pid")"
	# Rotated while it writes: the new log fills, then it stops.
	wait_until 10 test -s "$T/d.log"
	touch "$T/stop"
	wait_until 10 grep -q '^last ' "$T/d.log"
	local last
	last=$(sed -n 's/^last //p' "$T/d.log")
	[ -s "$T/d.log.1" ]
	# Every line from 1 to the last, once, whole, across both files.
	run sh -c "cat '$T/d.log.1' '$T/d.log' | grep -v '^last ' | sort | uniq -d | head -3"
	assert_output ""
	run sh -c "cat '$T/d.log.1' '$T/d.log' | grep -cx 'line [0-9]*'"
	assert_output "$last"
	run sh -c "cat '$T/d.log.1' '$T/d.log' | grep -vx 'line [0-9]*' | grep -v '^last '"
	assert_output ""
}

@test "a full log drops bytes without blocking the child, and says so once space returns" {
	need_root
	mkdir "$T/small"
	mount -t tmpfs -o size=64k tmpfs "$T/small" 2>/dev/null ||
		skip "cannot mount a tmpfs here"
	remember_mount "$T/small"
	head -c 60000 /dev/zero >"$T/small/filler" 2>/dev/null || true
	run -0 "$DAEMONIZE" -r -p "$T/d.pid" -l "$T/small/d.log" sh -c '
		i=0; while [ $i -lt 2000 ]; do i=$((i + 1)); echo "early $i"; done
		while [ ! -e '"$T"'/go ]; do sleep 0.05; done
		echo after; exec sleep 300' 3>&-
	remember_supervised "$T/d.pid"
	local child
	child=$(cat "$T/d.pid")
	# The child got through all its output although the log is full.
	wait_until 10 sh -c "ps -o args= -p $child | grep -q 'sleep 0.05'"
	rm -f "$T/small/filler"
	touch "$T/go"
	wait_until 5 grep -q '^after$' "$T/small/d.log"
	# Once, and on a line of its own although the log filled mid-line.
	run grep -c 'dropped [0-9]* bytes of output' "$T/small/d.log"
	assert_output 1
	run grep -cx 'daemonize: dropped [0-9]* bytes of output: the log was full' \
		"$T/small/d.log"
	assert_output 1
	"$DAEMONIZE" --stop -p "$T/d.pid"
}

@test "supervision options are checked" {
	run -2 --separate-stderr "$DAEMONIZE" --respawn=sometimes sleep 1
	assert_equal "$stderr" "daemonize: --respawn=sometimes: not on-failure or always"
	run -2 --separate-stderr "$DAEMONIZE" -r -f sleep 1
	assert_equal "$stderr" "daemonize: -r: not with -f"
	run -2 --separate-stderr "$DAEMONIZE" --max-failures 0 -r sleep 1
	assert_equal "$stderr" "daemonize: --max-failures 0: too small (1 to 31536000)"
	run -3 --separate-stderr "$DAEMONIZE" --restart -p "$T/none.pid"
	assert_equal "$stderr" "daemonize: $T/none.pid: not running"
}

@test "--restart refuses a daemon that is not supervised" {
	start_sleeper "$T/d.pid"
	run -1 --separate-stderr "$DAEMONIZE" --restart -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: $T/d.pid: not a supervised daemon (-r): nothing asked"
	alive "$(cat "$T/d.pid")"
}

@test "the supervisor's title names the command and its child, and respawned children get their arguments intact" {
	run -0 "$DAEMONIZE" -r --min-uptime 0 -E GREETING=hi -p "$T/d.pid" \
		-l "$T/d.log" sh -c 'echo "$GREETING $0"; exec sleep 300' zeroth 3>&-
	remember_supervised "$T/d.pid"
	local first sup
	first=$(cat "$T/d.pid")
	sup=$(supervisor_of "$T/d.pid")
	run sh -c "tr '\\0' ' ' </proc/$sup/cmdline"
	assert_output --partial "daemonize: sh [child $first] running, 0 restarts"
	kill -KILL "$first"
	wait_until 5 sh -c "[ \$(grep -c '^hi zeroth\$' '$T/d.log') -ge 2 ]"
	remember "$(cat "$T/d.pid")"
}

@test "-P is the supervisor's own pidfile, locked for its life, and the verbs take it as well as -p" {
	run -0 "$DAEMONIZE" -r -P "$T/sv.pid" -p "$T/d.pid" sleep 300 3>&-
	remember_supervised "$T/d.pid"
	local sup child
	sup=$(cat "$T/sv.pid")
	child=$(cat "$T/d.pid")
	[ "$(stat_field "$child" 4)" = "$sup" ]
	run flock -n "$T/sv.pid" true
	assert_failure
	run -0 "$DAEMONIZE" --status -P "$T/sv.pid"
	assert_line --index 0 "$sup"
	run -0 "$DAEMONIZE" --stop -P "$T/sv.pid"
	[ ! -e "$T/sv.pid" ] && [ ! -e "$T/d.pid" ]
	gone "$child"
	run -2 --separate-stderr "$DAEMONIZE" -P "$T/sv.pid" sleep 1
	assert_equal "$stderr" "daemonize: -P: only with -r"
}

@test "--timestamps puts an RFC 3339 time before each line, split lines included" {
	run -0 "$DAEMONIZE" -r --timestamps -p "$T/d.pid" -l "$T/d.log" sh -c '
		echo one; printf "two-"; sleep 0.2; echo half; exec sleep 300' 3>&-
	remember_supervised "$T/d.pid"
	wait_until 5 grep -q 'two-half$' "$T/d.log"
	local stamp='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}'
	run cat "$T/d.log"
	assert_line --index 0 --regexp "^$stamp one\$"
	assert_line --index 1 --regexp "^$stamp two-half\$"
	[ "${#lines[@]}" = 2 ]
}

@test "--syslog sends stdout at info and stderr at err, tagged with -n" {
	local sock=$T/log.sock
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(5)
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[2], "w") as out:
    for _ in range(2):
        out.write(s.recv(4096).decode() + "\n"); out.flush()
' "$sock" "$T/received" 3>&- &
	local listener=$!
	wait_until 5 test -e "$sock.ready"
	DAEMONIZE_SYSLOG_SOCKET=$sock run -0 "$DAEMONIZE" -r --syslog=local3 \
		-n myapp -p "$T/d.pid" sh -c 'echo hello; echo oops >&2; exec sleep 300' 3>&-
	remember_supervised "$T/d.pid"
	wait "$listener"
	local child
	child=$(cat "$T/d.pid")
	# local3 is facility 19: 19 * 8 + 6 (info) and + 3 (err).
	run cat "$T/received"
	assert_line --regexp "^<158>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} myapp\[$child\]: hello\$"
	assert_line --regexp "^<155>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} myapp\[$child\]: oops\$"
}

@test "the output options need -r" {
	run -2 --separate-stderr "$DAEMONIZE" --timestamps sleep 1
	assert_equal "$stderr" "daemonize: --timestamps: only with -r"
	run -2 --separate-stderr "$DAEMONIZE" -r --syslog=kern sleep 1
	assert_equal "$stderr" "daemonize: --syslog=kern: no such facility (daemon, user, local0 to local7)"
}

@test "--status of a supervised service reports its state, child, uptime and restarts" {
	run -0 "$DAEMONIZE" -r --min-uptime 0 -p "$T/d.pid" sleep 300 3>&-
	remember_supervised "$T/d.pid"
	local child sup
	child=$(cat "$T/d.pid")
	sup=$(supervisor_of "$T/d.pid")
	run -0 "$DAEMONIZE" --status -p "$T/d.pid"
	assert_line --index 0 "$child"
	assert_line --index 1 --regexp "^supervised by $sup: running, 0 restarts, child $child up [0-9]+ s\$"
	kill -KILL "$child"
	wait_for_new_child "$T/d.pid" "$child" "$sup"
	run -0 "$DAEMONIZE" --status -p "$T/d.pid"
	assert_line --index 1 --regexp "^supervised by $sup: running, 1 restarts, child [0-9]+ up [0-9]+ s\$"
}

@test "with readiness, -r returns once the first child is ready, and respawns after that" {
	run -0 "$DAEMONIZE" -r --min-uptime 0 --ready-fd 5 -p "$T/d.pid" sh -c '
		sleep 0.5; echo >&5; exec sleep 300' 3>&-
	remember_supervised "$T/d.pid"
	local first
	first=$(cat "$T/d.pid")
	alive "$first"
	# Only the first child had the readiness pipe.
	run fds_of "$first"
	assert_line --regexp '^5 -> pipe:'
	local sup
	sup=$(supervisor_of "$T/d.pid")
	kill -KILL "$first"
	wait_for_new_child "$T/d.pid" "$first" "$sup"
	run -0 "$DAEMONIZE" --status -p "$T/d.pid"
	assert_line --index 1 --regexp "^supervised by $sup: running, 1 restarts"
}

@test "with readiness, a first child that dies unready fails the start with its status" {
	run -4 --separate-stderr "$DAEMONIZE" -r --ready-fd 5 -p "$T/d.pid" \
		sh -c 'exit 3' 3>&-
	assert_equal "$stderr" "daemonize: sh: exited with status 3 before it was ready"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "with readiness, a supervised command not ready in time is stopped with its supervisor" {
	run -4 --separate-stderr "$DAEMONIZE" -r -t 1 --notify -p "$T/d.pid" \
		sleep 300 3>&-
	assert_equal "$stderr" "daemonize: sleep: not ready after 1 s, stopped"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "--signal -v names the supervisor it signalled for a supervised service" {
	run -0 "$DAEMONIZE" -r -p "$T/d.pid" -l "$T/d.log" sh -c '
		trap "echo got-usr2" USR2; while :; do sleep 0.05; done' 3>&-
	remember_supervised "$T/d.pid"
	run -0 --separate-stderr "$DAEMONIZE" --signal USR2 -v -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: $T/d.pid: sent SIGUSR2 to pid $(supervisor_of "$T/d.pid")"
	wait_until 5 grep -q got-usr2 "$T/d.log"
}

@test "-r -u: a supervisor killed with SIGKILL takes its run with it, and a new start works" {
	need_root
	run -0 "$DAEMONIZE" -r -u nobody -P "$T/sv.pid" -p "$T/d.pid" sleep 300 3>&-
	remember_supervised "$T/d.pid"
	local sup child
	sup=$(cat "$T/sv.pid")
	child=$(cat "$T/d.pid")
	[ "$(status_field "$child" Uid)" = "65534 65534 65534 65534" ]
	kill -KILL "$sup"
	# The parent-death signal was armed again after the drop.
	wait_until 5 gone "$child"
	run -0 "$DAEMONIZE" -r -u nobody -P "$T/sv.pid" -p "$T/d.pid" \
		sleep 300 3>&-
	remember_supervised "$T/d.pid"
	[ "$(cat "$T/d.pid")" != "$child" ]
	alive "$(cat "$T/d.pid")"
	run -0 "$DAEMONIZE" --stop -P "$T/sv.pid"
}

# runs_under PIDFILE SUPERVISOR: the pidfile names a live child of the
# supervisor, which its title names as running.
runs_under() {
	local child
	child=$(cat "$1") && [ -n "$child" ] && [ "$child" != "$2" ] &&
		alive "$child" && [ "$(stat_field "$child" 4)" = "$2" ] &&
		tr '\0' ' ' <"/proc/$2/cmdline" |
		grep -qF "[child $child] running"
}

@test "runs that end during a storm of SIGHUP from two senders are reaped and respawned, and --stop needs no SIGKILL after it" {
	# Three runs end during the storm; the fourth stays.
	run -0 "$DAEMONIZE" -r --min-uptime 0 -P "$T/sv.pid" -p "$T/d.pid" \
		-l "$T/d.log" sh -c '
		trap "" HUP; echo >>'"$T"'/runs
		[ "$(wc -l <'"$T"'/runs)" -gt 3 ] && exec sleep 300
		sleep 0.3; exit 1' 3>&-
	local sup first one two
	sup=$(cat "$T/sv.pid")
	first=$(cat "$T/d.pid")
	remember "$sup"
	remember "$first"
	signal_storm 2 HUP "$sup" &
	one=$!
	signal_storm 2 HUP "$sup" &
	two=$!
	remember "$one"
	remember "$two"
	wait "$one"
	wait "$two"
	wait_until 5 runs_under "$T/d.pid" "$sup"
	remember "$(cat "$T/d.pid")"
	[ "$(wc -l <"$T/runs")" -ge 4 ]
	run -0 "$DAEMONIZE" --status -P "$T/sv.pid"
	assert_line --index 1 --regexp "^supervised by $sup: running, [0-9]+ restarts, child $(cat "$T/d.pid") up"
	local start
	start=$(now_ms)
	run -0 --separate-stderr "$DAEMONIZE" --stop -P "$T/sv.pid"
	assert_equal "$stderr" ""
	[ $(( $(now_ms) - start )) -lt 5000 ]
	[ ! -e "$T/sv.pid" ] && [ ! -e "$T/d.pid" ]
	gone "$sup"
}

# stop_with_full_pipe PID: the supervisor stopped, so that it cannot
# drain its self-pipe, and that pipe filled; SIGCONT lets it go on.
stop_with_full_pipe() {
	kill -STOP "$1"
	wait_until 5 sh -c "[ \"\$(cut -d' ' -f3 /proc/$1/stat)\" = T ]"
	fill_self_pipe "$1"
}

@test "a run's death that finds the supervisor's self-pipe full is not missed" {
	run -0 "$DAEMONIZE" -r --min-uptime 0 -P "$T/sv.pid" -p "$T/d.pid" \
		sleep 300 3>&-
	local sup first
	sup=$(cat "$T/sv.pid")
	first=$(cat "$T/d.pid")
	remember "$sup"
	remember "$first"
	stop_with_full_pipe "$sup"
	kill -KILL "$first"
	wait_until 5 gone "$first"
	kill -CONT "$sup"
	wait_for_new_child "$T/d.pid" "$first" "$sup"
	wait_until 5 runs_under "$T/d.pid" "$sup"
}

@test "SIGTERM that finds the supervisor's self-pipe full still stops it, with its run" {
	run -0 "$DAEMONIZE" -r -P "$T/sv.pid" -p "$T/d.pid" sleep 300 3>&-
	local sup child
	sup=$(cat "$T/sv.pid")
	child=$(cat "$T/d.pid")
	remember "$sup"
	remember "$child"
	stop_with_full_pipe "$sup"
	kill -TERM "$sup"
	kill -CONT "$sup"
	wait_until 5 gone "$child"
	wait_until 5 gone "$sup"
	[ ! -e "$T/sv.pid" ] && [ ! -e "$T/d.pid" ]
}

@test "every other signal sent to the supervisor is passed on to its run, and neither dies of it" {
	local sigs=(ALRM PROF VTALRM IO PWR SYS XCPU STKFLT TRAP URG RTMIN+3)
	local traps="" sig
	for sig in "${sigs[@]}" PIPE XFSZ; do
		traps="$traps trap 'echo got $sig' $sig;"
	done
	run -0 "$DAEMONIZE" -r -P "$T/sv.pid" -p "$T/d.pid" -l "$T/d.log" \
		bash -c "$traps"' while :; do sleep 0.02 & wait $!; done' 3>&-
	local sup child
	sup=$(cat "$T/sv.pid")
	child=$(cat "$T/d.pid")
	remember "$sup"
	remember "$child"
	wait_until 5 sh -c "ps -o args= --ppid $child | grep -q 'sleep 0.02'"
	# These two are ignored, not passed on.
	kill -s PIPE "$sup"
	kill -s XFSZ "$sup"
	for sig in "${sigs[@]}"; do
		kill -s "$sig" "$sup"
		wait_until 5 grep -qx "got $sig" "$T/d.log"
		alive "$sup"
	done
	alive "$child"
	[ "$(cat "$T/d.pid")" = "$child" ]
	run grep -c '^got \(PIPE\|XFSZ\)$' "$T/d.log"
	assert_output 0
}
