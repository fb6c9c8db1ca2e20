# complete.bash: complete a command line as bash would, with the
# completion script of contrib/bash-completion, and print what it offers,
# one a line.  For tests/completion.bats:
#
#   bash complete.bash SCRIPT 'daemonize --signal '
#
# With several lines, what each offers is one line of output: "> ", then
# the words separated by blanks.  The cursor is at the end of the line.  The line is split into
# COMP_WORDS as bash splits it: at blanks, and each run of "=" or ":"
# (which are in COMP_WORDBREAKS) a word of its own; a line ending in a
# blank has an empty word last.  No quotes.  $BASH_COMPLETION names
# bash-completion's main script, $COMPLETE_BEFORE may hold more to
# source first (a test's own command with a completion of its own).

# shellcheck disable=SC1090
source "${BASH_COMPLETION:-/usr/share/bash-completion/bash_completion}"
source "$1"
[ -z "${COMPLETE_BEFORE:-}" ] || source "$COMPLETE_BEFORE"

# complete_line LINE: COMPREPLY for the cursor at the end of LINE.
complete_line() {
	local line=$1 rest=$1 errors
	COMP_WORDS=()
	while [[ -n $rest ]]; do
		if [[ $rest =~ ^[[:blank:]]+ ]]; then
			rest=${rest:${#BASH_REMATCH[0]}}
			continue
		fi
		[[ $rest =~ ^([=:]+|[^[:blank:]=:]+) ]]
		COMP_WORDS+=("${BASH_REMATCH[0]}")
		rest=${rest:${#BASH_REMATCH[0]}}
	done
	[[ -z $line || $line == *[[:blank:]] ]] && COMP_WORDS+=('')
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	# As bash calls it: the command, the word being completed, the one
	# before.  compopt refuses outside a real completion, and says so:
	# only that is dropped from what the script writes on stderr.
	errors=$(mktemp)
	_daemonize daemonize "${COMP_WORDS[COMP_CWORD]}" \
		"${COMP_WORDS[COMP_CWORD - 1]}" 2>"$errors"
	grep -v 'compopt: not currently executing completion function' \
		"$errors" >&2
	rm -f "$errors"
}

shift
if [ "$#" -eq 1 ]; then
	complete_line "$1"
	[ "${#COMPREPLY[@]}" -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}"
else
	for line; do
		complete_line "$line"
		echo "> ${COMPREPLY[*]}"
	done
fi
