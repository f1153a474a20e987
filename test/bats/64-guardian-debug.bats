#!/usr/bin/env bats
# guardian's debug server (--debug-bind-ip, --debug-bind-port): GET /debug/vars as Go's expvar
# answers it, with Garden's members and garden-c's counters, and Go's 404 for anything else.
# Loopback only. Each test starts the guardian it needs.

load helpers/common

setup_file() {
	gdn_setup_tmp
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	if [[ -z ${BATS_TEST_COMPLETED:-} ]]; then
		show_log_tail
	fi
	gate_release_all
	kill_bg_clients
	destroy_all
	stop_guardian >/dev/null 2>&1 || true
}

# free_port: a TCP port nobody listens on.
free_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 30000))
		if [[ -z $(ss -Htln "sport = :$p") ]]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# start_debug_guardian [EXTRA-ARGS...]: a guardian with its debug server on 127.0.0.1:$DEBUG_PORT.
start_debug_guardian() {
	DEBUG_PORT=$(free_port)
	start_guardian --debug-bind-ip 127.0.0.1 --debug-bind-port "$DEBUG_PORT" "$@"
}

# vars: the body of GET /debug/vars (fails unless it is 200).
vars() {
	curl -sf --max-time 5 "http://127.0.0.1:$DEBUG_PORT/debug/vars"
}

# var NAME: one member of /debug/vars (jq path, e.g. .memstats.Alloc).
var() {
	vars | jq -e "$1"
}

@test "GET /debug/vars is expvar JSON: cmdline, memstats and Garden's members" {
	start_debug_guardian
	run curl -s -i --max-time 5 "http://127.0.0.1:$DEBUG_PORT/debug/vars"
	assert_success
	assert_line --regexp '^HTTP/1\.1 200'
	assert_line --regexp '^Content-Type: application/json; charset=utf-8'
	local body
	body=$(vars)
	# valid JSON, and exactly these members
	run jq -r 'keys | join(",")' <<<"$body"
	assert_success
	assert_output 'backingStores,cmdline,containers,depotDirs,loopDevices,memstats,numCPUS,numGoRoutines,processes,requestsInFlight'
	# Go's layout: "{\n", one member per line, "\n}\n"
	assert_equal "$(head -n 1 <<<"$body")" '{'
	assert_equal "$(sed -n 2p <<<"$body" | cut -c1-17)" '"backingStores": '
	assert_equal "$(tail -n 1 <<<"$body")" '}'
	# guardian's own argv
	assert_equal "$(jq -r '.cmdline[0]' <<<"$body")" "$GUARDIAN_BIN"
	assert_equal "$(jq -r '.cmdline[1]' <<<"$body")" server
	jq -e --arg p "$DEBUG_PORT" '.cmdline | index(["--debug-bind-port", $p]) != null' \
		<<<"$body" >/dev/null || fail "cmdline lacks --debug-bind-port $DEBUG_PORT: $body"
	# memstats: this process's real figures, consistent as Go's are
	jq -e '.memstats | .Alloc > 0 and .HeapSys >= .HeapAlloc and .Sys >= .HeapSys and
		.StackSys > 0 and .HeapIdle + .HeapInuse == .HeapSys and .NumGC == 0 and
		.EnableGC == true and .DebugGC == false and (.PauseTotalNs | type) == "number"' \
		<<<"$body" >/dev/null || fail "memstats: $(jq -c .memstats <<<"$body")"
	assert_equal "$(jq .numCPUS <<<"$body")" "$(getconf _NPROCESSORS_ONLN)"
	assert_equal "$(jq .numGoRoutines <<<"$body")" 1
	assert_equal "$(jq .containers <<<"$body")" 0
	assert_equal "$(jq .processes <<<"$body")" 0
	assert_equal "$(jq .depotDirs <<<"$body")" 0
	assert_equal "$(jq .requestsInFlight <<<"$body")" 0
	local loops
	loops=$(find /sys/block -maxdepth 3 -path '/sys/block/loop*/loop/backing_file' 2>/dev/null | wc -l)
	assert_equal "$(jq .loopDevices <<<"$body")" "$loops"
	grep -q '"message":"guardian.debug-server.listening".*"address":"127.0.0.1:'"$DEBUG_PORT"'"' \
		"$GDN_LOG" || fail "no debug-server.listening line naming the address"
}

@test "containers, depotDirs, backingStores and processes follow create, run and destroy" {
	start_debug_guardian
	assert_equal "$(var .containers)" 0
	create_container dbg-a
	assert_equal "$(var .containers)" 1
	assert_equal "$(var .depotDirs)" 1
	assert_equal "$(var .backingStores)" "$(find "$GDN_STORE/volumes" -mindepth 1 -maxdepth 1 | wc -l)"
	assert [ "$(var .backingStores)" -ge 1 ]
	run gc run dbg-a "$(sh_spec 'exec sleep 100')" --detach
	assert_success
	wait_until 100 bash -c "[[ \$(curl -sf http://127.0.0.1:$DEBUG_PORT/debug/vars | jq .processes) == 1 ]]" ||
		fail "processes never became 1: $(vars)"
	destroy_container dbg-a
	assert_equal "$(var .containers)" 0
	assert_equal "$(var .depotDirs)" 0
	assert_equal "$(var .processes)" 0
	assert_equal "$(var .backingStores)" 0
}

