#!/usr/bin/env bats
# Defect 8: every wait on the runtime has a deadline (guardian's --runtime-timeout, handed to
# dadoo). A FIFO at a container's /etc/passwd blocks `runc init` (it opens the file to look the
# user up), and without a deadline that container's Runs would hang for good. With one, the Run
# fails within it with an error naming the runtime, the operation and the deadline; the runtime
# and whatever it started are killed and reaped, and the process dir is removed.

load helpers/common

DEADLINE=3

setup_file() {
	gdn_setup_file
}

setup() {
	if ! guardian_alive || [[ $(cat "$GDN_TMP/guardian.extra-args") != "--runtime-timeout ${DEADLINE}s" ]]; then
		start_guardian --runtime-timeout "${DEADLINE}s"
	fi
	handle_listed rd-a || create_container rd-a
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	unplant_fifo
	# a dadoo this file stopped: killed by its pid
	if [[ -s $GDN_TMP/stopped-dadoo ]]; then
		kill -KILL "$(cat "$GDN_TMP/stopped-dadoo")" 2>/dev/null || true
		rm -f "$GDN_TMP/stopped-dadoo"
	fi
	gdn_teardown
}

# standby_dadoo: the pid of this guardian's standby dadoo (waiting for a job), once there is one.
standby_dadoo() {
	local d cmd
	for d in /proc/[0-9]*; do
		[[ $(cat "$d/comm" 2>/dev/null) == dadoo ]] || continue
		cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
		[[ $cmd == *" --runtime-root $GDN_RUNTIME_ROOT "* && $cmd == *" --standby"* ]] || continue
		echo "${d#/proc/}"
		return 0
	done
	return 1
}

etc_of() {
	printf '%s/etc\n' "$(ctr_root "$1")"
}

# plant_fifo HANDLE: replaces the container's /etc/passwd by a FIFO nobody writes (from the host,
# as a container could do it itself).
plant_fifo() {
	local etc
	etc=$(etc_of "$1")
	mv "$etc/passwd" "$etc/passwd.real"
	mkfifo "$etc/passwd"
	echo "$1" >>"$GDN_TMP/fifo-planted"
}

unplant_fifo() {
	local h etc
	[[ -s $GDN_TMP/fifo-planted ]] || return 0
	while read -r h; do
		etc=$(etc_of "$h")
		if [[ -p $etc/passwd ]]; then
			rm -f "$etc/passwd"
			mv "$etc/passwd.real" "$etc/passwd"
		fi
	done <"$GDN_TMP/fifo-planted"
	rm -f "$GDN_TMP/fifo-planted"
}

# cgroup_procs HANDLE: the pids in the container's cgroup (of the pids controller, else the first
# directory found), sorted.
cgroup_procs() {
	local d
	d=$(cgroup_dirs_of "$1" | grep -m1 '/pids/' || cgroup_dirs_of "$1" | head -n1)
	[[ -n $d ]] || return 1
	sort -n "$d/cgroup.procs"
}

# leftovers_of HANDLE PROCESS-ID: prints what is left of a process that failed to start: its
# dir, a dadoo whose cwd is (was) that dir, a runtime exec with our --root, and any process in the
# container's cgroup besides its init.
leftovers_of() {
	local dir p cwd cmd init
	dir=$(proc_dir "$1" "$2")
	[[ ! -e $dir ]] || echo "process dir left: $dir ($(ls -A "$dir" | tr '\n' ' '))"
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		if [[ $(cat "$p/comm" 2>/dev/null) == dadoo ]]; then
			cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
			[[ $cwd != "$dir"* ]] || echo "dadoo left: ${p#/proc/} in $cwd"
		elif [[ $cmd == *"--root $GDN_RUNTIME_ROOT "*" exec "* ]]; then
			echo "runtime left: ${p#/proc/}: $cmd"
		fi
	done
	init=$(init_pid "$1")
	for p in $(cgroup_procs "$1"); do
		[[ $p == "$init" ]] ||
			echo "process left in the container: $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
	done
}

