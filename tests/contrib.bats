#!/usr/bin/env bats
# contrib/: the logrotate snippet run by logrotate against a supervised
# daemon, the systemd units checked by systemd-analyze and the reload
# unit's commands run, the OpenRC script linted and run under a stand-in
# for openrc-run.  Each copy has its paths rewritten into $T and its
# daemonize replaced by the built one.  (contrib/init.d has
# tests/init-script.bats.)

load test_helper/common

setup() {
	common_setup
	CONTRIB=$BATS_TEST_DIRNAME/../contrib
	STOP_PIDFILE=
}

# A supervisor named in $STOP_PIDFILE is stopped first, so that its
# server's workers end with it rather than outlive a SIGKILL.
teardown() {
	[ -z "$STOP_PIDFILE" ] ||
		"$DAEMONIZE" --stop -p "$STOP_PIDFILE" -t 5 >/dev/null 2>&1 || true
	common_teardown
}

# free_port: a loopback TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- logrotate ---------------------------------------------------------

# logrotate_config: $T/logrotate.conf, the snippet for a log in $T/log
# and the pidfile $T/run.pid.
logrotate_config() {
	command -v logrotate >/dev/null || skip "logrotate is not installed"
	mkdir -p "$T/log"
	sed -e "s|/var/log/daemonize-reload-example/|$T/log/|g" \
		-e "s|/run/daemonize-reload-example.pid|$T/run.pid|g" \
		-e "s#\([[:space:]]\)daemonize --#\1$DAEMONIZE --#g" \
		"$CONTRIB/logrotate/daemonize-example" >"$T/logrotate.conf"
	# Every path was rewritten, and both commands are the built daemonize.
	run grep -E '/var/|/run/|[[:space:]]daemonize --' "$T/logrotate.conf"
	assert_failure
	[ "$(grep -cF -- "$DAEMONIZE --" "$T/logrotate.conf")" -eq 2 ]
}

# numbered FILE: the numbers of the "line N" lines in FILE, one a line.
numbered() {
	sed -n 's/^line \([0-9][0-9]*\)$/\1/p' "$1"
}

# has_lines FILE N: FILE holds at least N "line" lines.
has_lines() {
	[ "$(numbered "$1" | wc -l)" -ge "$2" ]
}

@test "logrotate with the snippet rotates a supervised daemon's log, and new lines go to the new file" {
	logrotate_config
	local log=$T/log/server.log size
	# A numbered line every 50 ms; SIGHUP, passed on by the supervisor,
	# must not kill it.
	"$DAEMONIZE" -r -P "$T/sv.pid" -p "$T/run.pid" -l "$log" -- \
		sh -c 'i=0; trap "echo hup" HUP
			while :; do echo "line $i"; i=$((i + 1)); sleep 0.05; done' 3>&-
	remember_pidfile "$T/sv.pid"
	remember_pidfile "$T/run.pid"
	wait_until 5 has_lines "$log" 3
	run -0 --separate-stderr logrotate -f -s "$T/state" "$T/logrotate.conf"
	assert_output ""
	assert_equal "$stderr" ""
	# The old lines were renamed with the file; delaycompress keeps the
	# first rotation uncompressed.
	[ -f "$log.1" ]
	assert_equal "$(numbered "$log.1" | head -1)" 0
	# The supervisor reopened the log by its name: new lines in a new file.
	wait_until 5 has_lines "$log" 3
	size=$(stat -c %s "$log.1")
	wait_until 5 has_lines "$log" 10
	assert_equal "$(stat -c %s "$log.1")" "$size"
	# The supervisor opened the new file before it passed SIGHUP on.
	grep -qx hup "$log"
	run grep -c hup "$log.1"
	assert_output 0
	# Not a line lost, doubled or split between the two files (the last
	# one may be on its way).
	cat "$log.1" "$log" | sed '/^hup$/d' | head -n -1 >"$T/both"
	run diff "$T/both" <(seq 0 $(($(wc -l <"$T/both") - 1)) | sed 's/^/line /')
	assert_success
	# The same supervisor and run as before.
	alive "$(cat "$T/sv.pid")"
	alive "$(cat "$T/run.pid")"
}

@test "logrotate with the snippet rotates quietly while the service is stopped" {
	logrotate_config
	printf 'line 0\nline 1\n' >"$T/log/server.log"
	run -0 --separate-stderr logrotate -f -s "$T/state" "$T/logrotate.conf"
	assert_output ""
	assert_equal "$stderr" ""
	assert_equal "$(cat "$T/log/server.log.1")" "line 0
line 1"
	[ ! -e "$T/log/server.log" ]
}

# unit_command FILE KEY: the command line of KEY= in the unit FILE, with
# its continuation lines joined.
unit_command() {
	awk -v key="$2=" 'index($0, key) == 1 { on = 1; $0 = substr($0, length(key) + 1) }
		on { if (sub(/\\$/, "")) { printf "%s", $0; next } print; exit }' "$1"
}

