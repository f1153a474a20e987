#!/usr/bin/env bats
# Container volumes in the store, disk limits and `guardian setup`'s store.
#
# The file's guardian runs on a plain store ($GDN_STORE, on the host's file system, with no
# project quotas): volumes, undo, the start-up sweep, Capacity and every refusal of a disk limit
# are checked there. `guardian setup` makes its loop-backed XFS store under $GDN_TMP/xfs; on a
# kernel whose XFS has quota support it must succeed (and then limits are enforced), on one
# without (CONFIG_XFS_QUOTA unset) it must fail saying so and leave nothing behind: no loop
# device, no mount, no backing file.

load helpers/common

setup_file() {
	gdn_setup_file
	export XFS_STORE=$GDN_TMP/xfs/store
	export XFS_BACKING=$XFS_STORE.backing-store
}

teardown_file() {
	# the setup store first: its loop device and mount must go even when a test failed
	if [[ -n ${XFS_STORE:-} ]]; then
		"$GUARDIAN_BIN" teardown-store --store "$XFS_STORE" >/dev/null 2>&1 || true
		umount "$XFS_STORE" 2>/dev/null || true
	fi
	gdn_teardown_file
}

teardown() {
	gdn_teardown
}

# The kernel's XFS enforces project quotas (CONFIG_XFS_QUOTA: /proc/fs/xfs/xqmstat exists).
kernel_has_xfs_quota() {
	[[ -e /proc/fs/xfs/xqmstat ]]
}

# Loop devices bound to the setup store's backing file (by sysfs).
loops_of_backing() {
	local f
	for f in /sys/block/loop*/loop/backing_file; do
		[[ -e $f ]] || continue
		if [[ $(cat "$f") == "$XFS_BACKING"* ]]; then
			echo "${f%/loop/backing_file}"
		fi
	done
}

assert_setup_store_gone() {
	assert_equal "$(loops_of_backing)" ""
	run mountpoint -q "$XFS_STORE"
	assert_failure
	[[ ! -e $XFS_BACKING ]] || fail "backing file left: $XFS_BACKING"
}

no_store_leftovers() {
	local h=$1
	[[ ! -e $GDN_STORE/volumes/$h ]] || fail "volume left: $GDN_STORE/volumes/$h"
	run grep -rlxF -- "$h" "$GDN_STORE/projectids"
	assert_failure
}

NO_QUOTA_MSG="disk limits need a store on XFS with project quotas: run 'guardian setup'"

@test "a container's writes go to <store>/volumes/<handle>; the depot records where; destroy removes it" {
	create_container dk-vol
	run rt_exec dk-vol sh -c 'echo data > /written && cat /written'
	assert_success
	assert_output data
	assert_equal "$(cat "$GDN_STORE/volumes/dk-vol/upper/written")" data
	[[ -d $GDN_STORE/volumes/dk-vol/work ]] || fail "no work dir in the store"
	assert_equal "$(cat "$GDN_DEPOT/dk-vol/volume/path")" "$(realpath "$GDN_STORE")/volumes/dk-vol"
	[[ ! -e $GDN_DEPOT/dk-vol/volume/upper ]] || fail "an upper dir in the depot"
	# the plain store has no project quotas: no project id was taken
	[[ ! -d $GDN_STORE/projectids ]] || assert_equal "$(ls -A "$GDN_STORE/projectids")" ""
	destroy_container dk-vol
	assert_no_leaks dk-vol
	no_store_leftovers dk-vol
}

@test "an unprivileged container's files written as root and as vcap land in its volume" {
	create_container dk-users
	run rt_exec dk-users sh -c 'echo r > /tmp/by-root'
	assert_success
	run rt exec --user 1000:1000 dk-users sh -c 'echo v > /home/vcap/by-vcap || echo v > /tmp/by-vcap' </dev/null
	assert_success
	local upper=$GDN_STORE/volumes/dk-users/upper
	assert_equal "$(stat -c %u "$upper/tmp/by-root")" "$GDN_MAXID"
	run find "$upper" -name 'by-vcap' -printf '%U\n'
	assert_success
	assert_output 1000
	destroy_container dk-users
	no_store_leftovers dk-users
}

