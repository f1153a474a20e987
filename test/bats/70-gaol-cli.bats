#!/usr/bin/env bats
# gaol, the command-line client, against a real guardian.

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

@test "gaol ping" {
	run --separate-stderr gaol ping
	assert_success
	assert_output ''
	run --separate-stderr "$GAOL_BIN" --target "$GDN_SOCK" ping
	assert_success
}

@test "gaol ping fails with exit 1 when nothing listens" {
	run --separate-stderr "$GAOL_BIN" -t "$GDN_TMP/nothing.sock" ping
	assert_failure 1
	[[ $stderr == gaol:* ]] || fail "stderr: $stderr"
}

@test "gaol capacity prints the capacity JSON" {
	run --separate-stderr gaol capacity
	assert_success
	run jq -e '.memory_in_bytes > 0 and .disk_in_bytes > 0 and .max_containers > 0' <<<"$output"
	assert_success
}

@test "gaol create -n -e -g -P prints the handle and creates that container" {
	note_handle gl-a
	run --separate-stderr gaol create -n gl-a -e A=1 -e B=two -g 1m -P k=v -P team=x
	assert_success
	assert_output gl-a
	local pid
	pid=$(init_pid gl-a)
	run bash -c "tr '\0' '\n' </proc/$pid/environ"
	assert_line A=1
	assert_line B=two
	api_req GET /containers/gl-a/properties
	assert_equal "$(jq -r .k <<<"$API_BODY")" v
	assert_equal "$(jq -r .team <<<"$API_BODY")" x
	assert_equal "$(jq -r '."garden.grace-time"' <<<"$API_BODY")" 60000000000
	assert_not_equal "$(readlink "/proc/$pid/ns/user")" "$(readlink /proc/self/ns/user)"
}

@test "gaol create without -n prints a generated handle" {
	run --separate-stderr gaol create
	assert_success
	local h=$output
	assert_regex "$h" "$uuid_v4_regex"
	note_handle "$h"
	run list_handles
	assert_line "$h"
	run --separate-stderr gaol destroy "$h"
	assert_success
	assert_no_leaks "$h"
}

@test "gaol list prints handles one per line; -p filters" {
	note_handle gl-b
	run --separate-stderr gaol create -n gl-b -P team=y
	assert_success
	run --separate-stderr gaol list
	assert_success
	assert_equal "$(sort <<<"$output")" "$(printf '%s\n' gl-a gl-b)"
	run --separate-stderr gaol list -p team=x
	assert_output gl-a
	run --separate-stderr gaol list -p team=y -p k=v
	assert_output ''
	run --separate-stderr gaol list -p team=x -p k=v
	assert_output gl-a
	run --separate-stderr gaol list --property team=nobody
	assert_success
	assert_output ''
}

@test "gaol info prints the info JSON" {
	run --separate-stderr gaol info gl-a
	assert_success
	run jq -r '.State + " " + .ContainerPath + " " + .Properties.k' <<<"$output"
	assert_output "active $GDN_DEPOT/gl-a v"
}

@test "gaol metrics prints the metrics JSON in Garden's order" {
	run --separate-stderr gaol metrics gl-a
	assert_success
	run jq -r '(keys_unsorted | join(",")) + " " + (.PidStat.Current | tostring)' <<<"$output"
	assert_output "MemoryStat,CPUStat,DiskStat,NetworkStat,PidStat,Age,CPUEntitlement 1"
	run --separate-stderr gaol metrics gl-nope
	assert_failure 1
}

@test "gaol properties prints sorted KEY<TAB>VALUE lines" {
	run --separate-stderr gaol properties gl-a
	assert_success
	assert_line "$(printf 'k\tv')"
	assert_line "$(printf 'team\tx')"
	assert_line "$(printf 'garden.state\tcreated')"
	assert_equal "$output" "$(LC_ALL=C sort <<<"$output")"
	local expected
	api_req GET /containers/gl-a/properties
	expected=$(jq -r 'to_entries | sort_by(.key) | .[] | .key + "\t" + .value' <<<"$API_BODY")
	assert_equal "$output" "$expected"
}

@test "gaol get-property, set-property, remove-property" {
	run --separate-stderr gaol get-property gl-a k
	assert_success
	assert_output v
	run --separate-stderr gaol set-property gl-a k 'new value'
	assert_success
	assert_output ''
	run --separate-stderr gaol get-property gl-a k
	assert_output 'new value'
	run --separate-stderr gaol set-property gl-a fresh 1
	assert_success
	api_req GET /containers/gl-a/properties/fresh
	assert_api 200 '{"value":"1"}'
	run --separate-stderr gaol remove-property gl-a fresh
	assert_success
	run --separate-stderr gaol get-property gl-a fresh
	assert_failure 1
	assert_equal "$stderr" 'gaol: property does not exist: fresh'
	run --separate-stderr gaol remove-property gl-a fresh
	assert_success
}

