#!/usr/bin/env bats
# -u: running the command as another user, and nothing left to regain.

load test_helper/common

@test "-u nobody drops uid, gid, every other group and all capabilities" {
	need_root
	setpriv --groups 4,27 "$DAEMONIZE" -u nobody -p "$T/d.pid" sleep 300 3>&-
	remember_pidfile "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	[ "$(status_field "$pid" Uid)" = "65534 65534 65534 65534" ]
	[ "$(status_field "$pid" Gid)" = "65534 65534 65534 65534" ]
	run status_field "$pid" Groups
	refute_output --regexp '(^|[[:space:]])(4|27)([[:space:]]|$)'
	[ "$(status_field "$pid" CapPrm)" = 0000000000000000 ]
	[ "$(status_field "$pid" CapEff)" = 0000000000000000 ]
}

@test "the groups setpriv gives are really there before the drop" {
	need_root
	# The check above means something only if 4 and 27 were set.
	run setpriv --groups 4,27 cat /proc/self/status
	assert_line --regexp '^Groups:[[:space:]]+4 27'
}

@test "-u nobody:nogroup sets exactly that group" {
	need_root
	setpriv --groups 4,27 "$DAEMONIZE" -u nobody:nogroup -p "$T/d.pid" \
		sleep 300 3>&-
	remember_pidfile "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	[ "$(status_field "$pid" Gid)" = "65534 65534 65534 65534" ]
	[ "$(status_field "$pid" Groups)" = 65534 ]
}

@test "-u accepts numeric ids" {
	need_root
	"$DAEMONIZE" -u 65534:65534 -p "$T/d.pid" sleep 300 3>&-
	remember_pidfile "$T/d.pid"
	[ "$(status_field "$(cat "$T/d.pid")" Uid)" = "65534 65534 65534 65534" ]
}

@test "-u sets HOME, USER, LOGNAME and SHELL from the password entry, and -E wins" {
	need_root
	local dir
	dir=$(public_dir)
	chown nobody "$dir"
	run -0 "$DAEMONIZE" -u nobody -p "$T/d.pid" -o "$dir/env" -E LOGNAME=given \
		sh -c 'echo "$HOME $USER $LOGNAME $SHELL"' 3>&-
	wait_until 5 finished "$T/d.pid"
	IFS=: read -r _ _ _ _ _ home shell < <(getent passwd nobody)
	[ "$(cat "$dir/env")" = "$home nobody given $shell" ]
}

@test "the pidfile stays root's and the daemon cannot write it, yet a second start is refused" {
	need_root
	local dir
	dir=$(public_dir)
	chown nobody "$dir"
	"$DAEMONIZE" -u nobody -p "$T/d.pid" -l "$dir/d.log" sh -c '
		echo 1 >&3 && echo wrote-through-fd-3
		echo 1 >/proc/self/fd/3 && echo wrote-through-proc
		exec sleep 300' 3>&-
	remember_pidfile "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	wait_until 5 grep -q 'fd/3' "$dir/d.log"
	run cat "$dir/d.log"
	refute_output --partial wrote-through
	[ "$(stat -c '%U %a' "$T/d.pid")" = "root 644" ]
	[ "$(cat "$T/d.pid")" = "$pid" ]
	run -3 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: $T/d.pid: already running as pid $pid"
}

@test "log files are opened as the user: root's directory is refused" {
	need_root
	run -1 --separate-stderr "$DAEMONIZE" -u nobody -p "$T/d.pid" \
		-l "$T/d.log" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: $T/d.log: Permission denied"
	[ ! -e "$T/d.pid" ] && [ ! -e "$T/d.log" ]
	no_process_mentions "$T/"
}

@test "a new log file belongs to the user" {
	need_root
	local dir
	dir=$(public_dir)
	chown nobody "$dir"
	start_sleeper "$T/d.pid" -u nobody -l "$dir/d.log"
	[ "$(stat -c '%U %a' "$dir/d.log")" = "nobody 640" ]
}

@test "a log symlink the user planted in its own directory is refused" {
	need_root
	local dir
	dir=$(public_dir)
	chown nobody "$dir"
	echo secret >"$T/shadow"
	chmod 600 "$T/shadow"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		ln -s "$T/shadow" "$dir/d.log"
	run -1 --separate-stderr "$DAEMONIZE" -u nobody -p "$T/d.pid" \
		-l "$dir/d.log" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: $dir/d.log: is a symbolic link, refused"
	[ "$(cat "$T/shadow")" = secret ]
	[ ! -e "$T/d.pid" ]
}

