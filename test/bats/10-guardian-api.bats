#!/usr/bin/env bats
# The plain request/response routes of the wire API (protocol §3, §4): exact JSON shapes.

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

# info_expected HANDLE: the ContainerInfo of a fresh container, less Properties; its network
# fields are those kawasaki set in its properties.
info_expected() {
	local props
	props=$(api GET "/containers/$1/properties" | sed '$d')
	jq -cn --arg p "$GDN_DEPOT/$1" --argjson pr "$props" '{State: "active", Events: null,
		HostIP: $pr["garden.network.host-ip"], ContainerIP: $pr["garden.network.container-ip"],
		ContainerIPv6: "", ExternalIP: $pr["garden.network.external-ip"], ContainerPath: $p,
		ProcessIDs: null, MappedPorts: []}'
}

# user_props JSON: the properties that are not guardian's (garden.*) or kawasaki's.
user_props() {
	jq -c 'with_entries(select(.key | (startswith("garden.") or startswith("kawasaki.")) | not))' <<<"$1"
}

@test "GET /ping answers {} with a JSON content type and a trailing newline" {
	run curl --unix-socket "$GDN_SOCK" -s -i --max-time 5 http://api/ping
	assert_success
	assert_line --regexp '^HTTP/1\.1 200'
	assert_line --regexp '^[Cc]ontent-[Tt]ype: application/json'
	api_req GET /ping
	assert_api 200 '{}'
	assert_equal "$API_BODY" '{}'
	assert_equal "$API_NL" 1
}

@test "a request with Connection: close gets Connection: close and a bounded body" {
	run curl --unix-socket "$GDN_SOCK" -s -i --max-time 5 -H 'Connection: close' http://api/ping
	assert_success
	assert_line --regexp '^[Cc]onnection: close'
	assert_line --regexp '^([Cc]ontent-[Ll]ength: 3|[Tt]ransfer-[Ee]ncoding: chunked)'
}

@test "GET /capacity reports host memory, store disk and max_containers" {
	api_req GET /capacity
	assert_equal "$API_STATUS" 200
	run jq -r 'keys | join(",")' <<<"$API_BODY"
	assert_output 'disk_in_bytes,max_containers,memory_in_bytes,schedulable_disk_in_bytes'
	local mem disk
	mem=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) * 1024))
	assert_equal "$(jq -r .memory_in_bytes <<<"$API_BODY")" "$mem"
	disk=$(($(stat -f -c '%b * %S' "$GDN_STORE")))
	assert_equal "$(jq -r .disk_in_bytes <<<"$API_BODY")" "$disk"
	run jq -e '.schedulable_disk_in_bytes > 0 and .max_containers > 0 and
		(.max_containers | floor) == .max_containers' <<<"$API_BODY"
	assert_success
}

@test "GET /containers with no containers is {\"Handles\":[]}" {
	api_req GET /containers
	assert_api 200 '{"Handles":[]}'
	assert_equal "$API_BODY" '{"Handles":[]}'
}

@test "create with a handle answers {\"Handle\":h}; info has the exact shape" {
	create_container api-info '{"properties":{"app":"demo","team":"x"},"env":["A=1"]}'
	assert_equal "$API_BODY" '{"Handle":"api-info"}'
	api_req GET /containers/api-info/info
	assert_equal "$API_STATUS" 200
	assert_json "$(jq -c 'del(.Properties)' <<<"$API_BODY")" "$(info_expected api-info)"
	assert_json "$(user_props "$(jq -c .Properties <<<"$API_BODY")")" '{"app":"demo","team":"x"}'
	assert_equal "$(jq -r '.Properties["garden.state"]' <<<"$API_BODY")" created
	assert [ -d "$GDN_DEPOT/api-info" ]
	destroy_container api-info
	assert_no_leaks api-info
}

@test "create without a handle generates a UUIDv4" {
	api_req POST /containers '{}'
	assert_equal "$API_STATUS" 200
	local h
	h=$(jq -r .Handle <<<"$API_BODY")
	note_handle "$h"
	assert_regex "$h" "$uuid_v4_regex"
	run list_handles
	assert_line "$h"
	api_req POST /containers '{"handle":""}'
	assert_equal "$API_STATUS" 200
	local h2
	h2=$(jq -r .Handle <<<"$API_BODY")
	note_handle "$h2"
	assert_regex "$h2" "$uuid_v4_regex"
	assert_not_equal "$h" "$h2"
	destroy_container "$h"
	destroy_container "$h2"
	assert_no_leaks "$h"
	assert_no_leaks "$h2"
}