@test "a disk limit on a store without project quotas is refused with the clear error; nothing is left" {
	local spec
	for spec in '{"limits":{"disk_limits":{"byte_hard":104857600}}}' \
		'{"limits":{"disk_limits":{"byte_hard":104857600,"scope":1}}}' \
		'{"limits":{"disk_limits":{"inode_hard":1000000}}}' \
		'{"privileged":true,"limits":{"disk_limits":{"byte_hard":104857600}}}'; do
		api_req POST /containers "$(jq -cn --argjson s "$spec" '{handle:"dk-noq"} + $s')"
		assert_garden_error 500 '' "$NO_QUOTA_MSG \\(the store '$(realpath "$GDN_STORE")' is on "
		assert_no_leaks dk-noq
		no_store_leftovers dk-noq
	done
	# the same handle creates fine without a limit: nothing of the refused one was in the way
	create_container dk-noq
	destroy_container dk-noq
}

@test "a total-scope limit smaller than the image is refused with grootfs's message; nothing is left" {
	local image
	image=$(du -bs "$GDN_ROOTFS" | cut -f1)
	api_req POST /containers "$(jq -cn --argjson b $((image / 2)) \
		'{handle:"dk-small",limits:{disk_limits:{byte_hard:$b,scope:0}}}')"
	assert_garden_error 500 '' '^creating image: applying disk limits: disk limit is smaller than volume size$'
	assert_no_leaks dk-small
	no_store_leftovers dk-small
	# an inode limit under the image's inode count, likewise
	api_req POST /containers '{"handle":"dk-small","limits":{"disk_limits":{"inode_hard":3}}}'
	assert_garden_error 500 '' 'disk inode limit is smaller than the volume.s inode count'
	assert_no_leaks dk-small
	# exclusive scope leaves the image out: the same limit fails only for want of quotas
	api_req POST /containers "$(jq -cn --argjson b $((image / 2)) \
		'{handle:"dk-small",limits:{disk_limits:{byte_hard:$b,scope:1}}}')"
	assert_garden_error 500 '' "$NO_QUOTA_MSG"
	assert_no_leaks dk-small
}

@test "disk_limits fields are decoded as Garden's types" {
	api_req POST /containers '{"handle":"dk-bad","limits":{"disk_limits":{"scope":256}}}'
	assert_garden_error 500 '' 'json: cannot unmarshal number 256 into Go struct field DiskLimits.scope of type garden.DiskLimitScope'
	api_req POST /containers '{"handle":"dk-bad","limits":{"disk_limits":{"inode_hard":-1}}}'
	assert_garden_error 500 '' 'cannot unmarshal number -1 into Go struct field DiskLimits.inode_hard of type uint64'
	assert_no_leaks dk-bad
	# zero limits are no limits: any store will do
	create_container dk-bad '{"limits":{"disk_limits":{"byte_hard":0,"inode_hard":0,"scope":1}}}'
	destroy_container dk-bad
}

@test "Capacity's disk fields are the store's file system" {
	api_req GET /capacity
	assert_equal "$API_STATUS" 200
	local disk
	disk=$(($(stat -f -c '%b * %S' "$GDN_STORE")))
	assert_equal "$(jq -r .disk_in_bytes <<<"$API_BODY")" "$disk"
	assert_equal "$(jq -r .schedulable_disk_in_bytes <<<"$API_BODY")" "$disk"
}

