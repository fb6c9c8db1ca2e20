#!/usr/bin/env bats
# The command line: options, usage errors, and arguments passed through.

load test_helper/common

@test "--help prints the usage on stdout and exits 0" {
	run -0 --separate-stderr "$DAEMONIZE" --help
	assert_line --index 0 --partial "usage: daemonize"
	assert_output --partial "--pidfile"
	assert_equal "$stderr" ""
}

@test "--version prints the name and version" {
	run -0 "$DAEMONIZE" -V
	assert_output --regexp '^daemonize [0-9]+\.[0-9]+'
}

# usage_error MESSAGE ARGS...: exit 2 with MESSAGE as the only output.
usage_error() {
	local msg=$1
	shift
	run -2 --separate-stderr "$DAEMONIZE" "$@" 3>&-
	assert_equal "$stderr" "$msg"
	assert_equal "$output" ""
	[ ! -e "$T/d.pid" ]
}

@test "an unknown option is a usage error" {
	usage_error "daemonize: -x: unknown option (see daemonize --help)" -x sleep 1
	usage_error "daemonize: --bogus: unknown option (see daemonize --help)" \
		--bogus sleep 1
}

@test "a missing command is a usage error" {
	usage_error "daemonize: no command given (see daemonize --help)" -p "$T/d.pid"
	usage_error "daemonize: no command given (see daemonize --help)" --
}

@test "an option without its argument is a usage error" {
	usage_error "daemonize: -p: option requires an argument" -p
	usage_error "daemonize: --log: option requires an argument" --log
}

@test "a umask that is not strict octal up to 0777 is a usage error" {
	local m
	for m in 8 '' 0x12 -1 1000 0888 ' 22' 22a; do
		usage_error "$(printf "daemonize: umask '%s': %s" "$m" \
			"$([ "$m" = 1000 ] && echo 'larger than 0777' || echo 'not an octal mode')")" \
			-p "$T/d.pid" -m "$m" sleep 1
	done
}

@test "-E without a name or an equals sign is a usage error" {
	usage_error "daemonize: -E 'FOO': not NAME=VALUE" -p "$T/d.pid" -E FOO sleep 1
	usage_error "daemonize: -E '=x': empty variable name" -p "$T/d.pid" -E =x sleep 1
}

@test "empty file names are usage errors" {
	usage_error "daemonize: empty pidfile name" -p '' sleep 1
	usage_error "daemonize: empty log file name" -l '' sleep 1
	usage_error "daemonize: empty directory name" -c '' sleep 1
	usage_error "daemonize: empty command name" ''
}

@test "the command's own options and empty arguments pass through unchanged" {
	run -0 "$DAEMONIZE" -p "$T/d.pid" -o "$T/args" \
		sh -c 'for a; do printf "[%s]\n" "$a"; done' sh \
		-p '' --help '' 'two words' -- 3>&-
	wait_until 5 finished "$T/d.pid"
	run cat "$T/args"
	assert_output "[-p]
[]
[--help]
[]
[two words]
[--]"
}

@test "-- ends daemonize's options" {
	run -0 "$DAEMONIZE" -p "$T/d.pid" -o "$T/args" -- \
		sh -c 'echo "$0 $1"' -v x 3>&-
	wait_until 5 finished "$T/d.pid"
	[ "$(cat "$T/args")" = "-v x" ]
}

@test "argv[0] reaches the command as given" {
	run -0 "$DAEMONIZE" -p "$T/d.pid" -o "$T/argv0" \
		sh -c 'tr "\0" "\n" </proc/$$/cmdline | head -1' 3>&-
	wait_until 5 finished "$T/d.pid"
	[ "$(cat "$T/argv0")" = sh ]
}

@test "-E sets variables for the command and the last one wins" {
	run -0 "$DAEMONIZE" -p "$T/d.pid" -o "$T/env" -E GREETING=hello \
		-E EMPTY= -E GREETING=bye sh -c 'echo "$GREETING [${EMPTY-unset}]"' 3>&-
	wait_until 5 finished "$T/d.pid"
	[ "$(cat "$T/env")" = "bye []" ]
}

@test "-E PATH is used to find the command" {
	mkdir "$T/bin"
	printf '#!/bin/sh\necho found-it\n' >"$T/bin/only-here"
	chmod 755 "$T/bin/only-here"
	run -0 "$DAEMONIZE" -p "$T/d.pid" -o "$T/out" -E "PATH=$T/bin:/usr/bin:/bin" \
		only-here 3>&-
	wait_until 5 finished "$T/d.pid"
	[ "$(cat "$T/out")" = found-it ]
}

