#!/usr/bin/env bats
# Input Go's client (or Go's server) handles and we used to get wrong: uint64 values of 2^63 and
# more (defect 4), --network-pool validation, handles with %00 or a bad escape in the URL path
# (defect 9), and chunk extensions without bound.
#
# Bodies with big numbers are written as text, never through jq: jq 1.6 reads numbers as
# doubles, so 18446744073709551615 would come back as 18446744073709552000.

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

# The shared container; made again when a failed test's teardown destroyed everything.
in_container() {
	handle_listed in-a || create_container in-a
}

# run_gc ARGS...: helpers/garden_client.py with its summary in $output; fails unless it ran.
run_gc() {
	run --separate-stderr gc "$@"
	if ((status != 0)); then
		batslib_print_kv_single_or_multi 8 args "$*" status "$status" stderr "$stderr" \
			output "$output" | batslib_decorate 'garden_client failed' | fail
		return 1
	fi
}

# limits_of RLIMITS-JSON-TEXT: runs `cat /proc/self/limits; ulimit -n` with those rlimits and
# prints its stdout.
limits_of() {
	local spec
	spec='{"path":"sh","args":["-c","cat /proc/self/limits; echo nofile=$(ulimit -n)"],"rlimits":'$1',"image":{}}'
	run_gc run in-a "$spec" --stdout - --stderr -
	assert_equal "$(json_field "$output" .exit_status)" 0
	json_field "$output" .stdout
}

# oci_memory_limit HANDLE: linux.resources.memory.limit of the container's config.json, exactly.
oci_memory_limit() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["linux"]["resources"]["memory"]["limit"])' \
		"$GDN_DEPOT/$1/config.json"
}

@test "Create takes limit_in_bytes 2^63 and the memory getter returns it exactly" {
	note_handle in-big-mem
	api_req POST /containers '{"handle":"in-big-mem","limits":{"memory_limits":{"limit_in_bytes":9223372036854775808}}}'
	assert_api 200 '{"Handle":"in-big-mem"}'
	api_req GET /containers/in-big-mem/limits/memory
	assert_equal "$API_STATUS" 200
	assert_equal "$API_BODY" '{"limit_in_bytes":9223372036854775808}'
	# The OCI limit is an int64: it holds the largest one, which the kernel reads as no limit.
	assert_equal "$(oci_memory_limit in-big-mem)" 9223372036854775807
	destroy_container in-big-mem
}

@test "Create takes limit_in_bytes 2^64-1; 2^64 and -1 are refused with Go's message" {
	note_handle in-max-mem
	api_req POST /containers '{"handle":"in-max-mem","limits":{"memory_limits":{"limit_in_bytes":18446744073709551615}}}'
	assert_api 200 '{"Handle":"in-max-mem"}'
	api_req GET /containers/in-max-mem/limits/memory
	assert_equal "$API_BODY" '{"limit_in_bytes":18446744073709551615}'
	destroy_container in-max-mem

	api_req POST /containers '{"handle":"in-over","limits":{"memory_limits":{"limit_in_bytes":18446744073709551616}}}'
	assert_garden_error 500 '' '^json: cannot unmarshal number 18446744073709551616 into Go struct field MemoryLimits.limit_in_bytes of type uint64$'
	api_req POST /containers '{"handle":"in-over","limits":{"memory_limits":{"limit_in_bytes":-1}}}'
	assert_garden_error 500 '' '^json: cannot unmarshal number -1 into Go struct field MemoryLimits.limit_in_bytes of type uint64$'
	run handle_listed in-over
	assert_failure
}

@test "a small memory limit still round-trips and reaches config.json unchanged" {
	note_handle in-small-mem
	api_req POST /containers '{"handle":"in-small-mem","limits":{"memory_limits":{"limit_in_bytes":67108864}}}'
	assert_api 200 '{"Handle":"in-small-mem"}'
	api_req GET /containers/in-small-mem/limits/memory
	assert_equal "$API_BODY" '{"limit_in_bytes":67108864}'
	assert_equal "$(oci_memory_limit in-small-mem)" 67108864
	run jq -r '.annotations | keys[]' "$GDN_DEPOT/in-small-mem/config.json"
	refute_output --partial memory-limit
	destroy_container in-small-mem
}

