#!/usr/bin/env bats
# Networking through kawasaki: real veths, bridges and legacy iptables rules. Every address
# used is a container's or the host's own; the host FORWARD guard (scripts/net-guard) drops
# anything forwarded beyond 10.254.0.0/16, and the default --deny-network 0.0.0.0/0 rejects
# it before that.

load helpers/common

setup_file() {
	gdn_setup_file
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	# a host server a failed test left running (ours, by its PID)
	if [[ -f $GDN_TMP/http.pid ]]; then
		kill "$(cat "$GDN_TMP/http.pid")" 2>/dev/null || true
		rm -f "$GDN_TMP/http.pid"
	fi
	gdn_teardown
}

# iptables-legacy-save without counters and comments (what the tables hold, not their traffic)
ipt_save() {
	iptables-legacy-save | sed -E '/^#/d; s/ \[[0-9]+:[0-9]+\]$//'
}

host_links() {
	ip -o link | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
}

info_field() {
	api_req GET "/containers/$1/info"
	jq -r ".$2" <<<"$API_BODY"
}

# the host's default-route source address: kawasaki's ExternalIP
external_ip() {
	local dev
	dev=$(ip -4 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1); exit }')
	ip -o -4 addr show dev "$dev" | awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}

# serve_http HANDLE PORT: busybox httpd in the container answering "hello-from-HANDLE"
serve_http() {
	rt_exec "$1" sh -c "mkdir -p /tmp/www && echo hello-from-$1 >/tmp/www/index.html"
	rt_exec_bg "$1" httpd -f -p "$2" -h /tmp/www
	wait_until 50 rt_exec "$1" sh -c "netstat -ltn | grep -q ':$2 '"
}

