#!/usr/bin/env bats
# contrib/bash-completion/daemonize: what bash offers on TAB, driven the
# way bash drives it (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT) with
# bash-completion's own helpers loaded.

load test_helper/common

BASH_COMPLETION=/usr/share/bash-completion/bash_completion

setup() {
	common_setup
	[ -r "$BASH_COMPLETION" ] ||
		skip "bash-completion is not installed ($BASH_COMPLETION)"
	export BASH_COMPLETION
	SCRIPT=$BATS_TEST_DIRNAME/../contrib/bash-completion/daemonize
	SRC=$BATS_TEST_DIRNAME/../src
	# A command with a completion of its own, to see the hand-over.
	cat >"$T/mycmd.bash" <<-'EOF'
		_mycmd() { COMPREPLY=("cmd=${COMP_WORDS[0]} cword=$COMP_CWORD cur=$2"); }
		complete -F _mycmd mycmd
	EOF
	export COMPLETE_BEFORE=$T/mycmd.bash TMPDIR=$T
}

# completions LINE: what TAB offers at the end of LINE, one a line, in
# $output and ${lines[@]}; the script must say nothing on stderr.
completions() {
	LINE=$1
	run --separate-stderr bash "$BATS_TEST_DIRNAME/test_helper/complete.bash" \
		"$SCRIPT" "$1"
	assert_success
	assert_equal "$stderr" ""
}

# offered WORD: WORD is one of the lines of the last completions.
offered() {
	[[ $'\n'$output$'\n' == *$'\n'"$1"$'\n'* ]]
}

# offers WORD...: the last completions offered each WORD.
offers() {
	local word
	for word; do
		offered "$word" || fail "'$LINE' does not offer $word"
	done
}

# offers_none WORD...: the last completions offered no WORD.
offers_none() {
	local word
	for word; do
		! offered "$word" || fail "'$LINE' offers $word"
	done
}

# offers_exactly WORD...: the last completions offered these words and no
# others, in any order (bash sorts them before it shows them).
offers_exactly() {
	assert_equal "$(printf '%s\n' "${lines[@]}" | sort)" \
		"$(printf '%s\n' "$@" | sort)"
}

# table_words FILE ARRAY: the quoted names in the table ARRAY[] of FILE.
table_words() {
	sed -n "/ $2\[\] = {/,/^}/p" "$SRC/$1" |
		sed "1s/.*$2\[\] = {//; /^}/d" | grep -o '{ "[^"]*"' |
		sed 's/{ "//; s/"$//' | sort
}

# offers_table LINE FILE TABLE: what LINE completes to is the words of
# TABLE in src/FILE, no more and no fewer.
offers_table() {
	completions "$1"
	assert_equal "$(printf '%s\n' "${lines[@]}" | sort)" \
		"$(table_words "$2" "$3")"
}

