#!/usr/bin/env bats
# --upgrade: the supervisor execs a new daemonize in its own process and
# keeps everything: its pid, its child, the locks, the logs and their
# lines, the sockets, its policy's state; and when the new binary will
# not do, the old one supervises on.

load test_helper/common

now_ms() {
	date +%s%3N
}

# free_port: a loopback TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# service: writes $T/svc, a run that says "start PID" and logs "hup PID"
# and "term PID" for those signals; TERM ends it.
service() {
	cat >"$T/svc" <<'EOF'
#!/bin/sh
echo "start $$"
trap 'echo "hup $$"' HUP
trap 'echo "term $$"; exit 0' TERM
while :; do sleep 0.05; done
EOF
	chmod 755 "$T/svc"
}

# stubborn: writes $T/stubborn, a run that says "start PID", logs each
# SIGTERM and leaves on none.
stubborn() {
	cat >"$T/stubborn" <<'EOF'
#!/bin/sh
echo "start $$"
trap 'echo "term $$"' TERM
while :; do sleep 0.05; done
EOF
	chmod 755 "$T/stubborn"
}

# supervise OPTIONS... COMMAND...: $BIN (the daemonize under test unless
# set) -r with -P sv.pid, -p d.pid and -l d.log; sets $sup and $kid (its
# first run), both remembered, and $self, the binary it runs.
supervise() {
	local bin=${BIN:-$DAEMONIZE}
	run -0 leak_checks_off "$bin" -r -P "$T/sv.pid" -p "$T/d.pid" \
		-l "$T/d.log" "$@" 3>&-
	sup=$(cat "$T/sv.pid")
	kid=$(cat "$T/d.pid")
	remember "$sup"
	remember "$kid"
	self=$(readlink -f "$bin")
}

# started: the pids of the runs that said "start", in order.
started() {
	sed -n 's/^start //p' "$T/d.log"
}

# upgraded_line [BINARY]: how the supervisor's word for an upgrade to
# BINARY ($self) while $kid runs.
upgraded_line() {
	echo "daemonize: upgrade: ${1:-$self} supervises on, pid $sup, child $kid; signals held "
}

# upgrades_logged: how many upgrades the log tells of.
upgrades_logged() {
	grep -c ' supervises on, pid ' "$T/d.log" || true
}

# locked FILE: another process holds FILE's lock.
locked() {
	python3 -c '
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(0)
sys.exit(1)
' "$1"
}

# same_supervisor: $sup still supervises $kid, named by both pidfiles,
# whose locks are held, and it is no one else's child.
same_supervisor() {
	assert_equal "$(cat "$T/sv.pid")" "$sup"
	assert_equal "$(cat "$T/d.pid")" "$kid"
	alive "$sup"
	alive "$kid"
	assert_equal "$(stat_field "$kid" 4)" "$sup"
	assert_equal "$(children_of "$sup")" "$kid"
	locked "$T/d.pid"
	locked "$T/sv.pid"
}

# sup_view: the descriptors of $sup, its self-pipe, new in each image,
# by that name.
sup_view() {
	local pipe listing
	pipe=$(self_pipe "$sup") || return 1
	listing=$(fds_of "$sup")
	echo "${listing//"$pipe"/self-pipe}"
}

# probe_locks OUT STOP FILE...: for the background.  Try each FILE's lock
# without blocking, over and over, until STOP exists and at least 10,000
# tries were made (60 s at most); then write "TRIES FREE" to OUT: FREE
# counts the tries that found a lock free, or a file missing.  Says it
# began by creating OUT.begun.
probe_locks() {
	exec python3 -c '
import fcntl, os, sys, time
out, stop, files = sys.argv[1], sys.argv[2], sys.argv[3:]
tries = free = 0
deadline = time.monotonic() + 60
open(out + ".begun", "w").close()
while time.monotonic() < deadline and (tries < 10000 or not os.path.exists(stop)):
    for name in files:
        tries += 1
        try:
            fd = os.open(name, os.O_RDONLY)
        except FileNotFoundError:
            free += 1
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            free += 1
            if free <= 3:
                print("%s was free" % name, file=sys.stderr)
        except BlockingIOError:
            pass
        os.close(fd)
with open(out, "w") as f:
    print(tries, free, file=f)
' "$@" 3>&-
}

# probed OUT: the probes of probe_locks were enough, and none found a
# lock free.
probed() {
	local tries free
	read -r tries free <"$1"
	[ "$tries" -ge 10000 ] || fail "only $tries probes"
	assert_equal "$free" 0
}

# trace_alone PID STRACE-OPTIONS...: trace_running without -f: strace
# attaches to PID only, so that what it injects reaches neither the
# preflight nor the runs that PID forks.  $TRACER for end_trace.
trace_alone() {
	local pid=$1
	shift
	timeout 30 strace -qq -o /dev/null -p "$pid" "$@" 3>&- &
	TRACER=$!
	remember "$TRACER"
	wait_until 5 attached_or_refused "$pid" || return 1
	if ! tracer_of "$pid" >/dev/null; then
		end_trace
		skip "strace cannot attach to a running process here"
	fi
	remember "$(tracer_of "$pid")"
}

# widen PID: strace holds each execveat(2) of PID for 400 ms on entry,
# the exec of an upgrade among them, whose window, every signal blocked,
# is then wide enough to act in.
widen() {
	trace_alone "$1" -e trace=execveat -e inject=execveat:delay_enter=400000
}

