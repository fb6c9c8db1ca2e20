#!/usr/bin/env bats
# --reload with real servers: gunicorn and lighttpd under -r --listen
# are reloaded while loopback client streams run, and lose no request;
# a bad deploy leaves the old run serving.  tests/reload.bats has the
# protocol itself.

load test_helper/common

# Each run is a process group of its own: a gunicorn master SIGKILLed by
# common_teardown would leave its workers for up to 15 s.  The
# supervisor goes first, so that it starts no run meanwhile.
teardown() {
	local pid
	pid=$(cat "$T/s.pid" 2>/dev/null) || pid=
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = daemonize ]; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	cat "$T/pids" "$T/d.pid" 2>/dev/null | while read -r pid; do
		if [ -n "$pid" ]; then
			kill -KILL -- "-$pid" 2>/dev/null || true
		fi
	done
	common_teardown
}

# free_port: a loopback TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# answers: GET / on $port is a 200.
answers() {
	python3 -c 'import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=1)
c.request("GET", "/")
sys.exit(c.getresponse().status != 200)' "$port" 2>/dev/null
}

# serve DAEMONIZE-ARGS...: the server under -r --listen on $port, its
# supervisor in $T/s.pid and its run in $T/d.pid, answering.
serve() {
	"$DAEMONIZE" -r -P "$T/s.pid" -p "$T/d.pid" -l "$T/log" \
		--listen "tcp:127.0.0.1:$port" "$@" 3>&-
	remember_pidfile "$T/s.pid"
	remember_pidfile "$T/d.pid"
	wait_until 10 answers
}

# gunicorn_args: the command line of gunicorn with tests/servers/app.py.
gunicorn_args() {
	command -v gunicorn >/dev/null || skip "gunicorn is not installed"
	args=(--notify -E PYTHONDONTWRITEBYTECODE=1
		-c "$BATS_TEST_DIRNAME/servers" gunicorn -w 2 app:application)
}

# lighttpd_args: skip without lighttpd; a document root in $T/www and
# the command line of lighttpd with a 0.3 s /slow (slow.cgi).
lighttpd_args() {
	command -v lighttpd >/dev/null || skip "lighttpd is not installed"
	mkdir "$T/www"
	echo ok >"$T/www/index.html"
	args=(-E "DOCROOT=$T/www" -E "PORT=$port"
		-E "SERVERS=$BATS_TEST_DIRNAME/servers"
		lighttpd -D -f "$BATS_TEST_DIRNAME/servers/lighttpd-slow.conf")
}

# stream NAME STREAM-ARGS...: tests/test_helper/stream.py to $port in
# the background, until $T/stop and at most 90 s; its counts go to
# $T/NAME.out, the requests it lost to $T/NAME.err.
stream() {
	local name=$1
	shift
	python3 "$BATS_TEST_DIRNAME/test_helper/stream.py" --until "$T/stop" \
		--seconds 90 --started "$T/$name.on" --errors "$T/$name.err" \
		"$@" >"$T/$name.out" 3>&- &
	remember $!
	streams+=($!)
}

# start_streams [N]: a fast stream (GET / every 5 ms) and N slow ones
# (/slow, 0.3 s each, one at a time; 1 by default), all answered once
# before this returns.
start_streams() {
	local n
	streams=()
	rm -f "$T/stop"
	stream fast 127.0.0.1 "$port" 20000 5
	for ((n = 1; n <= ${1:-1}; n++)); do
		stream "slow$n" --path /slow 127.0.0.1 "$port" 300 0
	done
	for ((n = 1; n <= ${1:-1}; n++)); do
		wait_until 10 test -e "$T/slow$n.on"
	done
	wait_until 10 test -e "$T/fast.on"
}

