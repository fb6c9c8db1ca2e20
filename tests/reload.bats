#!/usr/bin/env bats
# --reload: a new run beside the old one, ready and settled, before the
# old one is drained; and what the supervisor does meanwhile.

load test_helper/common

now_ms() {
	date +%s%3N
}

# service: writes $T/svc, a run for --ready-fd 5 that says "start PID",
# takes its mode from $T/svc.mode when it starts, and logs "term PID" and
# "hup PID" for those signals; TERM ends it.  The modes: ok (ready at
# once), slow (ready after 1 s), wait (ready after 3 s), exit (exits 7
# unready), close (closes fd 5 without a newline and runs on), never
# (never ready), die (ready, then exits 3 after 0.3 s).
service() {
	cat >"$T/svc" <<'EOF'
#!/bin/sh
echo "start $$"
mode=ok
[ -e "$0.mode" ] && mode=$(cat "$0.mode")
trap 'echo "term $$"; exit 0' TERM
trap 'echo "hup $$"' HUP
case $mode in
ok) echo >&5 ;;
slow) sleep 1; echo >&5 ;;
wait) sleep 3; echo >&5 ;;
exit) exit 7 ;;
close) exec 5>&- ;;
never) ;;
die) echo >&5; sleep 0.3; exit 3 ;;
esac
while :; do sleep 0.05; done
EOF
	chmod 755 "$T/svc"
}

mode() {
	echo "$1" >"$T/svc.mode"
}

# supervise OPTIONS... COMMAND...: -r with -P sv.pid, -p d.pid and
# -l d.log; sets $sup and $old (its first run), both remembered.
supervise() {
	run -0 leak_checks_off "$DAEMONIZE" -r -P "$T/sv.pid" -p "$T/d.pid" \
		-l "$T/d.log" "$@" 3>&-
	sup=$(cat "$T/sv.pid")
	old=$(cat "$T/d.pid")
	remember "$sup"
	remember "$old"
}

# started: the pids of the runs that said "start", in order.
started() {
	sed -n 's/^start //p' "$T/d.log"
}

# runs_started N: N runs said "start"; each is remembered.
runs_started() {
	[ "$(started | wc -l)" -ge "$1" ] || return 1
	local pid
	for pid in $(started); do
		remember "$pid"
	done
}

# group_gone PGID: no live process is of that process group.
group_gone() {
	local f
	for f in /proc/[0-9]*/stat; do
		[ "$(awk '{ sub(/^.*\) /, ""); print $3 }' "$f" 2>/dev/null)" = "$1" ] ||
			continue
		alive "$(basename "$(dirname "$f")")" && return 1
	done
	return 0
}

# only_run SUP PID: PID is the one child of SUP, and the pidfile names it.
only_run() {
	assert_equal "$(children_of "$1")" "$2"
	assert_equal "$(cat "$T/d.pid")" "$2"
	alive "$2"
}

@test "a reload starts a new run, drains the old one with SIGTERM, and prints the new pid" {
	service
	supervise --ready-fd 5 --settle 0 "$T/svc"
	run -0 --separate-stderr "$DAEMONIZE" --reload -p "$T/d.pid"
	local new=$output
	remember "$new"
	[[ $new =~ ^[0-9]+$ ]]
	[ "$new" != "$old" ]
	assert_equal "$(cat "$T/d.pid")" "$new"
	assert_equal "$(stat_field "$new" 4)" "$sup"
	alive "$new"
	# SIGTERM to its main pid, which it logged before it left.
	wait_until 5 gone "$old"
	grep -qx "term $old" "$T/d.log"
	run grep -c '^term ' "$T/d.log"
	assert_output 1
	grep -qx "start $new" "$T/d.log"
	grep -qxF "daemonize: $T/svc: reloaded: pid $new took over from pid $old" \
		"$T/d.log"
	only_run "$sup" "$new"
	run -0 "$DAEMONIZE" --status -p "$T/d.pid"
	assert_line --index 0 "$new"
	assert_line --index 1 --regexp "^supervised by $sup: running, 0 restarts, child $new up [0-9]+ s\$"
}

