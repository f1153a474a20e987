#!/usr/bin/env bats
# guardian attacked as a careless or hostile user would: kill -9 of guardian or of its workers
# and shims at the worst moment, writes to guardian's own properties, working directories that
# cannot be made, and connections that never send a request.

load helpers/common

setup_file() {
	gdn_setup_file
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	kill_slow_runtimes
	gdn_teardown
}

# worker_pids: guardian's forked workers (children of guardian that are guardian too; the
# standby dadoo is a child named dadoo).
worker_pids() {
	local g
	g=$(guardian_pid)
	[[ -n $g ]] || return 0
	pgrep -P "$g" -x guardian || true
}

have_worker() {
	[[ -n $(worker_pids) ]]
}

# slow_runtime: writes $GDN_TMP/slow-runtime, a --runtime-plugin that runs the real runtime and,
# while $GDN_TMP/slow exists, lingers after `run` (touching $GDN_TMP/run-done first), so that a
# create worker can be caught after the container started and before it reported; while
# $GDN_TMP/slow-delete exists, it lingers before `delete` (touching $GDN_TMP/delete-waiting).
slow_runtime() {
	local real
	real=$(command -v "$GDN_RUNTIME")
	cat >"$GDN_TMP/slow-runtime" <<-EOF
		#!/bin/bash
		for a in "\$@"; do
			if [[ \$a == delete && -e $GDN_TMP/slow-delete ]]; then
				echo \$\$ >>$GDN_TMP/slow-runtime.pids
				touch $GDN_TMP/delete-waiting
				sleep 20 &
				echo \$! >>$GDN_TMP/slow-runtime.pids
				wait
			fi
			if [[ \$a == run && -e $GDN_TMP/slow ]]; then
				echo \$\$ >>$GDN_TMP/slow-runtime.pids
				"$real" "\$@"
				rc=\$?
				touch $GDN_TMP/run-done
				sleep 20 &
				echo \$! >>$GDN_TMP/slow-runtime.pids
				wait
				exit \$rc
			fi
		done
		exec "$real" "\$@"
	EOF
	chmod 0755 "$GDN_TMP/slow-runtime"
}

# kill_slow_runtimes: the lingering wrappers and their sleeps (only ours, by the pids they wrote).
kill_slow_runtimes() {
	local p c
	[[ -s ${GDN_TMP:-}/slow-runtime.pids ]] || return 0
	while read -r p; do
		c=$(cat "/proc/$p/comm" 2>/dev/null) || continue
		[[ $c == slow-runtime || $c == sleep ]] && kill -KILL "$p" 2>/dev/null
	done <"$GDN_TMP/slow-runtime.pids"
	rm -f "$GDN_TMP/slow-runtime.pids"
	return 0
}

# conns SCRIPT-ARGS...: helpers/..-style python client for raw connections (see the heredoc).
conns() {
	timeout 60 python3 - "$GDN_SOCK" "$@" <<-'EOF'
		import resource, socket, sys, time
		path, mode = sys.argv[1], sys.argv[2]
		def conn():
		    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		    s.connect(path)
		    return s
		def closed_after(s, limit):
		    # seconds until the server closes s (None: still open after limit)
		    t0 = time.monotonic()
		    s.settimeout(limit)
		    try:
		        while True:
		            b = s.recv(65536)
		            if not b:
		                return time.monotonic() - t0
		    except socket.timeout:
		        return None
		    except ConnectionResetError:
		        return time.monotonic() - t0
		if mode == "partial-head":
		    s = conn()
		    s.sendall(b"GET /ping HTTP/1.1\r\nHost: api\r\n")
		    print("closed" if closed_after(s, float(sys.argv[3])) is not None else "open")
		elif mode == "idle":
		    s = conn()
		    s.sendall(b"GET /ping HTTP/1.1\r\nHost: api\r\n\r\n")
		    s.settimeout(5)
		    got = b""
		    while b"\r\n\r\n" not in got or not got.endswith(b"\n"):
		        got += s.recv(65536)
		    print("answered" if got.startswith(b"HTTP/1.1 200") else "bad")
		    print("closed" if closed_after(s, float(sys.argv[3])) is not None else "open")
		elif mode == "flood":
		    n = int(sys.argv[3])
		    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
		    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 100)), hard))
		    held = [conn() for _ in range(n)]
		    time.sleep(0.5)
		    # a new client still gets an answer
		    s = conn()
		    s.settimeout(10)
		    s.sendall(b"GET /ping HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n")
		    got = b""
		    try:
		        while True:
		            b = s.recv(65536)
		            if not b:
		                break
		            got += b
		    except socket.timeout:
		        pass
		    print("pinged" if got.startswith(b"HTTP/1.1 200") else "locked-out")
		    for h in held:
		        h.close()
	EOF
}

# --- 1: restart right after kill -9, with a worker running -------------------------------------

