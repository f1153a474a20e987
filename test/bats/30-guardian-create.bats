#!/usr/bin/env bats
# What a create builds, checked from the host: namespaces, init, hostname, network, rootfs
# ownership and copy-on-write, the read-only init binary, env, capabilities, cgroup limits.
# Processes inside the container are started with the runtime's own exec (under this file's
# --root) until the process API exists.

load helpers/common

# Capability numbers (linux/capability.h).
CAP_SYS_ADMIN=21
CAP_SYS_RESOURCE=24
CAP_NET_ADMIN=12
# CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT
# MKNOD AUDIT_WRITE SETFCAP (internals §4.2).
UNPRIVILEGED_CAPS=$((0xa80425fb))

setup_file() {
	gdn_setup_file
	ROOTFS_PRINT=$(rootfs_fingerprint "$GDN_ROOTFS")
	export ROOTFS_PRINT
	INIT_MD5=$(md5sum <"$GARDEN_INIT_BIN")
	export INIT_MD5
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	gdn_teardown
}

@test "an unprivileged container: user namespace, garden-init as pid 1, hostname, lo and its veth" {
	create_container cr-unpriv
	local pid
	pid=$(init_pid cr-unpriv)
	assert pid_alive "$pid"
	assert_not_equal "$(readlink "/proc/$pid/ns/user")" "$(readlink /proc/self/ns/user)"
	local ns
	for ns in mnt pid net uts ipc; do
		assert_not_equal "$(readlink "/proc/$pid/ns/$ns")" "$(readlink "/proc/self/ns/$ns")"
	done
	run bash -c "tr '\0' '\n' </proc/$pid/cmdline"
	assert_line --index 0 /tmp/garden-init
	run nsenter -t "$pid" -u hostname
	assert_output cr-unpriv
	# lo and kawasaki's veth end
	run nsenter -t "$pid" -n ip -o link
	assert_success
	assert_equal "${#lines[@]}" 2
	assert_line --index 0 --regexp '^1: lo: '
	assert_line --index 1 --regexp '^[0-9]+: w[0-9a-v]{11}-1@'
	# Inside its pid namespace init is pid 1.
	run rt_exec cr-unpriv cat /proc/1/cmdline
	assert_output --partial /tmp/garden-init
	destroy_container cr-unpriv
	assert_no_leaks cr-unpriv "$pid"
}

@test "an unprivileged container's root is the host's maxid; ids 1..N map to themselves" {
	create_container cr-ids
	local pid
	pid=$(init_pid cr-ids)
	run stat -c %u:%g "/proc/$pid/root/"
	assert_output "$GDN_MAXID:$GDN_MAXID"
	run stat -c %u "/proc/$pid/root/bin/busybox"
	assert_output "$GDN_MAXID"
	run cat "/proc/$pid/uid_map"
	assert_line --index 0 --regexp "^ *0 +$GDN_MAXID +1\$"
	assert_line --index 1 --regexp '^ *1 +1 +[0-9]+$'
	run rt_exec cr-ids id -u
	assert_output 0
	run rt_exec cr-ids stat -c %u:%g /
	assert_output 0:0
	run rt_exec cr-ids stat -c %u /bin/busybox
	assert_output 0
	assert_equal "$(cap_bnd "$pid")" "$UNPRIVILEGED_CAPS"
	# A file written by container uid 1000 is host uid 1000.
	run rt_exec cr-ids sh -c 'mkdir -p /home/t && chown 1000:1000 /home/t'
	assert_success
	run rt exec --user 1000:1000 cr-ids sh -c 'echo hi > /home/t/f && stat -c %u /home/t/f' </dev/null
	assert_success
	assert_output 1000
	run stat -c %u "/proc/$pid/root/home/t/f"
	assert_output 1000
	destroy_container cr-ids
	assert_no_leaks cr-ids "$pid"
}

