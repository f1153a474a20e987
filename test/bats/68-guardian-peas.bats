#!/usr/bin/env bats
# Peas (protocol §9.2, internals §8): a Run whose ProcessSpec has an image runs in a container of
# its own (own rootfs and mount namespace) joined to the sandbox's network, IPC, PID, UTS and
# (unprivileged) user namespaces, through dadoo like any process. Real containers, real
# overlays; the images are the busybox rootfs and an OCI layout made by test/images/mkimage.

load helpers/common

MKIMAGE=$BATS_TEST_DIRNAME/../images/mkimage

setup_file() {
	gdn_setup_tmp
	export IMG=$GDN_TMP/images
	mkdir -p "$IMG"
	"$MKIMAGE" oci "$IMG/oci" "$GDN_ROOTFS"
	start_guardian
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	gdn_teardown
}

# pea_spec ID COMMAND [EXTRA-JSON]: a ProcessSpec running sh -c COMMAND as pea ID of the
# busybox rootfs.
pea_spec() {
	SPEC_EXTRA=$(jq -cn --arg id "$1" --arg r "$GDN_ROOTFS" --argjson x "${3:-{\}}" \
		'{id: $id, image: {uri: $r}} + $x') sh_spec "$2"
}

# run_pea HANDLE ID COMMAND [EXTRA-JSON] [gc OPTIONS...]: runs the pea to its end; the summary
# in $output (stdout and stderr kept in it).
run_pea() {
	local h=$1 id=$2 cmd=$3 extra=${4:-{\}}
	shift $(($# < 4 ? $# : 4))
	run --separate-stderr gc run "$h" "$(pea_spec "$id" "$cmd" "$extra")" --stdout - --stderr - "$@"
	((status == 0)) || fail "garden_client: status $status: $stderr $output"
}

# pea_error HANDLE SPEC: a Run that must fail; API_STATUS and API_BODY as api_req sets them.
pea_error() {
	local s
	s=$(gc run "$1" "$2") || fail "garden_client failed: $s"
	API_STATUS=$(json_field "$s" .status)
	API_BODY=$(json_field "$s" .body)
}

# start_pea HANDLE ID COMMAND [EXTRA-JSON]: starts a long-running pea and waits until it runs.
start_pea() {
	local s
	s=$(gc run "$1" "$(pea_spec "$2" "$3" "${4:-{\}}")" --detach) || fail "run failed: $s"
	assert_equal "$(json_field "$s" .status)" 201
	wait_process_running "$1" "$2"
}

# ns_of PID NS: the namespace link of PID.
ns_of() {
	readlink "/proc/$1/ns/$2"
}

# assert_pea_gone HANDLE ID: nothing of the pea's rootfs, runtime container or cgroups is left.
assert_pea_gone() {
	local h=$1 id=$2 problems=() c
	runtime_containers | grep -qxF -- "$id" && problems+=("runtime container '$id' left")
	[[ -e $GDN_STORE/volumes/$h@$id ]] && problems+=("volume $h@$id left")
	[[ -e $(proc_dir "$h" "$id")/rootfs ]] && problems+=("rootfs dir left")
	[[ -e $(proc_dir "$h" "$id")/config.json ]] && problems+=("bundle left")
	[[ -z $(mounts_under "$(proc_dir "$h" "$id")") ]] || problems+=("mounts left")
	while read -r c; do
		[[ -n $c ]] && problems+=("cgroup left: $c")
	done < <(find /sys/fs/cgroup -maxdepth 8 -type d \( -path "*/garden/$h/$id" -o -name "$h@$id" \) 2>/dev/null)
	if ((${#problems[@]})); then
		printf '%s\n' "${problems[@]}" | batslib_decorate "leaks of pea '$id'" | fail
		return 1
	fi
}

@test "a pea shares the sandbox's network, IPC, PID, UTS and user namespaces, not its mounts" {
	create_container pea-u
	start_pea pea-u pu1 'echo from-pea >/tmp/only-in-pea; exec sleep 1000'
	local init pea ns
	init=$(init_pid pea-u)
	pea=$(process_host_pid pea-u pu1)
	for ns in net ipc pid uts user; do
		assert_equal "$(ns_of "$pea" "$ns")" "$(ns_of "$init" "$ns")"
	done
	[[ $(ns_of "$pea" mnt) != $(ns_of "$init" mnt) ]] || fail "the pea shares the sandbox's mounts"
	# its own rootfs: the sandbox does not see its files
	run gaol run -a pea-u -c 'cat /tmp/only-in-pea 2>&1'
	assert_output --partial 'No such file'
	# the sandbox's hosts and resolv.conf, the sandbox's hostname; dir / and env by default
	run_pea pea-u pu2 'cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; hostname; pwd; echo $USER $A' '{"env":["A=b"]}'
	assert_equal "$(json_field "$output" .stdout)" "$(cat "$GDN_DEPOT/pea-u/hosts"; echo ---; cat "$GDN_DEPOT/pea-u/resolv.conf"; echo ---; echo pea-u; echo /; echo root b)"
	assert_equal "$(json_field "$output" .exit_status)" 0
	# the sandbox sees the pea's processes (one PID namespace)
	run gaol run -a pea-u -c 'ps -o args | grep -c "[s]leep 1000"'
	assert_output 1
	destroy_container pea-u
	assert_no_leaks pea-u "$init"
	assert_pea_gone pea-u pu1
	pid_alive "$pea" && fail "the pea survived its sandbox"
	return 0
}

@test "a pea of a privileged sandbox shares every namespace but mount" {
	create_container pea-p '{"privileged":true}'
	start_pea pea-p pp1 'exec sleep 1000'
	local init pea ns
	init=$(init_pid pea-p)
	pea=$(process_host_pid pea-p pp1)
	for ns in net ipc pid uts user; do
		assert_equal "$(ns_of "$pea" "$ns")" "$(ns_of "$init" "$ns")"
	done
	assert_equal "$(ns_of "$pea" user)" "$(ns_of "$BASHPID" user)"
	[[ $(ns_of "$pea" mnt) != $(ns_of "$init" mnt) ]] || fail "the pea shares the sandbox's mounts"
	destroy_container pea-p
	assert_no_leaks pea-p "$init"
	assert_pea_gone pea-p pp1
}

@test "pea users: root by default, uid:gid, a name from the pea's own image, an unknown name" {
	create_container pea-id
	run_pea pea-id id1 'id -u; id -g'
	assert_equal "$(json_field "$output" .stdout)" "$(printf '0\n0')"
	run_pea pea-id id2 'id -u; id -g' '{"user":"1000:1001"}'
	assert_equal "$(json_field "$output" .stdout)" "$(printf '1000\n1001')"
	# vcap is in the OCI image's passwd (made by mkimage), not the sandbox's busybox one
	run_pea pea-id id3 'id -un; echo $IMAGE_VAR; pwd' '{"user":"vcap","image":{"uri":"oci://'"$IMG"'/oci"}}'
	assert_equal "$(json_field "$output" .stdout)" "$(printf 'vcap\nfrom-image\n/')"
	pea_error pea-id "$(pea_spec id4 'true' '{"user":"nosuch"}')"
	assert_garden_error 500 '' 'unable to find user nosuch: no matching entries in passwd file'
	[[ ! -e $(proc_dir pea-id id4) ]] || fail "the failed pea left its process dir"
	assert_pea_gone pea-id id4
	destroy_container pea-id
	assert_no_leaks pea-id
}

@test "pea stdio, exit status, TTY, signals; a missing executable is Garden's error" {
	create_container pea-io
	run_pea pea-io io1 'read l; echo "got $l"; echo err >&2; exit 7' '{}' --then 'stdin:hello\n' --then eof
	assert_equal "$(json_field "$output" .stdout)" 'got hello'
	assert_equal "$(json_field "$output" .stderr)" err
	assert_equal "$(json_field "$output" .exit_status)" 7
	run_pea pea-io io2 'tty; stty size' '{"tty":{"window_size":{"columns":123,"rows":45}}}'
	assert_output --partial '/dev/pts/'
	assert_output --partial '45 123'
	run_pea pea-io io3 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done' '{}' \
		--then wait-stdout:ready --then signal:0
	assert_equal "$(json_field "$output" .exit_status)" 42
	pea_error pea-io "$(SPEC_EXTRA=$(jq -cn --arg r "$GDN_ROOTFS" '{id: "io4", image: {uri: $r}}') \
		process_spec /no/such/binary)"
	assert_garden_error 500 ExecutableNotFoundError 'no/such/binary'
	[[ ! -e $(proc_dir pea-io io4) ]] || fail "the failed pea left its process dir"
	assert_pea_gone pea-io io4
	destroy_container pea-io
	assert_no_leaks pea-io
}

@test "an exited pea's rootfs, runtime container and cgroup go; its exit status stays" {
	create_container pea-x
	run_pea pea-x x1 'exit 3'
	wait_until 300 assert_pea_gone pea-x x1 >/dev/null 2>&1 || assert_pea_gone pea-x x1
	run --separate-stderr gc attach pea-x x1
	assert_equal "$(json_field "$output" .exit_status)" 3
	destroy_container pea-x
	assert_no_leaks pea-x
}

@test "peas survive a guardian kill -9: Attach and signals after the restart, clean-up then" {
	create_container pea-r
	start_pea pea-r r1 'trap "exit 9" TERM; while :; do sleep 0.1; done'
	start_pea pea-r r2 'exec sleep 1000'
	kill9_guardian
	start_guardian
	run --separate-stderr gc attach pea-r r1 --then signal:0
	assert_equal "$(json_field "$output" .exit_status)" 9
	wait_until 300 assert_pea_gone pea-r r1 >/dev/null 2>&1 || assert_pea_gone pea-r r1
	# one that exits while guardian is down is cleaned up at start-up
	local p
	p=$(process_host_pid pea-r r2)
	stop_guardian
	kill -KILL "$p"
	start_guardian
	wait_until 300 assert_pea_gone pea-r r2 >/dev/null 2>&1 || assert_pea_gone pea-r r2
	destroy_container pea-r
	assert_no_leaks pea-r
}

@test "destroy removes running peas, also after a guardian kill -9; --destroy-containers-on-startup too" {
	create_container pea-d
	start_pea pea-d d1 'exec sleep 1000'
	start_pea pea-d d2 'exec sleep 1000' '{"limits":{"memory_limits":{"limit_in_bytes":67108864}}}'
	local p1 p2 s1 s2
	p1=$(process_host_pid pea-d d1)
	p2=$(process_host_pid pea-d d2)
	s1=$(dadoo_pid pea-d d1)
	s2=$(dadoo_pid pea-d d2)
	kill9_guardian
	start_guardian
	destroy_container pea-d
	assert_no_leaks pea-d
	assert_pea_gone pea-d d1
	assert_pea_gone pea-d d2
	! pid_alive "$p1" && ! pid_alive "$p2" || fail "a pea survived the destroy"
	wait_pid_gone "$s1" 50 && wait_pid_gone "$s2" 50 || fail "a pea's dadoo survived the destroy"
	create_container pea-s
	start_pea pea-s s1 'exec sleep 1000'
	start_guardian --destroy-containers-on-startup
	assert_no_leaks pea-s
	assert_pea_gone pea-s s1
}

@test "guardian cleanup: every container and its peas destroyed, then exit 0" {
	create_container pea-c1
	create_container pea-c2 '{"privileged":true}'
	start_pea pea-c1 c1 'exec sleep 1000'
	local s1
	s1=$(dadoo_pid pea-c1 c1)
	stop_guardian
	local -a args
	mapfile -t args < <(gdn_default_args)
	run --separate-stderr timeout 60 "$GUARDIAN_BIN" cleanup "${args[@]:1}"
	assert_success
	[[ $stderr == *'"message":"guardian.cleaned-up"'* ]] || fail "stderr: $stderr"
	assert_no_leaks pea-c1
	assert_no_leaks pea-c2
	assert_pea_gone pea-c1 c1
	wait_pid_gone "$s1" 50 || fail "the pea's dadoo survived"
	gdn_cleanup_network
	start_guardian
	assert_equal "$(list_handles)" ""
}

@test "pea limits: shared with the sandbox by default; with limits its own cgroup, enforced" {
	create_container pea-l '{"limits":{"memory_limits":{"limit_in_bytes":268435456}}}'
	run_pea pea-l l1 '{ grep :memory: /proc/self/cgroup || grep ^0:: /proc/self/cgroup; }'
	assert_regex "$(json_field "$output" .stdout)" '/garden/pea-l/l1$'
	# its own limit kills it (tail keeps the last lines of /dev/zero, which has none), not
	# the sandbox
	run_pea pea-l l2 '{ grep :memory: /proc/self/cgroup || grep ^0:: /proc/self/cgroup; }; tail /dev/zero' \
		'{"limits":{"memory_limits":{"limit_in_bytes":33554432}}}'
	assert_regex "$(json_field "$output" .stdout)" '/garden/pea-l@l2$'
	assert_equal "$(json_field "$output" .exit_status)" 137
	run gaol run -a pea-l -c 'echo alive'
	assert_output alive
	# "limits" with no values: a cgroup of its own without limits
	run_pea pea-l l3 '{ grep :memory: /proc/self/cgroup || grep ^0:: /proc/self/cgroup; }' '{"limits":{}}'
	assert_regex "$(json_field "$output" .stdout)" '/garden/pea-l@l3$'
	destroy_container pea-l
	assert_no_leaks pea-l
	assert_pea_gone pea-l l2
}

@test "pea bind mounts; bad input is Garden's error and leaves nothing" {
	create_container pea-b
	mkdir -p "$GDN_TMP/bm"
	echo host-file >"$GDN_TMP/bm/f"
	run_pea pea-b b1 'cat /mnt/bm/f; touch /mnt/bm/g 2>&1 | grep -c "Read-only"' \
		"{\"bind_mounts\":[{\"src_path\":\"$GDN_TMP/bm\",\"dst_path\":\"/mnt/bm\"}]}"
	assert_equal "$(json_field "$output" .stdout)" "$(printf 'host-file\n1')"
	[[ ! -e $GDN_TMP/bm/g ]] || fail "a read-only bind mount was written"
	pea_error pea-b "$(pea_spec b2 true "{\"bind_mounts\":[{\"src_path\":\"$GDN_TMP/nosuch\",\"dst_path\":\"/mnt\"}]}")"
	assert_garden_error 500 '' "bind mount source '$GDN_TMP/nosuch' does not exist"
	pea_error pea-b "$(pea_spec b3 true '{"image":{"uri":"/no/such/rootfs"}}')"
	assert_garden_error 500 '' "rootfs '/no/such/rootfs' does not exist"
	pea_error pea-b "$(pea_spec b4 true '{"image":{"uri":"oci:///no/such/layout"}}')"
	assert_garden_error 500 '' '/no/such/layout'
	for id in b2 b3 b4; do
		[[ ! -e $(proc_dir pea-b "$id") ]] || fail "pea $id left its process dir"
		assert_pea_gone pea-b "$id"
	done
	# a process id in use
	run_pea pea-b b5 'true'
	pea_error pea-b "$(pea_spec b5 true)"
	assert_garden_error 500 '' "process ID 'b5' already in use"
	destroy_container pea-b
	assert_no_leaks pea-b
}

# usage HANDLE: the container's MemoryStat.TotalUsageTowardLimit (Metrics).
usage() {
	api_ok GET "/containers/$1/metrics"
	jq -r .MemoryStat.TotalUsageTowardLimit <<<"$API_BODY"
}

@test "Metrics: a pea's memory counts toward its sandbox's, one with limits of its own does not" {
	create_container pea-m
	local fill='head -c 33554432 /dev/zero >/dev/shm/x && touch /dev/shm/done; exec sleep 1000'
	local u0 u1 u2 p
	u0=$(usage pea-m)
	start_pea pea-m m1 "$fill"
	p=$(process_host_pid pea-m m1)
	wait_until 100 test -e "/proc/$p/root/dev/shm/done" || fail "pea m1 did not fill /dev/shm"
	u1=$(usage pea-m)
	((u1 >= u0 + 30 * 1048576)) || fail "the sandbox's usage went from $u0 to $u1 only"
	start_pea pea-m m2 "$fill" '{"limits":{"memory_limits":{"limit_in_bytes":134217728}}}'
	p=$(process_host_pid pea-m m2)
	wait_until 100 test -e "/proc/$p/root/dev/shm/done" || fail "pea m2 did not fill /dev/shm"
	u2=$(usage pea-m)
	((u2 < u1 + 16 * 1048576)) || fail "a pea with its own limits counted: $u1 -> $u2"
	# peas are no containers: BulkMetrics has no entry for them
	api_ok GET "/containers/bulk_metrics?handles=pea-m,m1"
	assert_equal "$(jq -r '.m1.Err.Message' <<<"$API_BODY")" "unknown handle: m1"
	assert_equal "$(jq -r '.["pea-m"].Err' <<<"$API_BODY")" null
	destroy_container pea-m
	assert_no_leaks pea-m
	assert_pea_gone pea-m m2
}

# --- bind mounts of containers (ContainerSpec.bind_mounts) ---------------------------------------

@test "container bind mounts: read-only and read-write directories and a file, as Garden applies them" {
	mkdir -p "$GDN_TMP/ro" "$GDN_TMP/rw" "$GDN_TMP/locked"
	chmod 0777 "$GDN_TMP/rw" # the unprivileged container's root is host uid $GDN_MAXID
	echo in-ro >"$GDN_TMP/ro/f"
	# a source on a nosuid,nodev,noexec mount: the flags are locked in a user namespace, and
	# a read-only remount that dropped them would be refused
	mount -t tmpfs -o nosuid,nodev,noexec,size=1m tmpfs "$GDN_TMP/locked"
	echo locked >"$GDN_TMP/locked/f"
	echo a-file >"$GDN_TMP/single"
	local priv spec h
	for priv in false true; do
		h=bm-$priv
		spec=$(jq -cn --arg t "$GDN_TMP" --argjson p "$priv" '{privileged: $p, bind_mounts: [
			{src_path: ($t + "/ro"), dst_path: "/mnt/ro"},
			{src_path: ($t + "/rw"), dst_path: "/mnt/rw", mode: 1},
			{src_path: ($t + "/single"), dst_path: "/etc/single", mode: 0, origin: 0},
			{src_path: ($t + "/locked"), dst_path: "/mnt/locked"}]}')
		create_container "$h" "$spec"
		run gaol run -a "$h" -c 'cat /mnt/ro/f /etc/single /mnt/locked/f; touch /mnt/ro/x 2>/dev/null || echo ro-refused; echo written >/mnt/rw/'"$h"
		assert_success
		assert_output "$(printf 'in-ro\na-file\nlocked\nro-refused')"
		assert_equal "$(cat "$GDN_TMP/rw/$h")" written
		[[ ! -e $GDN_TMP/ro/x ]] || fail "a read-only bind mount was written"
		destroy_container "$h"
		assert_no_leaks "$h"
	done
	umount "$GDN_TMP/locked"
}

@test "a hostile symlink in the rootfs cannot redirect a bind mount onto the host" {
	local evil=$GDN_TMP/evil-rootfs victim=$GDN_TMP/victim before
	cp -a "$GDN_ROOTFS" "$evil"
	mkdir -p "$victim" "$GDN_TMP/src"
	echo src >"$GDN_TMP/src/f"
	ln -s "$victim" "$evil/abs"
	ln -s "../../../../../../../../..$victim" "$evil/rel"
	before=$(find "$victim" | sort | sha256sum)
	create_container bm-evil "$(jq -cn --arg r "$evil" --arg s "$GDN_TMP/src" '{rootfs: $r, bind_mounts: [
		{src_path: $s, dst_path: "/abs/sub"}, {src_path: $s, dst_path: "/rel/sub2"}]}')"
	# the mounts are inside the container, where its symlinks point in its own rootfs
	run gaol run -a bm-evil -c 'cat /abs/sub/f /rel/sub2/f'
	assert_output "$(printf 'src\nsrc')"
	assert_equal "$(find "$victim" | sort | sha256sum)" "$before"
	[[ -z $(mounts_under "$victim") ]] || fail "a bind mount landed on the host: $(mounts_under "$victim")"
	destroy_container bm-evil
	assert_no_leaks bm-evil
}
