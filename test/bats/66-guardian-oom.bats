#!/usr/bin/env bats
# OOM events: a container whose process the kernel OOM-kills shows Garden's Events
# ["Out of memory"] in Info and BulkInfo, one entry per kill, and keeps them across restarts
# (guardian reads the cgroup's OOM-kill counter; Garden's `runc events` watcher is not restarted
# and loses them). A container without an OOM has Events null.

load helpers/common

LIMIT=67108864 # 64 MiB

setup_file() {
	gdn_setup_file
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	gdn_teardown
}

# oom_in HANDLE: runs a process in HANDLE through the API that holds ever more memory (busybox
# tail keeps the last lines of /dev/zero, which has no newline) until the kernel kills it.
oom_in() {
	local summary
	summary=$(gc run "$1" "$(sh_spec 'tail /dev/zero')") || fail "run in $1 failed: $summary"
	# killed by SIGKILL: 128 + 9
	assert_equal "$(json_field "$summary" .exit_status)" 137
}

events_of() {
	api_ok GET "/containers/$1/info"
	jq -c .Events <<<"$API_BODY"
}

# oom_kills_file HANDLE: the host's OOM counter file of HANDLE's memory cgroup.
oom_kills_of() {
	local pid rel
	pid=$(init_pid "$1")
	rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' "/proc/$pid/cgroup")
	if [[ -n $rel ]]; then
		awk '$1 == "oom_kill" { print $2 }' "/sys/fs/cgroup/memory$rel/memory.oom_control"
	else
		rel=$(unified_cgroup "$pid")
		awk '$1 == "oom_kill" { print $2 }' "/sys/fs/cgroup$rel/memory.events"
	fi
}

@test "an OOM kill is one 'Out of memory' event in Info and BulkInfo; none elsewhere" {
	create_container oom-a "{\"limits\":{\"memory_limits\":{\"limit_in_bytes\":$LIMIT}}}"
	create_container oom-b '{"properties":{"app":"b"}}'
	assert_equal "$(events_of oom-a)" null
	api_ok GET /containers/oom-a/info
	local before=$API_BODY

	oom_in oom-a
	assert_equal "$(oom_kills_of oom-a)" 1
	assert_equal "$(events_of oom-a)" '["Out of memory"]'
	# reading again records nothing new
	assert_equal "$(events_of oom-a)" '["Out of memory"]'
	# the rest of Info is as before, but for Garden's property
	api_ok GET /containers/oom-a/info
	assert_json "$(jq -c 'del(.Events, .Properties["rundmc.events"])' <<<"$API_BODY")" \
		"$(jq -c 'del(.Events)' <<<"$before")"
	assert_equal "$(jq -r '.Properties["rundmc.events"]' <<<"$API_BODY")" "Out of memory"
	assert_equal "$(events_of oom-b)" null

	api_ok GET '/containers/bulk_info?handles=oom-a%2Coom-b'
	assert_equal "$(jq -c '."oom-a".Info.Events' <<<"$API_BODY")" '["Out of memory"]'
	assert_equal "$(jq -c '."oom-b".Info.Events' <<<"$API_BODY")" null
	assert_equal "$(jq -c '."oom-a".Err' <<<"$API_BODY")" null

	# the count guardian recorded is in properties.json, with the event, but is no property
	assert_equal "$(jq -r '.["garden-c.oom-kills"]' "$GDN_DEPOT/oom-a/properties.json")" 1
	assert_equal "$(jq -r '.["rundmc.events"]' "$GDN_DEPOT/oom-a/properties.json")" \
		"Out of memory"
	assert_equal "$(jq -r '.Properties["garden-c.oom-kills"]' <<<"$API_BODY")" null
	api_req PUT /containers/oom-a/properties/garden-c.oom-kills '{"value":"0"}'
	assert_garden_error 500 '' 'reserved'

	destroy_container oom-a
	destroy_container oom-b
}

@test "OOM events survive restarts without duplicates; later OOMs add one entry each" {
	create_container oom-r "{\"limits\":{\"memory_limits\":{\"limit_in_bytes\":$LIMIT}}}"
	oom_in oom-r
	assert_equal "$(events_of oom-r)" '["Out of memory"]'

	kill9_guardian
	start_guardian
	assert_equal "$(events_of oom-r)" '["Out of memory"]'
	stop_guardian
	start_guardian
	assert_equal "$(events_of oom-r)" '["Out of memory"]'

	# after the restart guardian still finds the cgroup, and a second OOM is a second entry,
	# as in Garden
	oom_in oom-r
	assert_equal "$(events_of oom-r)" '["Out of memory","Out of memory"]'
	api_ok GET '/containers/bulk_info?handles=oom-r'
	assert_equal "$(jq -c '."oom-r".Info.Events' <<<"$API_BODY")" \
		'["Out of memory","Out of memory"]'
	destroy_container oom-r
}

@test "an OOM while guardian is down is recorded at start-up" {
	create_container oom-d "{\"limits\":{\"memory_limits\":{\"limit_in_bytes\":$LIMIT}}}"
	assert_equal "$(events_of oom-d)" null

	kill9_guardian
	# no guardian to run it: the runtime runs the process in the container
	run rt_exec oom-d tail /dev/zero
	assert_equal "$(oom_kills_of oom-d)" 1
	start_guardian
	# recorded by the restore itself, before any Info asked
	assert_equal "$(jq -r '.["rundmc.events"]' "$GDN_DEPOT/oom-d/properties.json")" \
		"Out of memory"
	assert_equal "$(events_of oom-d)" '["Out of memory"]'
	destroy_container oom-d
}

@test "a stopped container whose init is dead keeps its OOM events, across a restart too" {
	create_container oom-s "{\"limits\":{\"memory_limits\":{\"limit_in_bytes\":$LIMIT}}}"
	oom_in oom-s
	local pid
	pid=$(init_pid oom-s)
	api_ok PUT /containers/oom-s/stop '{"kill":true}'
	# Stop leaves the init running (as Garden's does); without it the cgroup cannot be found
	kill -KILL "$pid"
	wait_pid_gone "$pid"
	api_ok GET /containers/oom-s/info
	assert_equal "$(jq -r .State <<<"$API_BODY")" stopped
	assert_equal "$(jq -c .Events <<<"$API_BODY")" '["Out of memory"]'

	kill9_guardian
	start_guardian
	api_ok GET /containers/oom-s/info
	assert_equal "$(jq -r .State <<<"$API_BODY")" stopped
	assert_equal "$(jq -c .Events <<<"$API_BODY")" '["Out of memory"]'
	destroy_container oom-s
}