@test "writes inside a container do not change the base rootfs (copy on write)" {
	create_container cr-cow
	create_container cr-cow2
	run rt_exec cr-cow sh -c 'echo x > /newfile && echo more >> /etc/passwd && rm /bin/ls && mkdir -p /var/new/dir && chmod 700 /etc && echo ok'
	assert_success
	assert_output ok
	run rt_exec cr-cow cat /newfile
	assert_output x
	run rt_exec cr-cow tail -n 1 /etc/passwd
	assert_output more
	assert [ ! -e "$GDN_ROOTFS/newfile" ]
	assert [ -e "$GDN_ROOTFS/bin/ls" ] || assert [ -L "$GDN_ROOTFS/bin/ls" ]
	assert_equal "$(rootfs_fingerprint "$GDN_ROOTFS")" "$ROOTFS_PRINT"
	# The other container does not see them either.
	run rt_exec cr-cow2 cat /newfile
	assert_failure
	run rt_exec cr-cow2 ls /bin/ls
	assert_success
	destroy_container cr-cow
	destroy_container cr-cow2
	assert_no_leaks cr-cow
	assert_no_leaks cr-cow2
	assert_equal "$(rootfs_fingerprint "$GDN_ROOTFS")" "$ROOTFS_PRINT"
}

@test "a running container's rootfs is mounted in its own mount namespace only" {
	local before
	before=$(wc -l </proc/self/mountinfo)
	create_container cr-mnt1
	create_container cr-mnt2
	# nothing of theirs is left in the host's mount namespace...
	assert_equal "$(wc -l </proc/self/mountinfo)" "$before"
	run mountpoint -q "$GDN_DEPOT/cr-mnt1/rootfs"
	assert_failure
	# ...and each still has its own root, writes included
	run rt_exec cr-mnt1 sh -c 'echo one > /mine && cat /mine && ls /bin/busybox'
	assert_success
	assert_line --index 0 one
	run cat "$(ctr_root cr-mnt1)/mine"
	assert_output one
	run rt_exec cr-mnt2 cat /mine
	assert_failure
	# what it wrote is in its upper dir, and its lowerdir is recorded
	assert_equal "$(cat "$GDN_STORE/volumes/cr-mnt1/upper/mine")" one
	[[ -d $(cat "$GDN_DEPOT/cr-mnt1/volume/lowerdir") ]] || fail "no recorded lowerdir"
	destroy_container cr-mnt1
	destroy_container cr-mnt2
	assert_no_leaks cr-mnt1
	assert_no_leaks cr-mnt2
}

@test "a new container does not see files of a destroyed one with the same handle" {
	create_container cr-reuse
	run rt_exec cr-reuse sh -c 'echo old > /leftover'
	assert_success
	destroy_container cr-reuse
	assert_no_leaks cr-reuse
	create_container cr-reuse
	run rt_exec cr-reuse cat /leftover
	assert_failure
	destroy_container cr-reuse
	assert_no_leaks cr-reuse
}

@test "/tmp/garden-init cannot be modified from inside" {
	create_container cr-init
	create_container cr-init-priv '{"privileged":true}'
	local h
	for h in cr-init cr-init-priv; do
		run rt_exec "$h" sh -c 'echo > /tmp/garden-init'
		assert_failure
		assert_output --regexp 'Read-only|Permission denied|busy'
		run rt_exec "$h" sh -c 'rm -f /tmp/garden-init'
		assert_failure
		assert_output --regexp 'Read-only|Permission denied|busy'
		run rt_exec "$h" sh -c 'cp /bin/busybox /tmp/garden-init'
		assert_failure
		assert_output --regexp 'Read-only|Permission denied|busy'
		assert_equal "$(md5sum <"$GARDEN_INIT_BIN")" "$INIT_MD5"
	done
	destroy_container cr-init
	destroy_container cr-init-priv
	assert_no_leaks cr-init
	assert_no_leaks cr-init-priv
}

@test "destroy kills init and every process started in the container" {
	create_container cr-procs
	local pid sleeper
	pid=$(init_pid cr-procs)
	run rt_exec_bg cr-procs sleep 2345
	assert_success
	wait_until 50 pgrep -f -x 'sleep 2345' >/dev/null
	sleeper=$(pgrep -f -x 'sleep 2345')
	destroy_container cr-procs
	assert_no_leaks cr-procs "$pid"
	wait_until 20 bash -c "! kill -0 $sleeper 2>/dev/null || grep -q '^State:.*Z' /proc/$sleeper/status" ||
		fail "sleep ($sleeper) survived the destroy"
}

