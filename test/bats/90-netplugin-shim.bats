#!/usr/bin/env bats
# netplugin-shim(8) with test/netplugin/fake-cni, without guardian: the client as guardian runs
# it (a network plugin), the server as the root daemon that runs the real plugin.
#
# Nothing here touches the host's network: the server (and so the plugin, which creates the
# veth pairs) runs in a network namespace of its own (`unshare --net`), and each "container" is
# a `sleep` in another one. Both go with their processes, and their veths with them.

load helpers/common

SHIM=$GDN_BUILD/bin/netplugin-shim
FAKE_CNI=$(cd "$BATS_TEST_DIRNAME/../netplugin" && pwd)/fake-cni

setup_file() {
	# The suite's guard: nothing a test forwards may leave for an address outside
	# 10.254.0.0/16 (scripts/net-guard; make bats installs and removes it).
	"$BATS_TEST_DIRNAME/../../scripts/net-guard" install
	gdn_setup_tmp
	export NPS_SOCK=$GDN_TMP/nps.sock NPS_STATE=$GDN_TMP/cni
	export NPS_LOG=$GDN_TMP/server.log
	# the client run as nobody must be able to execute it
	cp "$SHIM" "$GDN_TMP/netplugin-shim"
	chmod 0755 "$GDN_TMP/netplugin-shim"
}

teardown() {
	if [[ -z ${BATS_TEST_COMPLETED:-} && -f $NPS_LOG ]]; then
		echo "# --- server log (tail)" >&3
		tail -n 30 "$NPS_LOG" | sed 's/^/# /' >&3
	fi
	kill_containers
	stop_server
}

teardown_file() {
	kill_containers
	stop_server
	[[ -n ${GDN_TMP:-} ]] && rm -rf "$GDN_TMP"
	return 0
}

server_pid() {
	cat "$GDN_TMP/server.pid" 2>/dev/null || true
}

# start_server [SERVE-ARGS...]: a server running fake-cni (with a fresh state dir), in a network
# namespace of its own; waits for its socket.
start_server() {
	local i pid
	stop_server
	rm -rf "$NPS_STATE"
	mkdir -p "$NPS_STATE"
	printf -- '--- start: serve %s\n' "$*" >>"$NPS_LOG"
	# unshare execs the server: $! is its pid
	unshare --net -- "$SHIM" serve --socket "$NPS_SOCK" --plugin-path "$FAKE_CNI" \
		--plugin-arg --state-dir --plugin-arg "$NPS_STATE" --log-level debug "$@" \
		</dev/null >>"$GDN_TMP/server.out" 2>>"$NPS_LOG" 3>&- &
	pid=$!
	echo "$pid" >"$GDN_TMP/server.pid"
	for ((i = 0; i < 100; i++)); do
		[[ -S $NPS_SOCK ]] && return 0
		pid_alive "$pid" || break
		sleep 0.05
	done
	echo "netplugin-shim serve did not come up" >&2
	tail -n 20 "$NPS_LOG" >&2
	return 1
}

# stop_server: SIGTERM by its pid, then SIGKILL after 10 s.
stop_server() {
	local pid
	pid=$(server_pid)
	[[ -n $pid ]] || return 0
	if pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		if ! wait_pid_gone "$pid" 100; then
			kill -KILL "$pid" 2>/dev/null || true
			wait_pid_gone "$pid" 50 || true
		fi
	fi
	rm -f "$GDN_TMP/server.pid"
}

# new_container: a process in a network namespace of its own; prints its pid.
new_container() {
	unshare --net -- sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
	echo $! >>"$GDN_TMP/containers"
	echo $!
}

kill_containers() {
	local pid
	[[ -f ${GDN_TMP:-/nonexistent}/containers ]] || return 0
	while read -r pid; do
		kill -KILL "$pid" 2>/dev/null || true
	done <"$GDN_TMP/containers"
	rm -f "$GDN_TMP/containers"
}

# client ACTION HANDLE STDIN [ARGS...]: the client as guardian runs it, stdin exactly STDIN.
client() {
	local action=$1 handle=$2 input=$3
	shift 3
	printf '%s' "$input" | "$SHIM" --socket "$NPS_SOCK" --action "$action" --handle "$handle" "$@"
}

