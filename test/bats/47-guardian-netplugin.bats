#!/usr/bin/env bats
# guardian with an external network plugin (--network-plugin, internals §12): our CNI-style
# test plugin test/netplugin/fake-cni, run by guardian itself and through netplugin-shim. The
# plugin makes real veth pairs (10.254.128.0/24, behind the suite's FORWARD guard).

load helpers/common

FAKE_CNI=$(cd "$BATS_TEST_DIRNAME/../netplugin" && pwd)/fake-cni
SHIM=$GDN_BUILD/bin/netplugin-shim

setup_file() {
	gdn_setup_tmp
	export CNI_STATE=$GDN_TMP/cni SHIM_SOCK=$GDN_TMP/shim.sock
	mkdir -p "$CNI_STATE"
	start_plugin_guardian
}

teardown_file() {
	gdn_teardown_file
	stop_shim
}

teardown() {
	if [[ -z ${BATS_TEST_COMPLETED:-} ]]; then
		show_log_tail
		destroy_all
	fi
}

start_plugin_guardian() {
	start_guardian --network-plugin "$FAKE_CNI" --network-plugin-extra-arg=--state-dir \
		--network-plugin-extra-arg="$CNI_STATE" "$@"
}

stop_shim() {
	local pid
	pid=$(cat "$GDN_TMP/shim.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	wait_pid_gone "$pid" 50 || kill -KILL "$pid" 2>/dev/null || true
	rm -f "$GDN_TMP/shim.pid"
}

info_field() {
	api_req GET "/containers/$1/info"
	jq -r ".$2" <<<"$API_BODY"
}

@test "create runs the plugin's up with UpInputs; its properties, DNS and search domains are the container's" {
	create_container np-a '{"properties":{"network.app_id":"app-1","log_config":"{\"guid\":\"g\"}","other":"x"},"netin":[{"host_port":0,"container_port":8080}],"netout_rules":[{"protocol":1,"ports":[{"start":443,"end":443}]}]}'
	local ip pid
	ip=$(info_field np-a ContainerIP)
	[[ $ip =~ ^10\.254\.128\.[0-9]+$ ]] || fail "ContainerIP '$ip'"
	assert_equal "$(info_field np-a HostIP)" 255.255.255.255
	[[ -n $(info_field np-a ExternalIP) ]] || fail "no ExternalIP"
	assert_equal "$(info_field np-a 'Properties["garden.network.interface"]')" "$(awk '{ print $2 }' "$CNI_STATE/net.np-a")"
	pid=$(init_pid np-a)
	# argv: the extra args, then --action and --handle
	assert_equal "$(cat "$CNI_STATE/up.np-a.argv")" "--state-dir $CNI_STATE --action up --handle np-a"
	run jq -cS . "$CNI_STATE/up.np-a.stdin"
	assert_output "$(jq -cnS --argjson pid "$pid" '{Pid: $pid,
		Properties: {app_id: "app-1", log_config: "{\"guid\":\"g\"}"},
		netout_rules: [{protocol: 1, ports: [{start: 443, end: 443}]}],
		netin: [{host_port: 0, container_port: 8080}]}')"
	run rt_exec np-a cat /etc/resolv.conf
	assert_output "$(printf 'nameserver %s\nsearch garden.test' "$ip")"
	run rt_exec np-a cat /etc/hosts
	assert_output "$(printf '127.0.0.1 localhost\n%s np-a' "$ip")"
	# the veth is real: the host reaches a server in the container over it
	rt_exec np-a sh -c "mkdir -p /tmp/w && echo hi-np > /tmp/w/index.html"
	rt_exec_bg np-a httpd -f -p 8080 -h /tmp/w
	wait_until 50 rt_exec np-a sh -c "netstat -ltn | grep -q ':8080 '"
	run curl -s --max-time 3 "http://$ip:8080/"
	assert_output hi-np
	destroy_container np-a
	assert_equal "$(grep -c '^down np-a ' "$CNI_STATE/log")" 1
	[[ ! -e $CNI_STATE/net.np-a ]] || fail "veth left: $(cat "$CNI_STATE/net.np-a")"
}