# in_window PID: PID blocks its signals and strace holds it: it is
# between the last look at its signals and the new image.
in_window() {
	[ "$(status_field "$1" SigBlk)" != 0000000000000000 ] &&
		[ "$(stat_field "$1" 3)" = t ]
}

# upgrade_in_background: an --upgrade of the supervisor of $T/d.pid, its
# stdout and stderr in $T/up.out and $T/up.err; $upgrading is its pid,
# the requester's own.
upgrade_in_background() {
	"$DAEMONIZE" --upgrade -t 20 -p "$T/d.pid" >"$T/up.out" \
		2>"$T/up.err" 3>&- &
	upgrading=$!
	remember "$upgrading"
}

# status_line: the second line of --status, about the supervisor.
status_line() {
	"$DAEMONIZE" --status -p "$T/d.pid" | sed -n 2p
}

# restarts_are N: --status counts N restarts.
restarts_are() {
	[[ $(status_line) == *", $1 restarts"* ]]
}

@test "an upgrade keeps the supervisor's pid, its child, its restart count and both pidfiles, and answers 0" {
	service
	supervise --min-uptime 0 "$T/svc"
	# One restart first, for a count to keep.
	kill -KILL "$kid"
	wait_for_new_child "$T/d.pid" "$kid" "$sup"
	kid=$(cat "$T/d.pid")
	wait_until 5 restarts_are 1
	cp "$T/sv.pid" "$T/sv.pid.before"
	cp "$T/d.pid" "$T/d.pid.before"
	local ino
	ino=$(stat -c %i "$T/d.pid")
	run -0 --separate-stderr "$DAEMONIZE" --upgrade -v -p "$T/d.pid"
	assert_output ""
	assert_equal "$stderr" "daemonize: $T/d.pid: upgraded; child $kid supervised on"
	same_supervisor
	cmp "$T/sv.pid" "$T/sv.pid.before"
	cmp "$T/d.pid" "$T/d.pid.before"
	assert_equal "$(stat -c %i "$T/d.pid")" "$ino"
	run -0 "$DAEMONIZE" --status -p "$T/d.pid"
	assert_line --index 0 "$kid"
	assert_line --index 1 --regexp "^supervised by $sup: running, 1 restarts, child $kid up [0-9]+ s\$"
	[[ $(tr '\0' ' ' <"/proc/$sup/cmdline") == *"[child $kid] running, 1 restarts"* ]]
	run grep -cF "$(upgraded_line)" "$T/d.log"
	assert_output 1
	# The child was left alone: no signal, no new run.
	run started
	assert_equal "${#lines[@]}" 2
	run grep -c -e '^term ' -e '^hup ' "$T/d.log"
	assert_output 0
	# And -P names the same supervisor to upgrade.
	run -0 "$DAEMONIZE" --upgrade -P "$T/sv.pid"
	same_supervisor
	run grep -cF "$(upgraded_line)" "$T/d.log"
	assert_output 2
}

# flooder: writes $T/flood.py, a run that writes "0\n", "1\n" ... as fast
# as it can, in writes of 6007 bytes (about 1000 lines), so that nearly
# every write ends in the middle of a line, until the file $1 exists or
# 5 million lines; then "done N" and it sleeps.
flooder() {
	cat >"$T/flood.py" <<'PY'
import os, sys, time
stop = sys.argv[1]
n = 0
pending = b""
while n < 5_000_000 and not os.path.exists(stop):
    pending += b"".join(b"%d\n" % i for i in range(n, n + 1000))
    n += 1000
    while len(pending) >= 6007:
        buf = memoryview(pending[:6007])
        pending = pending[6007:]
        while buf:
            buf = buf[os.write(1, buf):]
    # A breath, or the log fills the disk: still faster than a line
    # a microsecond.
    time.sleep(0.001)
os.write(1, pending + b"done %d\n" % n)
time.sleep(300)
PY
}

# check_flood LOG UPGRADED-LINE: every line of the flood once, in
# order, each with one stamp; the supervisor's lines unstamped and on
# lines of their own, a line of the run that it cut going on after it.
# Prints "lines N upgrades U cut C"; what is wrong on stderr, and fails.
check_flood() {
	python3 -c '
import re, sys
log, upgraded = sys.argv[1], sys.argv[2].encode()
stamp = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d ")
data = open(log, "rb").read()
errors = []
def bad(what):
    if len(errors) < 10:
        print(what, file=sys.stderr)
    errors.append(what)
if not data.endswith(b"\n"):
    bad("the log does not end with a newline")
records, upgrades, cut, own = [], 0, 0, False
for n, line in enumerate(data.split(b"\n")[:-1], 1):
    if line.startswith(b"daemonize:"):
        if line.startswith(upgraded):
            upgrades += 1
        else:
            bad("line %d: %r" % (n, line))
        own = True
        continue
    m = stamp.match(line)
    if m:
        records.append(line[m.end():])
    elif own and records:
        # The rest of a line cut by the supervisor own: no stamp.
        records[-1] += line
        cut += 1
    else:
        bad("line %d has no stamp: %r" % (n, line[:80]))
    own = False
if not records or not re.fullmatch(rb"done \d+", records[-1]):
    bad("no done line at the end")
else:
    total = int(records[-1].split()[1])
    if len(records) != total + 1:
        bad("%d lines for %d written" % (len(records) - 1, total))
    for i, r in enumerate(records[:-1]):
        if r != b"%d" % i:
            bad("line %d of the run reads %r" % (i, r[:80]))
            break
print("lines %d upgrades %d cut %d" % (len(records) - 1, upgrades, cut))
sys.exit(1 if errors else 0)
' "$@"
}

