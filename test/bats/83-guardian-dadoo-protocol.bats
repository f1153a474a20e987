#!/usr/bin/env bats
# The versioned guardian ⇄ dadoo protocol (docs/PROCESSES.md, garden-ipc(5)): a dadoo's error of
# a Garden type reaches the client with its Type and status, a dadoo from before versioning
# (version 0) is still understood, dadoo refuses a request of a version it does not speak, and a
# stopped dadoo costs only its own client: guardian's loop never waits for it.

load helpers/common

setup_file() {
	gdn_setup_file
}

setup() {
	ensure_default_guardian
	handle_listed dp-a || create_container dp-a
	STOPPED_DADOO=
	FAKE_PID=
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	# a dadoo a test stopped goes on, whatever happened
	if [[ -n $STOPPED_DADOO ]]; then
		kill -CONT "$STOPPED_DADOO" 2>/dev/null || true
	fi
	if [[ -n $FAKE_PID ]]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
	gdn_teardown
}

# dadoo_call SOCKET JSON: sends one request packet to a dadoo.sock and prints the reply packet.
dadoo_call() {
	timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.send(sys.argv[2].encode() + b"\n")
sys.stdout.write(s.recv(1 << 20).decode())' "$1" "$2"
}

# fake_dadoo SOCKET REPLY LOG: serves SOCKET like a dadoo that answers every request with REPLY
# (closing the fds it was sent); the requests go to LOG. FAKE_PID is its pid.
fake_dadoo() {
	python3 -c '
import os, socket, sys
path, reply, log = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
s.listen(8)
open(log + ".ready", "w").close()
while True:
    c, _ = s.accept()
    msg, fds, _, _ = socket.recv_fds(c, 1 << 20, 8)
    for fd in fds:
        os.close(fd)
    with open(log, "a") as f:
        f.write(msg.decode())
    c.send(reply.encode() + b"\n")
    c.close()' "$1" "$2" "$3" &
	FAKE_PID=$!
	wait_until 50 test -e "$3.ready" || fail "the fake dadoo did not start"
}

# exited_process HANDLE ID: runs `true` as process ID to its exit status, and waits until its
# dadoo, having delivered that, is gone (its dadoo.sock removed), leaving the process dir.
exited_process() {
	run_gc_ok run "$1" "$(process_spec true)" --stdout -
	[[ $(jq -r .exit_status <<<"$output") == 0 ]] || fail "run: $output"
	wait_process_exited "$1" "$2" || fail "process $2 did not exit"
	wait_until 100 bash -c "! test -e '$(proc_dir "$1" "$2")/dadoo.sock'" ||
		fail "dadoo.sock of $2 is still there"
}

run_gc_ok() {
	run --separate-stderr gc "$@"
	if ((status != 0)); then
		batslib_print_kv_single_or_multi 8 args "$*" status "$status" stderr "$stderr" \
			output "$output" | batslib_decorate 'garden_client failed' | fail
		return 1
	fi
}

@test "a dadoo's ProcessNotFoundError reaches the client with its Type and 404" {
	SPEC_EXTRA='{"id":"dp-typed"}' exited_process dp-a dp-typed
	local dir
	dir=$(proc_dir dp-a dp-typed)
	fake_dadoo "$dir/dadoo.sock" \
		'{"error":{"type":"ProcessNotFoundError","message":"unknown process: dp-typed","process_id":"dp-typed"},"v":1}' \
		"$BATS_TEST_TMPDIR/requests"
	run_gc_ok attach dp-a dp-typed --timeout 10
	[[ $(jq -r .status <<<"$output") == 404 ]] || fail "expected 404: $output"
	API_STATUS=404
	API_BODY=$(jq -r .body <<<"$output")
	assert_garden_error 404 ProcessNotFoundError '^unknown process: dp-typed$'
	[[ $(jq -r .ProcessID <<<"$API_BODY") == dp-typed ]] || fail "ProcessID: $API_BODY"
	# guardian's request was a version-1 attach for that process
	jq -e 'select(.op == "attach" and .v == 1 and .process_id == "dp-typed")' \
		"$BATS_TEST_TMPDIR/requests" >/dev/null || fail "request: $(cat "$BATS_TEST_TMPDIR/requests")"
	# a typed error of a status of its own keeps it
	kill "$FAKE_PID"
	wait "$FAKE_PID" 2>/dev/null || true
	rm -f "$dir/dadoo.sock" "$BATS_TEST_TMPDIR/requests.ready"
	fake_dadoo "$dir/dadoo.sock" \
		'{"error":{"type":"ServiceUnavailableError","message":"dadoo is busy","status":503},"v":1}' \
		"$BATS_TEST_TMPDIR/requests"
	run_gc_ok attach dp-a dp-typed --timeout 10
	API_STATUS=$(jq -r .status <<<"$output")
	API_BODY=$(jq -r .body <<<"$output")
	assert_garden_error 503 ServiceUnavailableError '^dadoo is busy$'
}