@test "NetIn, NetOut and BulkNetOut go to the plugin with the container's IP" {
	create_container np-n
	local ip
	ip=$(info_field np-n ContainerIP)
	api_req POST /containers/np-n/net/in '{"handle":"np-n","container_port":8080}'
	assert_api 200 '{"host_port":62001,"container_port":8080}'
	run jq -cS . "$CNI_STATE/net-in.np-n.stdin"
	assert_output "$(jq -cnS --arg ip "$ip" --arg ext "$(info_field np-n ExternalIP)" \
		'{HostIP: $ext, HostPort: 0, ContainerIP: $ip, ContainerPort: 8080}')"
	assert_equal "$(info_field np-n MappedPorts | jq -c .)" '[{"HostPort":62001,"ContainerPort":8080}]'
	api_req POST /containers/np-n/net/out '{"protocol":2,"networks":[{"start":"10.254.128.1"}]}'
	assert_api 200 '{}'
	run jq -cS . "$CNI_STATE/net-out.np-n.stdin"
	assert_output "$(jq -cnS --arg ip "$ip" '{container_ip: $ip, netout_rule: {protocol: 2, networks: [{start: "10.254.128.1"}]}}')"
	api_req POST /containers/np-n/net/out/bulk '[{"protocol":1},{"protocol":2}]'
	assert_api 200 '{}'
	run jq -cS . "$CNI_STATE/bulk-net-out.np-n.stdin"
	assert_output "$(jq -cnS --arg ip "$ip" '{container_ip: $ip, netout_rules: [{protocol: 1}, {protocol: 2}]}')"
	destroy_container np-n
}

@test "a plugin that fails up fails the create with Garden's message, and nothing is left" {
	start_plugin_guardian --network-plugin-extra-arg=--fail --network-plugin-extra-arg=up
	api_req POST /containers '{"handle":"np-f"}'
	assert_garden_error 500 "" "external networker encountered an error running 'up' action: exit status 1"
	assert_no_leaks np-f
	# create's undo ran the plugin's down
	assert_equal "$(grep -c '^down np-f ' "$CNI_STATE/log")" 1
	start_plugin_guardian
}

@test "capacity with a plugin has no network limit; --max-containers caps it" {
	api_req GET /capacity
	# (jq would round it: the body's text)
	assert_equal "$(grep -o '"max_containers":[0-9]*' <<<"$API_BODY")" '"max_containers":18446744073709551615'
	start_plugin_guardian --max-containers 7
	api_req GET /capacity
	assert_equal "$(jq -r .max_containers <<<"$API_BODY")" 7
	start_plugin_guardian
}

@test "through netplugin-shim: the plugin gets Pid 0 and the container's netns as fd 3" {
	local shim_state=$GDN_TMP/cni-shim
	mkdir -p "$shim_state"
	"$SHIM" serve --socket "$SHIM_SOCK" --plugin-path "$FAKE_CNI" --plugin-arg --state-dir \
		--plugin-arg "$shim_state" --log-level debug 2>>"$GDN_TMP/shim.log" &
	echo $! >"$GDN_TMP/shim.pid"
	wait_until 50 test -S "$SHIM_SOCK"
	start_guardian --network-plugin "$SHIM" --network-plugin-extra-arg=--socket \
		--network-plugin-extra-arg="$SHIM_SOCK"
	create_container np-s
	local ip pid
	ip=$(info_field np-s ContainerIP)
	pid=$(init_pid np-s)
	assert_equal "$(jq -r .Pid "$shim_state/up.np-s.stdin")" 0
	assert_equal "$(cat "$shim_state/up.np-s.fd3")" "$(readlink "/proc/$pid/ns/net")"
	run nsenter -t "$pid" -n ip -o -4 addr
	assert_output --partial "inet $ip/32"
	api_req POST /containers/np-s/net/in '{"handle":"np-s","host_port":61500,"container_port":80}'
	assert_api 200 '{"host_port":61500,"container_port":80}'
	destroy_container np-s
	[[ ! -e $shim_state/net.np-s ]] || fail "the shim's plugin did not take the veth down"
	stop_shim
	start_plugin_guardian
}