# fetch_from HANDLE IP PORT: an HTTP GET with nc inside the container (2 s timeout); prints the
# body's line. (busybox-static's wget crashes in its static getaddrinfo.)
fetch_from() {
	local out
	out=$(rt_exec "$1" sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 $2 $3") || return 1
	grep '^hello-from-' <<<"$out"
}

kawasaki_has() {
	kawasaki list | awk -v h="$1" '$1 == h { found = 1 } END { exit !found }'
}

instance_chains() {
	iptables-legacy-save | grep -c '^:w--instance-' || true
}

@test "a container gets its address, route, hosts, resolv.conf and Info's network fields" {
	create_container net-a
	local ip gw ext
	ip=$(info_field net-a ContainerIP)
	gw=$(info_field net-a HostIP)
	ext=$(info_field net-a ExternalIP)
	[[ $ip =~ ^10\.254\.[0-3]\.[0-9]+$ ]] || fail "ContainerIP '$ip'"
	assert_equal "$ext" "$(external_ip)"
	api_req GET /containers/net-a/info
	assert_equal "$(jq -c .MappedPorts <<<"$API_BODY")" '[]'
	assert_equal "$(jq -r '.Properties["kawasaki.subnet"]' <<<"$API_BODY")" "${gw%.*}.$((${gw##*.} - 1))/30"
	assert_equal "$(jq -r '.Properties["kawasaki.iptable-prefix"]' <<<"$API_BODY")" "w--"
	local id
	id=$(jq -r '.Properties["kawasaki.iptable-inst"]' <<<"$API_BODY")
	[[ $id =~ ^[0-9a-v]{11}$ ]] || fail "instance id '$id'"
	assert_equal "$(jq -r '.Properties["kawasaki.host-interface"]' <<<"$API_BODY")" "w$id-0"

	run rt_exec net-a ip -o -4 addr show dev "w$id-1"
	assert_output --partial "inet $ip/30"
	run rt_exec net-a ip route
	assert_output --partial "default via $gw"
	run rt_exec net-a cat /etc/hosts
	assert_output "$(printf '127.0.0.1 localhost\n%s net-a' "$ip")"
	# the host uses a local resolver (127.0.0.53): the container asks its gateway, this host
	run rt_exec net-a cat /etc/resolv.conf
	assert_output "nameserver $gw"
	run rt_exec net-a hostname
	assert_output net-a
	# the bridge holds the gateway address
	local br
	br=$(info_field net-a 'Properties["kawasaki.bridge-interface"]')
	local sub=${gw%.*}.$((${gw##*.} - 1))
	assert_equal "$br" "wbrdg-$(printf '%02x' ${sub//./ })"
	run ip -o -4 addr show dev "$br"
	assert_output --partial "inet $gw/30"
	# no NetIn, no logging rule: no nat instance chain, no -log chain (made when needed)
	run bash -c "iptables-legacy-save -t nat | grep -c -- 'w--instance-$id' || true"
	assert_output 0
	run bash -c "iptables-legacy-save -t filter | grep -c -- 'w--instance-$id-log' || true"
	assert_output 0
	destroy_container net-a
	run bash -c "iptables-legacy-save | grep -c -- 'w--instance-$id' || true"
	assert_output 0
}

@test "the host reaches a server in a container" {
	create_container net-srv
	serve_http net-srv 8080
	run curl -s --max-time 3 "http://$(info_field net-srv ContainerIP):8080/"
	assert_success
	assert_output hello-from-net-srv
	destroy_container net-srv
}

@test "NetIn: host port 0 takes the pool's next port; the server is reached via the external IP" {
	create_container net-in
	serve_http net-in 8080
	local id
	id=$(info_field net-in 'Properties["kawasaki.iptable-inst"]')
	run bash -c "iptables-legacy-save -t nat | grep -c -- 'w--instance-$id' || true"
	assert_output 0
	api_req POST /containers/net-in/net/in '{"handle":"net-in","container_port":8080}'
	assert_api 200 '{"host_port":61001,"container_port":8080}'
	# the first NetIn made the nat chain and its jump
	run bash -c "iptables-legacy-save -t nat | grep -- 'w--instance-$id'"
	assert_line --regexp "^:w--instance-$id "
	assert_line --regexp "^-A w--prerouting .*-j w--instance-$id\$"
	assert_line --regexp "^-A w--instance-$id .*--dport 61001 .*-j DNAT"
	run curl -s --max-time 3 "http://$(external_ip):61001/"
	assert_success
	assert_output hello-from-net-in
	# container port 0 means the host port
	api_req POST /containers/net-in/net/in '{"handle":"net-in","host_port":62000}'
	assert_api 200 '{"host_port":62000,"container_port":62000}'
	assert_equal "$(info_field net-in MappedPorts | jq -c .)" \
		'[{"HostPort":61001,"ContainerPort":8080},{"HostPort":62000,"ContainerPort":62000}]'
	api_req GET /containers/net-in/properties/garden.network.mapped-ports
	assert_equal "$API_STATUS" 200
	destroy_container net-in
	# the DNAT went with the container
	run bash -c "iptables-legacy-save -t nat | grep -c 'dport 61001' || true"
	assert_output 0
}

@test "NetIn and NetOut given in the spec are in place when create returns" {
	create_container net-spec '{"netin":[{"host_port":0,"container_port":8080}],"netout_rules":[{"protocol":1,"networks":[{"start":"10.254.3.250","end":"10.254.3.251"}],"ports":[{"start":80,"end":90}]}]}'
	assert_equal "$(info_field net-spec MappedPorts | jq -c '.[0].ContainerPort')" 8080
	run kawasaki rules net-spec
	assert_success
	assert_output --partial "-p tcp -m iprange --dst-range 10.254.3.250-10.254.3.251 -m tcp --dport 80:90"
	assert_output --partial "-j DNAT --to-destination $(info_field net-spec ContainerIP):8080"
	destroy_container net-spec
}

@test "containers that share a subnet reach each other over its bridge" {
	create_container net-s1 '{"network":"10.254.8.0/29"}'
	create_container net-s2 '{"network":"10.254.8.5/29"}'
	assert_equal "$(info_field net-s1 ContainerIP)" 10.254.8.2
	assert_equal "$(info_field net-s2 ContainerIP)" 10.254.8.5
	assert_equal "$(info_field net-s2 HostIP)" 10.254.8.1
	serve_http net-s2 8080
	run fetch_from net-s1 10.254.8.5 8080
	assert_success
	assert_output hello-from-net-s2
	destroy_container net-s1
	# the bridge stays while the subnet has a container
	run ip link show wbrdg-0afe0800
	assert_success
	destroy_container net-s2
	run ip link show wbrdg-0afe0800
	assert_failure
}

@test "NetOut: another subnet is rejected until a rule allows it, by port range and by ICMP type" {
	create_container net-cli
	create_container net-dst
	local dst
	dst=$(info_field net-dst ContainerIP)
	serve_http net-dst 8080
	serve_http net-dst 9090
	run fetch_from net-cli "$dst" 8080
	assert_failure
	run rt_exec net-cli ping -c 1 -W 1 "$dst"
	assert_failure

	api_req POST /containers/net-cli/net/out "{\"protocol\":1,\"networks\":[{\"start\":\"$dst\",\"end\":\"$dst\"}],\"ports\":[{\"start\":8000,\"end\":8100}]}"
	assert_api 200 '{}'
	run fetch_from net-cli "$dst" 8080
	assert_success
	assert_output hello-from-net-dst
	run fetch_from net-cli "$dst" 9090
	assert_failure
	run rt_exec net-cli ping -c 1 -W 1 "$dst"
	assert_failure

	api_req POST /containers/net-cli/net/out "{\"protocol\":3,\"networks\":[{\"start\":\"$dst\"}],\"icmps\":{\"type\":8,\"code\":0},\"log\":true}"
	assert_api 200 '{}'
	run rt_exec net-cli ping -c 1 -W 2 "$dst"
	assert_success
	run kawasaki rules net-cli
	assert_output --partial "-p icmp -m icmp --icmp-type 8/0"
	assert_output --partial "-g w--instance-$(info_field net-cli 'Properties["kawasaki.iptable-inst"]')-log"
	assert_output --partial "-A w--instance-$(info_field net-cli 'Properties["kawasaki.iptable-inst"]')-log -m conntrack --ctstate INVALID,NEW,UNTRACKED"
	destroy_container net-cli
	destroy_container net-dst
}

@test "BulkNetOut of 3000 rules is applied in one request" {
	create_container net-bulk
	local rules
	rules=$(jq -cn '[range(3000) | {protocol: 1, networks: [{start: "10.254.9.\(. % 250 + 1)"}], ports: [{start: (1000 + .), end: (1000 + .)}]}]')
	# (too long for an argument: from a file)
	printf '%s' "$rules" >"$GDN_TMP/rules.json"
	run curl -s -o "$GDN_TMP/bulk.out" -w '%{http_code}' --unix-socket "$GDN_SOCK" -X POST \
		-H 'Content-Type: application/json' --data-binary @"$GDN_TMP/rules.json" \
		http://api/containers/net-bulk/net/out/bulk
	assert_output 200
	assert_equal "$(cat "$GDN_TMP/bulk.out")" '{}'
	local id
	id=$(info_field net-bulk 'Properties["kawasaki.iptable-inst"]')
	run bash -c "iptables-legacy-save -t filter | grep -c -- '-A w--instance-$id -d'"
	assert_output 3000
	# later rules win: the last one is first
	run bash -c "iptables-legacy-save -t filter | grep -m1 -- '-A w--instance-$id '"
	assert_output --partial "--dport 3999"
	destroy_container net-bulk
	assert_equal "$(instance_chains)" 0
}

@test "bad network input is Garden's error and allocates nothing" {
	create_container net-keep
	local before_list before_ipt
	before_list=$(kawasaki list)
	before_ipt=$(ipt_save)
	api_req POST /containers '{"handle":"net-bad1","network":"10.254.1.0/24"}'
	assert_garden_error 500 "" 'the requested subnet \(10\.254\.1\.0/24\) overlaps the dynamic allocation range \(10\.254\.0\.0/22\)'
	api_req POST /containers '{"handle":"net-bad2","network":"10.254.300.0/30"}'
	assert_garden_error 500 "" 'invalid CIDR address: 10\.254\.300\.0/30'
	api_req POST /containers '{"handle":"net-bad3","network":"10.254.8.1/29"}'
	assert_garden_error 500 "" 'a container IP must not equal the gateway IP'
	api_req POST /containers '{"handle":"net-bad4","netout_rules":[{"protocol":3,"ports":[{"start":80,"end":80}]}]}'
	assert_garden_error 500 "" 'Ports cannot be specified for Protocol ICMP'
	api_req POST /containers '{"handle":"net-bad5","netout_rules":[{"protocol":4}]}'
	assert_garden_error 500 "" 'invalid protocol: 4'
	api_req POST /containers/net-keep/net/out '{"protocol":0,"ports":[{"start":1,"end":2}]}'
	assert_garden_error 500 "" 'Ports cannot be specified for Protocol ALL'
	local h
	for h in net-bad1 net-bad2 net-bad3 net-bad4 net-bad5; do
		assert_no_leaks "$h"
	done
	assert_equal "$(kawasaki list)" "$before_list"
	assert_equal "$(ipt_save)" "$before_ipt"
	destroy_container net-keep
}

@test "a pool or port pool that is used up is Garden's error, and nothing is left" {
	start_guardian --network-pool 10.254.0.0/29 --port-pool-start 61001 --port-pool-size 1
	api_req GET /capacity
	assert_equal "$(jq -r .max_containers <<<"$API_BODY")" 2
	create_container net-p1
	create_container net-p2 '{"netin":[{"host_port":0,"container_port":80}]}'
	api_req POST /containers '{"handle":"net-p3"}'
	assert_garden_error 500 "" 'insufficient subnets remaining in the pool'
	assert_no_leaks net-p3
	api_req POST /containers/net-p1/net/in '{"handle":"net-p1","container_port":80}'
	assert_garden_error 500 "" 'port pool is exhausted'
	assert_equal "$(info_field net-p1 MappedPorts | jq -c .)" '[]'
	destroy_container net-p2
	# its port went back to the pool
	api_req POST /containers/net-p1/net/in '{"handle":"net-p1","container_port":80}'
	assert_api 200 '{"host_port":61001,"container_port":80}'
	destroy_container net-p1
	start_guardian
}

@test "destroy removes every rule, link and allocation, the MASQUERADE rule and the bridge too" {
	local before_ipt before_links
	before_ipt=$(ipt_save)
	before_links=$(host_links)
	create_container net-d '{"netin":[{"host_port":0,"container_port":80}],"netout_rules":[{"protocol":2,"networks":[{"start":"10.254.3.1"}],"log":true}]}'
	run bash -c "iptables-legacy-save -t nat | grep -c MASQUERADE"
	assert_output 1
	destroy_container net-d
	assert_equal "$(ipt_save)" "$before_ipt"
	assert_equal "$(host_links)" "$before_links"
	assert_equal "$(kawasaki list)" ""
}

@test "kill -9 of kawasaki: guardian restarts it; networks and allocations are kept" {
	create_container net-k1
	serve_http net-k1 8080
	local ip k
	ip=$(info_field net-k1 ContainerIP)
	k=$(pgrep -P "$(guardian_pid)" -x kawasaki)
	[[ -n $k ]] || fail "no kawasaki child of guardian"
	kill -KILL "$k"
	run curl -s --max-time 3 "http://$ip:8080/"
	assert_output hello-from-net-k1
	# the restarted kawasaki knows net-k1's subnet: a new container gets another one
	wait_until 50 bash -c "pgrep -P $(guardian_pid) -x kawasaki >/dev/null"
	create_container net-k2
	[[ $(info_field net-k2 ContainerIP) != "$ip" ]] || fail "subnet handed out twice"
	run kawasaki list
	assert_line --partial "net-k1 "
	assert_line --partial "net-k2 "
	destroy_container net-k1
	destroy_container net-k2
	assert_equal "$(instance_chains)" 0
}

@test "kill -9 of guardian: networks survive, the restored container keeps its allocation" {
	create_container net-g1 '{"netin":[{"host_port":0,"container_port":8080}]}'
	serve_http net-g1 8080
	local ip port
	ip=$(info_field net-g1 ContainerIP)
	port=$(info_field net-g1 'MappedPorts[0].HostPort')
	kill9_guardian
	run curl -s --max-time 3 "http://$ip:8080/"
	assert_output hello-from-net-g1
	start_guardian
	assert_equal "$(info_field net-g1 ContainerIP)" "$ip"
	run curl -s --max-time 3 "http://$(external_ip):$port/"
	assert_output hello-from-net-g1
	create_container net-g2 '{"netin":[{"host_port":0,"container_port":8080}]}'
	[[ $(info_field net-g2 ContainerIP) != "$ip" ]] || fail "subnet handed out twice"
	[[ $(info_field net-g2 'MappedPorts[0].HostPort') != "$port" ]] || fail "port handed out twice"
	destroy_container net-g1
	destroy_container net-g2
}

@test "100 creates and destroys leave iptables-legacy-save and the host's links as they were" {
	local before_ipt before_links i
	create_container net-warm
	destroy_container net-warm
	before_ipt=$(ipt_save)
	before_links=$(host_links)
	for ((i = 0; i < 100; i++)); do
		api_req POST /containers "{\"handle\":\"net-c$i\",\"netin\":[{\"host_port\":0,\"container_port\":80}]}"
		assert_equal "$API_STATUS" 200
		api_req DELETE "/containers/net-c$i"
		assert_equal "$API_STATUS" 200
	done
	assert_equal "$(ipt_save)" "$before_ipt"
	assert_equal "$(host_links)" "$before_links"
	assert_equal "$(kawasaki list)" ""
}

@test "--destroy-containers-on-startup leaves no chains, links or allocations" {
	local before_links
	before_links=$(host_links)
	create_container net-x1
	create_container net-x2 '{"network":"10.254.8.0/29"}'
	kill9_guardian
	start_guardian --destroy-containers-on-startup
	wait_until 100 bash -c '[[ -z $(ls -A "$GDN_DEPOT") ]]'
	assert_equal "$(instance_chains)" 0
	assert_equal "$(host_links)" "$before_links"
	assert_equal "$(kawasaki list)" ""
	start_guardian
}

@test "kawasaki's cleanup removes what belongs to no live container" {
	create_container net-o1
	local id
	id=$(info_field net-o1 'Properties["kawasaki.iptable-inst"]')
	# the container dies behind guardian's back: its veth goes with its netns
	rt delete --force net-o1
	run kawasaki cleanup
	assert_success
	assert_output --partial "removed container net-o1"
	run bash -c "iptables-legacy-save | grep -c 'w--instance-$id' || true"
	assert_output 0
	api_req DELETE /containers/net-o1
	assert_api 200 '{}'
}

@test "the rules are committed while the runtime creates the container; a create failing then leaves none" {
	local before_ipt before_links out=$BATS_TEST_TMPDIR/create host_if
	start_gated_guardian
	before_ipt=$(ipt_save)
	before_links=$(host_links)
	note_handle net-pre
	gate_hold run net-pre
	bg_start api POST /containers '{"handle":"net-pre","netin":[{"host_port":0,"container_port":80}]}' >"$out"
	gate_wait_entered run net-pre || fail "the create never reached the runtime"
	# kawasaki's prepare: allocation and rules, no link until the namespace exists
	wait_until 100 kawasaki_has net-pre ||
		fail "no allocation while the runtime runs"
	host_if=$(kawasaki list | awk '$1 == "net-pre" { print $5 }')
	run kawasaki rules net-pre
	assert_output --partial "-j DNAT --to-destination"
	assert_output --partial "-A w--instance-"
	run ip link show "$host_if"
	assert_failure
	gate_release run net-pre
	bg_wait
	assert_equal "$(head -n 1 "$out")" '{"Handle":"net-pre"}'
	ip link show "$host_if" >/dev/null || fail "no host veth $host_if after create"
	[[ $(info_field net-pre ContainerIP) =~ ^10\.254\. ]] || fail "no ContainerIP"
	destroy_container net-pre
	# the runtime fails after the prepare: the undo takes the rules back
	note_handle net-pre2
	gate_hold run net-pre2
	gate_fail run net-pre2
	bg_start api POST /containers '{"handle":"net-pre2","netout_rules":[{"protocol":1,"networks":[{"start":"10.254.3.1"}]}]}' >"$out"
	gate_wait_entered run net-pre2 || fail "the create never reached the runtime"
	wait_until 100 kawasaki_has net-pre2 ||
		fail "no allocation while the runtime runs"
	gate_release run net-pre2
	bg_wait
	[[ $(tail -n 1 "$out") == 500 ]] || fail "create: $(<"$out")"
	assert_no_leaks net-pre2
	assert_equal "$(kawasaki list)" ""
	assert_equal "$(ipt_save)" "$before_ipt"
	assert_equal "$(host_links)" "$before_links"
	start_guardian
}

@test "kawasaki --help, --version and its man page" {
	run "$KAWASAKI_BIN" --help
	assert_success
	assert_output --partial "Usage: kawasaki [--config FILE] serve [OPTIONS]"
	run "$KAWASAKI_BIN" --version
	assert_output --regexp '^kawasaki [0-9]'
	run "$KAWASAKI_BIN" serve --tag ab
	assert_failure 2
	assert_output --partial "--tag: 'ab' must be one letter or digit"
	[[ -f $GDN_MAN_DIR/kawasaki.8 ]] || fail "no man page"
}

@test "kawasaki --config FILE setup: the [kawasaki] section's flags; global chains and forwarding, no daemon" {
	local ini=$GDN_TMP/kawasaki.ini
	{
		echo '[kawasaki]'
		echo 'tag = q'
		echo 'deny-network = 10.9.0.0/16'
		echo 'deny-network = 10.8.0.0/16'
		echo 'dns-server = 10.7.0.1'
		echo "socket = $GDN_TMP/kw-q.sock"
		echo 'log-level = debug'
	} >"$ini"
	run --separate-stderr "$KAWASAKI_BIN" --config "$ini" setup
	assert_success
	[[ $stderr == *kawasaki.setup.finished* ]] || fail "no setup.finished line: $stderr"
	[[ ! -e $GDN_TMP/kw-q.sock ]] || fail "setup left a socket (it serves nothing)"
	run iptables-legacy -S w-q-default
	assert_line -- "-A w-q-default -d 10.9.0.0/16 -j REJECT --reject-with icmp-port-unreachable"
	assert_line -- "-A w-q-default -d 10.8.0.0/16 -j REJECT --reject-with icmp-port-unreachable"
	run iptables-legacy -S w-q-input
	assert_output --partial "-d 10.7.0.1/32"
	assert_equal "$(cat /proc/sys/net/ipv4/ip_forward)" 1
	# flags override the file (a list as a whole); again is fine
	run "$KAWASAKI_BIN" setup --config="$ini" --deny-network 10.6.0.0/16
	assert_success
	run iptables-legacy -S w-q-default
	assert_line -- "-A w-q-default -d 10.6.0.0/16 -j REJECT --reject-with icmp-port-unreachable"
	refute_line --partial 10.9.0.0/16
	run "$KAWASAKI_BIN" --config "$ini" teardown
	assert_success
	run iptables-legacy -S w-q-input
	assert_failure
	# a bad file names its line; nothing is set up
	printf '[kawasaki]\ntag = r\nbogus = 1\n' >"$GDN_TMP/bad.ini"
	run --separate-stderr "$KAWASAKI_BIN" --config "$GDN_TMP/bad.ini" setup
	assert_failure 2
	assert_equal "${stderr%%$'\n'*}" "kawasaki: $GDN_TMP/bad.ini:3: unknown key 'bogus'"
	run iptables-legacy -S w-r-input
	assert_failure
}

@test "the host is closed to containers unless --allow-host-access; replies to the host's connections pass" {
	create_container net-h1
	local gw pid
	gw=$(info_field net-h1 HostIP)
	python3 -m http.server 18080 --bind "$gw" >/dev/null 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$GDN_TMP/http.pid"
	wait_until 50 bash -c "ss -ltn | grep -q '$gw:18080 '"
	run rt_exec net-h1 sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 $gw 18080"
	assert_output --partial "No route to host"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	destroy_container net-h1

	start_guardian --allow-host-access
	create_container net-h2
	gw=$(info_field net-h2 HostIP)
	python3 -m http.server 18080 --bind "$gw" >/dev/null 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$GDN_TMP/http.pid"
	wait_until 50 bash -c "ss -ltn | grep -q '$gw:18080 '"
	run rt_exec net-h2 sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 $gw 18080"
	assert_output --partial "200 OK"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	destroy_container net-h2
	start_guardian
}

@test "--deny-network= denies nothing: another subnet is reachable without NetOut; the default denies it" {
	start_guardian --deny-network=
	run bash -c "iptables-legacy-save -t filter | grep -c -- '-A w--default .*REJECT' || true"
	assert_output 0
	create_container net-open1
	create_container net-open2
	serve_http net-open2 8080
	run fetch_from net-open1 "$(info_field net-open2 ContainerIP)" 8080
	assert_success
	assert_output hello-from-net-open2
	destroy_container net-open1
	destroy_container net-open2
	start_guardian
	run bash -c "iptables-legacy-save -t filter | grep -c -- '-A w--default -j REJECT'"
	assert_output 1
}

@test "--dns-server, --additional-dns-server and --additional-host-entry reach the container's files" {
	start_guardian --dns-server 127.0.0.1 --additional-dns-server 127.0.0.2 \
		--additional-host-entry "127.0.0.9 registry.test"
	create_container net-dns
	run rt_exec net-dns cat /etc/resolv.conf
	assert_output "$(printf 'nameserver 127.0.0.1\nnameserver 127.0.0.2')"
	run rt_exec net-dns cat /etc/hosts
	assert_line --index 2 "127.0.0.9 registry.test"
	assert_equal "$(info_field net-dns 'Properties["kawasaki.dns-servers"]')" 127.0.0.1
	assert_equal "$(info_field net-dns 'Properties["kawasaki.host-entries"]')" "127.0.0.9 registry.test"
	# the DNS server is let in from containers (BulkNetOut's rule)
	run bash -c "iptables-legacy-save -t filter | grep -c -- '-A w--input -d 127.0.0.1/32 -j ACCEPT'"
	assert_output 1
	destroy_container net-dns
	start_guardian
}

@test "a kawasaki of its own (as a BPM job): guardian --kawasaki-socket uses it and starts none" {
	local ks=$GDN_TMP/kw-own pid
	"$KAWASAKI_BIN" serve --socket "$ks/k.sock" --state-dir "$ks" --log-level debug \
		2>>"$GDN_TMP/kw-own.log" &
	pid=$!
	wait_until 100 test -S "$ks/k.sock"
	start_guardian --kawasaki-socket "$ks/k.sock"
	run pgrep -P "$(guardian_pid)" -x kawasaki
	assert_failure
	create_container net-own
	run "$KAWASAKI_BIN" --socket "$ks/k.sock" list
	assert_output --partial "net-own $(info_field net-own 'Properties["kawasaki.subnet"]')"
	destroy_container net-own
	run "$KAWASAKI_BIN" --socket "$ks/k.sock" list
	assert_output ""
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	start_guardian
}

@test "kill -9 of kawasaki during concurrent creates: no address twice, nothing left of failed ones" {
	local i k pids=() ok=()
	for ((i = 0; i < 8; i++)); do
		api POST /containers "{\"handle\":\"net-r$i\"}" >"$GDN_TMP/r$i.out" 2>&1 &
		pids+=($!)
	done
	sleep 0.05
	k=$(pgrep -P "$(guardian_pid)" -x kawasaki)
	kill -KILL "$k"
	for i in "${pids[@]}"; do wait "$i" || true; done
	for ((i = 0; i < 8; i++)); do
		if [[ $(tail -n1 "$GDN_TMP/r$i.out") == 200 ]]; then
			ok+=("net-r$i")
		else
			assert_no_leaks "net-r$i"
		fi
	done
	# each live container has its own address, and kawasaki records exactly those
	local ips
	ips=$(for h in "${ok[@]}"; do info_field "$h" ContainerIP; done | sort)
	assert_equal "$(uniq <<<"$ips" | wc -l)" "${#ok[@]}"
	wait_until 50 bash -c "pgrep -P $(guardian_pid) -x kawasaki >/dev/null"
	assert_equal "$(kawasaki list | awk '{ print $1 }' | sort | tr '\n' ' ')" \
		"$(printf '%s\n' "${ok[@]}" | sed '/^$/d' | sort | tr '\n' ' ')"
	for h in "${ok[@]}"; do destroy_container "$h"; done
	assert_equal "$(instance_chains)" 0
}

@test "kawasaki's socket: bad requests get an error reply and change nothing" {
	create_container net-hz
	local before links
	before=$(ipt_save)
	links=$(ip -o link | grep -c .)
	run python3 - "$GDN_KAWASAKI_SOCK" <<'PY'
import json, socket, sys
def raw(b):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    s.send(b)
    r = s.recv(1 << 20)
    s.close()
    return json.loads(r)["error"]["message"]
for b in [b'{"op":"nope"}\n', b'{"op":"up","handle":"../../etc/x"}\n',
          b'{"op":"up","handle":"net-hz2"}\n', b'not json\n', b'{"op":"up","v":9}\n',
          b'{"op":"net-in","handle":"net-hz","host_port":70000}\n',
          b'{"op":"net-out","handle":"net-hz","rule":{"protocol":1,"networks":[{"start":"1.2.3"}]}}\n',
          b'{"op":"down","handle":"a/b"}\n']:
    print(raw(b))
# the host's own namespace as the container's (a client that raced its unshare)
import os
fd = os.open("/proc/self/ns/net", os.O_RDONLY)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
socket.send_fds(s, [b'{"op":"up","v":1,"handle":"net-hz3","network":""}\n'], [fd])
print(json.loads(s.recv(1 << 20))["error"]["message"])
PY
	assert_success
	assert_line --index 0 --partial "unknown request 'nope'"
	assert_line --index 1 --partial "invalid handle '../../etc/x'"
	assert_line --index 2 --partial "no network namespace was passed"
	assert_line --index 3 --partial "invalid"
	assert_line --index 4 --partial "request version 9 is newer"
	assert_line --index 5 --partial "invalid host_port"
	assert_line --index 6 --partial "invalid IP address: 1.2.3"
	assert_line --index 7 --partial "invalid handle 'a/b'"
	assert_line --index 8 --partial "the network namespace passed is kawasaki's own"
	assert_equal "$(ipt_save)" "$before"
	assert_equal "$(ip -o link | grep -c .)" "$links"
	run kawasaki list
	assert_output --partial "net-hz "
	[[ ! -e $GDN_KAWASAKI_STATE/etc ]] || fail "a record outside containers/"
	destroy_container net-hz
}

@test "--external-ip and --mtu: Info's ExternalIP, NetIn's DNAT address and the links' MTU" {
	start_guardian --external-ip 192.0.2.200 --mtu 1280
	create_container net-ext '{"netin":[{"host_port":0,"container_port":80}]}'
	assert_equal "$(info_field net-ext ExternalIP)" 192.0.2.200
	assert_equal "$(info_field net-ext 'Properties["kawasaki.mtu"]')" 1280
	run kawasaki rules net-ext
	assert_output --regexp "-d 192\.0\.2\.200/32 -p tcp -m tcp --dport $(info_field net-ext 'MappedPorts[0].HostPort') "
	local id
	id=$(info_field net-ext 'Properties["kawasaki.iptable-inst"]')
	run ip -o link show "w$id-0"
	assert_output --partial "mtu 1280"
	run rt_exec net-ext ip -o link show "w$id-1"
	assert_output --partial "mtu 1280"
	destroy_container net-ext
	start_guardian
}
