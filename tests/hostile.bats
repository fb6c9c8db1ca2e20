#!/usr/bin/env bats
# Pidfiles someone else prepared: refused, and left exactly as they were.

load test_helper/common

# refused_pidfile PIDFILE MESSAGE: a start with PIDFILE exits 1 with
# MESSAGE and starts nothing.
refused_pidfile() {
	run -1 --separate-stderr "$DAEMONIZE" -p "$1" sleep 300 3>&-
	assert_equal "$stderr" "$2"
	assert_equal "$output" ""
	no_process_mentions "$T/"
}

@test "a pidfile with a second hard link is refused and both names untouched" {
	echo 1 >"$T/victim"
	ln "$T/victim" "$T/d.pid"
	refused_pidfile "$T/d.pid" "daemonize: $T/d.pid: has 2 hard links, refused"
	[ "$(cat "$T/victim")" = 1 ]
	[ "$(stat -c %h "$T/victim")" = 2 ]
}

@test "a pidfile owned by another user is refused and untouched" {
	need_root
	echo 1 >"$T/d.pid"
	chown nobody "$T/d.pid"
	chmod 666 "$T/d.pid"
	refused_pidfile "$T/d.pid" \
		"daemonize: $T/d.pid: owned by uid 65534, not by us, refused"
	[ "$(cat "$T/d.pid")" = 1 ]
	[ "$(stat -c '%U %a' "$T/d.pid")" = "nobody 666" ]
}

@test "a pidfile in a directory writable by others without the sticky bit is refused" {
	mkdir "$T/open"
	chmod 777 "$T/open"
	refused_pidfile "$T/open/d.pid" \
		"daemonize: $T/open: directory writable by others, refused"
	[ ! -e "$T/open/d.pid" ]
}

@test "a pidfile in a sticky directory writable by others is accepted" {
	mkdir "$T/sticky"
	chmod 1777 "$T/sticky"
	start_sleeper "$T/sticky/d.pid"
	alive "$(cat "$T/sticky/d.pid")"
}

@test "a symlinked pidfile in a private directory is refused, whatever it points to" {
	# In a private directory, so that the kernel's protected_symlinks
	# (which applies in sticky world-writable ones) plays no part.
	local dir
	dir=$(mktemp -d "$T/private.XXXXXX")
	echo "root:x:0:0" >"$T/passwd-like"
	ln -s "$T/passwd-like" "$dir/d.pid"
	refused_pidfile "$dir/d.pid" "daemonize: $dir/d.pid: is a symbolic link, refused"
	[ "$(cat "$T/passwd-like")" = "root:x:0:0" ]
	ln -sf /dev/null "$dir/null.pid"
	refused_pidfile "$dir/null.pid" "daemonize: $dir/null.pid: is a symbolic link, refused"
}

@test "a character device as pidfile is refused" {
	need_root
	mknod "$T/tty.pid" c 5 0
	refused_pidfile "$T/tty.pid" "daemonize: $T/tty.pid: not a regular file, refused"
	[ -c "$T/tty.pid" ]
}

@test "a locked pidfile planted by another user is refused, not taken for a running daemon" {
	need_root
	local dir
	dir=$(public_dir)
	chmod 1777 "$dir"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		sh -c 'exec 9>>"$1"; flock 9; echo 1 >"$1"; exec sleep 300' \
		sh "$dir/d.pid" 3>&- &
	remember $!
	# One process, the lock holder, so teardown ends it by its pid.
	wait_until 5 test -s "$dir/d.pid"
	run -1 --separate-stderr "$DAEMONIZE" -p "$dir/d.pid" sleep 300 3>&-
	assert_equal "$stderr" \
		"daemonize: $dir/d.pid: owned by uid 65534, not by us, refused"
}

@test "a pidfile in a directory another user owns or a group may write is refused" {
	need_root
	mkdir "$T/users" "$T/group"
	chown nobody "$T/users"
	chmod 775 "$T/group"
	refused_pidfile "$T/users/d.pid" \
		"daemonize: $T/users: directory writable by others, refused"
	refused_pidfile "$T/group/d.pid" \
		"daemonize: $T/group: directory writable by others, refused"
	[ ! -e "$T/users/d.pid" ] && [ ! -e "$T/group/d.pid" ]
}

@test "--stop and --signal do not trust a pidfile owned by another user" {
	need_root
	sleep 300 3>&- &
	local victim=$!
	remember "$victim"
	echo "$victim" >"$T/d.pid"
	chown nobody "$T/d.pid"
	run -1 --separate-stderr "$DAEMONIZE" --stop -p "$T/d.pid"
	assert_equal "$stderr" \
		"daemonize: $T/d.pid: not ours alone (uid 65534, 1 links), not trusted"
	run -1 "$DAEMONIZE" --signal TERM -p "$T/d.pid"
	alive "$victim"
	[ -e "$T/d.pid" ]
}
