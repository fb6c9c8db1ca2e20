#!/usr/bin/env bats
# The daemon's execution environment: limits, priorities, capabilities,
# env files and the root, each applied exactly or the start refused.

load test_helper/common

# A static program for a root of its own: says where it is, whether it
# can climb out, and waits.
setup_file() {
	cat >"$BATS_FILE_TMPDIR/where.c" <<'EOF'
#include <stdio.h>
#include <unistd.h>
int
main(void)
{
	char buf[4096];

	if (getcwd(buf, sizeof(buf)) == NULL)
		return (1);
	printf("cwd %s\n", buf);
	if (chdir("../../..") == 0 && getcwd(buf, sizeof(buf)) != NULL)
		printf("up %s\n", buf);
	printf("marker %s\n", access("/marker", F_OK) == 0 ? "inside" :
	    "outside");
	fflush(stdout);
	pause();
	return (0);
}
EOF
	cc -static -O2 -o "$BATS_FILE_TMPDIR/where" "$BATS_FILE_TMPDIR/where.c" \
		2>/dev/null || rm -f "$BATS_FILE_TMPDIR/where"
}

# refused STATUS MESSAGE ARGS...: a start with ARGS exits STATUS with
# MESSAGE as its one line, and leaves no pidfile, log or process.
refused() {
	local status=$1 msg=$2
	shift 2
	run "-$status" --separate-stderr "$DAEMONIZE" -p "$T/d.pid" \
		-l "$T/d.log" "$@" 3>&-
	assert_equal "$stderr" "$msg"
	assert_equal "$output" ""
	[ ! -e "$T/d.pid" ]
	[ ! -e "$T/d.log" ]
	no_process_mentions "$T/"
}

# limit PID NAME: "soft hard" of a line of /proc/PID/limits.
limit() {
	awk -v n="$2" 'index($0, n) == 1 {
		rest = substr($0, length(n) + 1); split(rest, f, " ")
		print f[1], f[2] }' "/proc/$1/limits"
}