@test "create accepts the body exactly as the Go client encodes it" {
	note_handle api-go
	api_req POST /containers '{"handle":"api-go","properties":{"app":"demo"},"env":["A=1"],"limits":{"bandwidth_limits":{},"cpu_limits":{},"disk_limits":{},"memory_limits":{},"pid_limits":{}},"image":{}}
'
	assert_api 200 '{"Handle":"api-go"}'
	api_req GET /containers/api-go/properties/app
	assert_api 200 '{"value":"demo"}'
	destroy_container api-go
	assert_no_leaks api-go
}

@test "create decodes keys case-insensitively and ignores unknown keys" {
	note_handle api-case
	api_req POST /containers '{"Handle":"api-case","Properties":{"k":"v"},"unknown_key":[1,2,{"x":null}]}'
	assert_api 200 '{"Handle":"api-case"}'
	api_req GET /containers/api-case/properties/k
	assert_api 200 '{"value":"v"}'
	destroy_container api-case
}

@test "a duplicate handle is rejected and the first container is unharmed" {
	create_container api-dup
	local pid
	pid=$(init_pid api-dup)
	api_req POST /containers '{"handle":"api-dup"}'
	assert_garden_error 500 '' "^Handle 'api-dup' already in use$"
	assert pid_alive "$pid"
	api_req GET /containers/api-dup/info
	assert_equal "$API_STATUS" 200
	destroy_container api-dup
	assert_no_leaks api-dup "$pid"
}

@test "list filters by properties (ANDed) and garden.state=all" {
	create_container api-web '{"properties":{"role":"web","team":"x"}}'
	create_container api-db '{"properties":{"role":"db","team":"x"}}'
	run list_handles
	assert_output "$(printf '%s\n' api-db api-web)"
	run list_handles 'role=web'
	assert_output api-web
	run list_handles 'role=web&team=x'
	assert_output api-web
	run list_handles 'team=x'
	assert_output "$(printf '%s\n' api-db api-web)"
	run list_handles 'role=web&team=y'
	assert_output ''
	run list_handles 'role=nope'
	assert_output ''
	run list_handles 'garden.state=all'
	assert_output "$(printf '%s\n' api-db api-web)"
	run list_handles 'garden.state=created&role=db'
	assert_output api-db
	api_req GET '/containers?role=nope'
	assert_equal "$API_BODY" '{"Handles":[]}'
	destroy_container api-web
	destroy_container api-db
	assert_no_leaks api-web
	assert_no_leaks api-db
}

@test "list query values are URL-decoded" {
	create_container api-q '{"properties":{"a key":"a value/+x"}}'
	run list_handles 'a+key=a%20value%2F%2Bx'
	assert_output api-q
	run list_handles 'a%20key=a+value%2F%2Bx'
	assert_output api-q
	destroy_container api-q
}

@test "info of an unknown handle is a ContainerNotFoundError" {
	api_req GET /containers/api-nope/info
	assert_api 404 '{"Type":"ContainerNotFoundError","Message":"unknown handle: api-nope","Handle":"api-nope","ProcessID":"","Binary":""}'
}

@test "bulk_info returns an entry per handle, with Err for unknown ones" {
	create_container api-b1 '{"properties":{"n":"1"}}'
	create_container api-b2
	api_req GET '/containers/bulk_info?handles=api-b1%2Capi-b2%2Capi-ghost'
	assert_equal "$API_STATUS" 200
	run jq -r 'keys | join(",")' <<<"$API_BODY"
	assert_output 'api-b1,api-b2,api-ghost'
	assert_json "$(jq -c '."api-b1".Info | del(.Properties)' <<<"$API_BODY")" "$(info_expected api-b1)"
	assert_json "$(jq -c '."api-b2".Info | del(.Properties)' <<<"$API_BODY")" "$(info_expected api-b2)"
	assert_equal "$(jq -r '."api-b1".Info.Properties.n' <<<"$API_BODY")" 1
	assert_equal "$(jq -c '."api-b1".Err' <<<"$API_BODY")" null
	assert_equal "$(jq -c '."api-b2".Err' <<<"$API_BODY")" null
	assert_json "$(jq -c '."api-ghost"' <<<"$API_BODY")" '{"Info":{"State":"","Events":null,"HostIP":"","ContainerIP":"","ContainerIPv6":"","ExternalIP":"","ContainerPath":"","ProcessIDs":null,"Properties":null,"MappedPorts":null},"Err":{"Type":"","Message":"unknown handle: api-ghost","Handle":"","ProcessID":"","Binary":""}}'
	destroy_container api-b1
	destroy_container api-b2
}