@test "100 upgrades amid a flood of output lose no line, double none, stamp each once, and never free a lock" {
	flooder
	supervise --timestamps python3 "$T/flood.py" "$T/stop"
	wait_until 10 grep -q ' 1000$' "$T/d.log"
	probe_locks "$T/probed" "$T/probe.stop" "$T/d.pid" "$T/sv.pid" &
	local prober=$! i
	remember "$prober"
	wait_until 5 test -e "$T/probed.begun"
	for i in $(seq 100); do
		"$DAEMONIZE" --upgrade -p "$T/d.pid" ||
			fail "upgrade $i exited $?"
	done
	touch "$T/stop" "$T/probe.stop"
	wait "$prober"
	probed "$T/probed"
	wait_until 10 grep -q ' done [0-9]*$' "$T/d.log"
	same_supervisor
	run check_flood "$T/d.log" "$(upgraded_line)"
	assert_success
	[[ $output =~ ^lines\ ([0-9]+)\ upgrades\ 100\ cut\ ([0-9]+)$ ]] ||
		fail "$output"
	# The flood went on through the upgrades, and some came in the
	# middle of one of its lines.
	[ "${BASH_REMATCH[1]}" -ge 10000 ]
	[ "${BASH_REMATCH[2]}" -ge 1 ]
}

# web_server: writes $T/web.py, an HTTP server on the socket of fd 3
# that answers "ok" to every GET.
web_server() {
	cat >"$T/web.py" <<'PY'
import http.server, socket
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler,
                                bind_and_activate=False)
server.socket.close()
server.socket = socket.socket(fileno=3)
server.serve_forever()
PY
}

# serving PORT: a GET to PORT is answered 200.  (The supervisor holds
# the socket: a connection alone is taken while no run serves.)
serving() {
	python3 -c 'import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=1)
c.request("GET", "/")
sys.exit(c.getresponse().status != 200)' "$1" 2>/dev/null
}

# socket_of PID: the socket:[INODE] on fd 3 of PID, the first --listen.
socket_of() {
	readlink "/proc/$1/fd/3"
}

@test "a client stream through 20 upgrades of the supervisor of a --listen server loses no request" {
	web_server
	local port listening
	port=$(free_port)
	supervise --min-uptime 0 --listen "tcp:127.0.0.1:$port" \
		python3 "$T/web.py"
	wait_until 10 serving "$port"
	listening=$(socket_of "$sup")
	[[ $listening == socket:* ]]
	timeout 30 python3 "$BATS_TEST_DIRNAME/test_helper/stream.py" \
		127.0.0.1 "$port" 400 4 >"$T/streamed" 3>&- &
	local streamer=$! i
	remember "$streamer"
	sleep 0.1
	for i in $(seq 20); do
		"$DAEMONIZE" --upgrade -p "$T/d.pid" ||
			fail "upgrade $i exited $?"
		sleep 0.05
	done
	# The stream outlasted the upgrades.
	alive "$streamer"
	wait "$streamer"
	assert_equal "$(cat "$T/streamed")" "ok 400 refused 0 failed 0 killed 0"
	same_supervisor
	assert_equal "$(socket_of "$sup")" "$listening"
	assert_equal "$(socket_of "$kid")" "$listening"
	# A run started after them gets that very socket.
	kill -KILL "$kid"
	wait_for_new_child "$T/d.pid" "$kid" "$sup"
	kid=$(cat "$T/d.pid")
	wait_until 10 serving "$port"
	assert_equal "$(socket_of "$kid")" "$listening"
	run -0 timeout 30 python3 "$BATS_TEST_DIRNAME/test_helper/stream.py" \
		127.0.0.1 "$port" 20 1
	assert_output "ok 20 refused 0 failed 0 killed 0"
}

# upgrade_in_window: an --upgrade of $sup in the background, its exec
# widened by strace, and wait until the supervisor is in that window.
upgrade_in_window() {
	widen "$sup"
	upgrade_in_background
	wait_until 5 in_window "$sup"
}

# upgrade_answered STATUS: the background --upgrade exits STATUS.
upgrade_answered() {
	local rc=0
	wait "$upgrading" || rc=$?
	assert_equal "$rc" "$1"
}

@test "a child killed while the supervisor execs is seen by the new image, which respawns it" {
	need_strace
	service
	supervise --min-uptime 0 "$T/svc"
	upgrade_in_window
	kill -KILL "$kid"
	upgrade_answered 0
	wait_for_new_child "$T/d.pid" "$kid" "$sup"
	end_trace
	local new
	new=$(cat "$T/d.pid")
	assert_equal "$(stat_field "$new" 4)" "$sup"
	assert_equal "$(children_of "$sup")" "$new"
	assert_equal "$(cat "$T/sv.pid")" "$sup"
	# The upgrade first, then the new image's word on the death.
	local up killed
	up=$(grep -nF "$(upgraded_line)" "$T/d.log" | cut -d: -f1)
	killed=$(grep -nxF "daemonize: $T/svc: killed by SIGKILL" "$T/d.log" |
		cut -d: -f1)
	[ -n "$up" ] && [ -n "$killed" ] || fail "$(cat "$T/d.log")"
	[ "$killed" -gt "$up" ]
	wait_until 5 grep -qx "start $new" "$T/d.log"
	run started
	assert_equal "${#lines[@]}" 2
	wait_until 5 restarts_are 1
}