# has_cap NAME: we hold capability NAME (CAP_SYS_RESOURCE is bit 24).
has_cap() {
	local eff
	eff=$(status_field $$ CapEff)
	(( (16#$eff >> $1) & 1 ))
}

# runs_sleep PID: PID has executed sleep.
runs_sleep() {
	[ "$(cat "/proc/$1/comm" 2>/dev/null)" = sleep ]
}

# new_run PIDFILE OLD: the pidfile names a run other than OLD, running.
new_run() {
	local pid
	pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && [ "$pid" != "$2" ] &&
		runs_sleep "$pid"
}

@test "--limit sets both limits, S:H, a soft max, K and M suffixes and unlimited" {
	start_sleeper "$T/d.pid" --limit nofile=1000:2000 --limit stack=4M: \
		--limit core=unlimited --limit memlock=64K --limit nproc=max
	local pid
	pid=$(cat "$T/d.pid")
	assert_equal "$(limit "$pid" "Max open files")" "1000 2000"
	assert_equal "$(limit "$pid" "Max stack size")" \
		"4194304 $(prlimit --stack --raw --noheadings --output HARD --pid $$)"
	assert_equal "$(limit "$pid" "Max core file size")" "unlimited unlimited"
	assert_equal "$(limit "$pid" "Max locked memory")" "65536 65536"
	local hard
	hard=$(prlimit --nproc --raw --noheadings --output HARD --pid $$)
	assert_equal "$(limit "$pid" "Max processes")" "$hard $hard"
}

@test "--limit raises a hard limit where CAP_SYS_RESOURCE is held, and is refused before the fork without it" {
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" != unlimited ] || skip "no hard limit on open files here"
	if has_cap 24; then
		start_sleeper "$T/d.pid" --limit nofile=$((hard + 1))
		assert_equal "$(limit "$(cat "$T/d.pid")" "Max open files")" \
			"$((hard + 1)) $((hard + 1))"
	else
		refused 1 "daemonize: --limit nofile=$((hard + 1)): raising the hard limit above $hard needs CAP_SYS_RESOURCE" \
			--limit nofile=$((hard + 1)) sleep 300
	fi
}

@test "-N sets the nice value and the autogroup of the daemon's own session" {
	start_sleeper "$T/d.pid" -N 7
	local pid
	pid=$(cat "$T/d.pid")
	assert_equal "$(stat_field "$pid" 19)" 7
	if [ -e /proc/self/autogroup ]; then
		run cat "/proc/$pid/autogroup"
		assert_output --regexp ' nice 7$'
		# Not ours: the session we were started from keeps its own.
		run cat /proc/self/autogroup
		refute_output --regexp ' nice 7$'
	fi
}

@test "-N -5 raises the priority as root" {
	need_root
	start_sleeper "$T/d.pid" -N -5
	assert_equal "$(stat_field "$(cat "$T/d.pid")" 19)" -5
}

@test "-I sets the I/O class and level, read back with ionice" {
	start_sleeper "$T/d.pid" -I best-effort:6
	run ionice -p "$(cat "$T/d.pid")"
	assert_output "best-effort: prio 6"
	start_sleeper "$T/e.pid" -I idle
	run ionice -p "$(cat "$T/e.pid")"
	assert_output "idle"
}

@test "--scheduler sets the policy and priority, read back with chrt" {
	start_sleeper "$T/d.pid" --scheduler batch
	run chrt -p "$(cat "$T/d.pid")"
	assert_line --partial "policy: SCHED_BATCH"
	chrt -f 10 true 2>/dev/null || skip "no real-time scheduling here"
	start_sleeper "$T/e.pid" --scheduler fifo:10
	run chrt -p "$(cat "$T/e.pid")"
	assert_line --partial "policy: SCHED_FIFO"
	assert_line --partial "priority: 10"
}

@test "--cpu-affinity pins the daemon to the CPUs listed" {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	start_sleeper "$T/d.pid" --cpu-affinity 1
	assert_equal "$(status_field "$(cat "$T/d.pid")" Cpus_allowed_list)" 1
}

@test "--oom-score-adj raises the score, read back from /proc" {
	start_sleeper "$T/d.pid" --oom-score-adj 500
	assert_equal "$(cat "/proc/$(cat "$T/d.pid")/oom_score_adj")" 500
}

@test "--oom-score-adj below ours takes CAP_SYS_RESOURCE: applied with it, one line and nothing left without" {
	if has_cap 24; then
		start_sleeper "$T/d.pid" --oom-score-adj -500
		assert_equal "$(cat "/proc/$(cat "$T/d.pid")/oom_score_adj")" -500
	else
		refused 1 "daemonize: sleep: --oom-score-adj -500: Permission denied (lowering it needs CAP_SYS_RESOURCE)" \
			--oom-score-adj -500 sleep 300
	fi
}

@test "--no-new-privs sets NoNewPrivs for the command" {
	start_sleeper "$T/d.pid" --no-new-privs
	assert_equal "$(status_field "$(cat "$T/d.pid")" NoNewPrivs)" 1
}

@test "-G adds supplementary groups to those of -u" {
	need_root
	start_sleeper "$T/d.pid" -u nobody:nogroup -G 4,27,nogroup
	run status_field "$(cat "$T/d.pid")" Groups
	assert_output --regexp '^4 27 65534 ?$|^65534 4 27 ?$'
}

@test "--caps net_bind_service -u nobody: the command binds port 80, and setuid(0) still fails in it" {
	need_root
	[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" -gt 80 ] ||
		skip "any user may bind port 80 here"
	python3 -c 'import socket; socket.socket().bind(("127.0.0.1", 80))' \
		2>/dev/null || skip "port 80 is taken"
	local dir
	dir=$(public_dir)
	chown nobody "$dir"
	"$DAEMONIZE" -u nobody --caps net_bind_service -p "$T/d.pid" \
		-l "$dir/d.log" /usr/bin/python3 -c '
import os, socket, time
s = socket.socket()
s.bind(("127.0.0.1", 80))
print("bound", flush=True)
try:
    os.setuid(0)
    print("became root", flush=True)
except PermissionError:
    print("setuid refused", flush=True)
time.sleep(300)' 3>&-
	remember_pidfile "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	wait_until 5 grep -q setuid "$dir/d.log"
	assert_equal "$(cat "$dir/d.log")" "$(printf 'bound\nsetuid refused')"
	[ "$(status_field "$pid" CapEff)" = 0000000000000400 ]
	[ "$(status_field "$pid" CapAmb)" = 0000000000000400 ]
	[ "$(status_field "$pid" CapPrm)" = 0000000000000400 ]
	[ "$(status_field "$pid" Uid)" = "65534 65534 65534 65534" ]
}

@test "-f applies every setting before it becomes the command" {
	"$DAEMONIZE" -f -p "$T/d.pid" --limit nofile=900:1900 -N 4 \
		--oom-score-adj 300 -I best-effort:5 --no-new-privs sleep 300 3>&- &
	local pid=$!
	remember "$pid"
	wait_until 5 runs_sleep "$pid"
	assert_equal "$(limit "$pid" "Max open files")" "900 1900"
	assert_equal "$(stat_field "$pid" 19)" 4
	assert_equal "$(cat "/proc/$pid/oom_score_adj")" 300
	assert_equal "$(ionice -p "$pid")" "best-effort: prio 5"
	assert_equal "$(status_field "$pid" NoNewPrivs)" 1
}

# respawned_run: the -r service of $T/d.pid has its run killed once;
# sets $sv to the supervisor and $run to the run it started anew.
respawned_run() {
	run=$(cat "$T/d.pid")
	sv=$(stat_field "$run" 4)
	remember "$sv"
	remember "$run"
	kill -KILL "$run"
	wait_until 5 new_run "$T/d.pid" "$run"
	run=$(cat "$T/d.pid")
	remember "$run"
}

@test "-r: every run has the settings, a respawned one too, and the supervisor none of them" {
	local affinity=()
	[ "$(nproc)" -lt 2 ] || affinity=(--cpu-affinity 1)
	"$DAEMONIZE" -r --min-uptime 0 -p "$T/d.pid" --limit nofile=800:1800 \
		-N 6 --oom-score-adj 400 --no-new-privs "${affinity[@]}" \
		sleep 300 3>&-
	local run sv
	respawned_run
	[ "$(stat_field "$run" 4)" = "$sv" ]
	assert_equal "$(limit "$run" "Max open files")" "800 1800"
	assert_equal "$(stat_field "$run" 19)" 6
	assert_equal "$(cat "/proc/$run/oom_score_adj")" 400
	assert_equal "$(status_field "$run" NoNewPrivs)" 1
	[ "${#affinity[@]}" = 0 ] ||
		assert_equal "$(status_field "$run" Cpus_allowed_list)" 1
	assert_equal "$(limit "$sv" "Max open files")" "$(limit $$ "Max open files")"
	assert_equal "$(stat_field "$sv" 19)" "$(stat_field $$ 19)"
	assert_equal "$(cat "/proc/$sv/oom_score_adj")" "$(cat /proc/$$/oom_score_adj)"
	assert_equal "$(status_field "$sv" NoNewPrivs)" 0
}

@test "-r -u nobody: a respawned run has the groups of -G and the capabilities of --caps, the supervisor root's" {
	need_root
	"$DAEMONIZE" -r --min-uptime 0 -p "$T/d.pid" -u nobody:nogroup -G 4 \
		--caps net_raw --no-new-privs sleep 300 3>&-
	local run sv
	respawned_run
	[ "$(status_field "$run" Uid)" = "65534 65534 65534 65534" ]
	[ "$(status_field "$run" CapAmb)" = 0000000000002000 ]
	[ "$(status_field "$run" CapEff)" = 0000000000002000 ]
	[ "$(status_field "$run" NoNewPrivs)" = 1 ]
	run status_field "$run" Groups
	assert_output --regexp '(^| )4( |$)'
	[ "$(status_field "$sv" Uid)" = "0 0 0 0" ]
	[ "$(status_field "$sv" CapAmb)" = 0000000000000000 ]
}

@test "-r: --clear-env keeps the named variables and the env files' in a respawned run too" {
	env_file e.env 'B=file'
	A=kept C=dropped "$DAEMONIZE" -r --min-uptime 0 -p "$T/d.pid" -l "$T/d.log" \
		--clear-env --keep-env A --env-file "$T/e.env" \
		sh -c 'echo "[${A-unset}] [${B-unset}] [${C-unset}]"; exec sleep 300' 3>&-
	local run sv
	run=$(cat "$T/d.pid")
	sv=$(stat_field "$run" 4)
	remember "$sv"
	remember "$run"
	wait_until 5 runs_sleep "$run"
	kill -KILL "$run"
	wait_until 5 new_run "$T/d.pid" "$run"
	remember "$(cat "$T/d.pid")"
	run grep '^\[' "$T/d.log"
	assert_output "$(printf '%s\n' '[kept] [file] [unset]' '[kept] [file] [unset]')"
}

@test "a malformed or out-of-range value is a usage error before anything is made" {
	local ncpu=$(( $(getconf _NPROCESSORS_CONF) - 1 ))
	refused 2 "daemonize: --limit bogus=1: no such resource (as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rtprio, rttime, sigpending, stack)" \
		--limit bogus=1 sleep 300
	refused 2 "daemonize: --limit nofile: not RESOURCE=VALUE" --limit nofile sleep 300
	refused 2 "daemonize: --limit nofile=: no value" --limit nofile= sleep 300
	refused 2 "daemonize: --limit nofile=:: no value" --limit nofile=: sleep 300
	refused 2 "daemonize: --limit nofile=1x: invalid value (a number, with K, M, G or T, or unlimited)" \
		--limit nofile=1x sleep 300
	refused 2 "daemonize: --limit nofile=5:4: the soft limit is above the hard one" \
		--limit nofile=5:4 sleep 300
	refused 2 "daemonize: --limit nice=41: nice ends at 40 (or unlimited)" \
		--limit nice=41 sleep 300
	refused 2 "daemonize: --limit rtprio=100: rtprio ends at 99 (or unlimited)" \
		--limit rtprio=100 sleep 300
	refused 2 "daemonize: --limit cpu=0: a soft cpu limit below 1 is taken as 1" \
		--limit cpu=0 sleep 300
	refused 2 "daemonize: --limit nofile=9: nofile given twice" \
		--limit nofile=8 --limit nofile=9 sleep 300
	refused 2 "daemonize: --limit nofile=:5: the soft limit, $(ulimit -Sn), would be above the hard limit, 5" \
		--limit nofile=:5 sleep 300
	refused 2 "daemonize: -N 20: too large (-20 to 19)" -N 20 sleep 300
	refused 2 "daemonize: -N -21: too small (-20 to 19)" -N -21 sleep 300
	refused 2 "daemonize: -N +1: invalid (-20 to 19)" -N +1 sleep 300
	refused 2 "daemonize: -I 8: too large (0 to 7)" -I best-effort:8 sleep 300
	refused 2 "daemonize: -I idle:3: the idle class has no level" -I idle:3 sleep 300
	refused 2 "daemonize: -I fast: no such class (idle, best-effort, realtime)" \
		-I fast sleep 300
	refused 2 "daemonize: --scheduler fifo: needs a priority, as in fifo:10" \
		--scheduler fifo sleep 300
	refused 2 "daemonize: --scheduler other:5: only fifo and rr take a priority" \
		--scheduler other:5 sleep 300
	refused 2 "daemonize: --scheduler 100: too large (1 to 99)" \
		--scheduler rr:100 sleep 300
	refused 2 "daemonize: --scheduler deadline: no such policy (other, batch, idle, fifo, rr)" \
		--scheduler deadline sleep 300
	refused 2 "daemonize: --cpu-affinity 1-0: not a list of CPUs from 0 to $ncpu, as in 0-3,8" \
		--cpu-affinity 1-0 sleep 300
	refused 2 "daemonize: --cpu-affinity 4096: not a list of CPUs from 0 to $ncpu, as in 0-3,8" \
		--cpu-affinity 4096 sleep 300
	refused 2 "daemonize: --cpu-affinity 0,: not a list of CPUs from 0 to $ncpu, as in 0-3,8" \
		--cpu-affinity 0, sleep 300
	refused 2 "daemonize: --oom-score-adj 1001: too large (-1000 to 1000)" \
		--oom-score-adj 1001 sleep 300
	refused 2 "daemonize: --keep-env: only with --clear-env" --keep-env HOME sleep 300
	refused 2 "daemonize: --keep-env 'A=1': not a variable name" \
		--clear-env --keep-env A=1 sleep 300
	refused 2 "daemonize: -G: only with -u" -G 4 sleep 300
}

@test "the settings are options of a start: the verbs refuse them" {
	run -2 --separate-stderr "$DAEMONIZE" --status -p "$T/d.pid" --limit nofile=5
	assert_equal "$stderr" "daemonize: --status: takes only -p, -P and -v"
	run -2 --separate-stderr "$DAEMONIZE" --stop -p "$T/d.pid" --caps net_raw
	assert_equal "$stderr" "daemonize: --stop: takes only -p, -P, -s, -t and -v"
}

@test "--caps refuses setuid, setgid and every capability that leads back to root" {
	local cap
	for cap in chown dac_override dac_read_search fowner setgid setuid \
		setpcap sys_module sys_rawio sys_chroot sys_ptrace sys_admin \
		sys_boot mknod setfcap perfmon bpf; do
		run -2 --separate-stderr "$DAEMONIZE" -u nobody -p "$T/d.pid" \
			--caps "net_raw,CAP_${cap^^}" sleep 300
		assert_regex "$stderr" \
			"^daemonize: --caps net_raw,CAP_${cap^^}: $cap [a-z].*, refused\$"
		[ ! -e "$T/d.pid" ]
	done
	refused 2 "daemonize: --caps net_raw,bogus: 'bogus': no such capability" \
		-u nobody --caps net_raw,bogus sleep 300
	refused 2 "daemonize: --caps: needs -u naming a user other than root" \
		--caps net_raw sleep 300
}

@test "--caps needs -u naming a user other than root, and capabilities we hold" {
	need_root
	refused 2 "daemonize: --caps: needs -u naming a user other than root" \
		-u root --caps net_raw sleep 300
	if ! has_cap 24; then
		refused 1 "daemonize: --caps sys_resource: we do not have CAP_SYS_RESOURCE ourselves" \
			-u nobody --caps sys_resource sleep 300
	fi
}

@test "what needs a privilege we lack is refused before the fork, naming it" {
	need_root
	local dir
	dir=$(public_dir)
	chown nobody "$dir"
	as_nobody() {
		run -1 --separate-stderr setpriv --reuid=nobody --regid=nogroup \
			--clear-groups "$DAEMONIZE" -p "$dir/d.pid" -l "$dir/d.log" \
			"$@" 3>&-
		[ ! -e "$dir/d.pid" ] && [ ! -e "$dir/d.log" ]
		no_process_mentions "$dir/"
	}
	as_nobody -N -5 sleep 300
	assert_equal "$stderr" "daemonize: -N -5: needs root or CAP_SYS_NICE"
	as_nobody -I realtime sleep 300
	assert_equal "$stderr" "daemonize: -I realtime: needs root or CAP_SYS_NICE"
	as_nobody --scheduler fifo:10 sleep 300
	assert_equal "$stderr" "daemonize: --scheduler fifo:10: needs root, CAP_SYS_NICE or --limit rtprio from an RLIMIT_RTPRIO we have"
	as_nobody --chroot / sleep 300
	assert_equal "$stderr" "daemonize: --chroot /: needs root or CAP_SYS_CHROOT"
	as_nobody -u nobody --caps net_raw sleep 300
	assert_equal "$stderr" "daemonize: --caps net_raw: needs root"
	as_nobody --limit nofile=$(( $(ulimit -Hn) + 1 )) sleep 300
	assert_equal "$stderr" "daemonize: --limit nofile=$(( $(ulimit -Hn) + 1 )): raising the hard limit above $(ulimit -Hn) needs CAP_SYS_RESOURCE"
}

@test "a setting the kernel refuses the daemon fails the start naming it, and leaves nothing" {
	need_strace
	inject() {
		local spec=$1 msg=$2
		shift 2
		run -1 --separate-stderr traced -e "inject=$spec" -- \
			-p "$T/d.pid" -l "$T/d.log" "$@" sleep 300
		assert_equal "$stderr" "$msg"
		[ ! -e "$T/d.pid" ] && [ ! -e "$T/d.log" ]
		no_process_mentions "$T/"
	}
	# strace counts each process's calls: the daemon's first one sets.
	inject prlimit64:error=EPERM:when=1 \
		"daemonize: sleep: --limit nofile=1000:2000: Operation not permitted" \
		--limit nofile=1000:2000
	inject setpriority:error=EACCES "daemonize: sleep: -N 3: Permission denied" -N 3
	inject ioprio_set:error=EPERM "daemonize: sleep: -I idle: Operation not permitted" -I idle
	inject sched_setscheduler:error=EPERM \
		"daemonize: sleep: --scheduler batch: Operation not permitted" --scheduler batch
	inject sched_setaffinity:error=EINVAL \
		"daemonize: sleep: --cpu-affinity 0: some of these CPUs cannot be used here" \
		--cpu-affinity 0
	inject prctl:error=EINVAL "daemonize: sleep: --no-new-privs: Invalid argument" \
		--no-new-privs
}

@test "--caps: a capability the kernel will not keep or raise fails the start naming it" {
	need_root
	need_strace
	run -1 --separate-stderr traced -e inject=capset:error=EPERM -- \
		-u nobody --caps net_raw -p "$T/d.pid" sleep 300
	assert_equal "$stderr" "daemonize: sleep: --caps net_raw: Operation not permitted"
	[ ! -e "$T/d.pid" ]
	# The daemon's third prctl: keep-caps, keep-caps off, the raise.
	run -1 --separate-stderr traced -e inject=prctl:error=EPERM:when=3 -- \
		-u nobody --caps net_raw -p "$T/d.pid" sleep 300
	assert_equal "$stderr" "daemonize: sleep: --caps net_raw: raising net_raw into the ambient set: Operation not permitted"
	[ ! -e "$T/d.pid" ]
	no_process_mentions "$T/"
}

@test "-r: a run whose setting fails is logged by the supervisor, naming it" {
	need_strace
	"$DAEMONIZE" -r --min-uptime 0 -p "$T/d.pid" -l "$T/d.log" -N 5 \
		sleep 300 3>&-
	local run sv
	run=$(cat "$T/d.pid")
	sv=$(stat_field "$run" 4)
	remember "$sv"
	remember "$run"
	trace_running "$sv" -e inject=setpriority:error=EACCES
	kill -KILL "$run"
	wait_until 5 grep -q "could not start" "$T/d.log"
	end_trace
	run grep "could not start" "$T/d.log"
	assert_output --partial "daemonize: sleep: could not start: -N 5: Permission denied"
}

# env_file NAME CONTENT: a file of root's, mode 0644, in $T.
env_file() {
	printf '%s' "$2" >"$T/$1"
	chmod 644 "$T/$1"
}

# show_env ARGS...: start `printenv` for A B C D E under ARGS and print
# what it wrote, one "[value]" a variable.
show_env() {
	run -0 "$DAEMONIZE" -p "$T/s.pid" -o "$T/env.out" "$@" \
		sh -c 'for v in A B C D E; do eval "printf \"[%s]\n\" \"\${$v-unset}\""; done' 3>&-
	wait_until 5 finished "$T/s.pid"
	cat "$T/env.out"
}

@test "--env-file: NAME=VALUE lines, comments, blank lines, export, quotes, nothing expanded" {
	env_file e.env "$(printf '%s\n' \
		'# a comment' \
		'' \
		'   export A=plain value   ' \
		"B='single \$HOME \\n \"x\"'" \
		'C="double \"q\" \$HOME \\ \`x\`"   # a comment after it' \
		'D=' \
		'E=with # no comment' )"
	run show_env --env-file "$T/e.env"
	assert_output "$(printf '%s\n' '[plain value]' '[single $HOME \n "x"]' \
		'[double "q" $HOME \ `x`]' '[]' '[with # no comment]')"
}

@test "--env-file: later files win, -E wins over them, and they over -u's variables" {
	env_file 1.env $'A=one\nB=one\nHOME=/from-file\n'
	env_file 2.env $'B=two\nC=two\n'
	run show_env --env-file "$T/1.env" --env-file "$T/2.env" -E C=cmdline
	assert_output "$(printf '%s\n' '[one]' '[two]' '[cmdline]' '[unset]' '[unset]')"
	need_root
	local dir
	dir=$(public_dir)
	chown nobody "$dir"
	"$DAEMONIZE" -u nobody -p "$T/h.pid" -o "$dir/h.out" --env-file "$T/1.env" \
		sh -c 'echo "$HOME $USER"' 3>&-
	wait_until 5 finished "$T/h.pid"
	assert_equal "$(cat "$dir/h.out")" "/from-file nobody"
}

@test "--env-file: a syntax error names the file and line" {
	local bad
	for bad in 'A="open' "A='open" 'A="x" y' '1A=x' 'A = x' 'export' '-A=x' 'A'; do
		env_file bad.env $'OK=1\n# fine\n'"$bad"$'\n'
		refused 2 "daemonize: $T/bad.env:3: $(case $bad in
			'A="open') echo "unterminated double quote" ;;
			"A='open") echo "unterminated single quote" ;;
			'A="x" y') echo "text after the closing quote" ;;
			*) echo "not NAME=VALUE" ;;
			esac)" --env-file "$T/bad.env" sleep 300
	done
	printf 'A=1\0B=2\n' >"$T/nul.env"
	chmod 644 "$T/nul.env"
	refused 2 "daemonize: $T/nul.env: holds a NUL byte" --env-file "$T/nul.env" sleep 300
}