# word_after WORDS OPTION: the word after OPTION in WORDS.
word_after() {
	awk -v o="$2" '{ for (i = 1; i < NF; i++) if ($i == o) { print $(i + 1); exit } }' <<<"$1"
}

@test "the logrotate snippet rotates the log of the reload unit and signals its pidfile" {
	local unit=$CONTRIB/systemd/daemonize-reload-example.service start
	start=$(unit_command "$unit" ExecStart)
	grep -qx "$(word_after "$start" -l) {" "$CONTRIB/logrotate/daemonize-example"
	grep -qF -- "daemonize --signal HUP -p $(word_after "$start" -p)" \
		"$CONTRIB/logrotate/daemonize-example"
}

# --- systemd -----------------------------------------------------------

# verify_unit UNIT: systemd-analyze verify accepts a copy of
# contrib/systemd/UNIT whose daemonize is the built one, and says nothing
# about it.  Skips where systemd-analyze cannot run.
verify_unit() {
	local out
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	# A unit that is right by construction, to see whether it runs here.
	printf '[Service]\nType=oneshot\nExecStart=/bin/true\n' >"$T/probe.service"
	if ! out=$(systemd-analyze verify --man=no "$T/probe.service" 2>&1); then
		skip "systemd-analyze verify cannot run here: $out"
	fi
	sed "s|^\(Exec[A-Za-z]*=\)daemonize |\1$DAEMONIZE |" \
		"$CONTRIB/systemd/$1" >"$T/$1"
	run grep -c "^Exec[A-Za-z]*=$DAEMONIZE " "$T/$1"
	[ "$output" -ge 2 ]
	run grep '^Exec[A-Za-z]*=daemonize ' "$T/$1"
	assert_failure
	# A warning about the unit is as bad as an error: it names the file.
	run systemd-analyze verify --man=no "$T/$1"
	assert_success
	refute_output --partial "$1"
}

@test "systemd-analyze verify accepts daemonize-example.service" {
	verify_unit daemonize-example.service
}

@test "systemd-analyze verify accepts daemonize-reload-example.service" {
	verify_unit daemonize-reload-example.service
}

# get PORT: the body of http://127.0.0.1:PORT/.
get() {
	python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end="")' \
		"http://127.0.0.1:$1/"
}