@test "destroy after an exec'd process ended (stop kill:true) kills init" {
	create_container cr-procs2
	local pid
	pid=$(init_pid cr-procs2)
	run rt_exec_bg cr-procs2 sleep 2346
	assert_success
	wait_until 50 pgrep -f -x 'sleep 2346' >/dev/null
	api_req PUT /containers/cr-procs2/stop '{"kill":true}'
	assert_api 200 '{}'
	assert pid_alive "$pid"
	destroy_container cr-procs2
	assert_no_leaks cr-procs2 "$pid"
}

@test "env from the spec is the environment of init" {
	create_container cr-env '{"env":["FOO=bar","A=1","WITH_SPACE=a b c","EMPTY="]}'
	local pid
	pid=$(init_pid cr-env)
	run bash -c "tr '\0' '\n' </proc/$pid/environ"
	assert_line FOO=bar
	assert_line A=1
	assert_line 'WITH_SPACE=a b c'
	assert_line EMPTY=
	destroy_container cr-env
}

@test "a privileged container: no user namespace, root-owned rootfs, broad capabilities" {
	create_container cr-priv '{"privileged":true}'
	local pid bnd
	pid=$(init_pid cr-priv)
	assert_equal "$(readlink "/proc/$pid/ns/user")" "$(readlink /proc/self/ns/user)"
	assert_not_equal "$(readlink "/proc/$pid/ns/mnt")" "$(readlink /proc/self/ns/mnt)"
	assert_not_equal "$(readlink "/proc/$pid/ns/pid")" "$(readlink /proc/self/ns/pid)"
	run stat -c %u "/proc/$pid/root/"
	assert_output 0
	bnd=$(cap_bnd "$pid")
	has_cap "$bnd" "$CAP_SYS_ADMIN" || fail "CapBnd $(printf %x "$bnd") lacks CAP_SYS_ADMIN"
	has_cap "$bnd" "$CAP_NET_ADMIN" || fail "CapBnd $(printf %x "$bnd") lacks CAP_NET_ADMIN"
	# every capability the host's bounding set (guardian's) has, and no other: on this
	# machine that set lacks CAP_SYS_RESOURCE, elsewhere (the v2 VM) it may not
	assert_equal "$(printf %x "$bnd")" "$(printf %x "$(cap_bnd "$(guardian_pid)")")"
	run nsenter -t "$pid" -u hostname
	assert_output cr-priv
	run nsenter -t "$pid" -n ip -o link
	assert_equal "${#lines[@]}" 2
	run rt_exec cr-priv sh -c 'echo x > /privfile && cat /privfile'
	assert_output x
	assert_equal "$(rootfs_fingerprint "$GDN_ROOTFS")" "$ROOTFS_PRINT"
	destroy_container cr-priv
	assert_no_leaks cr-priv "$pid"
}

@test "an unprivileged container lacks CAP_SYS_ADMIN and cannot mount" {
	create_container cr-nomount
	local pid
	pid=$(init_pid cr-nomount)
	! has_cap "$(cap_bnd "$pid")" "$CAP_SYS_ADMIN" || fail "unprivileged init has CAP_SYS_ADMIN"
	run rt_exec cr-nomount sh -c 'mkdir -p /mnt && mount -t tmpfs none /mnt' 
	assert_failure
	destroy_container cr-nomount
}

@test "cgroup v2: the container's init and Runs are in its @init leaf, the limits on its cgroup" {
	create_container cr-leaf '{"limits":{"memory_limits":{"limit_in_bytes":67108864}}}'
	local pid run_cg
	pid=$(init_pid cr-leaf)
	run_cg=$(gaol run -a cr-leaf -c 'grep "^0::" /proc/self/cgroup')
	if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
		assert_regex "$(grep '^0::' "/proc/$pid/cgroup")" "/garden/cr-leaf/@init\$"
		assert_regex "$run_cg" "/garden/cr-leaf/@init\$"
		local dir=/sys/fs/cgroup$(unified_cgroup "$pid")
		assert_regex "$dir" "/garden/cr-leaf\$"
		assert_equal "$(cat "$dir/cgroup.procs")" ""
		assert_equal "$(cat "$dir/memory.max")" 67108864
	else
		# v1 and hybrid hosts: the runtime's cgroup, no leaf
		assert_regex "$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")" "/garden/cr-leaf\$"
		[[ -z $(find /sys/fs/cgroup -maxdepth 6 -path '*/garden/cr-leaf/@init' 2>/dev/null) ]] ||
			fail "an @init leaf on a host with cgroup v1"
	fi
	destroy_container cr-leaf
	assert_no_leaks cr-leaf "$pid"
}

