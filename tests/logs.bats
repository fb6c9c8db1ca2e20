#!/usr/bin/env bats
# -r: the supervisor's log files: whole lines across every rotation, by
# SIGHUP or by --log-size, with and without timestamps.

load test_helper/common

# supervise ARGS...: start a supervisor with -P and -p in $T, remember
# both, and set $sup.
supervise() {
	"$DAEMONIZE" -r -P "$T/s.pid" -p "$T/c.pid" "$@" 3>&-
	remember_pidfile "$T/s.pid"
	remember_pidfile "$T/c.pid"
	sup=$(cat "$T/s.pid")
}

# numbered FILES...: the numbers of "line N" lines, in order, one a line;
# fails on any other line (a stamp alone, a split line).
numbered() {
	cat -- "$@" | sed -E 's/^[0-9T:.+-]{29} //' | awk '
		/^line [0-9]+$/ { print $2; next }
		{ print "bad line: " $0 > "/dev/stderr"; bad = 1 }
		END { exit bad }'
}

# in_order FIRST LAST: standard input is FIRST..LAST, each once.
in_order() {
	local want
	want=$(seq "$1" "$2")
	assert_equal "$(cat)" "$want"
}

# ends_whole FILE: its last byte is a newline.
ends_whole() {
	[ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] ||
		fail "$1 does not end with a newline"
}

# Two writes a line, with a pause between: a rotation in the pause finds
# the log in the middle of a line.
two_writes() {
	cat >"$T/cmd" <<-'EOF'
	#!/bin/bash
	trap '' HUP
	for ((i = 1; i <= 8; i++)); do
		printf 'line %d' "$i"
		sleep 0.3
		printf '\n'
	done
	exec sleep 300
	EOF
	chmod 755 "$T/cmd"
}

# ends_with FILE LINE: the last line of FILE is LINE, newline and all.
ends_with() {
	[ "$(tail -c $((${#2} + 1)) "$1" 2>/dev/null)" = "$2" ]
}

# traced_now PID: a tracer has attached to PID.
traced_now() {
	[ "$(status_field "$1" TracerPid)" != 0 ]
}

# midline FILE: FILE ends in the middle of line 2.
midline() {
	[ "$(tail -c 6 "$1" 2>/dev/null)" = "line 2" ]
}

@test "a SIGHUP rotation in the middle of a line leaves the line whole in the old file" {
	two_writes
	supervise -l "$T/log" "$T/cmd"
	wait_until 5 midline "$T/log"
	mv "$T/log" "$T/log.old"
	kill -HUP "$sup"
	wait_until 10 ends_with "$T/log" 'line 8'
	ends_whole "$T/log.old"
	ends_whole "$T/log"
	numbered "$T/log.old" "$T/log" | in_order 1 8
	grep -q '^line 2$' "$T/log.old"
}

@test "with --timestamps a rotation never leaves a stamp without its line" {
	two_writes
	supervise --timestamps -l "$T/log" "$T/cmd"
	wait_until 5 midline "$T/log"
	mv "$T/log" "$T/log.old"
	kill -HUP "$sup"
	wait_until 10 ends_with "$T/log" 'line 8'
	ends_whole "$T/log.old"
	numbered "$T/log.old" "$T/log" | in_order 1 8
	# Every line of both files is a stamp and its line.
	run grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}[+-][0-9]{2}:[0-9]{2} line [0-9]+$' \
		"$T/log.old" "$T/log"
	assert_output "$(printf '%s:0\n' "$T/log.old" "$T/log")"
}

@test "a line that outlasts a SIGHUP rotation by a second is cut there, and said so" {
	cat >"$T/cmd" <<-'EOF'
	#!/bin/bash
	trap '' HUP
	printf 'line 1\nline 2 begins'
	sleep 3
	printf ' and ends\n'
	exec sleep 300
	EOF
	chmod 755 "$T/cmd"
	supervise -l "$T/log" "$T/cmd"
	wait_until 5 grep -q 'begins' "$T/log"
	mv "$T/log" "$T/log.old"
	kill -HUP "$sup"
	wait_until 5 grep -q 'cut by a log rotation' "$T/log.old"
	wait_until 5 grep -q 'and ends' "$T/log"
	ends_whole "$T/log.old"
	assert_equal "$(cat "$T/log")" " and ends"
}

@test "--log-size rotates at a line boundary and --log-keep keeps that many files" {
	cat >"$T/cmd" <<-'EOF'
	#!/bin/sh
	seq 1 2000000 | awk '{ printf "line %d\n", $1 }'
	echo done >"$0.done"
	exec sleep 300
	EOF
	chmod 755 "$T/cmd"
	supervise --log-size 1M --log-keep 3 -l "$T/log" "$T/cmd"
	wait_until 30 test -e "$T/cmd.done"
	wait_until 5 grep -q '^line 2000000$' "$T/log"
	assert_equal "$(ls "$T" | grep '^log')" "$(printf 'log\nlog.1\nlog.2\nlog.3')"
	local f size
	for f in log log.1 log.2 log.3; do
		size=$(stat -c %s "$T/$f")
		[ "$size" -le $((1024 * 1024 + 16)) ] || fail "$f has $size bytes"
		ends_whole "$T/$f"
	done
	# The newest lines, whole, in order, without a gap between files;
	# the oldest are gone.
	local first
	first=$(head -n 1 "$T/log.3" | awk '{ print $2 }')
	[ "$first" -gt 1 ]
	numbered "$T/log.3" "$T/log.2" "$T/log.1" "$T/log" |
		in_order "$first" 2000000
}

