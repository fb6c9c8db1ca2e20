#!/usr/bin/env bats
# --listen: sockets bound before the first fork and handed to the command
# by systemd's socket-activation protocol; kept by the supervisor of -r,
# so that a run that dies refuses no connection.

load test_helper/common

# free_port: a loopback TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A command that writes what it was handed, then stays.
show_protocol() {
	cat >"$T/show" <<-'EOF'
	#!/usr/bin/env python3
	import os, socket, sys, time
	out = open(sys.argv[1], "w")
	out.write("pid %d\n" % os.getpid())
	for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
	    out.write("%s=%s\n" % (k, os.environ.get(k, "")))
	fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
	out.write("fds %s\n" % " ".join(str(f) for f in fds if f > 2))
	for fd in range(3, 3 + int(os.environ.get("LISTEN_FDS", "0"))):
	    s = socket.socket(fileno=fd)
	    out.write("%d %s %s inheritable=%s listening=%d\n" % (fd,
	        s.family.name, s.getsockname(), os.get_inheritable(fd),
	        s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)))
	    s.detach()
	out.close()
	os.rename(sys.argv[1], sys.argv[1] + ".done")
	time.sleep(300)
	EOF
	chmod 755 "$T/show"
}

@test "the sockets are on 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES and the command's own LISTEN_PID" {
	show_protocol
	local port
	port=$(free_port)
	LISTEN_FDS=7 LISTEN_PID=1 LISTEN_FDNAMES=x "$DAEMONIZE" -r -P "$T/s.pid" \
		-p "$T/d.pid" --listen "tcp:127.0.0.1:$port,name=web" \
		--listen "unix:$T/sock" "$T/show" "$T/out" 3>&-
	remember_pidfile "$T/s.pid"
	wait_until 10 test -e "$T/out.done"
	remember_pidfile "$T/d.pid"
	run cat "$T/out.done"
	assert_line "pid $(cat "$T/d.pid")"
	assert_line "LISTEN_PID=$(cat "$T/d.pid")"
	assert_line "LISTEN_FDS=2"
	assert_line "LISTEN_FDNAMES=web:unix"
	# The two sockets and nothing else.
	assert_equal "$(fds_of "$(cat "$T/d.pid")" | cut -d' ' -f1 | tr '\n' ' ')" \
		"0 1 2 3 4 "
	assert_line "3 AF_INET ('127.0.0.1', $port) inheritable=True listening=1"
	assert_line "4 AF_UNIX $T/sock inheritable=True listening=1"
}

@test "without -r the pidfile lock comes after the sockets, and the caller's LISTEN_* never reach a command without them" {
	show_protocol
	local port
	port=$(free_port)
	"$DAEMONIZE" -p "$T/d.pid" --listen "tcp:127.0.0.1:$port" \
		"$T/show" "$T/out" 3>&-
	remember_pidfile "$T/d.pid"
	wait_until 10 test -e "$T/out.done"
	run cat "$T/out.done"
	assert_line "LISTEN_FDS=1"
	assert_equal "$(fds_of "$(cat "$T/d.pid")" | cut -d' ' -f1 | tr '\n' ' ')" \
		"0 1 2 3 4 "
	assert_equal "$(readlink "/proc/$(cat "$T/d.pid")/fd/4")" "$T/d.pid"
	# No --listen: the caller's variables are scrubbed all the same.
	LISTEN_FDS=1 LISTEN_PID=$$ LISTEN_FDNAMES=x "$DAEMONIZE" -p "$T/e.pid" \
		"$T/show" "$T/out2" 3>&-
	remember_pidfile "$T/e.pid"
	wait_until 10 test -e "$T/out2.done"
	run cat "$T/out2.done"
	assert_line "LISTEN_PID="
	assert_line "LISTEN_FDS="
	assert_line "LISTEN_FDNAMES="
}

@test "an address in use is exit 1 with nothing forked and nothing left behind" {
	local port
	port=$(free_port)
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
open(sys.argv[2], "w").close(); time.sleep(10)' "$port" "$T/held" 3>&- &
	local holder=$!
	remember "$holder"
	wait_until 5 test -e "$T/held"
	run -1 --separate-stderr "$DAEMONIZE" -r -P "$T/s.pid" -p "$T/d.pid" \
		-l "$T/log" --listen "unix:$T/a.sock" \
		--listen "tcp:127.0.0.1:$port" sleep 300
	assert_equal "$stderr" "daemonize: --listen tcp:127.0.0.1:$port: Address already in use"
	[ ! -e "$T/d.pid" ] && [ ! -e "$T/s.pid" ] && [ ! -e "$T/log" ]
	[ ! -e "$T/a.sock" ]
	kill "$holder"
	wait "$holder" || true
	no_process_mentions "$T/"
}