@test "every long option of the table is offered after --, and every short one after -" {
	local short long arg word n=0
	local -A in_table=() after_dashes=() after_dash=()
	completions "daemonize --"
	for word in "${lines[@]}"; do after_dashes[$word]=1; done
	completions "daemonize -"
	for word in "${lines[@]}"; do after_dash[$word]=1; done
	while read -r short long arg; do
		n=$((n + 1))
		in_table[$long]=1
		[ -n "${after_dashes[--$long]:-}" ] ||
			fail "--$long is not offered after --"
		[ -n "${after_dash[--$long]:-}" ] ||
			fail "--$long is not offered after -"
		[ "$short" = - ] || [ -n "${after_dash[-$short]:-}" ] ||
			fail "-$short is not offered after -"
	done < <(table_options)
	[ "$n" -gt 20 ]
	# Nothing the table lacks: its long options, and --NAME= for those
	# whose value may only follow an "=".
	for word in "${!after_dashes[@]}"; do
		word=${word#--}
		[ -n "${in_table[${word%=}]:-}" ] ||
			fail "--$word is offered but is not in the table"
	done
}

@test "a word after an option is its value exactly when the table says the option requires one" {
	local short long arg flag i=0
	local -a flags=() args=() queries=()
	while read -r short long arg; do
		for flag in "--$long" "-$short"; do
			[ "$flag" = -- ] && continue
			flags+=("$flag") args+=("$arg")
			queries+=("daemonize $flag word --")
		done
	done < <(table_options)
	[ "${#queries[@]}" -gt 40 ]
	# One bash for them all: each line of output is one query's words.
	run --separate-stderr bash "$BATS_TEST_DIRNAME/test_helper/complete.bash" \
		"$SCRIPT" "${queries[@]}"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" "${#queries[@]}"
	for ((i = 0; i < ${#queries[@]}; i++)); do
		if [ "${args[i]}" = required_argument ]; then
			[[ "${lines[i]} " == *" --pidfile "* ]] ||
				fail "after ${flags[i]} word, daemonize's options are not offered"
		else
			[[ "${lines[i]} " != *" --pidfile "* ]] ||
				fail "${flags[i]} takes no value, yet word is not the command"
		fi
	done
}

@test "a value may be attached: -pFILE, -fpFILE, --pidfile=FILE, and an abbreviated --pid FILE" {
	local line
	for line in "daemonize -pd.pid word --" "daemonize -fpd.pid word --" \
		"daemonize --pidfile=d.pid word --" "daemonize -fr word --"; do
		completions "$line"
		offers_none --pidfile
	done
	completions "daemonize --pid d.pid --"
	offers --pidfile
	# --stop is an option of its own, not the prefix of --stop-signal.
	completions "daemonize --stop word --"
	offers_none --pidfile
}

@test "--signal, --stop-signal, -s and --drain-signal offer signal names" {
	local line
	for line in "daemonize --signal " "daemonize --stop-signal " \
		"daemonize -s " "daemonize -r --drain-signal " "daemonize --signal=" \
		"daemonize -p d.pid --signal "; do
		completions "$line"
		offers HUP TERM KILL QUIT USR1 USR2
	done
	completions "daemonize --signal U"
	offers_exactly URG USR1 USR2
	completions "daemonize --signal SIGH"
	offers_exactly SIGHUP
}

@test "--respawn= offers on-failure and always; after --respawn alone comes the command" {
	completions "daemonize --respawn="
	offers_exactly on-failure always
	completions "daemonize --respawn=o"
	offers_exactly on-failure
	# The value is optional, so only "=" attaches it.
	completions "daemonize --respawn mycmd --"
	assert_output "cmd=mycmd cword=1 cur=--"
}

@test "-p, -P, -l, -o, -e and --env-file complete file names" {
	mkdir "$T/logs"
	touch "$T/old.pid" "$T/other.log"
	local line
	for line in "daemonize -p " "daemonize -P " "daemonize -l " \
		"daemonize -o " "daemonize -e " "daemonize --env-file " \
		"daemonize --pidfile=" "daemonize -fp "; do
		completions "$line"
		offers old.pid other.log logs
	done
	completions "daemonize -p o"
	offers_exactly old.pid other.log
	# -c and --chroot want a directory.
	completions "daemonize -c "
	offers logs
	offers_none old.pid other.log
}

@test "--ionice offers the I/O classes, and the levels after a colon" {
	completions "daemonize --ionice "
	offers_exactly idle best-effort realtime
	completions "daemonize -I "
	offers_exactly idle best-effort realtime
	completions "daemonize -I best-effort:"
	offers_exactly 0 1 2 3 4 5 6 7
}

@test "--scheduler, --syslog=, --listen, --limit, --caps and -u offer their words" {
	completions "daemonize --scheduler "
	offers_exactly other batch idle fifo rr
	completions "daemonize -r --syslog=loc"
	offers_exactly local0 local1 local2 local3 local4 local5 local6 local7
	completions "daemonize --listen "
	offers_exactly tcp: unix:
	completions "daemonize --limit no"
	offers_exactly nofile=
	# A list: the last item, after what is already there.
	completions "daemonize --caps net_raw,net_b"
	offers_exactly net_raw,net_bind_service net_raw,net_broadcast
	completions "daemonize -u roo"
	offers_exactly root
	# After the colon, the groups alone, for readline to put after it.
	completions "daemonize -u root:roo"
	offers_exactly root
}

@test "the word lists follow the tables in the source" {
	local want
	offers_table "daemonize --signal " value.c signals
	offers_table "daemonize -r --syslog=" value.c facilities
	offers_table "daemonize --ionice " tune.c ioclasses
	offers_table "daemonize --scheduler " tune.c policies
	completions "daemonize --limit "
	assert_equal "$(printf '%s\n' "${lines[@]}" | sed 's/=$//' | sort)" \
		"$(table_words limits.c resources)"
	# The capabilities --caps takes: those with no reason to refuse them.
	want=$(grep -o '{ "[a-z_]*", NULL }' "$SRC/caps.c" | cut -d'"' -f2 | sort)
	[ "$(wc -l <<<"$want")" -gt 20 ]
	completions "daemonize --caps "
	assert_equal "$(printf '%s\n' "${lines[@]}" | sort)" "$want"
}

@test "after the command word, the command's own completion takes over" {
	local line
	for line in "daemonize mycmd -" "daemonize -p d.pid mycmd -" \
		"daemonize --pidfile=d.pid -u root:root -I best-effort:4 mycmd -" \
		"daemonize -f -- mycmd -" "daemonize -r --respawn=always mycmd -"; do
		completions "$line"
		assert_output "cmd=mycmd cword=1 cur=-"
	done
	completions "daemonize -p d.pid mycmd --pidfile "
	assert_output "cmd=mycmd cword=2 cur="
	# A command with no completion of its own gets file names.
	touch "$T/input.txt"
	completions "daemonize -p d.pid no-such-command inp"
	assert_output "input.txt"
	completions "daemonize -p d.pid no-such-command --pid"
	refute_output --partial -- --pidfile
}

@test "the command word itself completes as a command name" {
	completions "daemonize -p d.pid slee"
	offers sleep
	completions "daemonize -- slee"
	offers sleep
	offers_none --pidfile
}

@test "bash-completion finds the script by the name daemonize in a completions directory" {
	mkdir -p "$T/share/bash-completion/completions"
	cp "$SCRIPT" "$T/share/bash-completion/completions/daemonize"
	run -0 env XDG_DATA_DIRS="$T/share" BASH_COMPLETION_USER_DIR="$T/none" \
		bash -c 'source "$BASH_COMPLETION"; _completion_loader daemonize; complete -p daemonize'
	assert_output "complete -F _daemonize daemonize"
}