@test "SIGTERM to the supervisor while it execs stops the service cleanly after the upgrade" {
	need_strace
	service
	supervise "$T/svc"
	upgrade_in_window
	kill -TERM "$sup"
	upgrade_answered 0
	wait_until 5 gone "$kid"
	wait_until 5 gone "$sup"
	end_trace
	[ ! -e "$T/sv.pid" ] && [ ! -e "$T/d.pid" ]
	grep -qF "$(upgraded_line)" "$T/d.log"
	run grep -c "^term $kid\$" "$T/d.log"
	assert_output 1
	run started
	assert_equal "${#lines[@]}" 1
	no_process_mentions "$T/"
}

@test "SIGHUP to the supervisor while it execs reopens the logs once, after the upgrade" {
	need_strace
	service
	supervise "$T/svc"
	mv "$T/d.log" "$T/d.log.old"
	upgrade_in_window
	kill -HUP "$sup"
	upgrade_answered 0
	end_trace
	wait_until 5 grep -qx "hup $kid" "$T/d.log"
	# The upgrade was told in the old file, before the reopening.
	grep -qF "$(upgraded_line)" "$T/d.log.old"
	run grep -c '^hup ' "$T/d.log.old" "$T/d.log"
	assert_line "$T/d.log.old:0"
	assert_line "$T/d.log:1"
	assert_equal "$(readlink "/proc/$sup/fd/2")" "$T/d.log"
	# Once: no second reopening makes another file.
	mv "$T/d.log" "$T/d.log.new"
	sleep 0.3
	[ ! -e "$T/d.log" ]
	same_supervisor
}

# lingering: writes $T/lingering, a run that says "start PID" and, on
# SIGTERM, "term PID" 0.5 s later, and leaves.
lingering() {
	cat >"$T/lingering" <<'EOF'
#!/bin/sh
echo "start $$"
trap 'sleep 0.5; echo "term $$"; exit 0' TERM
while :; do sleep 0.05; done
EOF
	chmod 755 "$T/lingering"
}

# concurrently N NAME ARG...: N "daemonize ARG..." at once, in the
# background, each bounded to 30 s; the exit status of the I-th goes to
# $T/NAME.I, its stderr to $T/NAME.I.err, its pid onto the array pids.
concurrently() {
	local n=$1 name=$2 k rc
	shift 2
	for k in $(seq "$n"); do
		{
			rc=0
			timeout 30 "$DAEMONIZE" "$@" 2>"$T/$name.$k.err" || rc=$?
			echo "$rc" >"$T/$name.$k"
		} 3>&- &
		pids+=($!)
		remember "$!"
	done
}

@test "--restarts sent while the supervisor execs are answered after it, as many restarts as answered 0" {
	need_strace
	lingering
	supervise --min-uptime 0 "$T/lingering"
	upgrade_in_window
	local i pids=() rc zero=0
	concurrently 20 restart --restart -p "$T/d.pid"
	upgrade_answered 0
	for i in "${pids[@]}"; do
		wait "$i"
	done
	end_trace
	for i in $(seq 20); do
		rc=$(cat "$T/restart.$i")
		case $rc in
		0) zero=$((zero + 1)) ;;
		5) assert_equal "$(cat "$T/restart.$i.err")" \
			"daemonize: a restart is under way" ;;
		*) fail "--restart $i exited $rc: $(cat "$T/restart.$i.err")" ;;
		esac
	done
	[ "$zero" -ge 1 ]
	wait_until 5 restarts_are "$zero"
	wait_until 5 sh -c "[ \$(grep -c '^start ' '$T/d.log') = $((zero + 1)) ]"
	sleep 0.3
	restarts_are "$zero"
	run started
	assert_equal "${#lines[@]}" $((zero + 1))
	kid=$(cat "$T/d.pid")
	remember "$kid"
	assert_equal "$(children_of "$sup")" "$kid"
	assert_equal "$(started | tail -1)" "$kid"
}

@test "an upgrade in a backoff keeps its deadline: the next start comes when it would have" {
	supervise --min-uptime 10 sh -c 'echo "start $(date +%s.%N)"; exit 1'
	# Starts at 0 s, 1 s, and 2 s after the second one ended.
	wait_until 5 grep -qx "daemonize: sh: restarting in 2 s" "$T/d.log"
	local before i at
	before=$(status_line)
	assert_equal "$before" "supervised by $sup: backing off, 2 restarts"
	for i in 1 2 3 4; do
		sleep 0.25
		run -0 "$DAEMONIZE" --upgrade -p "$T/d.pid"
	done
	assert_equal "$(status_line)" "$before"
	assert_equal "$(cat "$T/sv.pid")" "$sup"
	# Between runs the pidfile names the supervisor.
	assert_equal "$(cat "$T/d.pid")" "$sup"
	wait_until 5 sh -c "[ \$(grep -c '^start ' '$T/d.log') -ge 3 ]"
	# Here the runs say when they started.
	mapfile -t at < <(started)
	# The upgrades came between the second start and the third.
	run sh -c "sed -n '/^start ${at[1]}\$/,/^start ${at[2]}\$/p' '$T/d.log' |
		grep -c ' supervises on, pid $sup, '"
	assert_output 4
	# Late by as much as the first wait was, within 100 ms.
	run python3 -c 'import sys; a = [float(x) for x in sys.argv[1:]]
print(round(abs((a[2] - a[1] - 2) - (a[1] - a[0] - 1)) * 1000))' "${at[@]:0:3}"
	[ "$output" -le 100 ] || fail "the third start was $output ms off"
	wait_until 5 grep -qx "daemonize: sh: restarting in 4 s" "$T/d.log"
	assert_equal "$(status_line)" "supervised by $sup: backing off, 3 restarts"
}