@test "with --ready-fd a reload waits for the new run's newline" {
	service
	supervise --ready-fd 5 --settle 0 "$T/svc"
	mode slow
	local start took
	start=$(now_ms)
	run -0 --separate-stderr "$DAEMONIZE" --reload -p "$T/d.pid"
	took=$(( $(now_ms) - start ))
	remember "$output"
	[ "$took" -ge 1000 ]
	[ "$took" -lt 4000 ]
	assert_equal "$(cat "$T/d.pid")" "$output"
	wait_until 5 gone "$old"
}

# failed_reload MESSAGE RELOAD-OPTIONS...: a --reload that fails with 4
# and MESSAGE in its stderr, with the tail of the log; the old run $old
# goes on, named by the pidfile, and nothing of the new one is left.
failed_reload() {
	local message=$1 before new
	shift
	before=$(started | wc -l)
	run -4 --separate-stderr "$DAEMONIZE" --reload "$@" -p "$T/d.pid"
	assert_output ""
	[[ $stderr == *"$message"* ]] || fail "no \"$message\" in: $stderr"
	[[ $stderr == *"daemonize: the last lines of $T/d.log:"* ]] ||
		fail "no log tail in: $stderr"
	wait_until 5 runs_started $((before + 1))
	new=$(started | tail -1)
	[ "$new" != "$old" ]
	wait_until 5 gone "$new"
	wait_until 5 group_gone "$new"
	only_run "$sup" "$old"
}

@test "a new run that fails to get ready is stopped and the reload answers 4, the old run untouched" {
	service
	supervise --ready-fd 5 -t 1 --settle 1 "$T/svc"
	mode exit
	failed_reload "daemonize: $T/svc: exited with status 7 before it was ready"
	mode close
	failed_reload "daemonize: $T/svc: closed descriptor 5 without a newline"
	mode never
	local start
	start=$(now_ms)
	failed_reload "daemonize: $T/svc: not ready after 1 s"
	[ $(( $(now_ms) - start )) -ge 1000 ]
	# A bad deploy: ready, then dead 0.3 s later, within --settle 2.
	mode die
	start=$(now_ms)
	failed_reload "after it said ready (--settle 2)" --settle 2
	[ $(( $(now_ms) - start )) -lt 3000 ]
	grep -q "daemonize: $T/svc: exited with status 3 [0-9]* ms after it said ready" \
		<<<"$stderr"
	run grep -c "reload failed; pid $old goes on" "$T/d.log"
	assert_output 4
	# Still able to reload after all that.
	mode ok
	run -0 "$DAEMONIZE" --reload --settle 0 -p "$T/d.pid"
	remember "$output"
	wait_until 5 gone "$old"
}

# gated: writes $T/gated, a run for --ready-fd 5 that says "start PID"
# and logs each SIGHUP; every run after the first gets ready only once
# $T/gated.go exists; once ready, it logs SIGTERM and goes on.
gated() {
	cat >"$T/gated" <<'EOF'
#!/bin/sh
echo "start $$"
trap 'echo "HUP $$"' HUP
if [ -e "$0.first" ]; then
	while [ ! -e "$0.go" ]; do sleep 0.05; done
fi
touch "$0.first"
echo >&5
trap 'echo "TERM $$"' TERM
while :; do sleep 0.05; done
EOF
	chmod 755 "$T/gated"
}

# gated_reload: a supervised gated run, and a --reload in the background
# whose new run has started and waits for its gate; sets reload (the
# requester's pid) and new (the new run's pid).
gated_reload() {
	gated
	supervise --ready-fd 5 --settle 0 --drain-timeout 2 "$T/gated"
	"$DAEMONIZE" --reload -p "$T/d.pid" >/dev/null 2>&1 &
	reload=$!
	remember "$reload"
	wait_until 5 runs_started 2
	new=$(started | tail -1)
}