@test "a Run stuck on a FIFO at /etc/passwd fails within the deadline and leaves nothing behind" {
	plant_fifo rd-a
	local start took out=$GDN_TMP/stuck.out err=$GDN_TMP/stuck.err
	start=$(date +%s%N)
	timeout 30 "$GAOL_BIN" -t "$GDN_SOCK" run -a -p rd-stuck rd-a -c 'echo never' \
		>"$out" 2>"$err" &
	local run_pid=$!
	# the process dir exists once guardian handed the Run to a dadoo
	wait_until 50 test -d "$(proc_dir rd-a rd-stuck)" || fail "no process dir"
	# other requests are answered meanwhile, the stuck container's included
	run api GET /ping
	assert_line --index 1 200
	run api GET /containers/rd-a/info
	assert_line --index 1 200
	create_container rd-b
	run --separate-stderr gaol run -a rd-b -c 'echo meanwhile'
	assert_success
	assert_output meanwhile
	kill -0 "$run_pid" 2>/dev/null || fail "the stuck Run ended too early: $(cat "$err")"
	# it is stuck in the runtime (which the leftover check below would see)
	run leftovers_of rd-a rd-stuck
	[[ $output == *"runtime left: "* ]] || fail "no runtime seen while stuck: $output"

	local status=0
	wait "$run_pid" || status=$?
	took=$((($(date +%s%N) - start) / 1000000))
	((status != 124)) || fail "the Run hung"
	((status != 0)) || fail "the Run succeeded: $(cat "$out")"
	((took >= DEADLINE * 1000 - 500)) || fail "failed after ${took} ms, before the deadline: $(cat "$err")"
	((took < DEADLINE * 1000 + 8000)) || fail "failed only after ${took} ms"
	assert_equal "$(cat "$err")" \
		"gaol: $(basename "$GDN_RUNTIME") exec: timed out after ${DEADLINE}s: the runtime was killed"
	[[ ! -s $out ]] || fail "output: $(cat "$out")"
	# the dadoo removes itself and guardian the dir: give them a moment
	wait_until 50 test -z "$(leftovers_of rd-a rd-stuck)" || fail "$(leftovers_of rd-a rd-stuck)"
	run api GET /ping
	assert_line --index 1 200

	# once the FIFO is gone, Runs work again
	unplant_fifo
	run --separate-stderr gaol run -a rd-a -c 'echo again'
	assert_success
	assert_output again
	destroy_container rd-b
	assert_no_leaks rd-b
}

@test "a Run whose dadoo is stuck itself fails after the deadline plus a margin, and the next Run works" {
	local pid start took
	wait_until 100 standby_dadoo >/dev/null || fail "no standby dadoo"
	pid=$(standby_dadoo)
	kill -STOP "$pid"
	echo "$pid" >"$GDN_TMP/stopped-dadoo"
	start=$(date +%s%N)
	run --separate-stderr timeout 30 "$GAOL_BIN" -t "$GDN_SOCK" run -a -p rd-frozen rd-a -c 'echo never'
	took=$((($(date +%s%N) - start) / 1000000))
	((status != 124)) || fail "the Run hung"
	assert_failure
	[[ $stderr == *"dadoo did not report the start of process 'rd-frozen': no answer within $((DEADLINE * 1000 + 5000)) ms"* ]] ||
		fail "$stderr"
	((took >= DEADLINE * 1000 + 4500)) || fail "failed after ${took} ms, before the deadline"
	((took < DEADLINE * 1000 + 15000)) || fail "failed only after ${took} ms"
	[[ ! -e $(proc_dir rd-a rd-frozen) ]] || fail "the process dir is left"
	# a stopped dadoo cannot start anything: once it goes on, its job's dir is gone
	kill -KILL "$pid"
	rm -f "$GDN_TMP/stopped-dadoo"
	run --separate-stderr gaol run -a rd-a -c 'echo after'
	assert_success
	assert_output after
}