@test "a supervisor that gave up is still given up after an upgrade, and --restart revives it" {
	supervise --max-failures 1 --min-uptime 10 sh -c 'echo "start $$"; exit 1'
	wait_until 5 grep -q 'gave up after 1 failed starts' "$T/d.log"
	local before
	before=$(status_line)
	[[ $before == "supervised by $sup: given up, "* ]]
	run -0 "$DAEMONIZE" --upgrade -p "$T/d.pid"
	assert_equal "$(status_line)" "$before"
	[[ $(tr '\0' ' ' <"/proc/$sup/cmdline") == *"[no child] given up"* ]]
	sleep 1.2
	run started
	assert_equal "${#lines[@]}" 1
	run -0 "$DAEMONIZE" --restart -p "$T/d.pid"
	wait_until 5 sh -c "[ \$(grep -c '^start ' '$T/d.log') = 2 ]"
	alive "$sup"
}

# refused WHY BINARY: --upgrade=BINARY answers 4 and says WHY, and
# nothing changed: the pids, the locks, the log, the binary run, the
# descriptors.
refused() {
	local why=$1 binary=$2 sum fds
	sum=$(cksum <"$T/d.log")
	fds=$(fds_of "$sup")
	run -4 --separate-stderr "$DAEMONIZE" --upgrade="$binary" -p "$T/d.pid"
	assert_output ""
	[[ $stderr == *"$why"* ]] || fail "no \"$why\" in: $stderr"
	same_supervisor
	assert_equal "$(cksum <"$T/d.log")" "$sum"
	assert_equal "$(readlink "/proc/$sup/exe")" "$self"
	assert_equal "$(fds_of "$sup")" "$fds"
}

@test "a binary that is not trusted, or fails the preflight, is refused with 4 and the old image supervises on" {
	supervise sleep 300
	mkdir -m 755 "$T/bin"
	local untrusted="set-id, not owned by root or us, or writable by others: not trusted"
	refused "daemonize: preflight: the new binary gave no answer" /bin/true
	cp "$DAEMONIZE" "$T/bin/open"
	chmod 0777 "$T/bin/open"
	refused "daemonize: upgrade: $T/bin/open: $untrusted" "$T/bin/open"
	cp "$DAEMONIZE" "$T/bin/setuid"
	chmod 4755 "$T/bin/setuid"
	refused "daemonize: upgrade: $T/bin/setuid: $untrusted" "$T/bin/setuid"
	if [ "$(id -u)" = 0 ]; then
		cp "$DAEMONIZE" "$T/bin/nobodys"
		chown nobody "$T/bin/nobodys"
		refused "daemonize: upgrade: $T/bin/nobodys: $untrusted" "$T/bin/nobodys"
	fi
	cp "$DAEMONIZE" "$T/bin/plain"
	chmod 0644 "$T/bin/plain"
	refused "daemonize: upgrade: $T/bin/plain: not an executable file" "$T/bin/plain"
	mkdir "$T/bin/dir"
	refused "daemonize: upgrade: $T/bin/dir: not an executable file" "$T/bin/dir"
	refused "daemonize: upgrade: $T/bin/none: No such file or directory" \
		"$T/bin/none"
	mkdir -m 0777 "$T/shared"
	chmod 0777 "$T/shared"
	cp "$DAEMONIZE" "$T/shared/daemonize"
	refused "daemonize: upgrade: $T/shared/daemonize: its directory is writable by others or not owned by root or us: not trusted" \
		"$T/shared/daemonize"
	# Our very binary, with a library that is nowhere to be found.
	python3 -c 'import sys
b = open(sys.argv[1], "rb").read()
assert b.count(b"libc.so.6\0") == 1
open(sys.argv[2], "wb").write(b.replace(b"libc.so.6\0", b"libQ.so.6\0"))' \
		"$DAEMONIZE" "$T/bin/nolib"
	chmod 755 "$T/bin/nolib"
	run -127 "$T/bin/nolib" --version
	refused "daemonize: preflight: the new binary did not take the state: " \
		"$T/bin/nolib"
	[[ $stderr == *"error while loading shared libraries: libQ.so.6"* ]]
	# A world-writable directory with the sticky bit is fine.
	mkdir "$T/sticky"
	chmod 1777 "$T/sticky"
	cp "$DAEMONIZE" "$T/sticky/daemonize"
	run -0 "$DAEMONIZE" --upgrade="$T/sticky/daemonize" -p "$T/d.pid"
	same_supervisor
	assert_equal "$(readlink "/proc/$sup/exe")" "$T/sticky/daemonize"
	grep -qF "$(upgraded_line "$T/sticky/daemonize")" "$T/d.log"
}