@test "kill -9 while a stop worker runs: a new guardian starts at once, the worker dies with it" {
	create_container hs-stop
	rt_exec_bg hs-stop sh -c "trap '' TERM; exec sleep 1000"
	bg_client bash -c "curl --unix-socket '$GDN_SOCK' -s --max-time 30 -X PUT \
		-d '{\"kill\":false}' http://api/containers/hs-stop/stop >/dev/null 2>&1"
	wait_until 50 have_worker || fail "no stop worker appeared"
	local w
	w=$(worker_pids)
	kill9_guardian
	start_guardian
	wait_pid_gone "$w" 20 || fail "stop worker $w outlived guardian"
	# An interrupted stop leaves nothing to undo: the container is there and still running.
	run list_handles
	assert_output hs-stop
	assert pid_alive "$(init_pid hs-stop)"
	destroy_container hs-stop
	assert_no_leaks hs-stop
}

# --- 2: guardian's own properties ----------------------------------------------------------------

@test "garden.state and garden.network.* cannot be set or removed; a restart keeps the container" {
	create_container hs-prop
	local pid
	pid=$(init_pid hs-prop)
	api_req PUT /containers/hs-prop/properties/garden.state '{"value":"x"}'
	assert_garden_error 500 '' "property 'garden.state' is reserved"
	api_req DELETE /containers/hs-prop/properties/garden.state
	assert_garden_error 500 '' "property 'garden.state' is reserved"
	api_req PUT /containers/hs-prop/properties/garden.network.container-ip '{"value":"1.2.3.4"}'
	assert_garden_error 500 '' "reserved"
	api_req GET /containers/hs-prop/properties/garden.state
	assert_api 200 '{"value":"created"}'
	# other properties, also under garden., stay the client's
	api_req PUT /containers/hs-prop/properties/garden.mine '{"value":"ok"}'
	assert_api 200 '{}'
	run list_handles
	assert_output hs-prop
	kill9_guardian
	start_guardian
	run list_handles
	assert_output hs-prop
	assert pid_alive "$pid"
	api_req GET /containers/hs-prop/properties/garden.mine
	assert_api 200 '{"value":"ok"}'
	# what create completed is not in the client's properties file
	[[ -e $GDN_DEPOT/hs-prop/created ]] || fail "no created marker"
	run jq -r '."garden.state" // "absent"' "$GDN_DEPOT/hs-prop/properties.json"
	assert_output absent
	destroy_container hs-prop
}

@test "create spec properties cannot pose as guardian's: garden.state in the spec is ignored" {
	create_container hs-spec '{"properties":{"garden.state":"x","garden.network.host-ip":"9.9.9.9","k":"v"}}'
	run list_handles k=v
	assert_output hs-spec
	api_req GET /containers/hs-spec/properties
	assert_equal "$(jq -r '."garden.state"' <<<"$API_BODY")" created
	# the network facts are kawasaki's, not the spec's
	[[ $(jq -r '."garden.network.host-ip"' <<<"$API_BODY") =~ ^10\.254\. ]] ||
		fail "host-ip: $API_BODY"
	destroy_container hs-spec
}

@test "an old depot whose only record is garden.state=created in properties.json is restored" {
	create_container hs-old '{"properties":{"k":"old"}}'
	local pid
	pid=$(init_pid hs-old)
	kill9_guardian
	rm "$GDN_DEPOT/hs-old/created"
	jq -c '. + {"garden.state":"created"}' "$GDN_DEPOT/hs-old/properties.json" >"$GDN_TMP/p.json"
	mv "$GDN_TMP/p.json" "$GDN_DEPOT/hs-old/properties.json"
	start_guardian
	run list_handles k=old
	assert_output hs-old
	assert pid_alive "$pid"
	[[ -e $GDN_DEPOT/hs-old/created ]] || fail "the old record was not migrated to the marker"
	destroy_container hs-old
	assert_no_leaks hs-old "$pid"
}

# --- 3: a create worker killed after the container started ---------------------------------------

@test "kill -9 of a create worker: the client gets an error and nothing is left; the handle is free" {
	slow_runtime
	start_guardian --runtime-plugin "$GDN_TMP/slow-runtime"
	touch "$GDN_TMP/slow"
	note_handle hs-slow
	bg_client bash -c "curl --unix-socket '$GDN_SOCK' -s --max-time 60 -w '\n%{http_code}' \
		-d '{\"handle\":\"hs-slow\"}' http://api/containers >'$GDN_TMP/create.out' 2>&1"
	local client=$!
	wait_until 300 test -e "$GDN_TMP/run-done" || fail "the runtime's run did not finish"
	# The container runs, the worker waits for the wrapper: kill the worker now.
	runtime_containers | grep -qxF hs-slow || fail "the runtime does not list hs-slow"
	local w
	w=$(worker_pids)
	[[ -n $w ]] || fail "no create worker"
	kill -KILL $w
	wait "$client" || true
	local out
	out=$(cat "$GDN_TMP/create.out")
	assert_equal "${out##*$'\n'}" 500
	[[ $out == *"create 'hs-slow' was interrupted"* ]] || fail "create answered: $out"
	kill_slow_runtimes
	wait_until 150 bash -c "[[ ! -e '$GDN_DEPOT/hs-slow' ]]" || fail "depot dir left"
	assert_no_leaks hs-slow
	api_req DELETE /containers/hs-slow
	assert_garden_error 404 ContainerNotFoundError hs-slow
	rm -f "$GDN_TMP/slow"
	create_container hs-slow
	destroy_container hs-slow
	assert_no_leaks hs-slow
}

