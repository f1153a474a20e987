#!/usr/bin/env bats
# Many requests at once: creates and destroys run concurrently, and cheap requests keep being
# answered while they do.

load helpers/common

setup_file() {
	gdn_setup_file
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	gdn_teardown
}

# check_results DIR EXPECTED-STATUS: every DIR/* holds "body\nstatus" with that status.
check_results() {
	local f out bad=()
	for f in "$1"/*; do
		out=$(<"$f")
		[[ ${out##*$'\n'} == "$2" ]] || bad+=("$(basename "$f"): ${out//$'\n'/ | }")
	done
	((${#bad[@]} == 0)) || {
		printf '%s\n' "${bad[@]}" | batslib_decorate "expected status $2" | fail
		return 1
	}
}

@test "10 concurrent creates all succeed and are listed" {
	local i d=$BATS_TEST_TMPDIR/create
	mkdir -p "$d"
	for i in $(seq -w 1 10); do
		note_handle "cc-$i"
		bg_start api POST /containers "{\"handle\":\"cc-$i\",\"properties\":{\"batch\":\"one\"}}" >"$d/$i"
	done
	bg_wait
	check_results "$d" 200
	for i in $(seq -w 1 10); do
		assert_equal "$(head -n 1 "$d/$i")" "{\"Handle\":\"cc-$i\"}"
	done
	run list_handles batch=one
	assert_equal "${#lines[@]}" 10
	for i in $(seq -w 1 10); do
		assert_line "cc-$i"
		assert pid_alive "$(init_pid "cc-$i")"
	done
	run runtime_containers
	assert_equal "${#lines[@]}" 10
}

@test "10 concurrent destroys all succeed and leave nothing behind" {
	local i d=$BATS_TEST_TMPDIR/destroy pids=()
	mkdir -p "$d"
	for i in $(seq -w 1 10); do
		pids+=("$(init_pid "cc-$i")")
		bg_start api DELETE "/containers/cc-$i" >"$d/$i"
	done
	bg_wait
	check_results "$d" 200
	for i in $(seq -w 1 10); do
		assert_equal "$(head -n 1 "$d/$i")" '{}'
		assert_no_leaks "cc-$i" "${pids[10#$i - 1]}"
	done
	run list_handles 'garden.state=all'
	assert_output ''
}

@test "pings, lists and info of another container are answered while creates run" {
	# The runtime's `run` of every cp-* is held (helpers/gated-runtime), so all the requests
	# below are answered while ten create workers are provably in flight at once.
	start_gated_guardian
	create_container cc-other '{"properties":{"k":"v"}}'
	local i d=$BATS_TEST_TMPDIR/c p=$BATS_TEST_TMPDIR/p
	mkdir -p "$d" "$p"
	for i in $(seq -w 1 10); do
		note_handle "cp-$i"
		gate_hold run "cp-$i"
		bg_start api POST /containers "{\"handle\":\"cp-$i\"}" >"$d/$i"
	done
	for i in $(seq -w 1 10); do
		gate_wait_entered run "cp-$i" || fail "the create of cp-$i never reached the runtime"
	done
	for i in $(seq -w 1 20); do
		API_TIMEOUT=2 api GET /ping >"$p/ping-$i"
		API_TIMEOUT=2 api GET /containers/cc-other/info >"$p/info-$i"
		API_TIMEOUT=2 api GET /containers >"$p/list-$i"
	done
	for i in $(seq -w 1 10); do
		[[ ! -s $d/$i ]] || fail "the create of cp-$i returned while held: $(<"$d/$i")"
		gate_release run "cp-$i"
	done
	bg_wait
	check_results "$d" 200
	check_results "$p" 200
	for i in $(seq -w 1 20); do
		assert_equal "$(head -n 1 "$p/ping-$i")" '{}'
		run jq -r .Properties.k < <(head -n 1 "$p/info-$i")
		assert_output v
		# none of the creates in flight is listed
		run jq -c .Handles < <(head -n 1 "$p/list-$i")
		assert_output '["cc-other"]'
	done
	for i in $(seq -w 1 10); do
		destroy_container "cp-$i"
	done
	destroy_container cc-other
}

@test "concurrent creates of the same handle: exactly one wins" {
	local i d=$BATS_TEST_TMPDIR/same ok=0 f out
	mkdir -p "$d"
	note_handle cc-same
	for i in 1 2 3 4 5; do
		bg_start api POST /containers '{"handle":"cc-same"}' >"$d/$i"
	done
	bg_wait
	for f in "$d"/*; do
		out=$(<"$f")
		API_STATUS=${out##*$'\n'}
		API_BODY=${out%$'\n'*}
		API_BODY=${API_BODY%$'\n'}
		if [[ $API_STATUS == 200 ]]; then
			assert_equal "$API_BODY" '{"Handle":"cc-same"}'
			ok=$((ok + 1))
		else
			assert_garden_error 500 '' "^Handle 'cc-same' already in use\$"
		fi
	done
	assert_equal "$ok" 1
	run runtime_containers
	assert_output cc-same
	api_req GET /containers/cc-same/info
	assert_equal "$API_STATUS" 200
	destroy_container cc-same
	assert_no_leaks cc-same
}

@test "concurrent creates and destroys of different containers interleave" {
	local i d=$BATS_TEST_TMPDIR/mixed
	mkdir -p "$d"
	for i in 1 2 3 4 5; do
		create_container "cm-old-$i"
	done
	for i in 1 2 3 4 5; do
		note_handle "cm-new-$i"
		bg_start api POST /containers "{\"handle\":\"cm-new-$i\"}" >"$d/create-$i"
		bg_start api DELETE "/containers/cm-old-$i" >"$d/destroy-$i"
	done
	bg_wait
	check_results "$d" 200
	run list_handles
	assert_output "$(printf 'cm-new-%s\n' 1 2 3 4 5)"
	for i in 1 2 3 4 5; do
		assert_no_leaks "cm-old-$i"
		destroy_container "cm-new-$i"
		assert_no_leaks "cm-new-$i"
	done
}

@test "many concurrent property writes to one container are all applied" {
	create_container cc-props
	local i d=$BATS_TEST_TMPDIR/props
	mkdir -p "$d"
	for i in $(seq 1 20); do
		bg_start api PUT "/containers/cc-props/properties/k$i" "{\"value\":\"v$i\"}" >"$d/$i"
	done
	bg_wait
	check_results "$d" 200
	api_req GET /containers/cc-props/properties
	for i in $(seq 1 20); do
		assert_equal "$(jq -r ".k$i" <<<"$API_BODY")" "v$i"
	done
	destroy_container cc-props
}

@test "the server keeps accepting after 200 quick connections" {
	local i d=$BATS_TEST_TMPDIR/many
	mkdir -p "$d"
	for i in $(seq 1 200); do
		API_TIMEOUT=10 bg_start api GET /ping >"$d/$i"
		if ((i % 50 == 0)); then bg_wait; fi
	done
	bg_wait
	check_results "$d" 200
	assert guardian_alive
	# No file descriptor leak: far fewer fds open than requests served.
	local n
	n=$(ls "/proc/$(guardian_pid)/fd" | wc -l)
	((n < 100)) || fail "guardian has $n open fds after 200 requests"
}

@test "a container being created is not listed until its create has returned; ping answers meanwhile" {
	# The runtime's `run` of cc-slow is held (helpers/gated-runtime): every sample below is
	# taken while its create is provably in flight, after guardian registered it.
	local out=$BATS_TEST_TMPDIR/slow i l
	start_gated_guardian
	note_handle cc-slow
	gate_hold run cc-slow
	bg_start api POST /containers '{"handle":"cc-slow"}' >"$out"
	gate_wait_entered run cc-slow || fail "the create never reached the runtime"
	for ((i = 0; i < 10; i++)); do
		l=$(list_handles) || fail "List failed"
		! grep -qx cc-slow <<<"$l" || fail "cc-slow is listed while its create is in flight"
		# garden.state=all shows it (state creating)
		l=$(list_handles garden.state=all) || fail "List failed"
		grep -qx cc-slow <<<"$l" || fail "garden.state=all does not list cc-slow: $l"
		API_TIMEOUT=2 api_req GET /ping
		assert_api 200 '{}'
	done
	[[ ! -s $out ]] || fail "the create returned while its runtime was held: $(<"$out")"
	gate_release run cc-slow
	bg_wait
	assert_equal "$(head -n 1 "$out")" '{"Handle":"cc-slow"}'
	run list_handles
	assert_output cc-slow
	destroy_container cc-slow
	assert_no_leaks cc-slow
}

@test "every container was cleaned up" {
	destroy_all
	assert_all_clean
}