@test "gaol set-grace sets the grace time from a Go duration" {
	run --separate-stderr gaol set-grace gl-a 30s
	assert_success
	api_req GET /containers/gl-a/properties/garden.grace-time
	assert_api 200 '{"value":"30000000000"}'
	run --separate-stderr gaol set-grace gl-a 1h30m
	assert_success
	api_req GET /containers/gl-a/properties/garden.grace-time
	assert_api 200 '{"value":"5400000000000"}'
	run --separate-stderr gaol set-grace gl-a 2500ms
	assert_success
	api_req GET /containers/gl-a/properties/garden.grace-time
	assert_api 200 '{"value":"2500000000"}'
	run --separate-stderr gaol set-grace gl-a 1h
	assert_success
	api_req GET /containers/gl-a/properties/garden.grace-time
	assert_api 200 '{"value":"3600000000000"}'
	run --separate-stderr gaol set-grace gl-a soon
	assert_failure 2
}

@test "gaol limits prints the four limits" {
	note_handle gl-lim
	run --separate-stderr gaol create -n gl-lim --memory 64M --cpu-shares 512
	assert_success
	run --separate-stderr gaol limits gl-lim
	assert_success
	run jq -c '{memory, cpu}' <<<"$output"
	assert_output '{"memory":{"limit_in_bytes":67108864},"cpu":{"limit_in_shares":512}}'
	run --separate-stderr gaol destroy gl-lim
	assert_success
}

@test "gaol stop, then info says stopped" {
	run --separate-stderr gaol stop gl-b
	assert_success
	api_req GET /containers/gl-b/info
	assert_equal "$(jq -r .State <<<"$API_BODY")" stopped
	run --separate-stderr gaol stop -k gl-a
	assert_success
	api_req GET /containers/gl-a/info
	assert_equal "$(jq -r .State <<<"$API_BODY")" stopped
}

@test "gaol destroy, and destroying again fails with 'unknown handle'" {
	local pid
	pid=$(init_pid gl-b)
	run --separate-stderr gaol destroy gl-b
	assert_success
	assert_output ''
	assert_no_leaks gl-b "$pid"
	run --separate-stderr gaol destroy gl-b
	assert_failure 1
	assert_equal "$stderr" 'gaol: unknown handle: gl-b'
}

@test "gaol destroy of several handles goes on after a failure" {
	note_handle gl-m1 gl-m2
	gaol create -n gl-m1
	gaol create -n gl-m2
	run --separate-stderr gaol destroy gl-m1 gl-missing gl-m2
	assert_failure 1
	[[ $stderr == *'unknown handle: gl-missing'* ]] || fail "stderr: $stderr"
	assert_no_leaks gl-m1
	assert_no_leaks gl-m2
}

@test "gaol info of an unknown handle fails with exit 1" {
	run --separate-stderr gaol info gl-nope
	assert_failure 1
	assert_equal "$stderr" 'gaol: unknown handle: gl-nope'
}

@test "GAOL_TARGET is used when -t is not given" {
	GAOL_TARGET=$GDN_SOCK run --separate-stderr "$GAOL_BIN" list
	assert_success
	assert_output gl-a
	GAOL_TARGET=$GDN_TMP/nothing.sock run --separate-stderr "$GAOL_BIN" -t "$GDN_SOCK" list
	assert_success
	assert_output gl-a
}

# a TCP port nothing on this host listens on
free_port() {
	local port
	for ((;;)); do
		port=$((20000 + RANDOM % 30000))
		[[ -z $(ss -Htln "sport = :$port") ]] && break
	done
	echo "$port"
}

@test "gaol talks TCP with -t HOST:PORT" {
	local port
	port=$(free_port)
	start_guardian --bind-ip 127.0.0.1 --bind-port "$port"
	run --separate-stderr "$GAOL_BIN" -t "127.0.0.1:$port" list
	assert_success
	assert_output gl-a
}

@test "gaol create -p makes a privileged container" {
	note_handle gl-priv
	run --separate-stderr gaol create -p -n gl-priv
	assert_success
	assert_output gl-priv
	local pid
	pid=$(init_pid gl-priv)
	assert_equal "$(readlink "/proc/$pid/ns/user")" "$(readlink /proc/self/ns/user)"
	run --separate-stderr gaol destroy gl-priv
	assert_success
	assert_no_leaks gl-priv "$pid"
}

@test "gaol create reports server errors with exit 1" {
	run --separate-stderr gaol create -n gl-a
	assert_failure 1
	assert_equal "$stderr" "gaol: Handle 'gl-a' already in use"
	run --separate-stderr gaol create -n gl-bad -r /nonexistent
	assert_failure 1
	[[ $stderr == gaol:* ]] || fail "stderr: $stderr"
	assert_no_leaks gl-bad
}