@test "--runtime-timeout reaches dadoo and is checked" {
	local d cmd found=
	for d in /proc/[0-9]*; do
		[[ $(cat "$d/comm" 2>/dev/null) == dadoo ]] || continue
		cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
		[[ $cmd == *" --runtime-root $GDN_RUNTIME_ROOT "* ]] || continue
		[[ $cmd == *" --runtime-timeout ${DEADLINE}000000000ns "* ]] && found=1
	done
	[[ -n $found ]] || fail "no dadoo got --runtime-timeout"
	run --separate-stderr "$GUARDIAN_BIN" server --runtime-timeout 0s --depot "$GDN_TMP/nodepot"
	assert_failure
	[[ $stderr == *"--runtime-timeout: '0s' is not a positive duration"* ]] || fail "$stderr"
	run --separate-stderr "$GDN_BUILD/bin/dadoo" --runtime runc --runtime-timeout soon --standby
	assert_failure 2
	[[ $stderr == *"--runtime-timeout: 'soon' is not a duration"* ]] || fail "$stderr"
}

@test "a create whose runtime misses the deadline fails with the runtime's name and is cleaned up" {
	# a runtime that never answers `run`: the deadline is what ends the create
	local slow=$GDN_TMP/slow-runtime
	cat >"$slow" <<-EOF
		#!/bin/sh
		for a; do [ "\$a" = run ] && echo \$\$ >"$GDN_TMP/slow.pid" && exec sleep 60; done
		exec "$(command -v "$GDN_RUNTIME")" "\$@"
	EOF
	chmod +x "$slow"
	start_guardian --runtime-timeout 2s --runtime-plugin "$slow"
	local start took
	start=$(date +%s%N)
	note_handle rd-slow
	api_req POST /containers '{"handle":"rd-slow"}'
	took=$((($(date +%s%N) - start) / 1000000))
	[[ $API_STATUS == 500 ]] || fail "status $API_STATUS: $API_BODY"
	[[ $(jq -r .Message <<<"$API_BODY") == *"slow-runtime run: timed out after 2s: the runtime was killed"* ]] ||
		fail "body: $API_BODY"
	((took < 10000)) || fail "took ${took} ms"
	local slow_pid
	slow_pid=$(read_pid_file "$GDN_TMP/slow.pid") || fail "the slow runtime did not run"
	! pid_alive "$slow_pid" || fail "the runtime is still running: $slow_pid"
	assert_no_leaks rd-slow
	start_guardian --runtime-timeout "${DEADLINE}s"
}

# procs_with TEXT: live processes whose command line holds TEXT.
procs_with() {
	local p cmd
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		[[ $cmd == *"$1"* ]] && pid_alive "${p#/proc/}" && echo "${p#/proc/}: $cmd"
	done
	return 0
}

@test "a create on a rootfs whose /etc/passwd is a FIFO fails within the deadline and leaves nothing" {
	local rootfs=$GDN_TMP/fifo-rootfs start took
	cp -a "$GDN_ROOTFS" "$rootfs"
	rm "$rootfs/etc/passwd"
	mkfifo "$rootfs/etc/passwd"
	note_handle rd-fifo
	start=$(date +%s%N)
	API_TIMEOUT=30 api_req POST /containers "$(jq -cn --arg r "$rootfs" '{handle: "rd-fifo", rootfs: $r}')"
	took=$((($(date +%s%N) - start) / 1000000))
	[[ $API_STATUS == 500 ]] || fail "status $API_STATUS: $API_BODY"
	assert_equal "$(jq -r .Message <<<"$API_BODY")" \
		"$(basename "$GDN_RUNTIME") run: timed out after ${DEADLINE}s: the runtime was killed"
	((took < DEADLINE * 1000 + 8000)) || fail "took ${took} ms"
	assert_no_leaks rd-fifo
	wait_until 50 test -z "$(procs_with "$GDN_DEPOT/rd-fifo")" ||
		fail "runtime processes left: $(procs_with "$GDN_DEPOT/rd-fifo")"
	run api GET /ping
	assert_line --index 1 200
	rm -rf "$rootfs"
}
