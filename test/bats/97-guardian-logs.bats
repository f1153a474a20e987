#!/usr/bin/env bats
# Operators' log lines: what guardian logs when a create, a Run and a destroy finish or fail (the
# handle and how long it took), --log-level on every daemon, and what --log-level error leaves.

load helpers/common

# This file's containers get addresses from a pool of its own and chains and links of their own
# tag (removed in teardown_file).
LOGS_TAG=o
LOGS_POOL=10.254.97.0/24
eval "$(declare -f gdn_default_args | sed '1s/gdn_default_args/gdn_default_args_base/')"
gdn_default_args() {
	gdn_default_args_base
	printf '%s\n' --network-pool "$LOGS_POOL" --tag "$LOGS_TAG"
}

setup_file() {
	gdn_setup_file
}

teardown_file() {
	gdn_teardown_file
	"$KAWASAKI_BIN" --tag "$LOGS_TAG" --socket "${GDN_TMP:-/nonexistent}/none.sock" teardown \
		>/dev/null 2>&1 || true
}

teardown() {
	gdn_teardown
}

# log_lines: the guardian log's JSON lines (without the helpers' "--- start" markers).
log_lines() {
	grep -v '^--- ' "$GDN_LOG" || true
}

# the_line MESSAGE HANDLE: the last line with that message and data.handle (compact JSON).
the_line() {
	log_lines | jq -c --arg m "$1" --arg h "$2" 'select(.message == $m and .data.handle == $h)' |
		tail -n 1
}

# assert_timed LINE LEVEL: a guardian line at LEVEL whose data.duration is a string of digits
# (nanoseconds, as lager logs a time.Duration) below a minute.
assert_timed() {
	local line=$1 level=$2
	[[ -n $line ]] || fail "no such log line; the log: $(log_lines | tail -n 30)"
	run jq -e --arg l "$level" '.source == "guardian" and .level == $l
		and (.data.duration | type == "string" and test("^[0-9]+$"))
		and (.data.duration | tonumber) < 60e9' <<<"$line"
	((status == 0)) || fail "not a timed $level line: $line"
}

@test "create, run and destroy log their handle and duration" {
	: >"$GDN_LOG"
	note_handle lg-a
	run --separate-stderr gaol create -n lg-a
	assert_success
	run --separate-stderr gaol run -a lg-a -p lg-p1 -c 'exit 0'
	assert_success
	run --separate-stderr gaol destroy lg-a
	assert_success

	local created started destroyed
	created=$(the_line guardian.create.created lg-a)
	assert_timed "$created" info
	started=$(the_line guardian.run.started lg-a)
	assert_timed "$started" info
	assert_equal "$(jq -r .data.process <<<"$started")" lg-p1
	destroyed=$(the_line guardian.destroy.destroyed lg-a)
	assert_timed "$destroyed" info
	# a create takes more than a microsecond
	(($(jq -r .data.duration <<<"$created") > 1000)) || fail "create took no time: $created"
	# the request's own line came first
	[[ -n $(the_line guardian.create.starting lg-a) ]] || fail "no create.starting line"
	# every message is <source>.<action>.<event>, lower-case words and dashes
	run jq -r 'select(.source == "guardian") | .message |
		select(test("^guardian(\\.[a-z0-9]+(-[a-z0-9]+)*)+$") | not)' <(log_lines)
	assert_output ''
}

@test "a create that fails logs create.failed with the handle, the error and the duration" {
	: >"$GDN_LOG"
	note_handle lg-bad
	api_req POST /containers '{"handle":"lg-bad","rootfs":"/nonexistent/lg-rootfs"}'
	[[ $API_STATUS != 200 ]] || fail "create with a missing rootfs succeeded"
	local line
	line=$(the_line guardian.create.failed lg-bad)
	assert_timed "$line" error
	run jq -e '.data.error | type == "string" and length > 0' <<<"$line"
	assert_success
	# one whose image is refused later (unpacking it, in the create's worker)
	note_handle lg-bad-image
	api_req POST /containers '{"handle":"lg-bad-image","rootfs":"oci:///nonexistent/lg-layout"}'
	[[ $API_STATUS != 200 ]] || fail "create with a missing image succeeded"
	assert_timed "$(the_line guardian.create.failed lg-bad-image)" error
	run list_handles 'garden.state=all'
	[[ $'\n'$output$'\n' != *$'\n'lg-bad* ]] || fail "a failed create is listed: $output"
}

@test "a Run that fails and a destroy of an unknown handle log .failed with a duration" {
	: >"$GDN_LOG"
	create_container lg-b
	run --separate-stderr gaol run -a lg-b -p lg-p2 -- /nonexistent-binary
	assert_failure
	assert_timed "$(the_line guardian.run.failed lg-b)" error
	destroy_container lg-b
	api_req DELETE /containers/lg-missing
	assert_equal "$API_STATUS" 404
	assert_timed "$(the_line guardian.destroy.failed lg-missing)" error
}

@test "--log-level bad: every daemon exits 2 naming the level" {
	local -a cmds=(
		"guardian server"
		"guardian setup"
		"guardian cleanup"
		"kawasaki serve"
		"dadoo"
		"image-plugin-shim serve"
		"netplugin-shim serve"
		"nstar stream-in"
	)
	local c
	local -a argv
	for c in "${cmds[@]}"; do
		read -ra argv <<<"$c"
		run --separate-stderr timeout 10 "$GDN_BUILD/bin/${argv[0]}" "${argv[@]:1}" --log-level bad
		((status == 2)) || fail "$c --log-level bad: exit $status, stderr: $stderr"
		[[ $stderr == *"--log-level: 'bad' is not one of debug, info, error, fatal"* ]] ||
			fail "$c --log-level bad: stderr: $stderr"
		assert_output ''
	done
	# and each takes lager's four levels (--help after it: nothing starts)
	local l
	for c in "${cmds[@]}"; do
		read -ra argv <<<"$c"
		for l in debug info error fatal; do
			run --separate-stderr timeout 10 "$GDN_BUILD/bin/${argv[0]}" "${argv[@]:1}" \
				--log-level "$l" --help
			((status == 0)) || fail "$c --log-level $l --help: exit $status: $stderr"
		done
	done
}

@test "--log-level error logs no info or debug line, and still the failures" {
	start_guardian --log-level error
	# (after the start: the guardian it replaced logged its stopping at info)
	: >"$GDN_LOG"
	create_container lg-quiet
	destroy_container lg-quiet
	api_req POST /containers '{"handle":"lg-bad2","rootfs":"/nonexistent/lg-rootfs"}'
	[[ $API_STATUS != 200 ]] || fail "create with a missing rootfs succeeded"
	run jq -r '.level' <(log_lines)
	[[ $'\n'$output$'\n' != *$'\n'info$'\n'* && $'\n'$output$'\n' != *$'\n'debug$'\n'* ]] ||
		fail "info or debug lines at --log-level error: $(log_lines)"
	assert_timed "$(the_line guardian.create.failed lg-bad2)" error
	[[ -z $(the_line guardian.create.created lg-quiet) ]] || fail "info line at --log-level error"
}