@test "bad usage exits 2" {
	local -a bad=(
		""
		"frobnicate"
		"create --bogus"
		"create -g soon"
		"create -e"
		"info"
		"info a b"
		"get-property gl-a"
		"set-property gl-a k"
		"remove-property gl-a"
		"set-grace gl-a"
		"list extra"
		"list -p novalue"
		"destroy"
		"stop"
	)
	local b
	for b in "${bad[@]}"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$GAOL_BIN" -t "$GDN_SOCK" $b
		((status == 2)) || fail "gaol $b: exit $status, expected 2 (stderr: $stderr)"
		[[ -n $stderr ]] || fail "gaol $b: no message on stderr"
		assert_output ''
	done
	run --separate-stderr "$GAOL_BIN"
	assert_failure 2
}

@test "gaol --help and COMMAND --help exit 0" {
	run --separate-stderr "$GAOL_BIN" --help
	assert_success
	assert_output --partial create
	run --separate-stderr "$GAOL_BIN" create --help
	assert_success
	assert_output --partial --handle
}

@test "every --long-option of gaol's help is in gaol(1)" {
	local page=$GDN_MAN_DIR/gaol.1 f missing=() text help cmd
	assert [ -f "$page" ]
	text=$(sed -e 's/\\-/-/g' -e 's/\\(hy/-/g' -e 's/\\f[BIRP]//g' "$page")
	help=$("$GAOL_BIN" --help 2>&1)
	for cmd in $(awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }' <<<"$help"); do
		help+=$'\n'$("$GAOL_BIN" "$cmd" --help 2>&1)
		grep -qE "(^|[^a-z-])$cmd([^a-z-]|\$)" <<<"$text" || missing+=("command $cmd")
	done
	for f in $(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$help" | sort -u); do
		grep -qF -- "$f" <<<"$text" || missing+=("$f")
	done
	((${#missing[@]} == 0)) || fail "not in gaol.1: ${missing[*]}"
	run bash -c "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z '$page' 2>&1 >/dev/null"
	assert_output ''
}

@test "gaol net-in maps a host port (HOST:PORT on a TCP target); net-out adds a rule; bad flags are usage errors" {
	local port
	port=$(free_port)
	start_guardian --bind-ip 127.0.0.1 --bind-port "$port"
	note_handle gl-net
	run --separate-stderr gaol create -n gl-net
	assert_success
	run --separate-stderr gaol net-in -p 8080 gl-net
	assert_success
	assert_regex "$output" '^[0-9]+$'
	local hp=$output
	run --separate-stderr "$GAOL_BIN" -t "127.0.0.1:$port" net-in --port 9090 gl-net
	assert_success
	assert_regex "$output" '^127\.0\.0\.1:[0-9]+$'
	local hp2=${output##*:}
	api_req GET /containers/gl-net/info
	assert_equal "$(jq -c '[.MappedPorts[] | [.HostPort, .ContainerPort]]' <<<"$API_BODY")" "[[$hp,8080],[$hp2,9090]]"

	run --separate-stderr gaol net-out -p tcp --ip-start 10.254.70.1 --ip-end 10.254.70.9 \
		--port-start 8000 --port-end 8100 gl-net
	assert_success
	assert_output applied
	local id
	id=$(jq -r '.Properties["kawasaki.iptable-inst"]' <<<"$API_BODY")
	run bash -c "iptables-legacy-save -t filter | grep -- '-A w--instance-$id ' | grep -- '10.254.70.1-10.254.70.9'"
	assert_success
	assert_output --partial '8000:8100'

	run --separate-stderr gaol net-out -p icmp --ip-start 1.2.3.4 --ip-end 1.2.3.4 --port-start 1 --port-end 2 gl-net
	assert_failure 2
	assert_regex "$stderr" "invalid protocol 'icmp'"
	run --separate-stderr gaol net-out -p tcp --ip-start nope --ip-end 1.2.3.4 --port-start 1 --port-end 2 gl-net
	assert_failure 2
	assert_regex "$stderr" "invalid IP: 'nope'"
	run --separate-stderr gaol net-out -p tcp --ip-start 1.2.3.4 gl-net
	assert_failure 2
	assert_regex "$stderr" 'required'
	run --separate-stderr gaol net-in gl-net
	assert_failure 2
	run --separate-stderr gaol net-in -p 70000 gl-net
	assert_failure 2
	run --separate-stderr gaol net-in -p 80 no-such-handle
	assert_failure 1
	run --separate-stderr gaol destroy gl-net
	assert_success
}

@test "every container was cleaned up" {
	destroy_all
	assert_all_clean
}