@test "--env-file: a carriage return before the newline belongs to the line's end" {
	env_file crlf.env $'A=dos\r\nB="quoted"\r\n'
	run show_env --env-file "$T/crlf.env"
	assert_line --index 0 "[dos]"
	assert_line --index 1 "[quoted]"
}

@test "--env-file: the pidfile's trust checks, each refused with one line" {
	need_root
	local dir
	env_file ok.env 'A=1'
	ln -s "$T/ok.env" "$T/link.env"
	refused 1 "daemonize: $T/link.env: is a symbolic link, refused" \
		--env-file "$T/link.env" sleep 300
	mkdir "$T/dir.env"
	refused 1 "daemonize: $T/dir.env: not a regular file, refused" \
		--env-file "$T/dir.env" sleep 300
	refused 1 "daemonize: $T/none.env: No such file or directory" \
		--env-file "$T/none.env" sleep 300
	env_file group.env 'A=1'
	chmod 664 "$T/group.env"
	refused 1 "daemonize: $T/group.env: writable by its group, refused" \
		--env-file "$T/group.env" sleep 300
	env_file world.env 'A=1'
	chmod 646 "$T/world.env"
	refused 1 "daemonize: $T/world.env: writable by others, refused" \
		--env-file "$T/world.env" sleep 300
	env_file theirs.env 'A=1'
	chown nobody "$T/theirs.env"
	refused 1 "daemonize: $T/theirs.env: owned by uid $(id -u nobody), not by root or us, refused" \
		--env-file "$T/theirs.env" sleep 300
	dir=$(mktemp -d)
	echo "$dir" >>"$T/.dirs"
	chmod 777 "$dir"
	printf 'A=1\n' >"$dir/open.env"
	chmod 644 "$dir/open.env"
	refused 1 "daemonize: $dir: directory writable by others, refused" \
		--env-file "$dir/open.env" sleep 300
	# A sticky directory such as /tmp is fine.
	chmod 1777 "$dir"
	run show_env --env-file "$dir/open.env"
	assert_line --index 0 "[1]"
}