@test "bulk_info with an empty or missing handles parameter is {}" {
	api_req GET '/containers/bulk_info?handles='
	assert_api 200 '{}'
	api_req GET '/containers/bulk_info'
	assert_api 200 '{}'
}

@test "destroy answers {} then ContainerNotFoundError, and leaves nothing behind" {
	create_container api-del
	local pid
	pid=$(init_pid api-del)
	assert pid_alive "$pid"
	api_req DELETE /containers/api-del
	assert_api 200 '{}'
	assert_equal "$API_BODY" '{}'
	assert_no_leaks api-del "$pid"
	api_req DELETE /containers/api-del
	assert_api 404 '{"Type":"ContainerNotFoundError","Message":"unknown handle: api-del","Handle":"api-del","ProcessID":"","Binary":""}'
	refute handle_listed api-del
}

@test "stop with kill:true answers {}, kills processes but not init, and info says stopped" {
	create_container api-stop
	local pid
	pid=$(init_pid api-stop)
	run rt_exec_bg api-stop sleep 1234
	assert_success
	wait_until 50 pgrep -f -x 'sleep 1234' >/dev/null
	api_req PUT /containers/api-stop/stop '{"kill":true}'
	assert_api 200 '{}'
	api_req GET /containers/api-stop/info
	assert_equal "$(jq -r .State <<<"$API_BODY")" stopped
	assert pid_alive "$pid"
	run pgrep -f -x 'sleep 1234'
	assert_failure
	destroy_container api-stop
	assert_no_leaks api-stop "$pid"
}

@test "stop with kill:false sends SIGTERM and returns once the processes are gone" {
	create_container api-term
	run rt_exec_bg api-term sleep 4321
	assert_success
	wait_until 50 pgrep -f -x 'sleep 4321' >/dev/null
	local t0 t1
	t0=$(now_ms)
	api_req PUT /containers/api-term/stop '{"kill":false}'
	t1=$(now_ms)
	assert_api 200 '{}'
	run pgrep -f -x 'sleep 4321'
	assert_failure
	# sleep dies of SIGTERM at once: no need to wait for the 10 s SIGKILL fallback.
	assert [ $((t1 - t0)) -lt 8000 ]
	api_req GET /containers/api-term/info
	assert_equal "$(jq -r .State <<<"$API_BODY")" stopped
	destroy_container api-term
	assert_no_leaks api-term
}

@test "properties: get all, get one, set, overwrite, remove" {
	create_container api-prop '{"properties":{"a":"1","b":"two words"}}'
	api_req GET /containers/api-prop/properties
	assert_equal "$API_STATUS" 200
	assert_json "$(user_props "$API_BODY")" '{"a":"1","b":"two words"}'
	assert_equal "$(jq -r '."garden.state"' <<<"$API_BODY")" created

	api_req GET /containers/api-prop/properties/b
	assert_api 200 '{"value":"two words"}'

	api_req PUT /containers/api-prop/properties/c '{"value":"3"}'
	assert_api 200 '{}'
	api_req GET /containers/api-prop/properties/c
	assert_api 200 '{"value":"3"}'

	api_req PUT /containers/api-prop/properties/a '{"value":"one"}'
	assert_api 200 '{}'
	api_req GET /containers/api-prop/properties
	assert_json "$(user_props "$API_BODY")" '{"a":"one","b":"two words","c":"3"}'

	api_req DELETE /containers/api-prop/properties/a
	assert_api 200 '{}'
	api_req GET /containers/api-prop/properties/a
	assert_garden_error 500 '' '^property does not exist: a$'
	api_req DELETE /containers/api-prop/properties/never-there
	assert_api 200 '{}'

	api_req GET /containers/api-prop/info
	assert_json "$(user_props "$(jq -c .Properties <<<"$API_BODY")")" '{"b":"two words","c":"3"}'
	run list_handles 'c=3'
	assert_output api-prop
	destroy_container api-prop
}

@test "property values and keys with special characters round-trip" {
	create_container api-special
	local v='quote " backslash \ tab	nl
 unicode é ☃ <&>'
	api_req PUT /containers/api-special/properties/weird.key-1 "$(jq -cn --arg v "$v" '{value: $v}')"
	assert_api 200 '{}'
	api_req GET /containers/api-special/properties/weird.key-1
	assert_equal "$API_STATUS" 200
	assert_equal "$(jq -r .value <<<"$API_BODY")" "$v"
	api_req PUT /containers/api-special/properties/sp%20ace '{"value":"x"}'
	assert_api 200 '{}'
	api_req GET /containers/api-special/properties
	assert_equal "$(jq -r '."sp ace"' <<<"$API_BODY")" x
	destroy_container api-special
}