@test "malformed --listen addresses and options are usage errors" {
	local a
	for a in 'tcp:localhost:80' 'tcp:127.0.0.1' 'tcp:127.0.0.1:0' \
	    'tcp:127.0.0.1:65536' 'tcp:[::1' 'udp:127.0.0.1:53' 'unix:' \
	    'tcp:127.0.0.1:8080,mode=0600' 'unix:/x,dualstack' \
	    'tcp:127.0.0.1:8080,backlog=0' 'tcp:127.0.0.1:8080,name=a:b' \
	    'unix:/x,mode=0888' 'unix:/x,owner=no-such-user-here' \
	    'tcp:127.0.0.1:8080,bogus'; do
		run -2 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" --listen "$a" sleep 1
		assert_equal "${#stderr_lines[@]}" 1
		[[ $stderr == "daemonize: --listen $a"* ]] || fail "$a: $stderr"
	done
	[ ! -e "$T/d.pid" ]
}

@test "a --ready-fd among the sockets is a usage error" {
	run -2 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" \
		--listen tcp:127.0.0.1:1 --listen tcp:127.0.0.1:2 --ready-fd 4 sleep 1
	assert_equal "$stderr" "daemonize: --ready-fd 4: among the sockets of --listen (3 to 4)"
}

@test "a unix socket gets its mode and owner, replaces a stale socket and refuses anything else" {
	need_root
	local dir port
	dir=$(public_dir)
	"$DAEMONIZE" -p "$T/d.pid" --listen "unix:$dir/s,mode=0640,owner=nobody:nogroup" \
		sleep 300 3>&-
	remember_pidfile "$T/d.pid"
	assert_equal "$(stat -c '%F %a %U %G' "$dir/s")" "socket 640 nobody nogroup"
	# It answers, so a second start may not take it.
	run -1 --separate-stderr "$DAEMONIZE" -p "$T/e.pid" --listen "unix:$dir/s" sleep 300
	assert_equal "$stderr" "daemonize: --listen unix:$dir/s: Address already in use"
	kill "$(cat "$T/d.pid")"
	wait_until 5 finished "$T/d.pid"
	# The daemon is gone, its socket file is stale: replaced.
	[ -S "$dir/s" ]
	"$DAEMONIZE" -p "$T/e.pid" --listen "unix:$dir/s" sleep 300 3>&-
	remember_pidfile "$T/e.pid"
	assert_equal "$(stat -c '%a' "$dir/s")" 660
	ln -s "$dir/s" "$dir/link"
	run -1 --separate-stderr "$DAEMONIZE" -p "$T/f.pid" --listen "unix:$dir/link" sleep 300
	assert_equal "$stderr" "daemonize: --listen unix:$dir/link: is a symbolic link, refused"
	touch "$dir/file"
	run -1 --separate-stderr "$DAEMONIZE" -p "$T/f.pid" --listen "unix:$dir/file" sleep 300
	assert_equal "$stderr" "daemonize: --listen unix:$dir/file: not a socket, refused"
	[ -f "$dir/file" ] && [ -L "$dir/link" ]
}

@test "the supervisor keeps its unix socket across respawns and reloads and removes it at exit, if still its own" {
	"$DAEMONIZE" -r --min-uptime 0 -P "$T/s.pid" -p "$T/d.pid" \
		--listen "unix:$T/s" sleep 300 3>&-
	remember_pidfile "$T/s.pid"
	remember_pidfile "$T/d.pid"
	local ino child
	ino=$(stat -c %i "$T/s")
	child=$(cat "$T/d.pid")
	kill -KILL "$child"
	wait_for_new_child "$T/d.pid" "$child"
	assert_equal "$(stat -c %i "$T/s")" "$ino"
	# A reload's new run gets the same socket, and it stays.
	child=$(cat "$T/d.pid")
	run -0 --separate-stderr "$DAEMONIZE" --reload --settle 0 -P "$T/s.pid"
	remember "$output"
	[ "$output" != "$child" ]
	assert_equal "$(cat "$T/d.pid")" "$output"
	assert_equal "$(stat -c %i "$T/s")" "$ino"
	# Its fd 3 is the very socket the supervisor holds.
	fds_of "$(cat "$T/s.pid")" | grep -qF -- "-> $(readlink "/proc/$output/fd/3")"
	run -0 "$DAEMONIZE" --stop -P "$T/s.pid"
	[ ! -e "$T/s" ]
	# A file that took the name meanwhile is not ours to remove.
	"$DAEMONIZE" -r -P "$T/s.pid" -p "$T/d.pid" --listen "unix:$T/s" \
		sleep 300 3>&-
	remember_pidfile "$T/s.pid"
	remember_pidfile "$T/d.pid"
	rm "$T/s"
	touch "$T/s"
	run -0 "$DAEMONIZE" --stop -P "$T/s.pid"
	[ -f "$T/s" ]
}