@test "when the exec fails, or the new image cannot take over, the old binary supervises on, even deleted" {
	need_strace
	mkdir -m 755 "$T/old" "$T/new"
	cp "$DAEMONIZE" "$T/old/daemonize"
	cp "$DAEMONIZE" "$T/new/daemonize"
	BIN=$T/old/daemonize supervise --min-uptime 0 sleep 300
	rm "$T/old/daemonize"
	local fds
	fds=$(sup_view)
	# The exec itself fails: the old image never left.
	trace_alone "$sup" -e trace=execveat -e inject=execveat:error=ENOMEM:when=1
	run -4 --separate-stderr "$T/new/daemonize" --upgrade="$T/new/daemonize" \
		-p "$T/d.pid"
	end_trace
	assert_equal "$stderr" "daemonize: upgrade: exec $T/new/daemonize: Cannot allocate memory"
	same_supervisor
	assert_equal "$(readlink "/proc/$sup/exe")" "$T/old/daemonize (deleted)"
	assert_equal "$(sup_view)" "$fds"
	# The new image fails to go where the supervisor started: back to
	# the old binary, through the descriptor kept on the deleted file.
	trace_alone "$sup" -e trace=chdir -e inject=chdir:error=ENOENT:when=1
	run -4 --separate-stderr "$T/new/daemonize" --upgrade="$T/new/daemonize" \
		-p "$T/d.pid"
	end_trace
	assert_output ""
	assert_equal "$stderr" "daemonize: upgrade: the new image: $T: the directory the supervisor was started in: No such file or directory (its command line's relative paths would change meaning)
daemonize: not upgraded: the old binary supervises on"
	same_supervisor
	assert_equal "$(readlink "/proc/$sup/exe")" "$T/old/daemonize (deleted)"
	assert_equal "$(sup_view)" "$fds"
	grep -qxF "daemonize: upgrade: rolled back; this binary supervises on" \
		"$T/d.log"
	run grep -c ' supervises on, pid ' "$T/d.log"
	assert_output 0
	# It still supervises: a killed child comes back.
	kill -KILL "$kid"
	wait_for_new_child "$T/d.pid" "$kid" "$sup"
	kid=$(cat "$T/d.pid")
	same_supervisor
	# And a sound upgrade then takes.
	run -0 "$T/new/daemonize" --upgrade="$T/new/daemonize" -p "$T/d.pid"
	assert_equal "$(readlink "/proc/$sup/exe")" "$T/new/daemonize"
	same_supervisor
}

@test "after a package manager renamed a new binary over the old one, --upgrade with no path takes it and every verb works" {
	mkdir -m 755 "$T/bin"
	cp "$DAEMONIZE" "$T/bin/daemonize"
	service
	BIN=$T/bin/daemonize supervise --min-uptime 0 "$T/svc"
	cp "$DAEMONIZE" "$T/bin/.daemonize.new"
	mv "$T/bin/.daemonize.new" "$T/bin/daemonize"
	assert_equal "$(readlink "/proc/$sup/exe")" "$T/bin/daemonize (deleted)"
	run -0 --separate-stderr "$T/bin/daemonize" --upgrade -p "$T/d.pid"
	assert_equal "$(readlink "/proc/$sup/exe")" "$T/bin/daemonize"
	assert_equal "$(stat -L -c %i "/proc/$sup/exe")" "$(stat -c %i "$T/bin/daemonize")"
	same_supervisor
	grep -qF "$(upgraded_line)" "$T/d.log"
	run -0 "$T/bin/daemonize" --restart -p "$T/d.pid"
	wait_for_new_child "$T/d.pid" "$kid" "$sup"
	grep -qx "term $kid" "$T/d.log"
	kid=$(cat "$T/d.pid")
	wait_until 5 grep -qx "start $kid" "$T/d.log"
	run -0 "$T/bin/daemonize" --status -p "$T/d.pid"
	assert_line --index 0 "$kid"
	assert_line --index 1 --regexp "^supervised by $sup: running, 1 restarts, child $kid up [0-9]+ s\$"
	run -0 "$T/bin/daemonize" --stop -P "$T/sv.pid"
	wait_until 5 gone "$sup"
	gone "$kid"
	[ ! -e "$T/sv.pid" ] && [ ! -e "$T/d.pid" ]
	grep -qx "term $kid" "$T/d.log"
}

@test "ten --upgrades at once each answer 0 or 4, and the supervisor and its locks come through" {
	service
	supervise "$T/svc"
	probe_locks "$T/probed" "$T/probe.stop" "$T/d.pid" "$T/sv.pid" &
	local prober=$! i pids=() rc zero=0
	remember "$prober"
	wait_until 5 test -e "$T/probed.begun"
	concurrently 10 up --upgrade -p "$T/d.pid"
	for i in "${pids[@]}"; do
		wait "$i"
	done
	touch "$T/probe.stop"
	wait "$prober"
	probed "$T/probed"
	for i in $(seq 10); do
		rc=$(cat "$T/up.$i")
		case $rc in
		0) zero=$((zero + 1)) ;;
		4) [[ $(cat "$T/up.$i.err") == "daemonize: not upgraded: "* ]] ||
			fail "upgrade $i: $(cat "$T/up.$i.err")" ;;
		*) fail "upgrade $i exited $rc: $(cat "$T/up.$i.err")" ;;
		esac
	done
	[ "$zero" -ge 1 ]
	assert_equal "$(upgrades_logged)" "$zero"
	# Nothing but those words from the supervisor, and its run untouched.
	run grep -v -e '^start ' -e ' supervises on, pid ' "$T/d.log"
	assert_output ""
	same_supervisor
	run -0 "$DAEMONIZE" --status -p "$T/d.pid"
	assert_line --index 1 --regexp "^supervised by $sup: running, 0 restarts, child $kid up [0-9]+ s\$"
}

@test "an upgrade whose requester was killed in the middle is done all the same" {
	need_strace
	service
	supervise "$T/svc"
	upgrade_in_window
	assert_equal "$(tr '\0' ' ' <"/proc/$upgrading/cmdline")" \
		"$DAEMONIZE --upgrade -t 20 -p $T/d.pid "
	kill -KILL "$upgrading"
	upgrade_answered 137
	wait_until 5 grep -qF "$(upgraded_line)" "$T/d.log"
	end_trace
	same_supervisor
	run -0 "$DAEMONIZE" --upgrade -p "$T/d.pid"
	assert_equal "$(upgrades_logged)" 2
	run -0 "$DAEMONIZE" --restart -p "$T/d.pid"
	wait_for_new_child "$T/d.pid" "$kid" "$sup"
}