@test "--status and the title name the new run while it gets ready, then the old one while it drains" {
	local reload new rc=0
	gated_reload
	run -0 "$DAEMONIZE" --status -p "$T/d.pid"
	assert_line --index 0 "$old"
	assert_line --index 1 --regexp "^supervised by $sup: reloading: new run $new, 0 restarts, child $old up [0-9]+ s\$"
	[[ $(tr '\0' ' ' <"/proc/$sup/cmdline") == *"[child $old] reloading: new run $new, 0 restarts"* ]]
	touch "$T/gated.go"
	wait_until 5 grep -qx "TERM $old" "$T/d.log"
	[[ $(tr '\0' ' ' <"/proc/$sup/cmdline") == *"[child $new] reloading: old run $old, 0 restarts"* ]]
	run -0 "$DAEMONIZE" --status -p "$T/d.pid"
	alive "$old"
	assert_line --index 0 "$new"
	# The child is the run that the pidfile and the title name.
	assert_line --index 1 --regexp "^supervised by $sup: reloading: old run $old, 0 restarts, child $new up [0-9]+ s\$"
	wait "$reload" || rc=$?
	assert_equal "$rc" 6
	run -0 "$DAEMONIZE" --status -p "$T/d.pid"
	assert_line --index 1 --regexp "^supervised by $sup: running, 0 restarts, child $new up [0-9]+ s\$"
}

@test "--status and the title say running again after a failed reload" {
	service
	supervise --ready-fd 5 -t 1 --settle 0 "$T/svc"
	mode never
	run -4 "$DAEMONIZE" --reload -p "$T/d.pid"
	wait_until 5 runs_started 2
	wait_until 5 gone "$(started | tail -1)"
	only_run "$sup" "$old"
	run -0 "$DAEMONIZE" --status -p "$T/d.pid"
	assert_line --index 0 "$old"
	assert_line --index 1 --regexp "^supervised by $sup: running, 0 restarts, child $old up [0-9]+ s\$"
	[[ $(tr '\0' ' ' <"/proc/$sup/cmdline") == *"[child $old] running, 0 restarts"* ]]
}

# notifier: writes $T/notify.py, a run for --notify that says "start
# PID", does what $T/notify.py.mode says (ready: READY=1; errno:
# ERRNO=5; anything else: nothing), sends READY=1 on each SIGUSR1, and
# leaves on SIGTERM.
notifier() {
	cat >"$T/notify.py" <<'PY'
import os, signal, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
def send(m):
    s.sendto(m.encode(), os.environ["NOTIFY_SOCKET"])
try:
    mode = open(sys.argv[0] + ".mode").read().strip()
except FileNotFoundError:
    mode = "ready"
print("start", os.getpid(), flush=True)
signal.signal(signal.SIGUSR1, lambda *a: send("READY=1"))
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
if mode == "ready":
    send("READY=1")
elif mode == "errno":
    send("ERRNO=5")
while True:
    time.sleep(1)
PY
}

@test "with --notify a reload takes the new run's READY=1 and refuses its ERRNO=" {
	notifier
	supervise --notify -t 5 --settle 0 python3 "$T/notify.py"
	run -0 --separate-stderr "$DAEMONIZE" --reload -p "$T/d.pid"
	local new=$output
	remember "$new"
	assert_equal "$(cat "$T/d.pid")" "$new"
	wait_until 5 gone "$old"
	old=$new
	echo errno >"$T/notify.py.mode"
	run -4 --separate-stderr "$DAEMONIZE" --reload -p "$T/d.pid"
	runs_started 3
	[[ $stderr == "daemonize: python3: not ready: Input/output error, stopped"* ]] ||
		fail "$stderr"
	[[ $stderr == *"daemonize: the last lines of $T/d.log:"* ]]
	wait_until 5 gone "$(started | tail -1)"
	only_run "$sup" "$old"
}

@test "with --notify a READY=1 from the old run does not make the new one ready" {
	notifier
	supervise --notify -t 1 --settle 0 python3 "$T/notify.py"
	echo never >"$T/notify.py.mode"
	"$DAEMONIZE" --reload -p "$T/d.pid" >"$T/out" 2>"$T/err" &
	local reload=$! start rc=0 new
	remember "$reload"
	start=$(now_ms)
	wait_until 5 runs_started 2
	new=$(started | tail -1)
	# The old run's word, sent while the new run gets ready.
	kill -USR1 "$old"
	sleep 0.2
	kill -USR1 "$old"
	wait "$reload" || rc=$?
	assert_equal "$rc" 4
	[ $(( $(now_ms) - start )) -ge 900 ]
	assert_equal "$(head -1 "$T/err")" "daemonize: python3: not ready after 1 s, stopped"
	[ ! -s "$T/out" ]
	wait_until 5 gone "$new"
	only_run "$sup" "$old"
}