@test "--clear-env: only the kept names and a default PATH, then the variables given" {
	env_file e.env 'B=file'
	A=caller B=caller C=caller run show_env --clear-env --keep-env A \
		--env-file "$T/e.env" -E D=given
	assert_output "$(printf '%s\n' '[caller]' '[file]' '[unset]' '[given]' '[unset]')"
	run -0 "$DAEMONIZE" -p "$T/p.pid" -o "$T/path.out" --clear-env \
		/usr/bin/env 3>&-
	wait_until 5 finished "$T/p.pid"
	assert_equal "$(cat "$T/path.out")" "PATH=/usr/bin:/bin:/usr/sbin:/sbin"
	PATH=/usr/bin:/bin:/kept run -0 "$DAEMONIZE" -p "$T/k.pid" -o "$T/kept.out" \
		--clear-env --keep-env PATH /usr/bin/env 3>&-
	wait_until 5 finished "$T/k.pid"
	assert_equal "$(cat "$T/kept.out")" "PATH=/usr/bin:/bin:/kept"
}

@test "the command is looked up in the PATH it will have: an env file's" {
	env_file p.env 'PATH=/nonexistent'
	refused 127 "daemonize: sleep: command not found" --env-file "$T/p.env" sleep 300
}

# make_root: $T/root, with the static program as /bin/where and /marker.
make_root() {
	need_root
	[ -x "$BATS_FILE_TMPDIR/where" ] ||
		skip "cannot build a static program (cc -static, libc6-dev)"
	mkdir -p "$T/root/bin" "$T/root/data/deep"
	cp "$BATS_FILE_TMPDIR/where" "$T/root/bin/where"
	touch "$T/root/marker"
}