@test "kill -9 of a destroy worker: the container stays listed and a second destroy removes it" {
	slow_runtime
	start_guardian --runtime-plugin "$GDN_TMP/slow-runtime"
	create_container hs-del
	local pid
	pid=$(init_pid hs-del)
	touch "$GDN_TMP/slow-delete"
	bg_client bash -c "curl --unix-socket '$GDN_SOCK' -s --max-time 60 -w '\n%{http_code}' \
		-X DELETE http://api/containers/hs-del >'$GDN_TMP/destroy.out' 2>&1"
	local client=$!
	wait_until 100 test -e "$GDN_TMP/delete-waiting" || fail "destroy did not reach the runtime"
	local w
	w=$(worker_pids)
	[[ -n $w ]] || fail "no destroy worker"
	kill -KILL $w
	wait "$client" || true
	assert_equal "$(tail -n 1 "$GDN_TMP/destroy.out")" 500
	kill_slow_runtimes
	rm -f "$GDN_TMP/slow-delete"
	run list_handles
	assert_output hs-del
	destroy_container hs-del
	assert_no_leaks hs-del "$pid"
}

# --- 4: a working directory that cannot be made ----------------------------------------------------

@test "Run with a dir under a dangling symlink fails (500) instead of running in /" {
	create_container hs-dir
	rt_exec hs-dir ln -s /nonexistent /dangling
	run --separate-stderr gc run hs-dir "$(SPEC_EXTRA='{"dir":"/dangling/sub"}' process_spec pwd)" \
		--stdout -
	assert_equal "$(json_field "$output" .status)" 500
	local body
	body=$(json_field "$output" .body)
	API_STATUS=500 API_BODY=$body assert_garden_error 500 '' \
		"create working directory '/dangling/sub'"
	# nothing of the process was left behind
	run bash -c "ls -A '$GDN_DEPOT/hs-dir/processes' 2>/dev/null"
	assert_output ''
	destroy_container hs-dir
}

# --- 6: connections that never send a request ----------------------------------------------------

@test "--read-header-timeout closes a connection stuck in its head, and idle keep-alive ones" {
	start_guardian --read-header-timeout 1s
	run conns partial-head 4
	assert_output closed
	run conns idle 4
	assert_output "$(printf '%s\n' answered closed)"
}

@test "without --read-header-timeout nothing is closed for waiting" {
	run conns partial-head 2
	assert_output open
}

@test "4200 idle connections do not lock a new client out" {
	run conns flood 4200
	assert_output pinged
	api_ok GET /ping
}

# --- 7: a dadoo killed under its running process ------------------------------------------------

@test "kill -9 of a dadoo: Attach names the lost shim, the process is killed, the answer stays" {
	create_container hs-shim
	run --separate-stderr gc run hs-shim "$(SPEC_EXTRA='{"id":"lost-1"}' process_spec sleep 1000)" \
		--detach
	wait_process_running hs-shim lost-1
	local d p
	d=$(dadoo_pid hs-shim lost-1)
	p=$(process_host_pid hs-shim lost-1)
	kill -KILL "$d"
	wait_pid_gone "$d" 50
	run --separate-stderr gc attach hs-shim lost-1
	assert_regex "$(json_field "$output" .error)" "lost its dadoo \\(pid $d .*the process \\(pid $p\\) was killed"
	wait_pid_gone "$p" 50 || fail "process $p of the lost shim is still running"
	run --separate-stderr gc attach hs-shim lost-1
	assert_regex "$(json_field "$output" .error)" "lost its dadoo \\(pid $d "
	destroy_container hs-shim
	assert_no_leaks hs-shim
}

@test "kill -9 of the dadoo of an attached client: its process is killed at once, unasked" {
	create_container hs-shim2
	bg_client timeout 60 python3 "$GARDEN_CLIENT" "$GDN_SOCK" run hs-shim2 \
		"$(SPEC_EXTRA='{"id":"lost-2"}' process_spec sleep 1000)" --stdout - >/dev/null 2>&1
	wait_process_running hs-shim2 lost-2
	local d p
	d=$(dadoo_pid hs-shim2 lost-2)
	p=$(process_host_pid hs-shim2 lost-2)
	kill -KILL "$d"
	wait_pid_gone "$p" 50 || fail "process $p of the lost shim is still running"
	[[ -e $(proc_dir hs-shim2 lost-2)/shim-lost ]] || fail "the loss was not recorded"
	run --separate-stderr gc attach hs-shim2 lost-2
	assert_regex "$(json_field "$output" .error)" "lost its dadoo \\(pid $d .*the process \\(pid $p\\) was killed"
	destroy_container hs-shim2
	assert_no_leaks hs-shim2
}

@test "everything was cleaned up" {
	destroy_all
	assert_all_clean
}