@test "a second --reload or a --restart while a reload is under way answers 5" {
	service
	supervise --ready-fd 5 --settle 0 "$T/svc"
	mode slow
	"$DAEMONIZE" --reload -p "$T/d.pid" >"$T/out.a" 2>"$T/err.a" &
	local a=$!
	"$DAEMONIZE" --reload -p "$T/d.pid" >"$T/out.b" 2>"$T/err.b" &
	local b=$! ra=0 rb=0
	remember "$a"
	remember "$b"
	wait "$a" || ra=$?
	wait "$b" || rb=$?
	# One of them, whichever came first, did it.
	assert_equal "$(printf '%s\n' "$ra" "$rb" | sort | tr '\n' ' ')" "0 5 "
	local won lost
	if [ "$ra" = 0 ]; then won=a lost=b; else won=b lost=a; fi
	assert_equal "$(cat "$T/err.$lost")" \
		"daemonize: a reload is under way: try again once it is done"
	[ ! -s "$T/out.$lost" ]
	local new
	new=$(cat "$T/out.$won")
	remember "$new"
	assert_equal "$(cat "$T/d.pid")" "$new"
	run started
	assert_equal "${#lines[@]}" 2
	wait_until 5 gone "$old"
	old=$new
	# A --restart meanwhile is refused, and restarts nothing.
	"$DAEMONIZE" --reload -p "$T/d.pid" >"$T/out.c" 2>/dev/null &
	local c=$! rc=0
	remember "$c"
	wait_until 5 runs_started 3
	run -5 --separate-stderr "$DAEMONIZE" --restart -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: a reload is under way: try again once it is done"
	alive "$old"
	wait "$c" || rc=$?
	assert_equal "$rc" 0
	remember "$(cat "$T/out.c")"
	run started
	assert_equal "${#lines[@]}" 3
	run grep -c '^term ' "$T/d.log"
	assert_output 2
}

# stubborn: writes $T/stubborn, a run that logs "start PID" and each of
# TERM, INT and HUP it gets, and leaves on none.
stubborn() {
	cat >"$T/stubborn" <<'EOF'
#!/bin/sh
echo "start $$"
for sig in TERM INT HUP; do trap "echo \"$sig \$\$\"" "$sig"; done
while :; do sleep 0.05; done
EOF
	chmod 755 "$T/stubborn"
}

@test "an old run that outlives --drain-timeout is killed and the reload answers 6 with the new pid" {
	stubborn
	supervise --settle 0 --drain-timeout 1 "$T/stubborn"
	local start took
	start=$(now_ms)
	run -6 --separate-stderr "$DAEMONIZE" --reload -p "$T/d.pid"
	took=$(( $(now_ms) - start ))
	local new=$output
	remember "$new"
	[[ $new =~ ^[0-9]+$ ]]
	assert_equal "$(cat "$T/d.pid")" "$new"
	[ "$took" -ge 1000 ]
	[ "$took" -lt 3000 ]
	gone "$old"
	grep -qx "TERM $old" "$T/d.log"
	only_run "$sup" "$new"
}

@test "--drain-signal INT is what the old run gets at a reload" {
	stubborn
	supervise --settle 0 --drain-timeout 1 --drain-signal INT "$T/stubborn"
	run -6 "$DAEMONIZE" --reload -p "$T/d.pid"
	remember "$output"
	gone "$old"
	grep -qx "INT $old" "$T/d.log"
	run grep -c "^TERM " "$T/d.log"
	assert_output 0
}

