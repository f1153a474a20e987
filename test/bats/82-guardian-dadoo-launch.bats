#!/usr/bin/env bats
# How guardian starts dadoos: the standby dadoo waiting for the next Run (it leaves with guardian
# and is replaced when killed), Run's reading of the container's passwd (a FIFO there must not
# stall guardian), the runtime's extra arguments reaching `exec`, and
# --cleanup-process-dirs-on-wait.

load helpers/common

setup_file() {
	gdn_setup_file
}

setup() {
	ensure_default_guardian
	handle_listed dl-a || create_container dl-a
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	gdn_teardown
}

# standby_pids: pids of dadoos waiting with --standby for this file's guardian (its runtime root
# is in their command line).
standby_pids() {
	local d cmd
	for d in /proc/[0-9]*; do
		[[ $(cat "$d/comm" 2>/dev/null) == dadoo ]] || continue
		cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
		[[ $cmd == *" --runtime-root $GDN_RUNTIME_ROOT "* && $cmd == *" --standby"* ]] &&
			printf '%s\n' "${d#/proc/}"
	done
	return 0
}

one_standby() {
	[[ $(standby_pids | wc -l) == 1 ]]
}

no_standby() {
	[[ -z $(standby_pids) ]]
}

@test "a standby dadoo waits, is used by the next Run and replaced once guardian is idle" {
	wait_until 100 one_standby || fail "no standby dadoo: $(standby_pids)"
	local first
	first=$(standby_pids)
	run --separate-stderr gaol run -a -p dl-used dl-a -c 'echo used'
	assert_success
	assert_output used
	# the process was run by that very dadoo (its pid file names it while it lives)
	wait_process_exited dl-a dl-used
	wait_until 100 one_standby || fail "no new standby: $(standby_pids)"
	[[ $(standby_pids) != "$first" ]] || fail "the standby $first was not used"
	# it is not guardian's child: nothing of guardian's has to reap it
	[[ $(awk '{ print $4 }' "/proc/$(standby_pids)/stat") != "$(guardian_pid)" ]] ||
		fail "the standby is guardian's child"
}

@test "a killed standby dadoo is replaced and Run still works" {
	wait_until 100 one_standby || fail "no standby dadoo"
	kill -KILL "$(standby_pids)"
	run --separate-stderr gaol run -a dl-a -c 'echo still'
	assert_success
	assert_output still
	wait_until 100 one_standby || fail "no new standby: $(standby_pids)"
}

@test "the standby dadoo leaves when guardian is killed, and a new guardian starts its own" {
	wait_until 100 one_standby || fail "no standby dadoo"
	kill9_guardian
	wait_until 100 no_standby || fail "standby dadoo outlived guardian: $(standby_pids)"
	start_guardian
	wait_until 100 one_standby || fail "the new guardian has no standby: $(standby_pids)"
	run --separate-stderr gaol run -a dl-a -c 'echo after'
	assert_success
	assert_output after
}

@test "a FIFO at the container's /etc/passwd does not stall guardian" {
	# Made from the host: inside, the runtime itself would block on it looking up HOME.
	local etc
	etc=$(ctr_root dl-a)/etc
	mv "$etc/passwd" "$etc/passwd.real"
	mkfifo "$etc/passwd"
	# guardian reads the container's passwd in its loop: opening the FIFO would block it for good
	run --separate-stderr timeout 20 "$GAOL_BIN" -t "$GDN_SOCK" run -a -u vcap dl-a -c 'id -u'
	rm "$etc/passwd"
	mv "$etc/passwd.real" "$etc/passwd"
	((status != 124)) || fail "Run hung"
	assert_failure
	assert_equal "$stderr" "gaol: unable to find user vcap: no matching entries in passwd file"
	run api GET /ping
	assert_line --index 1 200
}

@test "--runtime-plugin-extra-arg reaches the runtime's exec through dadoo" {
	start_guardian --runtime-plugin-extra-arg=--debug
	wait_until 100 one_standby || fail "no standby dadoo"
	local cmd
	cmd=$(tr '\0' ' ' <"/proc/$(standby_pids)/cmdline")
	[[ $cmd == *" --runtime-arg --debug "* ]] || fail "standby: $cmd"
	run --separate-stderr gaol run -a dl-a -c 'echo debug'
	assert_success
	assert_output debug
	start_guardian
}

@test "--cleanup-process-dirs-on-wait: a waited-for process leaves nothing; an unwaited one keeps its dir" {
	start_guardian --cleanup-process-dirs-on-wait
	run --separate-stderr gaol run -a -p dl-waited dl-a -c 'exit 5'
	assert_failure 5
	wait_until 100 test ! -e "$(proc_dir dl-a dl-waited)" ||
		fail "still there: $(ls -A "$(proc_dir dl-a dl-waited)")"
	run --separate-stderr gaol attach -p dl-waited dl-a
	assert_failure
	assert_equal "$stderr" "gaol: unknown process: dl-waited"
	# this one exits after its client left (the test lets it go only then), so nobody got its
	# status: it stays retrievable
	gaol run -p dl-unwaited dl-a -c "$(sh_await dl-unwaited-go)exit 6" </dev/null
	wait_process_running dl-a dl-unwaited
	ctr_signal dl-a dl-unwaited-go
	wait_process_exited dl-a dl-unwaited
	# dadoo has recorded the status; had it counted it as delivered, it would now quit and
	# remove the dir: it is still there, and so is dadoo
	wait_until 100 grep -q '"message":"[^"]*\.finished"' "$(proc_dir dl-a dl-unwaited)/dadoo.log" ||
		fail "dadoo did not log that the process finished"
	assert is_dadoo "$(dadoo_pid dl-a dl-unwaited)"
	assert [ -d "$(proc_dir dl-a dl-unwaited)" ]
	run --separate-stderr gaol attach -p dl-unwaited dl-a
	assert_failure 6
	wait_until 100 test ! -e "$(proc_dir dl-a dl-unwaited)"
	start_guardian
}