@test "--chroot: the command runs in the root, from its /, and cannot climb out" {
	make_root
	"$DAEMONIZE" --chroot "$T/root" -p "$T/d.pid" -o "$T/d.out" \
		/bin/where 3>&-
	remember_pidfile "$T/d.pid"
	local pid
	pid=$(cat "$T/d.pid")
	wait_until 5 grep -q marker "$T/d.out"
	assert_equal "$(cat "$T/d.out")" "$(printf 'cwd /\nup /\nmarker inside')"
	assert_equal "$(readlink "/proc/$pid/root")" "$T/root"
	assert_equal "$(readlink "/proc/$pid/cwd")" "$T/root"
}

@test "--chroot: -c and the PATH lookup are inside the root" {
	make_root
	"$DAEMONIZE" --chroot "$T/root" -c /data/deep -E PATH=/nowhere:/bin \
		-p "$T/a.pid" -o "$T/a.out" where 3>&-
	remember_pidfile "$T/a.pid"
	wait_until 5 grep -q marker "$T/a.out"
	run cat "$T/a.out"
	assert_line --index 0 "cwd /data/deep"
	assert_line --index 1 "up /"
	# sleep is on the host, not in the root.
	refused 127 "daemonize: sleep: command not found" --chroot "$T/root" sleep 300
	refused 127 "daemonize: /bin/none: No such file or directory" \
		--chroot "$T/root" /bin/none
}