@test "[::1] is bound v6-only, and dualstack takes IPv4 too" {
	[ -e /proc/net/if_inet6 ] || skip "no IPv6"
	show_protocol
	local port
	port=$(free_port)
	"$DAEMONIZE" -p "$T/d.pid" --listen "tcp:[::1]:$port" "$T/show" "$T/out" 3>&-
	remember_pidfile "$T/d.pid"
	wait_until 10 test -e "$T/out.done"
	run cat "$T/out.done"
	assert_line --regexp "^3 AF_INET6 \('::1', $port, 0, 0\) inheritable=True listening=1$"
	port=$(free_port)
	"$DAEMONIZE" -p "$T/e.pid" --listen "tcp:[::]:$port,dualstack" sleep 300 3>&-
	remember_pidfile "$T/e.pid"
	run -0 python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).close()' "$port"
	port=$(free_port)
	"$DAEMONIZE" -p "$T/f.pid" --listen "tcp:[::]:$port" sleep 300 3>&-
	remember_pidfile "$T/f.pid"
	run -1 python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).close()' "$port"
}

# crash_stream SERVER-ARGS...: 2000 requests 5 ms apart to $port while the
# run is SIGKILLed 5 times; sets $output to the counts.
crash_stream() {
	# Runs that last a second are no failed starts: no backoff here.
	"$DAEMONIZE" -r --min-uptime 1 -P "$T/s.pid" -p "$T/d.pid" -l "$T/log" \
		"$@" 3>&-
	remember_pidfile "$T/s.pid"
	remember_pidfile "$T/d.pid"
	wait_until 10 python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$port"
	run -0 timeout 120 python3 "$BATS_TEST_DIRNAME/test_helper/stream.py" \
		127.0.0.1 "$port" 2000 5 "$T/d.pid" 350
}

@test "gunicorn under -r --listen refuses no request while its run is killed five times" {
	command -v gunicorn >/dev/null || skip "gunicorn is not installed"
	local port
	port=$(free_port)
	crash_stream -c "$BATS_TEST_DIRNAME/servers" \
		--listen "tcp:127.0.0.1:$port" gunicorn -w 2 app:application
	assert_output --regexp '^ok [0-9]+ refused 0 failed [0-9]+ killed 5$'
	# Only requests in flight on a killed run may fail.
	local failed
	failed=$(awk '{ print $6 }' <<<"$output")
	[ "$failed" -le 10 ] || fail "$output"
}

# lighttpd_site: skip without lighttpd; a document root in $T/www and a
# free port in $port.
lighttpd_site() {
	command -v lighttpd >/dev/null || skip "lighttpd is not installed"
	port=$(free_port)
	mkdir "$T/www"
	echo ok >"$T/www/index.html"
}

@test "lighttpd under -r --listen refuses no request while its run is killed five times" {
	local port
	lighttpd_site
	crash_stream -E "DOCROOT=$T/www" -E "PORT=$port" \
		--listen "tcp:127.0.0.1:$port" \
		lighttpd -D -f "$BATS_TEST_DIRNAME/servers/lighttpd.conf"
	assert_output --regexp '^ok [0-9]+ refused 0 failed [0-9]+ killed 5$'
	local failed
	failed=$(awk '{ print $6 }' <<<"$output")
	[ "$failed" -le 10 ] || fail "$output"
}

@test "the same stream sees refusals when lighttpd binds its own socket: the test can see a drop" {
	local port
	lighttpd_site
	sed 's/^server.systemd-socket-activation.*//' \
		"$BATS_TEST_DIRNAME/servers/lighttpd.conf" >"$T/own.conf"
	crash_stream -E "DOCROOT=$T/www" -E "PORT=$port" \
		lighttpd -D -f "$T/own.conf"
	local refused
	refused=$(awk '{ print $4 }' <<<"$output")
	[ "$refused" -gt 0 ] || fail "no refusal seen: $output"
}