@test "--upgrade -t gives up waiting with 5, and the upgrade is done all the same" {
	need_strace
	service
	supervise "$T/svc"
	trace_alone "$sup" -e trace=execveat -e inject=execveat:delay_enter=1500000
	local start took
	start=$(now_ms)
	run -5 --separate-stderr "$DAEMONIZE" --upgrade -t 1 -p "$T/d.pid"
	took=$(( $(now_ms) - start ))
	assert_output ""
	assert_equal "$stderr" "daemonize: $T/d.pid: no answer within 1 s; the supervisor goes on"
	[ "$took" -ge 1000 ] && [ "$took" -lt 1500 ] || fail "took $took ms"
	wait_until 5 grep -qF "$(upgraded_line)" "$T/d.log"
	end_trace
	same_supervisor
}

# run_view PID: the descriptors of PID, pipes without their numbers.
run_view() {
	fds_of "$1" | sed 's/pipe:\[[0-9]*\]/pipe/'
}

# environment_of PID: the environment of PID, one a line, sorted, but
# LISTEN_PID, which names PID.
environment_of() {
	tr '\0' '\n' <"/proc/$1/environ" | grep -v '^LISTEN_PID=' | sort
}

@test "100 upgrades leave the supervisor its descriptors, and a run started after them what the first run had" {
	local port
	port=$(free_port)
	supervise --min-uptime 0 --listen "tcp:127.0.0.1:$port" sleep 300
	local fds count view env i
	fds=$(sup_view)
	count=$(fd_count "$sup")
	view=$(run_view "$kid")
	env=$(environment_of "$kid")
	assert_equal "$(ls "/proc/$kid/fd" | sort -n | tr '\n' ' ')" "0 1 2 3 "
	for i in $(seq 100); do
		"$DAEMONIZE" --upgrade -p "$T/d.pid" ||
			fail "upgrade $i exited $?"
	done
	assert_equal "$(upgrades_logged)" 100
	assert_equal "$(fd_count "$sup")" "$count"
	assert_equal "$(sup_view)" "$fds"
	same_supervisor
	kill -KILL "$kid"
	wait_for_new_child "$T/d.pid" "$kid" "$sup"
	kid=$(cat "$T/d.pid")
	wait_until 5 sh -c "[ \"\$(readlink /proc/$kid/exe)\" = \"$(command -v sleep | xargs readlink -f)\" ]"
	assert_equal "$(run_view "$kid")" "$view"
	assert_equal "$(environment_of "$kid")" "$env"
	grep -qx "LISTEN_PID=$kid" < <(tr '\0' '\n' <"/proc/$kid/environ")
	# The new run's pipes replaced the old one's: no more, no fewer.
	assert_equal "$(fd_count "$sup")" "$count"
}

# cloexec_view: each descriptor of $sup with its close-on-exec flag, the
# self-pipe by that name.
cloexec_view() {
	local fd flags
	while read -r fd _; do
		flags=$(awk '$1 == "flags:" { print $2 }' "/proc/$sup/fdinfo/$fd")
		if (( 8#$flags & 8#2000000 )); then
			echo "$fd cloexec"
		else
			echo "$fd inherited"
		fi
	done < <(sup_view)
}

@test "an upgrade leaves close-on-exec each descriptor of the supervisor that was" {
	local port
	port=$(free_port)
	service
	supervise --listen "tcp:127.0.0.1:$port" "$T/svc"
	local before after fd lost=
	before=$(cloexec_view)
	run -0 "$DAEMONIZE" --upgrade -p "$T/d.pid"
	after=$(cloexec_view)
	for fd in $(awk '$2 == "cloexec" { print $1 }' <<<"$before"); do
		grep -qx "$fd cloexec" <<<"$after" || lost="$lost $fd"
	done
	[ -z "$lost" ] || fail "no longer close-on-exec:$lost (of $(fds_of "$sup"))"
}

# spy: builds $T/bin/spy, a program that writes "FD TARGET" for each of
# its descriptors to $T/spied, and exits 1.
spy() {
	command -v cc >/dev/null || skip "no C compiler"
	mkdir -p -m 755 "$T/bin"
	cat >"$T/spy.c" <<'EOF'
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main(void)
{
	char path[64], target[4096];
	struct dirent *e;
	FILE *out;
	DIR *d;
	ssize_t n;

	if ((out = fopen(OUT, "w")) == NULL ||
	    (d = opendir("/proc/self/fd")) == NULL)
		return 2;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d) ||
		    atoi(e->d_name) == fileno(out))
			continue;
		(void)snprintf(path, sizeof(path), "/proc/self/fd/%s",
		    e->d_name);
		if ((n = readlink(path, target, sizeof(target) - 1)) == -1)
			continue;
		target[n] = '\0';
		fprintf(out, "%s %s\n", e->d_name, target);
	}
	return 1;
}
EOF
	cc -DOUT="\"$T/spied\"" -o "$T/bin/spy" "$T/spy.c"
}

# spied: what the spy had, its output pipe and the state named so.
spied() {
	sort -n "$T/spied" | sed -e 's/pipe:\[[0-9]*\]/pipe/' \
		-e 's|/memfd:daemonize-state (deleted)|state|' | cut -d' ' -f2- |
		tr '\n' ','
}