@test "--chroot: what has no meaning inside the root is refused" {
	make_root
	refused 2 "daemonize: bin/where: with --chroot, a command's path is absolute, inside the root" \
		--chroot "$T/root" bin/where
	refused 2 "daemonize: -c: with --chroot, an absolute path inside the root" \
		--chroot "$T/root" -c data /bin/where
	refused 2 "daemonize: --notify: not with --chroot, whose root cannot reach the socket (use --ready-fd)" \
		--chroot "$T/root" --notify /bin/where
	refused 1 "daemonize: --chroot $T/root/marker: not a directory" \
		--chroot "$T/root/marker" /bin/where
	chmod 775 "$T/root"
	refused 1 "daemonize: $T/root: writable by its group, refused" \
		--chroot "$T/root" /bin/where
}

@test "--chroot with -r: every run in the root, the supervisor outside" {
	make_root
	"$DAEMONIZE" -r --chroot "$T/root" -p "$T/d.pid" -l "$T/d.log" \
		/bin/where 3>&-
	local run sv
	run=$(cat "$T/d.pid")
	sv=$(stat_field "$run" 4)
	remember "$sv"
	remember "$run"
	assert_equal "$(readlink "/proc/$run/root")" "$T/root"
	assert_equal "$(readlink "/proc/$sv/root")" /
}

@test "--chroot with -f: a step that fails inside the root still removes the pidfile" {
	make_root
	run -1 --separate-stderr "$DAEMONIZE" -f --chroot "$T/root" -u nobody \
		-c /none -p "$T/d.pid" /bin/where 3>&-
	assert_equal "$stderr" "daemonize: /bin/where: chdir /none: No such file or directory"
	[ ! -e "$T/d.pid" ]
	chmod 644 "$T/root/bin/where"
	run -126 --separate-stderr "$DAEMONIZE" -f --chroot "$T/root" \
		-p "$T/d.pid" /bin/where 3>&-
	assert_equal "$stderr" "daemonize: /bin/where: Permission denied"
	[ ! -e "$T/d.pid" ]
}