@test "PUT grace_time takes a bare integer of nanoseconds" {
	create_container api-grace
	api_req PUT /containers/api-grace/grace_time '300000000000'
	assert_api 200 '{}'
	api_req GET /containers/api-grace/properties/garden.grace-time
	assert_api 200 '{"value":"300000000000"}'
	destroy_container api-grace
}

@test "limits getters: memory and cpu from the spec, disk and bandwidth empty" {
	create_container api-lim '{"limits":{"memory_limits":{"limit_in_bytes":67108864},"cpu_limits":{"limit_in_shares":512}}}'
	api_req GET /containers/api-lim/limits/memory
	assert_api 200 '{"limit_in_bytes":67108864}'
	api_req GET /containers/api-lim/limits/cpu
	assert_api 200 '{"limit_in_shares":512}'
	api_req GET /containers/api-lim/limits/disk
	assert_api 200 '{}'
	api_req GET /containers/api-lim/limits/bandwidth
	assert_api 200 '{}'

	create_container api-nolim
	api_req GET /containers/api-nolim/limits/memory
	assert_api 200 '{}'
	api_req GET /containers/api-nolim/limits/cpu
	assert_api 200 '{}'

	api_req GET /containers/api-unknown/limits/memory
	assert_garden_error 404 ContainerNotFoundError '^unknown handle: api-unknown$'
	api_req GET /containers/api-unknown/limits/cpu
	assert_garden_error 404 ContainerNotFoundError '^unknown handle: api-unknown$'
	destroy_container api-lim
	destroy_container api-nolim
}

@test "unknown paths answer 404 text, wrong methods 405 with Allow" {
	api_req GET /nope
	assert_equal "$API_STATUS" 404
	assert_equal "$API_BODY" '404 page not found'
	api_req GET /containers/
	assert_equal "$API_STATUS" 404
	api_req GET /containers/x/info/extra
	assert_equal "$API_STATUS" 404
	api_req DELETE /ping
	assert_equal "$API_STATUS" 405
	run curl --unix-socket "$GDN_SOCK" -s -i --max-time 5 -X POST http://api/ping
	assert_line --regexp '^HTTP/1\.1 405'
	assert_line --regexp '^[Aa]llow: .*GET'
	# Setting limits after creation was removed from the API.
	api_req PUT /containers/x/limits/memory '{"limit_in_bytes":1}'
	assert_equal "$API_STATUS" 405
	api_req PATCH /containers
	assert_equal "$API_STATUS" 405
}

@test "malformed HTTP does not kill the server" {
	run raw_request <<<$'BLAH\r\n\r\n'
	run raw_request < <(printf 'GET /ping HTTP/1.1\r\nHost: api\r\nContent-Length: -5\r\n\r\n')
	run raw_request < <(printf 'POST /containers HTTP/1.1\r\nHost: api\r\nContent-Length: 100\r\n\r\n{"handle":')
	run raw_request < <(printf 'GET /%%zz HTTP/1.1\r\nHost: api\r\n\r\n')
	run raw_request < <(printf 'GET /ping HTTP/1.1\r\n%s\r\n\r\n' "X-Long: $(head -c 100000 /dev/zero | tr '\0' a)")
	assert guardian_alive
	api_req GET /ping
	assert_api 200 '{}'
	run list_handles 'garden.state=all'
	assert_output ''
}

@test "a chunked request body is decoded" {
	note_handle api-chunked
	run raw_request < <(printf 'POST /containers HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n%s' \
		$'b\r\n{"handle":"\r\n0c\r\napi-chunked"\r\n1\r\n}\r\n0\r\n\r\n')
	assert_success
	assert_line --regexp '^HTTP/1\.1 200'
	assert_output --partial '{"Handle":"api-chunked"}'
	destroy_container api-chunked
}

@test "two requests on one keep-alive connection are both answered" {
	run raw_request < <(printf 'GET /ping HTTP/1.1\r\nHost: api\r\n\r\nGET /containers HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n')
	assert_success
	assert_output --partial '{}'
	assert_output --partial '{"Handles":[]}'
}

@test "every container was cleaned up" {
	destroy_all
	assert_all_clean
}