@test "an unknown user or group is a usage error naming it" {
	run -2 --separate-stderr "$DAEMONIZE" -u no-such-user-here sleep 1
	assert_equal "$stderr" "daemonize: -u: no-such-user-here: no such user"
	run -2 --separate-stderr "$DAEMONIZE" -u "$(id -un):no-such-group-here" sleep 1
	assert_equal "$stderr" "daemonize: -u: no-such-group-here: no such group"
	run -2 --separate-stderr "$DAEMONIZE" -u "$(id -un):" sleep 1
	assert_equal "$stderr" "daemonize: -u '$(id -un):': empty group name"
}

# as_nobody ARGS...: run a public copy of daemonize as nobody.
as_nobody() {
	local dir
	dir=$(public_dir)
	cp "$DAEMONIZE" "$dir/daemonize"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$dir/daemonize" "$@"
}

@test "without root, -u naming another user is a usage error" {
	need_root
	run -2 --separate-stderr as_nobody -u root sleep 1
	assert_equal "$stderr" "daemonize: -u root: only root can run a command as another user"
}

@test "without root, -u naming the caller is allowed" {
	need_root
	local dir
	dir=$(public_dir)
	chown nobody "$dir"
	run -0 as_nobody -u nobody -p "$dir/d.pid" -o "$dir/out" \
		sh -c 'echo "$USER $(id -u)"' 3>&-
	wait_until 5 finished "$dir/d.pid"
	[ "$(cat "$dir/out")" = "nobody 65534" ]
}

@test "a set-user-ID or set-group-ID copy refuses to run" {
	need_root
	local dir
	dir=$(public_dir)
	cp "$DAEMONIZE" "$dir/daemonize"
	chmod 4755 "$dir/daemonize"
	run -1 --separate-stderr setpriv --reuid=nobody --regid=nogroup \
		--clear-groups "$dir/daemonize" -p "$dir/d.pid" sleep 300 3>&-
	# Only the first line: in a sanitizer build, LeakSanitizer adds that
	# it cannot watch a set-id process.
	assert_equal "${stderr_lines[0]}" "daemonize: refusing to run set-user-ID or set-group-ID"
	# chgrp clears the set-id bits, so it comes first.
	chgrp root "$dir/daemonize"
	chmod 2755 "$dir/daemonize"
	run -1 --separate-stderr setpriv --reuid=nobody --regid=nogroup \
		--clear-groups "$dir/daemonize" -p "$dir/d.pid" sleep 300 3>&-
	# Only the first line: in a sanitizer build, LeakSanitizer adds that
	# it cannot watch a set-id process.
	assert_equal "${stderr_lines[0]}" "daemonize: refusing to run set-user-ID or set-group-ID"
	[ ! -e "$dir/d.pid" ]
}

@test "a step that fails after the drop still removes root's pidfile" {
	need_root
	printf '#!/bin/sh\nexec sleep 300\n' >"$T/root-only"
	chmod 700 "$T/root-only"
	run -126 --separate-stderr "$DAEMONIZE" -u nobody -p "$T/d.pid" \
		"$T/root-only" 3>&-
	assert_equal "$stderr" "daemonize: $T/root-only: Permission denied"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "the working directory is entered as the user" {
	need_root
	mkdir "$T/private"
	chmod 700 "$T/private"
	run -1 --separate-stderr "$DAEMONIZE" -u nobody -c "$T/private" \
		-p "$T/d.pid" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: sleep: chdir $T/private: Permission denied"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "the user is checked before the command is looked up" {
	run -2 --separate-stderr "$DAEMONIZE" -u no-such-user-here no-such-command-here
	assert_equal "$stderr" "daemonize: -u: no-such-user-here: no such user"
	run -2 --separate-stderr "$DAEMONIZE" -u '' sleep 1
	assert_equal "$stderr" "daemonize: -u '': empty user name"
}

@test "-f -u: a directory the user cannot enter fails the start and leaves no pidfile" {
	need_root
	mkdir "$T/private"
	chmod 700 "$T/private"
	# timeout: were the directory entered, -f would run sleep here.
	run -1 --separate-stderr timeout 10 "$DAEMONIZE" -f -u nobody \
		-c "$T/private" -p "$T/d.pid" sleep 300 3>&-
	assert_equal "$stderr" "daemonize: sleep: chdir $T/private: Permission denied"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "-f -u: a command the user cannot run fails the start and leaves no pidfile" {
	need_root
	printf '#!/bin/sh\nexec sleep 300\n' >"$T/root-only"
	chmod 700 "$T/root-only"
	run -126 --separate-stderr timeout 10 "$DAEMONIZE" -f -u nobody \
		-p "$T/d.pid" "$T/root-only" 3>&-
	assert_equal "$stderr" "daemonize: $T/root-only: Permission denied"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}