# Only limits the host leaves unlimited are raised here: crun (unlike runc, which uses prlimit
# from outside) sets them inside the container's user namespace, where raising a hard limit
# fails with EPERM. (crun also fails its own pidfile write under an fsize of 2^63.)
@test "Run takes rlimits of 2^63 and 2^64-1 and the process gets them exactly" {
	in_container
	local out
	out=$(limits_of '{"nofile":4096,"as":18446744073709551615,"data":9223372036854775808,"core":18446744073709551614}')
	assert_equal "$(grep -o 'nofile=.*' <<<"$out")" nofile=4096
	assert_regex "$(grep '^Max open files' <<<"$out")" ' 4096 +4096 +files'
	assert_regex "$(grep '^Max address space' <<<"$out")" ' unlimited +unlimited +bytes'
	assert_regex "$(grep '^Max data size' <<<"$out")" ' 9223372036854775808 +9223372036854775808 +bytes'
	assert_regex "$(grep '^Max core file size' <<<"$out")" ' 18446744073709551614 +18446744073709551614 +bytes'
	# The OCI process guardian wrote holds the exact numbers.
	run grep -o '"hard":18446744073709551615,"soft":18446744073709551615' "$GDN_DEPOT"/in-a/processes/*/process.json
	assert_success
}

@test "Run with a TTY and a 2^64-2 rlimit: the terminal has the size asked for" {
	in_container
	local spec
	# dadoo reads consoleSize from process.json (with crun, which does not apply it on exec).
	spec='{"path":"sh","args":["-c","'"$(tty_settle)"'stty size"],"rlimits":{"core":18446744073709551614},"tty":{"window_size":{"columns":123,"rows":45}},"image":{}}'
	run_gc run in-a "$spec" --stdout -
	assert_equal "$(json_field "$output" .exit_status)" 0
	assert_equal "$(json_field "$output" .stdout | tr -d '\r')" "45 123"
}

@test "Run: nofile 2^64 is refused with Go's message, and so is a negative one" {
	in_container
	run_gc run in-a '{"path":"true","rlimits":{"nofile":18446744073709551616},"image":{}}'
	assert_equal "$(json_field "$output" .status)" 500
	assert_equal "$(json_field "$output" .body | jq -r .Message)" \
		'json: cannot unmarshal number 18446744073709551616 into Go struct field ResourceLimits.nofile of type uint64'
	run_gc run in-a '{"path":"true","rlimits":{"nofile":-1},"image":{}}'
	assert_equal "$(json_field "$output" .body | jq -r .Message)" \
		'json: cannot unmarshal number -1 into Go struct field ResourceLimits.nofile of type uint64'
}

# guardian_usage_error ARGS...: `guardian server ARGS...` exits 2 at once, saying something on
# stderr; the message is in $stderr.
guardian_usage_error() {
	run --separate-stderr timeout 5 "$GUARDIAN_BIN" server --depot "$GDN_TMP/bad-depot" \
		--runtime-root "$GDN_TMP/bad-rr" --bind-socket "$GDN_TMP/bad.sock" "$@"
	assert_equal "$status" 2
	[[ ! -e $GDN_TMP/bad.sock ]] || fail "guardian server $* left its socket behind"
}

@test "--network-pool: a malformed or too small pool exits 2 naming the flag" {
	local p
	for p in foo 10.254.0.0 10.254.0.0/33 10.254.0.0/-1 300.0.0.0/8 010.0.0.0/8 10.0.0/8 \
		10.254.0.0/22x ::1/128 ''; do
		guardian_usage_error --network-pool "$p"
		assert_equal "$stderr" "guardian: --network-pool: invalid CIDR address: $p"$'\n'"Try 'guardian --help'."
	done
	for p in 10.254.0.0/31 10.254.0.1/32; do
		guardian_usage_error --network-pool "$p"
		[[ $stderr == *"--network-pool: '$p' holds no /30 subnet"* ]] || fail "$p: $stderr"
	done
	rm -rf "$GDN_TMP/bad-depot" "$GDN_TMP/bad-rr"
}

@test "--network-pool: host bits are cleared as Garden does; the capacity counts its /30s" {
	start_guardian --network-pool 10.254.1.7/22
	api_ok GET /capacity
	assert_equal "$(jq -r .max_containers <<<"$API_BODY")" 256
	start_guardian --network-pool 10.9.0.0/030
	api_ok GET /capacity
	assert_equal "$(jq -r .max_containers <<<"$API_BODY")" 1
}

@test "--bind-ip takes what Go's ParseIP takes and refuses leading zeros" {
	guardian_usage_error --bind-ip 127.0.0.01 --bind-port 7777
	assert_equal "$stderr" "guardian: --bind-ip: '127.0.0.01' is not an IP address"$'\n'"Try 'guardian --help'."
	guardian_usage_error --bind-ip 127.1 --bind-port 7777
	rm -rf "$GDN_TMP/bad-depot" "$GDN_TMP/bad-rr"
}

@test "a handle with %00 is ContainerNotFoundError naming it, never another container" {
	in_container
	local path
	for path in "/containers/in-a%00b/info" "/containers/in-a%00/limits/memory" \
		"/containers/%00in-a/properties"; do
		api_req GET "$path"
		assert_garden_error 404 ContainerNotFoundError '^unknown handle: '
		[[ $(jq -r '.Handle | contains("\u0000")' <<<"$API_BODY") == true ]] ||
			fail "$path: Handle without its NUL: $API_BODY"
	done
	api_req GET /containers/in-a%00b/info
	assert_equal "$(jq -c '[.Handle, .Message]' <<<"$API_BODY")" '["in-a\u0000b","unknown handle: in-a\u0000b"]'
	# Neither a destroy nor a stop reaches in-a.
	api_req DELETE /containers/in-a%00
	assert_garden_error 404 ContainerNotFoundError '^unknown handle: in-a'
	api_req PUT /containers/in-a%00/stop '{}'
	assert_garden_error 404 ContainerNotFoundError '^unknown handle: in-a'
	run handle_listed in-a
	assert_success
	# A process ID with NUL: ProcessNotFoundError.
	api_req GET /containers/in-a/processes/p%001
	assert_garden_error 404 ProcessNotFoundError '^unknown process: p'
	assert_equal "$(jq -c .ProcessID <<<"$API_BODY")" '"p\u00001"'
}

@test "a bad %-escape in the path is Go's 400 Bad Request, and the server lives on" {
	local path
	for path in /containers/a%zz/info /containers/a%2/info /containers/a% /%zz/ping; do
		run raw_request < <(printf 'GET %s HTTP/1.1\r\nHost: api\r\n\r\n' "$path")
		assert_line --index 0 --regexp '^HTTP/1\.1 400 '
		assert_line --regexp '^[Cc]onnection: close'
		assert_line --index -1 '400 Bad Request'
	done
	# %25 is an escaped '%': a valid path naming the handle "a%zz".
	api_req GET /containers/a%25zz/info
	assert_garden_error 404 ContainerNotFoundError '^unknown handle: a%zz$'
	api_ok GET /ping
}

# chunked_put EXT-LEN: a chunked PUT of property in-chunk on in-a whose first chunk-size line has an
# extension of EXT-LEN bytes; prints the response.
chunked_put() {
	local ext body='{"value":"v1"}'
	ext=$(head -c "$1" /dev/zero | tr '\0' x)
	printf 'PUT /containers/in-a/properties/in-chunk HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n%x;%s\r\n%s\r\n0\r\n\r\n' \
		"${#body}" "$ext" "$body" | raw_request 10
}

@test "chunk extensions: a 4096-byte chunk-size line is read, a longer one is a 400" {
	in_container
	# "e;" + extension + CRLF = 4096 bytes
	run chunked_put 4092
	assert_line --index 0 --regexp '^HTTP/1\.1 200 '
	api_ok GET /containers/in-a/properties/in-chunk
	assert_equal "$API_BODY" '{"value":"v1"}'
	api_ok DELETE /containers/in-a/properties/in-chunk
	run chunked_put 4093
	assert_line --index 0 --regexp '^HTTP/1\.1 400 '
	assert_output --partial 'chunk size line longer than 4096 bytes'
	# A megabyte of extension: the 400 may be lost when the server closes on unread bytes (the
	# reset discards it); the body is refused and the server lives either way.
	run chunked_put 1000000
	[[ -z $output || ${lines[0]} =~ ^HTTP/1\.1\ 400\  ]] || fail "1 MB extension: $output"
	api_req GET /containers/in-a/properties/in-chunk
	assert_equal "$API_STATUS" 500
	api_ok GET /ping
}