@test "the pidfile polled through 20 reloads is never empty and always names a live run" {
	service
	supervise --ready-fd 5 --settle 0 "$T/svc"
	timeout 60 python3 -c '
import os, sys, time
path, stop, out = sys.argv[1:]
reads = bad = 0
def live(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in "ZX"
while not os.path.exists(stop):
    with open(path) as f:
        text = f.read()
    reads += 1
    pid = text.strip()
    if not pid.isdigit():
        bad += 1
        print("read %r" % text, file=sys.stderr)
    elif not live(pid):
        # Rewritten since it was read, or a dead pid it still names?
        with open(path) as f:
            if f.read() == text:
                bad += 1
                print("names dead %s" % pid, file=sys.stderr)
    time.sleep(0.001)
with open(out, "w") as f:
    print(reads, bad, file=f)
' "$T/d.pid" "$T/stop" "$T/polled" 3>&- &
	local poller=$! i
	remember "$poller"
	for i in $(seq 20); do
		"$DAEMONIZE" --reload -p "$T/d.pid" >"$T/new" ||
			fail "reload $i exited $?"
		remember "$(cat "$T/new")"
	done
	touch "$T/stop"
	wait "$poller"
	local reads bad
	read -r reads bad <"$T/polled"
	[ "$reads" -ge 100 ]
	assert_equal "$bad" 0
	run started
	assert_equal "${#lines[@]}" 21
	only_run "$sup" "$(cat "$T/new")"
}

# ask_as_nobody SUP REQUEST: connect as nobody to SUP's control socket,
# send REQUEST at once, and print what comes back, one message a line
# (as Python writes bytes).  A send that comes too late, once the
# supervisor closed, is no error: what it said is still to be read.
ask_as_nobody() {
	runuser -u nobody -- timeout 10 python3 -c '
import socket, sys
sup, request = sys.argv[1], sys.argv[2]
with open("/proc/%s/stat" % sup) as f:
    start = f.read().rsplit(")", 1)[1].split()[19]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("\0daemonize/%s/%s" % (sup, start))
try:
    s.send(request.encode())
except OSError as e:
    print("send: %s" % e)
s.settimeout(5)
while True:
    try:
        m = s.recv(4096)
    except OSError as e:
        print("error: %s" % e)
        break
    if not m:
        print("end")
        break
    print(repr(m))
    if m[:1] == b"\0":
        break
' "$1" "$2"
}

@test "a user other than root and the supervisor's own may not reload it" {
	need_root
	service
	local dir
	dir=$(public_dir)
	run -0 "$DAEMONIZE" -r --ready-fd 5 --settle 0 -P "$dir/sv.pid" \
		-p "$dir/d.pid" -l "$T/d.log" "$T/svc" 3>&-
	sup=$(cat "$dir/sv.pid")
	old=$(cat "$dir/d.pid")
	remember "$sup"
	remember "$old"
	run -1 runuser -u nobody -- "$DAEMONIZE" --reload -p "$dir/d.pid"
	# The supervisor's own check, without the verb's: whatever the
	# timing, each requester is told, and no run starts.
	local i
	for i in 1 2 3 4 5; do
		ask_as_nobody "$sup" "reload -1" >"$T/asked.$i"
	done
	sleep 0.3
	assert_equal "$(children_of "$sup")" "$old"
	run started
	assert_equal "${#lines[@]}" 1
	for i in 1 2 3 4 5; do
		run cat "$T/asked.$i"
		assert_line "b'daemonize: the supervisor takes requests from root and its own user only\\n'"
		assert_line "b'\\x001 -1'"
	done
}

@test "the -u user of a root supervisor may not reload it" {
	need_root
	local dir
	dir=$(public_dir)
	run -0 "$DAEMONIZE" -r -u nobody --settle 0 -P "$dir/sv.pid" \
		-p "$dir/d.pid" sleep 300 3>&-
	sup=$(cat "$dir/sv.pid")
	old=$(cat "$dir/d.pid")
	remember "$sup"
	remember "$old"
	[ "$(status_field "$old" Uid)" = "65534 65534 65534 65534" ]
	run -1 runuser -u nobody -- "$DAEMONIZE" --reload -p "$dir/d.pid"
	ask_as_nobody "$sup" "reload -1" >"$T/asked"
	sleep 0.3
	assert_equal "$(children_of "$sup")" "$old"
	# Root may.
	run -0 "$DAEMONIZE" --reload -p "$dir/d.pid"
	remember "$output"
	wait_until 5 gone "$old"
	run cat "$T/asked"
	assert_line "b'\\x001 -1'"
}

@test "SIGTERM or --stop to the supervisor while a new run gets ready ends both runs, and the reload exits 1" {
	local how
	service
	for how in signal stop; do
		rm -f "$T/svc.mode"
		supervise --ready-fd 5 "$T/svc"
		mode wait
		"$DAEMONIZE" --reload -p "$T/d.pid" >"$T/out" 2>"$T/err" &
		local reload=$! new rc=0
		remember "$reload"
		wait_until 5 runs_started 2
		new=$(started | tail -1)
		if [ "$how" = signal ]; then
			kill -TERM "$sup"
		else
			run -0 "$DAEMONIZE" --stop -P "$T/sv.pid"
		fi
		wait "$reload" || rc=$?
		assert_equal "$rc" 1
		assert_equal "$(cat "$T/err")" \
			"daemonize: the supervisor is stopping: the reload is abandoned"
		[ ! -s "$T/out" ]
		wait_until 5 gone "$old"
		wait_until 5 gone "$new"
		wait_until 5 gone "$sup"
		wait_until 5 group_gone "$new"
		[ ! -e "$T/sv.pid" ] && [ ! -e "$T/d.pid" ]
		no_process_mentions "$T/"
		mv "$T/d.log" "$T/d.log.$how"
	done
}

@test "SIGHUP to the supervisor reaches only the run that the pidfile names" {
	local reload new rc=0
	gated_reload
	# While the new run gets ready, the pidfile names the old one.
	kill -HUP "$sup"
	wait_until 5 grep -qx "HUP $old" "$T/d.log"
	touch "$T/gated.go"
	# While the old one drains, ignoring SIGTERM, the new one.
	wait_until 5 grep -qx "TERM $old" "$T/d.log"
	assert_equal "$(cat "$T/d.pid")" "$new"
	alive "$old"
	kill -HUP "$sup"
	wait_until 5 grep -qx "HUP $new" "$T/d.log"
	wait "$reload" || rc=$?
	assert_equal "$rc" 6
	run grep -c '^HUP ' "$T/d.log"
	assert_output 2
}

# family: writes $T/family, a run that forks a child into its own group;
# each logs the SIGTERM it gets, and the main one goes on after it.
family() {
	cat >"$T/family" <<'EOF'
#!/bin/sh
echo "start $$"
sh -c 'trap "echo child got TERM" TERM; echo "child $$"
	while :; do sleep 0.05; done' &
trap 'echo "main got TERM"' TERM
while :; do sleep 0.05; done
EOF
	chmod 755 "$T/family"
}

# child_of_run: the pid of the child that run $old forked.
child_of_run() {
	wait_until 5 grep -q '^child ' "$T/d.log" || return 1
	sed -n 's/^child //p' "$T/d.log" | tail -1
}

@test "--restart and --stop send SIGTERM to the run's main pid only, and SIGKILL to its group after --drain-timeout" {
	family
	supervise --drain-timeout 1 --min-uptime 0 "$T/family"
	local child start
	child=$(child_of_run)
	remember "$child"
	assert_equal "$(stat_field "$child" 5)" "$old"
	start=$(now_ms)
	run -0 "$DAEMONIZE" --restart -p "$T/d.pid"
	wait_until 5 grep -qx 'main got TERM' "$T/d.log"
	sleep 0.5
	alive "$child"
	wait_until 5 gone "$child"
	[ $(( $(now_ms) - start )) -ge 900 ]
	gone "$old"
	run grep -c 'child got TERM' "$T/d.log"
	assert_output 0
	# The next run, and the supervisor's stop.
	wait_until 5 runs_started 2
	old=$(started | tail -1)
	wait_until 5 sh -c "[ \"\$(grep -c '^child ' '$T/d.log')\" = 2 ]"
	child=$(child_of_run)
	remember "$child"
	start=$(now_ms)
	run -0 "$DAEMONIZE" --stop -p "$T/d.pid"
	[ $(( $(now_ms) - start )) -ge 900 ]
	gone "$child"
	gone "$old"
	wait_until 5 gone "$sup"
	run grep -c 'main got TERM' "$T/d.log"
	assert_output 2
	run grep -c 'child got TERM' "$T/d.log"
	assert_output 0
}

@test "lines of two runs writing at once never mix in the log" {
	# Lines of 3000 bytes written 100 at a time; the old run finishes
	# its line when SIGTERM comes, the new one writes until $T/stop.
	cat >"$T/writer.py" <<'PY'
import os, signal, sys, time
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
letter = b"B" if os.path.exists(sys.argv[0] + ".second") else b"A"
open(sys.argv[0] + ".second", "w").close()
out = sys.stdout.buffer
out.write(b"start %d\n" % os.getpid())
out.flush()
line = letter * 3000 + b"\n"
while not stop and not (letter == b"B" and os.path.exists(sys.argv[1])):
    for i in range(0, len(line), 100):
        out.write(line[i:i + 100])
        out.flush()
        time.sleep(0.0001)
if letter == b"B":
    out.write(b"B done\n")
    out.flush()
    time.sleep(300)
PY
	supervise --settle 1 python3 "$T/writer.py" "$T/stop"
	wait_until 5 grep -q '^A' "$T/d.log"
	run -0 "$DAEMONIZE" --reload -p "$T/d.pid"
	remember "$output"
	gone "$old"
	touch "$T/stop"
	wait_until 10 grep -qx 'B done' "$T/d.log"
	# Every line whole and of one run.
	run grep -cvE '^(A{3000}|B{3000}|B done|start [0-9]+|daemonize: .*)$' "$T/d.log"
	assert_output 0
	# And they did write at once: A lines after the first B line.
	run sh -c "sed -n '/^B/,\$p' '$T/d.log' | grep -c '^A'"
	[ "$output" -gt 0 ]
	[ "$(grep -c '^B' "$T/d.log")" -gt 1 ]
}

# private_dirty PID: kB of private dirty memory of PID.
private_dirty() {
	awk '$1 == "Private_Dirty:" { print $2 }' "/proc/$1/smaps_rollup"
}

@test "100 reloads leave the supervisor with the descriptors and the memory it had, and silent when idle" {
	need_strace
	supervise --settle 0 sleep 300
	run -0 "$DAEMONIZE" --reload -p "$T/d.pid"
	remember "$output"
	wait_until 5 gone "$old"
	local fds mem i
	fds=$(fd_count "$sup")
	mem=$(private_dirty "$sup")
	for i in $(seq 99); do
		"$DAEMONIZE" --reload -p "$T/d.pid" >"$T/new" ||
			fail "reload $i exited $?"
		remember "$(cat "$T/new")"
	done
	wait_until 5 sh -c "[ \"\$(grep -c 'reloaded: pid' '$T/d.log')\" = 100 ]"
	assert_equal "$(fd_count "$sup")" "$fds"
	[ "$(private_dirty "$sup")" -le $((mem + 12)) ] ||
		fail "Private_Dirty $(private_dirty "$sup") kB, was $mem kB"
	only_run "$sup" "$(cat "$T/new")"
	# Idle: strace sees no system call in a second, beyond the one it
	# interrupted to attach.
	timeout 30 strace -qq -o "$T/trace" -p "$sup" 3>&- &
	TRACER=$!
	remember "$TRACER"
	wait_until 5 attached_or_refused "$sup"
	tracer_of "$sup" >/dev/null || skip "strace cannot attach to a running process here"
	sleep 1
	end_trace
	run grep -v '^restart_syscall(<\.\.\. resuming interrupted ' "$T/trace"
	assert_output ""
}

@test "--reload refuses a daemon that is not supervised, and one that is not running" {
	refuses_unsupervised --reload
}

@test "--reload -t gives up waiting with 1, and the supervisor still ends the reload by itself" {
	service
	supervise --ready-fd 5 -t 3 --settle 0 "$T/svc"
	mode never
	local start took
	start=$(now_ms)
	run -1 --separate-stderr "$DAEMONIZE" --reload -t 1 -p "$T/d.pid"
	took=$(( $(now_ms) - start ))
	[ "$took" -ge 1000 ]
	[ "$took" -lt 2500 ]
	assert_output ""
	assert_equal "$stderr" "daemonize: $T/d.pid: no answer within 1 s; the supervisor goes on"
	runs_started 2
	wait_until 5 grep -qxF "daemonize: $T/svc: reload failed; pid $old goes on" \
		"$T/d.log"
	[ $(( $(now_ms) - start )) -ge 2900 ]
	wait_until 5 gone "$(started | tail -1)"
	only_run "$sup" "$old"
}
