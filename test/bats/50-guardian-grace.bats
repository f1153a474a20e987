#!/usr/bin/env bats
# Grace time (protocol §10): a container nobody asks about for its grace time is destroyed;
# requests addressing it restart the countdown; List does not.

load helpers/common

TWO_S=2000000000

setup_file() {
	gdn_setup_file
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	gdn_teardown
}

# wait_reaped HANDLE TENTHS: polls List (which does not touch timers) until HANDLE is gone; prints
# the milliseconds it took; fails after TENTHS tenths of a second.
wait_reaped() {
	local h=$1 n=$2 t0 i
	t0=$(now_ms)
	for ((i = 0; i < n; i++)); do
		if ! handle_listed "$h"; then
			echo $(($(now_ms) - t0))
			return 0
		fi
		sleep 0.1
	done
	return 1
}

@test "a container with a 2 s grace time is destroyed within ~6 s, not before" {
	local t0 pid took
	t0=$(now_ms)
	create_container gr-a "{\"grace_time\":$TWO_S}"
	pid=$(init_pid gr-a)
	api_req GET /containers/gr-a/properties/garden.grace-time
	assert_api 200 "{\"value\":\"$TWO_S\"}"
	run wait_reaped gr-a 80
	assert_success
	took=$(($(now_ms) - t0))
	((took >= 1500)) || fail "reaped after only $took ms"
	((took <= 6500)) || fail "reaped after $took ms"
	wait_until 30 bash -c "! test -e '$GDN_DEPOT/gr-a'"
	assert_no_leaks gr-a "$pid"
	api_req GET /containers/gr-a/info
	assert_garden_error 404 ContainerNotFoundError '^unknown handle: gr-a$'
}

@test "requests for a container (every 0.5 s) keep it alive beyond its grace time" {
	create_container gr-busy "{\"grace_time\":$TWO_S}"
	local i t0 last now
	t0=$(now_ms)
	last=$t0
	for ((i = 0; i < 10; i++)); do
		api_req GET /containers/gr-busy/info
		assert_equal "$API_STATUS" 200
		now=$(now_ms)
		# What the test relies on: every request well inside the grace time of the one before.
		((now - last < 1500)) || fail "$((now - last)) ms between two requests (grace time 2 s)"
		last=$now
		sleep 0.5
	done
	# 5 s later (2.5 grace times) it is still there.
	(($(now_ms) - t0 >= 4000)) || fail "only $(($(now_ms) - t0)) ms of requests"
	assert handle_listed gr-busy
	api_req GET /containers/gr-busy/properties
	assert_equal "$API_STATUS" 200
	# Left alone, it goes.
	run wait_reaped gr-busy 80
	assert_success
	assert_no_leaks gr-busy
}

@test "List and BulkInfo do not keep a container alive" {
	local n=0 t0 took
	t0=$(now_ms)
	create_container gr-list "{\"grace_time\":$TWO_S}"
	while handle_listed gr-list; do
		api_req GET '/containers/bulk_info?handles=gr-list'
		n=$((n + 1))
		(($(now_ms) - t0 < 7000)) || fail "still there after 7 s of List and BulkInfo"
		sleep 0.2
	done
	# It was reaped while being listed (not at once, before any List could touch it).
	took=$(($(now_ms) - t0))
	((took >= 1500 && n >= 5)) || fail "reaped after $took ms and $n List+BulkInfo rounds"
	assert_no_leaks gr-list
}

@test "SetGraceTime arms the timer of a container created without one" {
	# A twin with a 2 s grace time, created alongside, shows when a timer would have fired.
	create_container gr-set
	create_container gr-set-twin "{\"grace_time\":$TWO_S}"
	run wait_reaped gr-set-twin 80
	assert_success
	assert handle_listed gr-set
	api_req PUT /containers/gr-set/grace_time "$TWO_S"
	assert_api 200 '{}'
	api_req GET /containers/gr-set/properties/garden.grace-time
	assert_api 200 "{\"value\":\"$TWO_S\"}"
	run wait_reaped gr-set 80
	assert_success
	# the countdown started at the SetGraceTime
	((output >= 1500)) || fail "reaped $output ms after SetGraceTime (grace time 2 s)"
	assert_no_leaks gr-set
	assert_no_leaks gr-set-twin
}

@test "SetGraceTime to a long time saves a container with a short one" {
	# A twin with the same 2 s, left alone, shows when gr-save's old timer would have fired.
	create_container gr-save "{\"grace_time\":$TWO_S}"
	create_container gr-save-twin "{\"grace_time\":$TWO_S}"
	api_req PUT /containers/gr-save/grace_time 3600000000000
	assert_api 200 '{}'
	run wait_reaped gr-save-twin 80
	assert_success
	assert handle_listed gr-save
	assert_no_leaks gr-save-twin
	destroy_container gr-save
	assert_no_leaks gr-save
}

@test "--default-grace-time applies when the spec's grace_time is 0" {
	start_guardian --default-grace-time 2s
	create_container gr-default
	create_container gr-default0 '{"grace_time":0}'
	create_container gr-explicit '{"grace_time":3600000000000}'
	run wait_reaped gr-default 80
	assert_success
	run wait_reaped gr-default0 30
	assert_success
	assert handle_listed gr-explicit
	assert_no_leaks gr-default
	assert_no_leaks gr-default0
	destroy_container gr-explicit
}

@test "grace timers are re-armed after a restart" {
	local pid t0 tc
	create_container gr-restart '{"grace_time":3000000000}'
	tc=$(now_ms)
	pid=$(init_pid gr-restart)
	kill9_guardian
	# Down for more than 1 s: then a timer that went on from the old deadline (about tc + 3 s)
	# would fire before t0 + 2 s, which the check below tells apart from a re-armed one.
	sleep 1
	t0=$(now_ms)
	((t0 - tc > 1000)) || fail "the guardian was down for only $((t0 - tc)) ms"
	start_guardian
	assert handle_listed gr-restart
	run wait_reaped gr-restart 90
	assert_success
	(($(now_ms) - t0 >= 2000)) || fail "reaped too early after the restart"
	assert_no_leaks gr-restart "$pid"
}

@test "a container that stays unreaped while the server is down is reaped after start-up" {
	local tc
	create_container gr-down "{\"grace_time\":$TWO_S}"
	tc=$(now_ms)
	kill9_guardian
	# the grace time passes while guardian is down
	sleep 3
	(($(now_ms) - tc >= 2500)) || fail "down for only $(($(now_ms) - tc)) ms"
	start_guardian
	run wait_reaped gr-down 80
	assert_success
	assert_no_leaks gr-down
}

@test "grace time 0 and no default: never reaped" {
	local t0
	t0=$(now_ms)
	create_container gr-never
	# a twin with a 1 s grace time shows the reaper at work meanwhile
	create_container gr-never-twin '{"grace_time":1000000000}'
	run wait_reaped gr-never-twin 60
	assert_success
	# and 3 s in all: three times the twin's grace time
	sleep "$(awk -v ms=$((3000 - ($(now_ms) - t0))) 'BEGIN { print (ms > 0 ? ms / 1000 : 0) }')"
	(($(now_ms) - t0 >= 3000)) || fail "only $(($(now_ms) - t0)) ms"
	assert handle_listed gr-never
	destroy_container gr-never
	assert_no_leaks gr-never-twin
}

@test "every container was cleaned up" {
	destroy_all
	assert_all_clean
}