@test "start-up removes volumes and project ids whose container is gone, and keeps the others" {
	create_container dk-keep
	run rt_exec dk-keep sh -c 'echo kept > /kept'
	assert_success
	stop_guardian
	# what a crash between create's (or destroy's) steps leaves
	mkdir -p "$GDN_STORE/volumes/dk-ghost/upper" "$GDN_STORE/volumes/dk-ghost/work" \
		"$GDN_STORE/projectids"
	echo data >"$GDN_STORE/volumes/dk-ghost/upper/f"
	printf dk-ghost >"$GDN_STORE/projectids/77"
	printf '' >"$GDN_STORE/projectids/78"
	start_guardian
	[[ ! -e $GDN_STORE/volumes/dk-ghost ]] || fail "orphaned volume not removed"
	[[ ! -e $GDN_STORE/projectids/77 && ! -e $GDN_STORE/projectids/78 ]] ||
		fail "orphaned project ids not freed: $(ls "$GDN_STORE/projectids")"
	grep -q 'removed-orphaned-volume' "$GDN_LOG" || fail "no log of the sweep"
	# the live container's volume is untouched
	run rt_exec dk-keep cat /kept
	assert_success
	assert_output kept
	destroy_container dk-keep
	no_store_leftovers dk-keep
}

@test "a stopped container's volume is mounted again from the store (gd_volume_mount)" {
	create_container dk-stop
	run rt_exec dk-stop sh -c 'echo before-stop > /f'
	assert_success
	local pid
	pid=$(init_pid dk-stop)
	kill -KILL "$pid"
	wait_pid_gone "$pid" 50
	# with init gone, its mount namespace is gone: only the store has the file
	assert_equal "$(cat "$GDN_STORE/volumes/dk-stop/upper/f")" before-stop
	run unshare -m sh -c "mount --make-rprivate / && mkdir -p '$GDN_TMP/mnt-stop' &&
		mount -t overlay overlay -o lowerdir=\$(cat '$GDN_DEPOT/dk-stop/volume/lowerdir'),upperdir='$GDN_STORE/volumes/dk-stop/upper',workdir='$GDN_STORE/volumes/dk-stop/work' '$GDN_TMP/mnt-stop' &&
		cat '$GDN_TMP/mnt-stop/f' && ls '$GDN_TMP/mnt-stop/bin/busybox'"
	assert_success
	assert_line --index 0 before-stop
	destroy_container dk-stop
	assert_no_leaks dk-stop
	no_store_leftovers dk-stop
}

@test "guardian setup: a loop-backed XFS store with project quotas, or the plain store and a clear error logged" {
	mkdir -p "$GDN_TMP/xfs"
	run --separate-stderr "$GUARDIAN_BIN" setup --store "$XFS_STORE" --store-size-bytes $((320 << 20)) --no-networking
	if ! kernel_has_xfs_quota; then
		# the rest of the set-up is done; disk limits are then refused on the plain store
		assert_success
		run jq -r 'select(.message == "guardian.setup.store-without-quotas") | .data.error' <<<"$stderr"
		assert_output --partial "this kernel's XFS has no quota support (CONFIG_XFS_QUOTA is not set)"
		assert_setup_store_gone
		# a second run says the same and still leaves nothing
		run "$GUARDIAN_BIN" setup --store "$XFS_STORE" --store-size-bytes $((320 << 20)) --no-networking
		assert_success
		assert_setup_store_gone
	else
		assert_success
		run mountpoint -q "$XFS_STORE"
		assert_success
		assert_equal "$(stat -f -c %T "$XFS_STORE")" xfs
		grep -E " $XFS_STORE xfs .*prjquota" /proc/self/mountinfo || fail "not mounted with prjquota"
		# sparse, of the size asked for
		assert_equal "$(stat -c %s "$XFS_BACKING")" $((320 << 20))
		# idempotent
		run --separate-stderr "$GUARDIAN_BIN" setup --store "$XFS_STORE" --no-networking
		assert_success
		[[ $stderr == *store-has-project-quotas* ]] || fail "second setup did not find the store"
		assert_equal "$(loops_of_backing | wc -l)" 1
		run "$GUARDIAN_BIN" teardown-store --store "$XFS_STORE"
		assert_success
		assert_setup_store_gone
	fi
	# nothing to tear down is fine
	run "$GUARDIAN_BIN" teardown-store --store "$XFS_STORE"
	assert_success
}