@test "a relative command is resolved against the caller's directory" {
	mkdir "$T/here"
	printf '#!/bin/sh\npwd\n' >"$T/here/tool"
	chmod 755 "$T/here/tool"
	cd "$T/here"
	run -0 "$DAEMONIZE" -p "$T/d.pid" -o "$T/out" ./tool 3>&-
	wait_until 5 finished "$T/d.pid"
	# It ran although the daemon's working directory is /.
	[ "$(cat "$T/out")" = / ]
}

@test "-v says which pid the daemon has" {
	run -0 --separate-stderr "$DAEMONIZE" -v -p "$T/d.pid" sleep 300 3>&-
	remember_pidfile "$T/d.pid"
	assert_equal "$stderr" "daemonize: sleep: running as pid $(cat "$T/d.pid")"
}

@test "an empty PATH entry means the current directory" {
	mkdir "$T/here"
	printf '#!/bin/sh\necho ran-from-cwd\n' >"$T/here/localtool"
	chmod 755 "$T/here/localtool"
	cd "$T/here"
	PATH=":/usr/bin:/bin" run -0 "$DAEMONIZE" -p "$T/d.pid" -o "$T/out" \
		localtool 3>&-
	wait_until 5 finished "$T/d.pid"
	[ "$(cat "$T/out")" = ran-from-cwd ]
}

@test "a long option given a value it does not take is a usage error" {
	usage_error "daemonize: --notify=x: option takes no value" --notify=x sleep 1
	usage_error "daemonize: --help=x: option takes no value" --help=x
}

@test "every option of the table is in --help, the man page's SYNOPSIS and its description" {
	local man=$BATS_TEST_DIRNAME/../man/daemonize.1 short long n=0
	local synopsis help
	synopsis=$(sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' "$man")
	help=$("$DAEMONIZE" --help)
	while read -r short long _; do
		n=$((n + 1))
		grep -qE -- "(^|[ ,])--$long([ =[]|$)" <<<"$help" ||
			fail "--$long is not in --help"
		grep -qF -- "Fl \\-$long" "$man" ||
			fail "--$long is not in the man page"
		grep -qE -- "^\.It Fl (\\\\-$long|$short .*Fl \\\\-$long)" "$man" ||
			fail "--$long has no .It entry in the description"
		if [ "$short" = - ]; then
			grep -qF -- "Fl \\-$long" <<<"$synopsis" ||
				fail "--$long is not in the SYNOPSIS"
		else
			grep -qE -- "^  -$short, --$long" <<<"$help" ||
				fail "-$short is not beside --$long in --help"
			grep -qE -- "Fl [a-zA-Z]*$short" <<<"$synopsis" ||
				fail "-$short is not in the SYNOPSIS"
		fi
	done < <(table_options)
	# The table was read at all: as many rows as --help has options.
	[ "$n" -gt 20 ]
	assert_equal "$n" "$(grep -cE '^  (-[a-zA-Z], |    )--[a-z]' <<<"$help")"
}

@test "numbers are digits only: no blanks, no sign" {
	local v
	for v in ' 10' '+10' '10 ' '1e3' ''; do
		usage_error "daemonize: -t $v: invalid (1 to 31536000 seconds)" \
			--stop -t "$v" -p "$T/d.pid"
	done
	usage_error "daemonize: --min-uptime +5: invalid (0 to 31536000)" \
		-r --min-uptime +5 sleep 1
	usage_error "daemonize: --ready-fd  5: invalid (3 to 1048575)" \
		--ready-fd ' 5' sleep 1
	usage_error "daemonize: -u:  0: no such user" -u ' 0' sleep 1
}

@test "a message is one line, whatever the arguments it echoes hold" {
	run -127 --separate-stderr "$DAEMONIZE" -p "$T/d.pid" \
		"$(printf 'svc\ndaemonize: forged')"
	assert_equal "$stderr" 'daemonize: svc\ndaemonize: forged: command not found'
	assert_equal "${#stderr_lines[@]}" 1
	run -2 --separate-stderr "$DAEMONIZE" -E "$(printf 'A\tB\033')" sleep 1
	assert_equal "$stderr" "daemonize: -E 'A\\tB\\033': not NAME=VALUE"
	[ ! -e "$T/d.pid" ]
}