@test "a dadoo from before versioning (no v, errors as strings) is understood" {
	SPEC_EXTRA='{"id":"dp-v0"}' exited_process dp-a dp-v0
	fake_dadoo "$(proc_dir dp-a dp-v0)/dadoo.sock" '{"error":"attach: no control connection"}' \
		"$BATS_TEST_TMPDIR/requests"
	run_gc_ok attach dp-a dp-v0 --timeout 10
	API_STATUS=$(jq -r .status <<<"$output")
	API_BODY=$(jq -r .body <<<"$output")
	assert_garden_error 500 '' '^shim: attach: no control connection$'
}

@test "dadoo refuses a request of a version it does not speak, naming both versions" {
	run_gc_ok run dp-a "$(process_spec sleep 100)" --detach
	local id sock
	id=$(jq -r .first.process_id <<<"$output")
	sock=$(proc_dir dp-a "$id")/dadoo.sock
	wait_until 100 test -S "$sock" || fail "no dadoo.sock"
	[[ $(stat -c %a "$sock") == 600 ]] || fail "dadoo.sock mode $(stat -c %a "$sock")"

	run dadoo_call "$sock" '{"op":"state","v":99}'
	assert_success
	assert_json "$(jq -c '{v, type: .error.type, message: .error.message}' <<<"$output")" \
		'{"v":1,"type":"","message":"request '"'"'state'"'"' is of protocol version 99; this dadoo speaks versions 0 to 1"}'

	# its own version, and version 0 (no "v"), are served; the state reply states the version
	run dadoo_call "$sock" '{"op":"state","v":1}'
	assert_success
	assert_json "$(jq -c '{ok, v, exited}' <<<"$output")" '{"ok":true,"v":1,"exited":false}'
	run dadoo_call "$sock" '{"op":"state"}'
	assert_success
	assert_json "$(jq -c '{ok, v}' <<<"$output")" '{"ok":true,"v":1}'
	# a version-0 request gets version 0's error shape
	run dadoo_call "$sock" '{"op":"dance"}'
	assert_success
	assert_json "$(jq -c '{error}' <<<"$output")" '{"error":"unknown op '"'"'dance'"'"'"}'
	# an attach for a process that is not this dadoo's: a Garden-typed error
	run dadoo_call "$sock" '{"op":"attach","v":1,"process_id":"other","stream_id":"1"}'
	assert_success
	assert_json "$(jq -c '.error | {type, process_id}' <<<"$output")" \
		'{"type":"ProcessNotFoundError","process_id":"other"}'

	kill -KILL "$(process_host_pid dp-a "$id")"
	wait_process_exited dp-a "$id"
}

# took_ms START-MS: ms since START-MS.
took_ms() {
	echo $(($(now_ms) - $1))
}

@test "a stopped dadoo stalls only its own Attach: ping, list and a Run elsewhere stay prompt" {
	handle_listed dp-b || create_container dp-b
	run_gc_ok run dp-a "$(process_spec sleep 100)" --detach
	local id t0 ms
	id=$(jq -r .first.process_id <<<"$output")
	wait_process_running dp-a "$id"
	STOPPED_DADOO=$(dadoo_pid dp-a "$id")
	kill -STOP "$STOPPED_DADOO"

	t0=$(now_ms)
	gc attach dp-a "$id" --timeout 20 >"$BATS_TEST_TMPDIR/attach.out" 2>&1 &
	local attach=$!
	sleep 0.5 # the Attach is waiting for the stopped dadoo now

	local i ms_list=
	for i in 1 2 3; do
		local s
		s=$(now_ms)
		api_ok GET /ping
		ms=$(took_ms "$s")
		((ms < 1000)) || fail "ping took $ms ms while a dadoo was stopped"
		s=$(now_ms)
		api_ok GET /containers
		ms=$(took_ms "$s")
		((ms < 1000)) || fail "list took $ms ms while a dadoo was stopped"
		ms_list=$ms
	done
	local s
	s=$(now_ms)
	run_gc_ok run dp-b "$(process_spec echo elsewhere)" --stdout -
	ms=$(took_ms "$s")
	((ms < 1000)) || fail "a Run in another container took $ms ms while a dadoo was stopped"
	echo "# with a dadoo stopped: last ping/list ${ms_list:-?} ms, a Run elsewhere $ms ms" >&3
	[[ $(jq -r .exit_status <<<"$output") == 0 ]] || fail "run: $output"
	# the Attach itself is still waiting: it was not answered early
	kill -0 "$attach" 2>/dev/null || fail "the Attach finished early: $(cat "$BATS_TEST_TMPDIR/attach.out")"

	wait "$attach" || true
	ms=$(took_ms "$t0")
	# it got a clear error at guardian's deadline (5 s), not a hang
	((ms >= 4500 && ms < 10000)) || fail "the Attach ended after $ms ms"
	local out
	out=$(cat "$BATS_TEST_TMPDIR/attach.out")
	[[ $(jq -r .status <<<"$out") == 500 ]] || fail "attach: $out"
	API_STATUS=500
	API_BODY=$(jq -r .body <<<"$out")
	assert_garden_error 500 '' "the shim of process '$id' did not answer within 5000 ms"

	kill -CONT "$STOPPED_DADOO"
	STOPPED_DADOO=
	kill -KILL "$(process_host_pid dp-a "$id")"
	wait_process_exited dp-a "$id"
}