@test "a binary on trial in the preflight gets its output and the state, and none of the supervisor's descriptors" {
	spy
	service
	supervise "$T/svc"
	run -4 --separate-stderr "$DAEMONIZE" --upgrade="$T/bin/spy" -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: preflight: the new binary gave no answer"
	assert_equal "$(spied)" "/dev/null,pipe,pipe,state,"
	# Nor after an upgrade.
	run -0 "$DAEMONIZE" --upgrade -p "$T/d.pid"
	run -4 "$DAEMONIZE" --upgrade="$T/bin/spy" -p "$T/d.pid"
	assert_equal "$(spied)" "/dev/null,pipe,pipe,state,"
	same_supervisor
}

@test "--upgrade refuses a daemon that is not supervised, one that is not running, and an empty path" {
	refuses_unsupervised --upgrade
	run -2 --separate-stderr "$DAEMONIZE" --upgrade= -p "$T/p.pid"
	assert_equal "$stderr" "daemonize: --upgrade: empty path"
	run -2 --separate-stderr "$DAEMONIZE" --upgrade
	run -2 --separate-stderr "$DAEMONIZE" --upgrade --reload -p "$T/p.pid"
}

@test "an upgrade before the first run is ready, during a restart, or while stopping is refused with 4" {
	stubborn
	# Ready after 1.5 s: until then the first run is not ready yet.
	leak_checks_off "$DAEMONIZE" -r --ready-fd 5 -t 10 --drain-timeout 2 \
		-P "$T/sv.pid" -p "$T/d.pid" -l "$T/d.log" \
		sh -c 'sleep 1.5; echo >&5; exec "$0"' "$T/stubborn" \
		>"$T/start.out" 2>&1 3>&- &
	local starter=$! rc=0
	remember "$starter"
	wait_until 5 test -s "$T/sv.pid"
	sup=$(cat "$T/sv.pid")
	remember "$sup"
	run -4 --separate-stderr "$DAEMONIZE" --upgrade -P "$T/sv.pid"
	assert_equal "$stderr" "daemonize: not upgraded: the first run is not ready yet"
	wait "$starter" || rc=$?
	assert_equal "$rc" 0
	kid=$(cat "$T/d.pid")
	remember "$kid"
	self=$(readlink -f "$DAEMONIZE")
	run -0 "$DAEMONIZE" --upgrade -p "$T/d.pid"
	same_supervisor
	# A restart of a run that takes its time to end.
	run -0 "$DAEMONIZE" --restart -p "$T/d.pid"
	wait_until 5 grep -qx "term $kid" "$T/d.log"
	run -4 --separate-stderr "$DAEMONIZE" --upgrade -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: not upgraded: a reload or a restart is under way"
	assert_equal "$(upgrades_logged)" 1
	wait_for_new_child "$T/d.pid" "$kid" "$sup"
	kid=$(cat "$T/d.pid")
	wait_until 5 grep -qx "start $kid" "$T/d.log"
	run -0 "$DAEMONIZE" --upgrade -p "$T/d.pid"
	same_supervisor
	# A stop, while the run ignores its SIGTERM.
	timeout 10 "$DAEMONIZE" --stop -P "$T/sv.pid" 3>&- &
	local stopper=$!
	remember "$stopper"
	wait_until 5 grep -qx "term $kid" "$T/d.log"
	run -4 --separate-stderr "$DAEMONIZE" --upgrade -P "$T/sv.pid"
	assert_equal "$stderr" "daemonize: not upgraded: the supervisor is stopping"
	rc=0
	wait "$stopper" || rc=$?
	assert_equal "$rc" 0
	gone "$sup"
	gone "$kid"
	assert_equal "$(upgrades_logged)" 2
}

@test "an upgrade while a log rotation waits for a line's end is refused with 4, and taken once the line is cut" {
	supervise sh -c 'trap "" HUP; printf half; exec sleep 300'
	wait_until 5 grep -q '^half' "$T/d.log"
	mv "$T/d.log" "$T/d.log.old"
	kill -HUP "$sup"
	wait_until 5 test -e "$T/d.log"
	run -4 --separate-stderr "$DAEMONIZE" --upgrade -p "$T/d.pid"
	assert_equal "$stderr" "daemonize: not upgraded: a log rotation waits for a line's end"
	same_supervisor
	wait_until 5 grep -q 'cut by a log rotation' "$T/d.log.old"
	run -0 "$DAEMONIZE" --upgrade -p "$T/d.pid"
	same_supervisor
	run grep -cF "$(upgraded_line)" "$T/d.log"
	assert_output 1
	run grep -c ' supervises on, ' "$T/d.log.old"
	assert_output 0
}

# notifier: writes $T/notify.py, a run for --notify that says "start
# PID", sends READY=1 at once and leaves on SIGTERM.
notifier() {
	cat >"$T/notify.py" <<'PY'
import os, signal, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
print("start", os.getpid(), flush=True)
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
while True:
    time.sleep(1)
PY
}

@test "a --notify supervisor hears READY=1 after an upgrade: a reload takes, and another upgrade after it" {
	notifier
	supervise --notify --settle 0 python3 "$T/notify.py"
	run -0 "$DAEMONIZE" --upgrade -p "$T/d.pid"
	same_supervisor
	run -0 --separate-stderr "$DAEMONIZE" --reload -t 10 -p "$T/d.pid"
	local new=$output
	remember "$new"
	[ "$new" != "$kid" ]
	wait_until 5 gone "$kid"
	kid=$new
	same_supervisor
	run -0 "$DAEMONIZE" --upgrade -p "$T/d.pid"
	same_supervisor
	assert_equal "$(upgrades_logged)" 2
}