@test "guardian setup refuses a store size under 300 MiB and a backing file that is not XFS" {
	mkdir -p "$GDN_TMP/xfs"
	run "$GUARDIAN_BIN" setup --store "$XFS_STORE" --store-size-bytes 1048576 --no-networking
	assert_failure
	assert_output --partial "is below 314572800 (300 MiB, the smallest XFS)"
	printf 'not a file system' >"$XFS_BACKING"
	run "$GUARDIAN_BIN" setup --store "$XFS_STORE" --no-networking
	assert_failure
	assert_output --partial "holds no XFS file system: not formatting it"
	assert_equal "$(cat "$XFS_BACKING")" 'not a file system'
	rm -f "$XFS_BACKING"
	assert_setup_store_gone
	run "$GUARDIAN_BIN" setup --store-size-bytes nope
	assert_failure
	assert_output --partial "--store-size-bytes: 'nope' is not a number"
}

@test "a total-scope limit smaller than an OCI image (its layers summed) is refused; nothing is left" {
	"$BATS_TEST_DIRNAME/../images/mkimage" oci "$GDN_TMP/dk-layout" "$GDN_ROOTFS"
	local image
	image=$(du -bs "$GDN_ROOTFS" | cut -f1)
	api_req POST /containers "$(jq -cn --argjson b $((image / 2)) --arg r "oci://$GDN_TMP/dk-layout" \
		'{handle:"dk-oci",rootfs:$r,limits:{disk_limits:{byte_hard:$b}}}')"
	assert_garden_error 500 '' 'disk limit is smaller than volume size$'
	assert_no_leaks dk-oci
	no_store_leftovers dk-oci
	# without a limit the image creates, its volume in the store
	api_ok POST /containers "$(jq -cn --arg r "oci://$GDN_TMP/dk-layout" '{handle:"dk-oci",rootfs:$r}')"
	[[ -d $GDN_STORE/volumes/dk-oci/upper ]] || fail "no volume in the store"
	destroy_container dk-oci
	no_store_leftovers dk-oci
}

# write_mib HANDLE USER DIR MIB: writes MIB MiB into DIR/f inside the container as USER; prints
# dd's exit status and its error line.
write_mib() {
	timeout 60 "$GAOL_BIN" -t "$GDN_SOCK" run -a -u "$2" "$1" \
		-c "dd if=/dev/zero of=$3/f bs=1048576 count=$4 2>/tmp/dd.err; echo rc=\$?; grep -o 'quota exceeded' /tmp/dd.err; rm -f $3/f"
}

@test "disk limits are enforced on guardian setup's store: EDQUOT as root and vcap, privileged and not, total and exclusive" {
	kernel_has_xfs_quota || skip "this kernel's XFS has no quota support (CONFIG_XFS_QUOTA): enforcement cannot run here"
	mkdir -p "$GDN_TMP/xfs"
	run "$GUARDIAN_BIN" setup --store "$XFS_STORE" --store-size-bytes $((400 << 20)) --no-networking
	assert_success
	start_guardian --store "$XFS_STORE"
	local image h priv
	image=$(du -bs "$GDN_ROOTFS" | cut -f1)
	for priv in false true; do
		h=dk-q-$priv
		api_ok POST /containers "$(jq -cn --arg h "$h" --argjson p $priv \
			'{handle:$h,privileged:$p,limits:{disk_limits:{byte_hard:10485760,scope:1}}}')"
		run write_mib "$h" root /tmp 5
		assert_line rc=0
		run write_mib "$h" root /tmp 20
		refute_line rc=0
		assert_line 'quota exceeded'
		run write_mib "$h" vcap /home/vcap 20
		refute_line rc=0
		assert_line 'quota exceeded'
		destroy_container "$h"
	done
	# total scope: the image counts, so what is left is the limit minus the image
	api_ok POST /containers "$(jq -cn --argjson b $((image + (8 << 20))) \
		'{handle:"dk-q-total",limits:{disk_limits:{byte_hard:$b}}}')"
	run write_mib dk-q-total root /tmp 4
	assert_line rc=0
	run write_mib dk-q-total root /tmp 12
	assert_line 'quota exceeded'
	destroy_container dk-q-total
	stop_guardian
	run "$GUARDIAN_BIN" teardown-store --store "$XFS_STORE"
	assert_success
	assert_setup_store_gone
	start_guardian
}
