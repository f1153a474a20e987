#!/usr/bin/env bats
# Bad input answers a Garden error (five keys) and leaves nothing behind: no depot entry, no
# mount, no runtime container, no cgroup.

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

# snapshot: what exists now (depot entries, runtime containers, mounts under $GDN_TMP, entries
# of $GDN_TMP itself), to compare after a rejected request. (The volumizer store may keep a cache.)
snapshot() {
	{
		echo "# depot"
		ls -A "$GDN_DEPOT"
		echo "# runtime"
		runtime_containers
		echo "# mounts"
		mounts_under "$GDN_TMP"
		echo "# tmp"
		ls -A "$GDN_TMP" | grep -v -x -e 'guardian\..*' -e handles -e depot -e store -e runtime-root -e gdn.sock || true
	} 2>&1
}

setup() {
	BEFORE=$(snapshot)
}

assert_nothing_created() {
	local after
	after=$(snapshot)
	if [[ $after != "$BEFORE" ]]; then
		batslib_print_kv_single_or_multi 8 before "$BEFORE" after "$after" |
			batslib_decorate 'a rejected request left something behind' | fail
	fi
	run list_handles 'garden.state=all'
	assert_output ''
}

@test "malformed JSON body" {
	api_req POST /containers '{"handle":'
	assert_garden_error 500 '' '.+'
	assert_nothing_created
	# Go's json.Decoder stops after the first value (the server decodes one value and does not
	# look further), so this one succeeds as with Garden.
	note_handle x
	api_req POST /containers '{"handle":"x"} trailing'
	assert_api 200 '{"Handle":"x"}'
	destroy_container x
	api_req POST /containers 'not json at all'
	assert_garden_error 500 '' '.+'
	assert_nothing_created
}

@test "missing body" {
	api_req POST /containers
	assert_garden_error 500 '' '.+'
	api_req POST /containers ''
	assert_garden_error 500 '' '.+'
	assert_nothing_created
}

@test "a body that is not an object" {
	local b
	for b in '[]' '"x"' '42' 'null' 'true'; do
		api_req POST /containers "$b"
		if [[ $b == null && $API_STATUS == 200 ]]; then
			# Go decodes null into a zero spec: a container with a generated handle.
			destroy_container "$(jq -r .Handle <<<"$API_BODY")"
			continue
		fi
		assert_garden_error 500 '' '.+'
	done
	assert_nothing_created
}

@test "handles with '/' or '..' are rejected with a message naming the handle" {
	local h
	for h in 'a/b' '..' '../x' '.' 'x/../../y' '/abs'; do
		api_req POST /containers "$(jq -cn --arg h "$h" '{handle: $h}')"
		assert_garden_error '4[0-9][0-9]|500' '' ".*$(printf '%s' "$h" | sed 's/[.[\*^$()+?{|]/\\&/g').*"
		assert_nothing_created
	done
	assert [ ! -e "$GDN_TMP/x" ]
	assert [ ! -e "$GDN_TMP/y" ]
	assert [ ! -e /y ]
}

@test "a handle with a NUL byte or a newline is rejected" {
	local h
	for h in 'a\u0000b' 'a\nb'; do
		api_req POST /containers "{\"handle\":\"$h\"}"
		assert_garden_error '4[0-9][0-9]|500' '' '.+'
		assert_nothing_created
	done
}

@test "a rootfs that does not exist" {
	api_req POST /containers '{"handle":"err-rootfs","rootfs":"/nonexistent/rootfs"}'
	assert_garden_error 500 '' '.+'
	assert_nothing_created
	assert_no_leaks err-rootfs
	api_req POST /containers '{"handle":"err-image","image":{"uri":"/nonexistent/rootfs"}}'
	assert_garden_error 500 '' '.+'
	assert_nothing_created
	assert_no_leaks err-image
	api_req POST /containers '{"handle":"err-raw","image":{"uri":"raw:///nonexistent/rootfs"}}'
	assert_garden_error 500 '' '.+'
	assert_nothing_created
}

@test "a rootfs that is a file, not a directory" {
	api_req POST /containers "$(jq -cn --arg r "$GDN_ROOTFS/etc/passwd" '{handle: "err-file", rootfs: $r}')"
	assert_garden_error 500 '' '.+'
	assert_nothing_created
	assert_no_leaks err-file
}