# run_unit_command KEY: run the unit $T/reload.service's KEY= as sh would;
# its words must mean the same to sh and to systemd.
run_unit_command() {
	local cmd
	cmd=$(unit_command "$T/reload.service" "$1")
	[ -n "$cmd" ] || fail "no $1= in the unit"
	[[ $cmd != *[\$%\'\"\;\|\&\<\>\`\\]* ]] ||
		fail "$1= has characters systemd and sh read differently: $cmd"
	run --separate-stderr sh -c "$cmd" 3>&-
}

@test "the reload unit's own commands start gunicorn, reload it and stop it" {
	need_root
	command -v gunicorn >/dev/null || skip "gunicorn is not installed"
	local pub port supervisor old new
	pub=$(public_dir)
	port=$(free_port)
	mkdir "$pub/srv"
	cp "$BATS_TEST_DIRNAME/servers/app.py" "$pub/srv/"
	chmod -R a+rX "$pub/srv"
	sed -e "s|/run/|$T/|g" \
		-e "s|/var/log/daemonize-reload-example|$pub/log|g" \
		-e "s|/srv/daemonize-reload-example|$pub/srv|g" \
		-e "s|tcp:127\.0\.0\.1:8000|tcp:127.0.0.1:$port|" \
		-e "s|^\(Exec[A-Za-z]*=\)daemonize |\1$DAEMONIZE |" \
		"$CONTRIB/systemd/daemonize-reload-example.service" >"$T/reload.service"
	run_unit_command ExecStartPre
	assert_success
	assert_equal "$(stat -c %U:%G:%a "$pub/log")" www-data:www-data:750
	local start runfile pidfile
	start=$(unit_command "$T/reload.service" ExecStart)
	runfile=$(word_after "$start" -p)
	pidfile=$(word_after "$start" -P)
	run_unit_command ExecStart
	STOP_PIDFILE=$pidfile
	remember_pidfile "$pidfile"
	remember_pidfile "$runfile"
	assert_success
	# PIDFile= names the supervisor (-P), the -p file its run.
	assert_equal "$(sed -n 's/^PIDFile=//p' "$T/reload.service")" "$pidfile"
	assert_equal "$runfile" "$T/daemonize-reload-example.pid"
	supervisor=$(cat "$pidfile")
	old=$(cat "$runfile")
	alive "$supervisor"
	assert_equal "$(stat_field "$old" 4)" "$supervisor"
	# Ready means serving, as www-data.
	assert_equal "$(get "$port")" ok
	assert_equal "$(stat -c %U "/proc/$old")" www-data
	run_unit_command ExecReload
	new=$(cat "$runfile")
	remember "$new"
	assert_success
	assert_output "$new"
	[ "$new" != "$old" ]
	wait_until 5 gone "$old"
	assert_equal "$(get "$port")" ok
	grep -q "reloaded: pid $new took over from pid $old" "$pub/log/server.log"
	run_unit_command ExecStop
	assert_success
	wait_until 5 gone "$supervisor"
	wait_until 5 gone "$new"
	[ ! -e "$pidfile" ]
	[ ! -e "$runfile" ]
	no_process_mentions "$pub/srv"
}

# --- OpenRC ------------------------------------------------------------

# openrc_stand_in: $T/openrc-run, as much of openrc-run as the script
# uses: RC_SVCNAME, the e* functions with their exit statuses, need and
# after as depend() uses them; it sources the script and runs the one
# function its action names.  The settings come from the environment, as
# /etc/conf.d would give them.
openrc_stand_in() {
	cat >"$T/openrc-run" <<-'EOF'
		RC_SVCNAME=daemonize-example
		ebegin() { echo " * $* ..."; }
		eend() {
			rc=$1
			shift
			[ "$rc" -eq 0 ] || [ $# -eq 0 ] || echo " * ERROR: $*" >&2
			return "$rc"
		}
		einfo() { echo " * $*"; }
		ewarn() { echo " * WARNING: $*" >&2; }
		eerror() { echo " * ERROR: $*" >&2; }
		need() { echo "need $*"; }
		after() { echo "after $*"; }
		. "$1"
		"$2"
	EOF
	export PIDFILE=$T/example.pid LOGFILE=$T/example.log INTERVAL=1
	unset DAEMON_USER START_TIMEOUT STOP_TIMEOUT
}

# openrc ACTION: the OpenRC script's ACTION, under the stand-in.
openrc() {
	sh "$T/openrc-run" "$CONTRIB/openrc/daemonize-example" "$1" 3>&-
}

@test "the OpenRC script is POSIX sh that shellcheck accepts" {
	local script=$CONTRIB/openrc/daemonize-example
	assert_equal "$(head -1 "$script")" "#!/sbin/openrc-run"
	run -0 sh -n "$script"
	command -v shellcheck >/dev/null || skip "shellcheck is not installed"
	run -0 shellcheck -s sh "$script"
	assert_output ""
}

@test "under openrc-run's conventions the script starts the service ready, reports it and stops it" {
	openrc_stand_in
	run -0 --separate-stderr openrc start
	remember_pidfile "$PIDFILE"
	local pid
	pid=$(cat "$PIDFILE")
	alive "$pid"
	assert_output " * Starting daemonize-example ..."
	# Ready: the service's first line is already in the log.
	grep -q "pid $pid started" "$LOGFILE"
	run -0 openrc status
	assert_output " * status: started (pid $pid)"
	run -0 --separate-stderr openrc stop
	assert_output " * Stopping daemonize-example ..."
	wait_until 5 gone "$pid"
	[ ! -e "$PIDFILE" ]
	grep -q "pid $pid stopping" "$LOGFILE"
	run -3 openrc status
	assert_output " * status: stopped"
	# Stopping a stopped service is no error.
	run -0 openrc stop
}

@test "the OpenRC script says crashed when the service died and left its pidfile" {
	openrc_stand_in
	run -0 openrc start
	remember_pidfile "$PIDFILE"
	local pid
	pid=$(cat "$PIDFILE")
	kill -KILL "$pid"
	wait_until 5 gone "$pid"
	run -32 --separate-stderr openrc status
	assert_output ""
	[[ "$stderr" == *"* ERROR: status: crashed ($PIDFILE remains)" ]]
}

@test "the OpenRC script fails a start that fails, and says why" {
	openrc_stand_in
	LOGFILE=$T/missing/example.log
	run -1 --separate-stderr openrc start
	[[ "$stderr" == *"$T/missing/example.log"* ]]
	assert_equal "${stderr##*$'\n'}" " * ERROR: daemonize could not start daemonize-example"
	[ ! -e "$PIDFILE" ]
}

@test "the OpenRC script and the LSB script share the service: each sees the other's start" {
	openrc_stand_in
	run -0 "$CONTRIB/init.d/daemonize-example" start 3>&-
	remember_pidfile "$PIDFILE"
	local pid
	pid=$(cat "$PIDFILE")
	# OpenRC's record says stopped; the lock says started.
	run -0 openrc status
	assert_output " * status: started (pid $pid)"
	run -0 --separate-stderr openrc start
	assert_equal "$(cat "$PIDFILE")" "$pid"
	run -0 openrc stop
	wait_until 5 gone "$pid"
	run -3 "$CONTRIB/init.d/daemonize-example" status
}

@test "the OpenRC script needs the local file systems mounted" {
	openrc_stand_in
	run -0 openrc depend
	assert_output "need localmount
after bootmisc"
}