@test "--log-size with -o and -e rotates each file on its own" {
	cat >"$T/cmd" <<-'EOF'
	#!/bin/sh
	seq 1 100000 | awk '{ printf "line %d\n", $1 }'
	seq 1 15000 | awk '{ printf "line %d\n", $1 }' >&2
	echo done >"$0.done"
	exec sleep 300
	EOF
	chmod 755 "$T/cmd"
	supervise --log-size 100k --log-keep 2 -o "$T/out" -e "$T/err" "$T/cmd"
	wait_until 20 test -e "$T/cmd.done"
	wait_until 5 grep -q '^line 100000$' "$T/out"
	wait_until 5 grep -q '^line 15000$' "$T/err"
	assert_equal "$(ls "$T" | grep -E '^(out|err)')" \
		"$(printf 'err\nerr.1\nout\nout.1\nout.2')"
	numbered "$T/err.1" "$T/err" | in_order 1 15000
	local first
	first=$(head -n 1 "$T/out.2" | awk '{ print $2 }')
	numbered "$T/out.2" "$T/out.1" "$T/out" | in_order "$first" 100000
}

@test "a rotated log keeps the mode and owner of the old one" {
	need_root
	local dir
	dir=$(public_dir)
	cat >"$dir/cmd" <<-'EOF'
	#!/bin/sh
	seq 1 20000 | awk '{ printf "line %d\n", $1 }'
	exec sleep 300
	EOF
	chmod 755 "$dir/cmd"
	chown nobody "$dir"
	supervise -u nobody --log-size 64k -l "$dir/log" "$dir/cmd"
	wait_until 10 grep -q '^line 20000$' "$dir/log"
	[ -e "$dir/log.1" ]
	assert_equal "$(stat -c '%U %a' "$dir/log")" "$(stat -c '%U %a' "$dir/log.1")"
	assert_equal "$(stat -c '%U %a' "$dir/log")" "nobody 640"
}

@test "a rename that fails keeps the command running and loses nothing, said once" {
	need_strace
	cat >"$T/cmd" <<-'EOF'
	#!/bin/sh
	while [ ! -e "$0.go" ]; do sleep 0.05; done
	seq 1 20000 | awk '{ printf "line %d\n", $1 }'
	echo done >"$0.done"
	exec sleep 300
	EOF
	chmod 755 "$T/cmd"
	supervise --log-size 16k --log-keep 1 -l "$T/log" "$T/cmd"
	local child
	child=$(cat "$T/c.pid")
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		timeout 30 strace -qq -o /dev/null -p "$sup" -e trace=rename \
		-e inject=rename:error=EACCES 3>&- &
	local tracer=$!
	remember "$tracer"
	wait_until 5 traced_now "$sup"
	touch "$T/cmd.go"
	wait_until 20 test -e "$T/cmd.done"
	wait_until 5 grep -q '^line 20000$' "$T/log"
	kill "$tracer"
	wait "$tracer" || true
	alive "$child"
	[ ! -e "$T/log.1" ]
	assert_equal "$(grep -c 'not rotated' "$T/log")" 1
	grep -q "daemonize: $T/log: not rotated: $T/log: Permission denied; still writing to it" "$T/log"
	grep -v '^daemonize: ' "$T/log" | numbered | in_order 1 20000
}

@test "--log-size and --log-keep are checked" {
	run -2 --separate-stderr "$DAEMONIZE" --log-size 1M -l "$T/log" sleep 1
	assert_equal "$stderr" "daemonize: --log-size: only with -r"
	run -2 --separate-stderr "$DAEMONIZE" -r --log-size 0 -l "$T/log" sleep 1
	assert_equal "$stderr" "daemonize: --log-size 0: too small (1 to 1P bytes, or with k, M or G)"
	run -2 --separate-stderr "$DAEMONIZE" -r --log-size 1X -l "$T/log" sleep 1
	assert_equal "$stderr" "daemonize: --log-size 1X: invalid (1 to 1P bytes, or with k, M or G)"
	run -2 --separate-stderr "$DAEMONIZE" -r --log-size M -l "$T/log" sleep 1
	assert_equal "$stderr" "daemonize: --log-size M: invalid (1 to 1P bytes, or with k, M or G)"
	run -2 --separate-stderr "$DAEMONIZE" -r --log-size 1M sleep 1
	assert_equal "$stderr" "daemonize: --log-size: needs -l, -o or -e"
	run -2 --separate-stderr "$DAEMONIZE" -r --log-size 1M --log-keep 0 -l "$T/log" sleep 1
	assert_equal "$stderr" "daemonize: --log-keep 0: too small (1 to 1000)"
	run -2 --separate-stderr "$DAEMONIZE" -r --log-keep 3 -l "$T/log" sleep 1
	assert_equal "$stderr" "daemonize: --log-keep: only with --log-size"
	[ ! -e "$T/log" ]
	no_process_mentions "$T/"
}