@test "requestsInFlight and numGoRoutines count a create held in the runtime" {
	DEBUG_PORT=$(free_port)
	start_gated_guardian --debug-bind-ip 127.0.0.1 --debug-bind-port "$DEBUG_PORT"
	local out=$BATS_TEST_TMPDIR/create
	note_handle dbg-held
	gate_hold run dbg-held
	bg_start api POST /containers '{"handle":"dbg-held"}' >"$out"
	gate_wait_entered run dbg-held || fail "the create never reached the runtime"
	# an idle keep-alive connection is not a request in flight
	local body
	body=$(curl -sf --max-time 5 --unix-socket "$GDN_SOCK" http://api/ping \
		--next -sf --max-time 5 "http://127.0.0.1:$DEBUG_PORT/debug/vars" | sed 1d)
	assert_equal "$(jq .requestsInFlight <<<"$body")" 1
	assert_equal "$(jq .numGoRoutines <<<"$body")" 2
	assert_equal "$(jq .containers <<<"$body")" 1
	gate_release run dbg-held
	bg_wait
	assert_equal "$(tail -n 1 "$out")" 200
	assert_equal "$(var .requestsInFlight)" 0
	assert_equal "$(var .numGoRoutines)" 1
}

@test "other paths are Go's 404 text; any method on /debug/vars gets the JSON" {
	start_debug_guardian
	local p
	for p in /other / /ping /containers /debug/pprof/ /debug/vars/ /debug/varsx; do
		run curl -s -i --max-time 5 "http://127.0.0.1:$DEBUG_PORT$p"
		assert_success
		assert_line --regexp '^HTTP/1\.1 404'
		assert_line --regexp '^Content-Type: text/plain; charset=utf-8'
		assert_line --regexp '^X-Content-Type-Options: nosniff'
		run curl -s --max-time 5 "http://127.0.0.1:$DEBUG_PORT$p"
		assert_output '404 page not found'
	done
	# a body that would be StreamIn's on the API is just read and answered here
	run curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PUT --data-binary x \
		"http://127.0.0.1:$DEBUG_PORT/containers/h/files?destination=/tmp"
	assert_output 404
	local m
	for m in POST PUT DELETE; do
		run bash -c "curl -sf --max-time 5 -X $m http://127.0.0.1:$DEBUG_PORT/debug/vars | jq -e .memstats.Alloc"
		assert_success
	done
	# a query string is not part of the path
	run bash -c "curl -sf --max-time 5 'http://127.0.0.1:$DEBUG_PORT/debug/vars?x=1' | jq -e .cmdline"
	assert_success
	# the API still answers on its own socket
	api_req GET /ping
	assert_api 200 '{}'
}

@test "without --debug-bind-ip guardian listens on no TCP port" {
	local port pid
	port=$(free_port)
	start_guardian --debug-bind-port "$port"
	pid=$(guardian_pid)
	run curl -s --max-time 2 "http://127.0.0.1:$port/debug/vars"
	assert_failure
	run bash -c "ss -Htlnp | grep -F 'pid=$pid,'"
	assert_output ''
}

@test "--debug-bind-port defaults to 17013" {
	if [[ -n $(ss -Htln 'sport = :17013') ]]; then
		skip "port 17013 is in use on this host"
	fi
	DEBUG_PORT=17013
	start_guardian --debug-bind-ip 127.0.0.1
	run bash -c "curl -sf --max-time 5 http://127.0.0.1:17013/debug/vars | jq -e '.numCPUS > 0'"
	assert_success
	stop_guardian
	run curl -s --max-time 2 http://127.0.0.1:17013/debug/vars
	assert_failure
}

@test "bad debug flags and a taken port fail guardian with the flag's name" {
	local b
	for b in "--debug-bind-ip not-an-ip" "--debug-bind-ip 127.0.0.1 --debug-bind-port 70000" \
		"--debug-bind-ip 127.0.0.1 --debug-bind-port x"; do
		# shellcheck disable=SC2086
		run --separate-stderr timeout 5 "$GUARDIAN_BIN" server --depot "$GDN_TMP/bad-depot" \
			--bind-socket "$GDN_TMP/bad.sock" $b
		((status == 2)) || fail "guardian server $b: exit status $status (expected 2)"
		[[ $stderr == *--debug-bind-* ]] || fail "guardian server $b: $stderr"
	done
	# the port of the API's own TCP listener is taken
	local port
	port=$(free_port)
	start_guardian --bind-socket "$GDN_SOCK" --bind-ip 127.0.0.1 --bind-port "$port"
	run --separate-stderr timeout 20 "$GUARDIAN_BIN" server --bind-socket "$GDN_TMP/other.sock" \
		--depot "$GDN_TMP/other-depot" --store "$GDN_TMP/other-store" \
		--runtime-plugin "$GDN_RUNTIME" --skip-setup --no-networking \
		--debug-bind-ip 127.0.0.1 --debug-bind-port "$port"
	assert_failure
	[[ $stderr == *"--debug-bind-ip: bind 127.0.0.1:$port"* ]] || fail "stderr: $stderr"
	rm -rf "$GDN_TMP/bad-depot" "$GDN_TMP/other-depot" "$GDN_TMP/other-store"
}