# end_streams: the streams stop and are waited for; $fast holds the fast
# one's counts, $slow the slow ones' together, and $lost what they lost.
end_streams() {
	local pid
	touch "$T/stop"
	for pid in "${streams[@]}"; do
		wait "$pid" || fail "stream $pid exited $?"
	done
	fast=$(cat "$T/fast.out")
	slow=$(awk '{ o += $2; r += $4; f += $6; k += $8 }
		END { printf "ok %d refused %d failed %d killed %d\n", o, r, f, k }' \
		"$T"/slow*.out)
	lost=$(cat "$T"/*.err)
	echo "# fast: $fast; slow: $slow" >&3
	[ -z "$lost" ] || sed 's/^/#   lost at /' <<<"$lost" >&3
}

# reloads N: N reloads in a row, each exits 0 and prints the pid of a
# new run, which the -p file names; the pids, one a line, in $T/pids.
reloads() {
	# Not "i": bats 1.8.2's run -N sets a global i (bats_any_in).
	local n
	cat "$T/d.pid" >"$T/pids"
	for ((n = 1; n <= $1; n++)); do
		run -0 --separate-stderr "$DAEMONIZE" --reload -t 30 -p "$T/d.pid"
		[[ $output =~ ^[0-9]+$ ]] || fail "reload $n printed '$output'"
		remember "$output"
		assert_equal "$(cat "$T/d.pid")" "$output"
		echo "$output" >>"$T/pids"
	done
}

# stop_cleanly: --stop ends the supervisor and its last run, and every
# run of $T/pids is gone.
stop_cleanly() {
	local pid
	run -0 "$DAEMONIZE" --stop -t 15 -P "$T/s.pid"
	while read -r pid; do
		wait_until 5 gone "$pid" || fail "run $pid is still there"
	done <"$T/pids"
}

# assert_counts COUNTS REFUSED FAILED: a stream's line has those counts.
assert_counts() {
	[[ $1 =~ ^ok\ [1-9][0-9]*\ refused\ $2\ failed\ $3\ killed\ 0$ ]] ||
		fail "$1 (lost: $lost)"
}

# twenty_reloads_lose_nothing DAEMONIZE-ARGS...: the server of $args
# served so, reloaded 20 times under the two streams: no request lost,
# and 21 runs, the first and 20 new ones, all distinct.
twenty_reloads_lose_nothing() {
	serve "$@" "${args[@]}"
	start_streams
	reloads 20
	end_streams
	assert_counts "$fast" 0 0
	assert_counts "$slow" 0 0
	assert_equal "$(sort -u "$T/pids" | wc -l)" 21
	stop_cleanly
}

@test "gunicorn reloaded 20 times under two client streams loses no request, and each reload names a new run" {
	local port args streams fast slow lost
	port=$(free_port)
	gunicorn_args
	twenty_reloads_lose_nothing
}

@test "lighttpd reloaded 20 times with --drain-signal INT under two client streams loses no request" {
	local port args streams fast slow lost
	port=$(free_port)
	lighttpd_args
	twenty_reloads_lose_nothing --drain-signal INT
}

@test "lighttpd reloaded with the default --drain-signal TERM loses requests in flight: the test can see a drop" {
	local port args streams fast slow lost
	port=$(free_port)
	lighttpd_args
	serve "${args[@]}"
	# Three slow streams: during --settle both runs take requests, and
	# only what the old run answers at its SIGTERM is cut.
	start_streams 3
	reloads 10
	end_streams
	# SIGTERM makes lighttpd close its connections at once: the requests
	# it was answering are cut.  None is refused.
	local failed
	failed=$(($(awk '{ print $6 }' <<<"$fast") + $(awk '{ print $6 }' <<<"$slow")))
	[ "$failed" -gt 0 ] || fail "no loss seen: $fast; $slow"
	[[ $fast =~ refused\ 0\  && $slow =~ refused\ 0\  ]] || fail "$fast; $slow"
	stop_cleanly
}

@test "a gunicorn whose new app fails at import is a --reload of exit 4, and the old run serves on" {
	local port args streams fast slow lost
	command -v gunicorn >/dev/null || skip "gunicorn is not installed"
	port=$(free_port)
	mkdir "$T/app"
	ln -s "$BATS_TEST_DIRNAME/servers/app.py" "$T/app/current.py"
	serve --notify -E PYTHONDONTWRITEBYTECODE=1 -c "$T/app" \
		gunicorn -w 2 current:application
	local old
	old=$(cat "$T/d.pid")
	echo "$old" >"$T/pids"
	start_streams
	# The deploy: the next run imports broken.py.  gunicorn says READY=1
	# before its workers import it, and exits 3 when they cannot.
	ln -sfn "$BATS_TEST_DIRNAME/servers/broken.py" "$T/app/current.py"
	# A settle longer than gunicorn needs to fail even on a busy machine
	# (0.1-0.3 s after READY=1 here, 0.9 s under load): --reload answers
	# as soon as the new run dies, not at the end of --settle.
	local t0 t1
	t0=${EPOCHREALTIME/./}
	run -4 --separate-stderr "$DAEMONIZE" --reload --settle 3 -t 30 -p "$T/d.pid"
	t1=${EPOCHREALTIME/./}
	echo "# --reload took $(((t1 - t0) / 1000)) ms: ${stderr_lines[0]}" >&3
	[ $((t1 - t0)) -lt 3000000 ] || fail "--reload took $((t1 - t0)) us"
	assert_equal "$output" ""
	# Its status: 3, or 1 when gunicorn's arbiter trips over its own
	# HaltServer while it stops, which depends on timing.
	[[ ${stderr_lines[0]} =~ ^daemonize:\ gunicorn:\ exited\ with\ status\ [13]\  ]] ||
		fail "$stderr"
	[[ $stderr == *"daemonize: the old run, pid $old, goes on"* ]] || fail "$stderr"
	[[ $stderr == *"daemonize: the last lines of $T/log:"* ]] || fail "$stderr"
	# The app's own words are in the log, if not among its last lines.
	grep -q "RuntimeError: a bad deploy" "$T/log"
	# The old run goes on, named by -p, and answers.
	assert_equal "$(cat "$T/d.pid")" "$old"
	alive "$old"
	answers
	run -0 "$DAEMONIZE" --status -p "$T/d.pid"
	assert_line --index 0 "$old"
	assert_line --index 1 --regexp "^supervised by [0-9]+: running, 0 restarts, child $old up [0-9]+ s$"
	end_streams
	assert_counts "$fast" 0 0
	assert_counts "$slow" 0 0
	assert_equal "$(cat "$T/d.pid")" "$old"
	stop_cleanly
}