@test "an explicit rootfs path that exists is used" {
	create_container err-explicit "$(jq -cn --arg r "$GDN_ROOTFS" '{rootfs: $r}')"
	destroy_container err-explicit
	assert_no_leaks err-explicit
	create_container err-explicit-uri "$(jq -cn --arg r "$GDN_ROOTFS" '{image: {uri: $r}}')"
	destroy_container err-explicit-uri
	assert_no_leaks err-explicit-uri
}

@test "both rootfs and image.uri" {
	api_req POST /containers "$(jq -cn --arg r "$GDN_ROOTFS" '{handle: "err-both", rootfs: $r, image: {uri: $r}}')"
	assert_garden_error 500 '' '^Cannot provide both Image.URI and RootFSPath$'
	assert_nothing_created
}

@test "wrong JSON types in the spec" {
	local b
	for b in '{"handle":"err-t1","privileged":"yes"}' \
		'{"handle":"err-t2","env":"x"}' \
		'{"handle":"err-t3","env":[1,2]}' \
		'{"handle":123}' \
		'{"handle":"err-t5","properties":["a"]}' \
		'{"handle":"err-t6","properties":{"a":1}}' \
		'{"handle":"err-t7","grace_time":"1s"}' \
		'{"handle":"err-t8","limits":{"memory_limits":{"limit_in_bytes":"big"}}}' \
		'{"handle":"err-t9","limits":{"memory_limits":{"limit_in_bytes":-1}}}' \
		'{"handle":"err-t10","image":"busybox"}' \
		'{"handle":"err-t11","bind_mounts":{}}'; do
		api_req POST /containers "$b"
		if [[ $API_STATUS == 200 ]]; then
			fail "accepted $b: $API_BODY"
		fi
		assert_garden_error 500 '' '.+'
		assert_nothing_created
	done
}