# group_gone PGID: true once nothing but zombies is left in the process group, within 1 s (a
# killed orphan waits for init, which may take its time, to reap it).
group_gone() {
	local i
	for ((i = 0; i < 20; i++)); do
		ps -o stat= -g "$1" | grep -qv '^Z' || return 0
		sleep 0.05
	done
	return 1
}

in_server_ns() {
	nsenter --net="/proc/$(server_pid)/ns/net" "$@"
}

in_container_ns() {
	local pid=$1
	shift
	nsenter --net="/proc/$pid/ns/net" "$@"
}

@test "netplugin-shim: --help, --version and usage errors as every binary; its options in netplugin-shim(8)" {
	local v text missing=() f
	run --separate-stderr "$SHIM" --help
	assert_success
	[[ $output == *Usage:* ]] || fail "--help: $output"
	run --separate-stderr "$SHIM" serve --help
	assert_success
	v=$("$GDN_BUILD/bin/guardian" --version)
	run --separate-stderr "$SHIM" --version
	assert_success
	assert_equal "${output#netplugin-shim }" "${v#guardian }"
	run --separate-stderr "$SHIM" --no-such-flag
	assert_failure 2
	[[ $stderr == *"Try 'netplugin-shim --help'."* ]] || fail "usage error: $stderr"
	run --separate-stderr "$SHIM" --socket "$NPS_SOCK" --action up
	assert_failure 2
	[[ $stderr == *"--action and --handle are required"* ]] || fail "$stderr"
	run --separate-stderr "$SHIM" serve --socket "$NPS_SOCK"
	assert_failure 2
	[[ $stderr == *"--plugin-path is required"* ]] || fail "$stderr"
	run --separate-stderr "$SHIM" serve --socket "$NPS_SOCK" --plugin-path "$FAKE_CNI" --socket-mode 0999
	assert_failure 2
	run --separate-stderr "$SHIM" serve --socket "$NPS_SOCK" --plugin-path "$FAKE_CNI" --timeout soon
	assert_failure 2
	text=$(sed -e 's/\\-/-/g' -e 's/\\(hy/-/g' -e 's/\\f[BIRP]//g' "$GDN_MAN_DIR/netplugin-shim.8")
	for f in $("$SHIM" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
		grep -qF -- "$f" <<<"$text" || missing+=("$f")
	done
	((${#missing[@]} == 0)) || fail "not in netplugin-shim(8): ${missing[*]}"
}

@test "netplugin-shim serve: a plugin that is not there is reported at start-up" {
	run --separate-stderr "$SHIM" serve --socket "$NPS_SOCK" --plugin-path "$GDN_TMP/no-such-plugin"
	assert_failure 1
	[[ $stderr == *'"message":"netplugin-shim.plugin-not-found"'* ]] || fail "$stderr"
	[[ ! -e $NPS_SOCK ]]
}

@test "up through the shim: Pid 0 and the netns as fd 3; the veth is in the container's netns; the reply on stdout" {
	local ctr ip input
	start_server
	ctr=$(new_container)
	input="{\"Pid\":$ctr,\"Properties\":{\"app_id\":\"a\",\"log_config\":\"{}\"},\"netin\":[{\"host_port\":0,\"container_port\":8080}]}"
	run --separate-stderr client up ctr-up "$input"
	assert_success
	ip=$(jq -r '.properties["garden.network.container-ip"]' <<<"$output")
	[[ $ip =~ ^10\.254\.128\.[0-9]+$ ]] || fail "no container IP in: $output"
	assert_equal "$(jq -c '.dns_servers' <<<"$output")" "[\"$ip\"]"
	assert_equal "$(jq -c '.search_domains' <<<"$output")" '["garden.test"]'
	assert_equal "$(jq -r '.properties["garden.network.host-ip"]' <<<"$output")" 255.255.255.255

	# what the plugin got: its args, stdin with Pid 0 (every other byte as sent), the netns
	assert_equal "$(cat "$NPS_STATE/up.ctr-up.argv")" "--state-dir $NPS_STATE --action up --handle ctr-up"
	assert_equal "$(cat "$NPS_STATE/up.ctr-up.stdin")" "${input/\"Pid\":$ctr/\"Pid\":0}"
	assert_equal "$(cat "$NPS_STATE/up.ctr-up.fd3")" "$(readlink "/proc/$ctr/ns/net")"

	# the container end really is in the container's namespace, the host end in the server's
	run in_container_ns "$ctr" ip -o addr show
	assert_success
	assert_output --partial "inet $ip/32"
	run in_server_ns ip -o addr show
	assert_output --partial "inet 10.254.128.1/32"
	# ... and not on this host
	run ip -o link show
	refute_output --regexp ' fc[0-9]+[hc][@:]'
	# they reach each other over it
	run in_container_ns "$ctr" busybox ping -c 1 -W 2 10.254.128.1
	assert_success
	run in_server_ns busybox ping -c 1 -W 2 "$ip"
	assert_success
	# the server logged the run and the plugin's start
	grep -q '"message":"netplugin-shim.serve.run.finished".*"handle":"ctr-up"' "$NPS_LOG"
}

@test "down through the shim removes the veth; without a netns the plugin's fd 3 is /dev/null" {
	local ctr cif
	start_server
	ctr=$(new_container)
	run --separate-stderr client up ctr-down "{\"Pid\":$ctr,\"Properties\":{}}"
	assert_success
	cif=$(jq -r '.properties["garden.network.interface"]' <<<"$output")
	run in_container_ns "$ctr" ip -o link show
	assert_output --partial "$cif"

	run --separate-stderr client down ctr-down null
	assert_success
	assert_output ''
	assert_equal "$(cat "$NPS_STATE/down.ctr-down.stdin")" null
	assert_equal "$(cat "$NPS_STATE/down.ctr-down.fd3")" /dev/null
	run in_container_ns "$ctr" ip -o link show
	refute_output --partial "$cif"
	run in_server_ns ip -o link show
	refute_output --regexp ' fc[0-9]+h[@:]'
}

@test "net-in, net-out and bulk-net-out: stdin passed as it is, no netns, the reply on stdout" {
	local in='{"HostIP":"1.2.3.4","HostPort":0,"ContainerIP":"10.254.128.2","ContainerPort":8080}'
	local out='{"container_ip":"10.254.128.2","netout_rule":{"protocol":1,"ports":[{"start":443,"end":443}]}}'
	local bulk='{"container_ip":"10.254.128.2","netout_rules":[{"protocol":1},{"protocol":2}]}'
	start_server
	run --separate-stderr client net-in h-net "$in"
	assert_success
	assert_output '{"host_port":62001,"container_port":8080}'
	assert_equal "$(cat "$NPS_STATE/net-in.h-net.stdin")" "$in"
	assert_equal "$(cat "$NPS_STATE/net-in.h-net.fd3")" /dev/null
	run --separate-stderr client net-out h-net "$out"
	assert_success
	assert_output ''
	assert_equal "$(cat "$NPS_STATE/net-out.h-net.stdin")" "$out"
	run --separate-stderr client bulk-net-out h-net "$bulk"
	assert_success
	assert_equal "$(cat "$NPS_STATE/bulk-net-out.h-net.stdin")" "$bulk"
	# the log has every invocation with its stdin
	run grep -c '^net-in h-net \|^net-out h-net \|^bulk-net-out h-net ' "$NPS_STATE/log"
	assert_output 3
}

@test "a plugin failure: the client exits 1 with the plugin's message; bad requests run nothing" {
	start_server --plugin-arg --fail --plugin-arg up
	local ctr
	ctr=$(new_container)
	run --separate-stderr client up ctr-fail "{\"Pid\":$ctr}"
	assert_failure 1
	assert_output ''
	assert_equal "$stderr" "external networker encountered an error running 'up' action: exit status 1: fake-cni: up failed as asked (--fail)"
	# the plugin's stderr is in the server's log
	grep -q '"output":"fake-cni: up failed as asked (--fail)"' "$NPS_LOG"

	run --separate-stderr client down ../etc null
	assert_failure 1
	[[ $stderr == "invalid handle '../etc'"* ]] || fail "$stderr"
	run --separate-stderr client reboot h null
	assert_failure 1
	assert_equal "$stderr" "unknown action 'reboot'"
	# up's stdin must be UpInputs, its Pid a process
	run --separate-stderr client up h '{"Pid":"1"}'
	assert_failure 1
	assert_equal "$stderr" "json: cannot unmarshal string into Go struct field UpInputs.Pid of type int"
	run --separate-stderr client up h '{"Pid":999999999}'
	assert_failure 1
	[[ $stderr == "open /proc/999999999/ns/net: No such file or directory" ]] || fail "$stderr"
	[[ ! -e $NPS_STATE/down...etc.stdin && ! -e $NPS_STATE/reboot.h.stdin && ! -e $NPS_STATE/up.h.stdin ]]
	# a server that is not there
	run --separate-stderr "$SHIM" --socket "$GDN_TMP/none.sock" --action down --handle h </dev/null
	assert_failure 1
	[[ $stderr == "netplugin-shim server at '$GDN_TMP/none.sock': "* ]] || fail "$stderr"
}

@test "the socket's mode: 0600 unless --socket-mode says otherwise" {
	start_server
	assert_equal "$(stat -c %a "$NPS_SOCK")" 600
	start_server --socket-mode 0622
	assert_equal "$(stat -c %a "$NPS_SOCK")" 622
}

@test "a peer that is neither root nor the server's user is refused, and nothing runs" {
	local as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups "$GDN_TMP/netplugin-shim")
	# 0600: it cannot even connect
	start_server
	run --separate-stderr "${as_nobody[@]}" --socket "$NPS_SOCK" --action down --handle h-nobody <<<null
	assert_failure 1
	[[ $stderr == *"Permission denied"* ]] || fail "$stderr"
	# 0666: it connects, and the server closes the connection at once
	start_server --socket-mode 0666
	run --separate-stderr "${as_nobody[@]}" --socket "$NPS_SOCK" --action down --handle h-nobody <<<null
	assert_failure 1
	[[ $stderr == *"hung up without a reply"* ]] || fail "$stderr"
	grep -q '"message":"netplugin-shim.serve.peer-refused"' "$NPS_LOG"
	[[ ! -e $NPS_STATE/down.h-nobody.stdin ]] || fail "the plugin ran for nobody"
	# root still gets served
	run --separate-stderr client down h-root null
	assert_success
}

@test "requests proceed at once: a slow plugin holds up only its own request; the deadline kills it" {
	local start elapsed slow_pid
	start_server --plugin-arg --slow --plugin-arg net-out --timeout 10s
	client net-out h-slow '{}' >"$GDN_TMP/slow.out" 2>&1 3>&- &
	slow_pid=$!
	sleep 0.3
	start=$(date +%s%N)
	run --separate-stderr client net-in h-quick '{"HostPort":7,"ContainerPort":8}'
	assert_success
	assert_output '{"host_port":7,"container_port":8}'
	elapsed=$((($(date +%s%N) - start) / 1000000))
	((elapsed < 2000)) || fail "net-in waited ${elapsed} ms behind a slow net-out"
	wait "$slow_pid" || fail "the slow net-out failed: $(cat "$GDN_TMP/slow.out")"

	start_server --plugin-arg --slow --plugin-arg net-out --timeout 1s
	start=$(date +%s%N)
	run --separate-stderr client net-out h-late '{}'
	assert_failure 1
	assert_equal "$stderr" "external networker encountered an error running 'net-out' action: '$FAKE_CNI' did not exit within 1s: killed"
	elapsed=$((($(date +%s%N) - start) / 1000000))
	((elapsed < 2900)) || fail "the deadline took ${elapsed} ms"
	# the plugin's process group (it leads it) went with it: its `sleep 3` is dead well
	# before it would have ended
	group_gone "$(cat "$NPS_STATE/net-out.h-late.pid")" || fail "the plugin's sleep lives on"
}

@test "SIGTERM: the server finishes the run in flight, removes its socket and exits 0" {
	local pid client_pid
	start_server --plugin-arg --slow --plugin-arg net-out
	pid=$(server_pid)
	client net-out h-term '{}' >"$GDN_TMP/term.out" 2>&1 3>&- &
	client_pid=$!
	sleep 0.5
	kill -TERM "$pid"
	sleep 0.3
	[[ ! -e $NPS_SOCK ]] || fail "the socket is still there"
	pid_alive "$pid" || fail "the server did not wait for its run"
	wait "$client_pid" || fail "the run in flight failed: $(cat "$GDN_TMP/term.out")"
	wait_pid_gone "$pid" 50
	grep -q '"message":"netplugin-shim.serve.stopped"' "$NPS_LOG"
}