@test "memory and cpu limits reach the cgroup" {
	create_container cr-lim '{"limits":{"memory_limits":{"limit_in_bytes":67108864},"cpu_limits":{"limit_in_shares":512},"pid_limits":{"max":100}}}'
	local pid cg dir
	pid=$(init_pid cr-lim)
	if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
		cg=$(unified_cgroup "$pid")
		dir=/sys/fs/cgroup$cg
		assert_equal "$(cat "$dir/memory.max")" 67108864
		assert_equal "$(cat "$dir/pids.max")" 100
	else
		cg=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
		assert_regex "$cg" "/garden/cr-lim\$"
		assert_equal "$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")" 67108864
		cg=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3 }' "/proc/$pid/cgroup")
		assert_equal "$(cat "/sys/fs/cgroup/cpu$cg/cpu.shares")" 512
		cg=$(awk -F: '$2 == "pids" { print $3 }' "/proc/$pid/cgroup")
		assert_equal "$(cat "/sys/fs/cgroup/pids$cg/pids.max")" 100
	fi
	api_req GET /containers/cr-lim/limits/memory
	assert_api 200 '{"limit_in_bytes":67108864}'
	api_req GET /containers/cr-lim/limits/cpu
	assert_api 200 '{"limit_in_shares":512}'
	destroy_container cr-lim
	assert_no_leaks cr-lim "$pid"
}

@test "a memory limit is enforced" {
	create_container cr-oom '{"limits":{"memory_limits":{"limit_in_bytes":33554432}}}'
	# dd's 64 MiB buffer does not fit: dd is OOM-killed.
	run rt_exec cr-oom sh -c 'dd if=/dev/zero of=/dev/null bs=67108864 count=1 2>/dev/null && echo survived'
	refute_output --partial survived
	destroy_container cr-oom
	assert_no_leaks cr-oom
}

@test "a long handle: hostname is its last 49 characters" {
	local h
	h=cr-long-$(printf '%0.sx' {1..80})
	create_container "$h"
	local pid
	pid=$(init_pid "$h")
	run nsenter -t "$pid" -u hostname
	assert_output "${h: -49}"
	destroy_container "$h"
	assert_no_leaks "$h" "$pid"
}

@test "handles with dots, underscores and dashes work" {
	local h=cr.a_b-1
	create_container "$h"
	api_req GET "/containers/$h/info"
	assert_equal "$API_STATUS" 200
	assert_equal "$(jq -r .ContainerPath <<<"$API_BODY")" "$GDN_DEPOT/$h"
	destroy_container "$h"
	assert_no_leaks "$h"
}

@test "the container has the standard mounts (proc, sys read-only, dev, devpts, shm)" {
	create_container cr-mounts
	run rt_exec cr-mounts cat /proc/mounts
	assert_success
	assert_line --regexp '^proc /proc proc '
	assert_line --regexp '^sysfs /sys sysfs ro,'
	assert_line --regexp ' /dev tmpfs '
	assert_line --regexp ' /dev/pts devpts '
	assert_line --regexp ' /dev/shm tmpfs '
	assert_line --regexp ' /tmp/garden-init '
	run rt_exec cr-mounts sh -c 'echo 1 > /sys/kernel/profiling'
	assert_failure
	destroy_container cr-mounts
}

@test "a container can write to /etc/hosts and /etc/resolv.conf" {
	create_container cr-net-files
	run rt_exec cr-net-files sh -c 'echo 127.0.0.1 foo >> /etc/hosts && cat /etc/hosts'
	assert_success
	assert_line '127.0.0.1 foo'
	assert [ ! -e "$GDN_ROOTFS/etc/hosts" ] || run ! grep -q foo "$GDN_ROOTFS/etc/hosts"
	destroy_container cr-net-files
	assert_no_leaks cr-net-files
}

@test "every container was cleaned up and the base rootfs is untouched" {
	destroy_all
	assert_all_clean
	assert_equal "$(rootfs_fingerprint "$GDN_ROOTFS")" "$ROOTFS_PRINT"
}