@test "an oversized body (more than 1 MiB)" {
	local big
	big=$(head -c 1100000 /dev/zero | tr '\0' a)
	printf '{"handle":"err-big","properties":{"k":"%s"}}' "$big" >"$BATS_TEST_TMPDIR/big.json"
	run --separate-stderr curl --unix-socket "$GDN_SOCK" -s --max-time 10 -w '\n%{http_code}' \
		-H 'Content-Type: application/json' --data-binary "@$BATS_TEST_TMPDIR/big.json" http://api/containers
	API_STATUS=${output##*$'\n'}
	API_BODY=${output%$'\n'*}
	API_BODY=${API_BODY%$'\n'}
	assert_garden_error '4[0-9][0-9]|500' '' '.+'
	assert guardian_alive
	assert_nothing_created
	assert_no_leaks err-big
}

# raw_http MODE: writes a request to guardian's socket as MODE says and prints the status line
# of the answer. trickle: a GET /ping one byte per write; blank9: nine empty lines first;
# longhead: 70000 bytes of header, never ended.
raw_http() {
	python3 - "$GDN_SOCK" "$1" <<-'EOF'
		import socket, sys
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		s.connect(sys.argv[1])
		s.settimeout(10)
		mode = sys.argv[2]
		if mode == "trickle":
		    for b in b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n":
		        s.send(bytes([b]))
		elif mode == "blank9":
		    s.sendall(b"\r\n" * 9 + b"GET /ping HTTP/1.1\r\n\r\n")
		else:
		    s.sendall(b"GET /ping HTTP/1.1\r\nX: " + b"a" * 70000)
		print(s.recv(4096).split(b"\r\n")[0].decode())
	EOF
}

@test "raw HTTP: a head trickled byte by byte, too many empty lines, a head too long" {
	run raw_http trickle
	assert_success
	assert_output 'HTTP/1.1 200 OK'
	run raw_http blank9
	assert_output 'HTTP/1.1 400 Bad Request'
	run raw_http longhead
	assert_output 'HTTP/1.1 431 Request Header Fields Too Large'
	assert guardian_alive
}

@test "privileged containers with --disable-privileged-containers" {
	start_guardian --disable-privileged-containers
	api_req POST /containers '{"handle":"err-priv","privileged":true}'
	assert_garden_error 500 '' '^privileged container creation is disabled$'
	assert_nothing_created
	assert_no_leaks err-priv
	create_container err-unpriv '{"privileged":false}'
	destroy_container err-unpriv
	assert_no_leaks err-unpriv
}

@test "--max-containers is enforced and reported by capacity" {
	start_guardian --max-containers 2
	api_req GET /capacity
	assert_equal "$(jq -r .max_containers <<<"$API_BODY")" 2
	create_container err-max1
	create_container err-max2
	BEFORE=$(snapshot)
	api_req POST /containers '{"handle":"err-max3"}'
	assert_garden_error 500 '' '^max containers reached$'
	assert [ ! -e "$GDN_DEPOT/err-max3" ]
	assert_equal "$(snapshot)" "$BEFORE"
	assert_no_leaks err-max3
	destroy_container err-max1
	create_container err-max3
	destroy_container err-max2
	destroy_container err-max3
	assert_no_leaks err-max1
	assert_no_leaks err-max2
	assert_no_leaks err-max3
}

@test "a failed create does not count against --max-containers" {
	start_guardian --max-containers 1
	api_req POST /containers '{"handle":"err-mf","rootfs":"/nonexistent"}'
	assert_garden_error 500 '' '.+'
	create_container err-mf-ok
	destroy_container err-mf-ok
}

@test "destroy of an unknown handle, stop of an unknown handle" {
	api_req DELETE /containers/err-unknown
	assert_api 404 '{"Type":"ContainerNotFoundError","Message":"unknown handle: err-unknown","Handle":"err-unknown","ProcessID":"","Binary":""}'
	api_req PUT /containers/err-unknown/stop '{"kill":true}'
	assert_garden_error '404|500' '(ContainerNotFoundError)?' '.+'
	assert_nothing_created
}

@test "bad bodies for stop, properties and grace_time" {
	create_container err-bodies
	BEFORE=$(snapshot)
	api_req PUT /containers/err-bodies/stop '{"kill":'
	assert_garden_error 500 '' '.+'
	api_req PUT /containers/err-bodies/properties/k '{"value":'
	assert_garden_error 500 '' '.+'
	api_req PUT /containers/err-bodies/properties/k '{"value":5}'
	assert_garden_error 500 '' '.+'
	api_req PUT /containers/err-bodies/grace_time 'soon'
	assert_garden_error 500 '' '.+'
	api_req PUT /containers/err-bodies/grace_time '"1s"'
	assert_garden_error 500 '' '.+'
	api_req GET /containers/err-bodies/properties/k
	assert_garden_error 500 '' '^property does not exist: k$'
	api_req GET /containers/err-bodies/info
	assert_equal "$(jq -r .State <<<"$API_BODY")" active
	assert_equal "$(snapshot)" "$BEFORE"
	destroy_container err-bodies
	assert_no_leaks err-bodies
}

@test "two concurrent destroys: one succeeds, the other is told it is in progress or gone" {
	local i pid a b sa sb
	for i in 1 2 3; do
		create_container "err-cd$i"
		pid=$(init_pid "err-cd$i")
		bg_start api "DELETE" "/containers/err-cd$i" >"$BATS_TEST_TMPDIR/a"
		bg_start api "DELETE" "/containers/err-cd$i" >"$BATS_TEST_TMPDIR/b"
		bg_wait
		a=$(<"$BATS_TEST_TMPDIR/a")
		b=$(<"$BATS_TEST_TMPDIR/b")
		sa=${a##*$'\n'}
		sb=${b##*$'\n'}
		if [[ $sa != 200 ]]; then
			local t=$a
			a=$b b=$t t=$sa sa=$sb sb=$t
		fi
		assert_equal "$sa" 200
		API_STATUS=$sb API_BODY=${b%$'\n'*}
		API_BODY=${API_BODY%$'\n'}
		if [[ $sb == 404 ]]; then
			assert_garden_error 404 ContainerNotFoundError "^unknown handle: err-cd$i\$"
		else
			assert_garden_error 500 '' '^container already being destroyed$'
		fi
		assert_no_leaks "err-cd$i" "$pid"
	done
}

@test "the server survives all of this and has nothing left" {
	assert guardian_alive
	api_req GET /ping
	assert_api 200 '{}'
	destroy_all
	assert_all_clean
}
