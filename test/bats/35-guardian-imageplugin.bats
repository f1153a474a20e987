#!/usr/bin/env bats
# guardian with external image plugins (--image-plugin, --privileged-image-plugin, internals
# §10): our grootfs-compatible test plugin test/imageplugin/fake-grootfs, run through the
# image-plugin-shim guardian starts, and through one started separately (as under BPM). The
# plugin's rootfs is a real overlay mount of the busybox rootfs in the plugin's store.

load helpers/common

FAKE_GROOTFS=$(cd "$BATS_TEST_DIRNAME/../imageplugin" && pwd)/fake-grootfs
SHIM=$GDN_BUILD/bin/image-plugin-shim

setup_file() {
	gdn_setup_tmp
	export GROOT=$GDN_TMP/grootfs PGROOT=$GDN_TMP/grootfs-priv
	export SHIM_SOCK=$GDN_TMP/ext-shim.sock
	# the unprivileged store shifts its layers' owners as grootfs' namespaced stores do
	export UMAP="--uid-mapping 0:$GDN_MAXID:1 --uid-mapping 1:1:4294967293"
	export GMAP="--gid-mapping 0:$GDN_MAXID:1 --gid-mapping 1:1:4294967293"
	start_plugin_guardian
}

teardown_file() {
	stop_ext_shim
	gdn_teardown_file
}

teardown() {
	if [[ -z ${BATS_TEST_COMPLETED:-} ]]; then
		show_log_tail
		destroy_all
		# the next test gets the file's guardian, whatever this one started
		stop_ext_shim
		start_plugin_guardian >/dev/null 2>&1 || true
	fi
}

# plugin_args FLAG STORE [PLUGIN-ARGS...]: FLAG=ARG pairs for guardian (or the shim).
plugin_args() {
	local flag=$1 a
	shift
	for a in "$@"; do
		printf '%s\n' "$flag=$a"
	done
}

# start_plugin_guardian [--unpriv-arg A]... [--priv-arg A]... [GUARDIAN-ARGS...]: guardian with
# both plugins (extra args: the store first; for the unprivileged one its id mappings too).
start_plugin_guardian() {
	local -a u=(--store "$GROOT" $UMAP $GMAP) p=(--store "$PGROOT") rest=() args=()
	while (($#)); do
		case $1 in
		--unpriv-arg) u+=("$2"); shift 2 ;;
		--priv-arg) p+=("$2"); shift 2 ;;
		*) rest+=("$1"); shift ;;
		esac
	done
	mapfile -t args < <(plugin_args --image-plugin-extra-arg "${u[@]}"
		plugin_args --privileged-image-plugin-extra-arg "${p[@]}")
	start_guardian --image-plugin "$FAKE_GROOTFS" --privileged-image-plugin "$FAKE_GROOTFS" \
		"${args[@]}" "${rest[@]}"
}

shim_pid() {
	local gp
	gp=$(guardian_pid)
	pgrep -P "$gp" -f 'image-plugin-shim serve' | head -n 1
}

stop_ext_shim() {
	local pid
	pid=$(cat "$GDN_TMP/ext-shim.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	wait_pid_gone "$pid" 50 || kill -KILL "$pid" 2>/dev/null || true
	rm -f "$GDN_TMP/ext-shim.pid"
}

# image_gone STORE HANDLE: the plugin's image of HANDLE is deleted and unmounted.
image_gone() {
	[[ ! -e $1/images/$2 ]] || fail "image left: $(ls -A "$1/images/$2" | tr '\n' ' ')"
	! grep -qF " $1/images/$2/" /proc/self/mounts || fail "mount left in $1/images/$2"
}

# log_calls STORE SUBCOMMAND HANDLE: how often the plugin ran SUBCOMMAND for HANDLE.
log_calls() {
	grep -c "^$2 .* $2 \(.* \)\?$3\$" "$1/log" 2>/dev/null || true
}

log_json() { # log_json JQ-FILTER: over the JSON lines of guardian's log
	grep '^{' "$GDN_LOG" | jq -c "$1"
}

run_in() { # run_in HANDLE SCRIPT: sh -c SCRIPT in the container (gaol run), output on stdout
	gaol run -a "$1" -c "$2"
}

@test "an unprivileged create goes to --image-plugin: extra args first, the rootfs, the handle" {
	create_container img-a
	assert_equal "$(cat "$GROOT/create.img-a.argv")" \
		"--store $GROOT $UMAP $GMAP create $GDN_ROOTFS img-a"
	[[ ! -e $PGROOT/create.img-a.argv ]] || fail "the privileged plugin ran"
	assert_equal "$(cat "$GDN_DEPOT/img-a/image-plugin")" unprivileged
	# the container's root is the plugin's rootfs (an overlay in its store), not the depot's
	assert_equal "$(jq -r .root.path "$GDN_DEPOT/img-a/config.json")" "$GROOT/images/img-a/rootfs"
	[[ ! -e $GDN_DEPOT/img-a/rootfs ]] || fail "the built-in volumizer ran too"
	run run_in img-a 'id -u; mount | grep " on / "; echo hi > /written && cat /written'
	assert_success
	assert_line --index 0 0
	assert_line --index 1 --partial "upperdir=$GROOT/images/img-a/upper"
	assert_line --index 2 hi
	# the write went to the plugin's upper dir, owned by the container's root
	assert_equal "$(cat "$GROOT/images/img-a/upper/written")" hi
	assert_equal "$(stat -c %u "$GROOT/images/img-a/upper/written")" "$GDN_MAXID"
	destroy_container img-a
	assert_equal "$(log_calls "$GROOT" delete img-a)" 1
	image_gone "$GROOT" img-a
	assert_no_leaks img-a
}

@test "a privileged create goes to --privileged-image-plugin" {
	create_container img-p '{"privileged":true}'
	assert_equal "$(cat "$PGROOT/create.img-p.argv")" "--store $PGROOT create $GDN_ROOTFS img-p"
	[[ ! -e $GROOT/create.img-p.argv ]] || fail "the unprivileged plugin ran"
	assert_equal "$(cat "$GDN_DEPOT/img-p/image-plugin")" privileged
	run run_in img-p 'mount | grep " on / "'
	assert_output --partial "upperdir=$PGROOT/images/img-p/upper"
	destroy_container img-p
	assert_equal "$(log_calls "$PGROOT" delete img-p)" 1
	assert_equal "$(log_calls "$GROOT" delete img-p)" 0
	image_gone "$PGROOT" img-p
	assert_no_leaks img-p
}

@test "the plugin's env comes before the spec's and reaches processes; its mounts come first" {
	start_plugin_guardian --unpriv-arg --env --unpriv-arg IMAGE_ONLY=from-image \
		--unpriv-arg --env --unpriv-arg SHARED=image
	create_container img-e '{"env":["SHARED=spec","SPEC_ONLY=1"]}'
	run jq -c .process.env "$GDN_DEPOT/img-e/config.json"
	assert_output '["PATH=/usr/local/bin:/usr/bin:/bin:/image/bin","IMAGE_TAG=","IMAGE_ONLY=from-image","SHARED=image","SHARED=spec","SPEC_ONLY=1"]'
	# the plugin's tmpfs is the first mount, before guardian's /proc
	assert_equal "$(jq -r '.mounts[0].destination, .mounts[1].destination' "$GDN_DEPOT/img-e/config.json" | tr '\n' ' ')" "/image-tmp /proc "
	run run_in img-e 'echo "$PATH|$IMAGE_ONLY|$SHARED|$SPEC_ONLY"; mount | grep " on /image-tmp "'
	assert_success
	assert_line --index 0 "/usr/local/bin:/usr/bin:/bin:/image/bin|from-image|spec|1"
	assert_line --index 1 --partial "tmpfs on /image-tmp type tmpfs"
	destroy_container img-e
	start_plugin_guardian
}

@test "grootfs' skip_mount: the plugin mounts nothing and returns the overlay as a mount at /" {
	start_plugin_guardian --unpriv-arg --without-mount --priv-arg --without-mount
	local h store spec
	for h in img-sm img-smp; do
		store=$GROOT spec='{}'
		[[ $h == img-smp ]] && store=$PGROOT spec='{"privileged":true}'
		if [[ $GDN_RUNTIME == crun ]]; then
			# crun 1.8 cannot mount at "/" ("mount `overlay` to ``"): the create fails
			# with its word, and its undo deletes the image
			api_req POST /containers "$(jq -cn --arg h $h --argjson s "$spec" '{handle: $h} + $s')"
			assert_garden_error 500 "" "^crun run: exit status 1: mount .overlay. to ..: Invalid argument$"
			image_gone "$store" $h
			assert_no_leaks $h
			continue
		fi
		create_container $h "$spec"
		! grep -qF " $store/images/$h/rootfs " /proc/self/mounts || fail "the plugin mounted $h"
		assert_equal "$(jq -r '.mounts[0] | .destination + " " + .type' "$GDN_DEPOT/$h/config.json")" "/ overlay"
		run run_in $h 'mount | grep " on / "; echo hi > /f; cat /f'
		assert_success
		assert_line --index 0 --partial "upperdir=$store/images/$h/upper"
		assert_line --index 1 hi
		assert_equal "$(cat "$store/images/$h/upper/f")" hi
		destroy_container $h
		image_gone "$store" $h
		assert_no_leaks $h
	done
	start_plugin_guardian
}

@test "disk limits, image.uri with its first '#' made ':', and the registry credentials reach create" {
	create_container img-d '{"image":{"uri":"'"$GDN_ROOTFS"'#1.36#x","username":"u1","password":"p1"},"limits":{"disk_limits":{"byte_hard":1048576,"scope":1}}}'
	assert_equal "$(cat "$GROOT/create.img-d.argv")" \
		"--store $GROOT $UMAP $GMAP create --disk-limit-size-bytes 1048576 --exclude-image-from-quota --username u1 --password p1 $GDN_ROOTFS:1.36#x img-d"
	assert_equal "$(cat "$GROOT/images/img-d/disk-limit")" "1048576 exclusive"
	assert_equal "$(cat "$GROOT/images/img-d/credentials")" "u1:p1"
	# the tag the plugin saw
	run run_in img-d 'echo $IMAGE_TAG'
	assert_output '1.36#x'
	create_container img-d2 '{"rootfs":"'"$GDN_ROOTFS"'","limits":{"disk_limits":{"byte_hard":7}}}'
	assert_equal "$(cat "$GROOT/create.img-d2.argv")" \
		"--store $GROOT $UMAP $GMAP create --disk-limit-size-bytes 7 $GDN_ROOTFS img-d2"
	# no byte_hard: no flag, whatever the scope
	create_container img-d3 '{"limits":{"disk_limits":{"scope":1}}}'
	assert_equal "$(cat "$GROOT/create.img-d3.argv")" \
		"--store $GROOT $UMAP $GMAP create $GDN_ROOTFS img-d3"
	destroy_container img-d
	destroy_container img-d2
	destroy_container img-d3
}

@test "raw:// bypasses the plugin; rootfs and image.uri together are refused; nothing runs" {
	create_container img-raw '{"rootfs":"raw://'"$GDN_ROOTFS"'"}'
	[[ ! -e $GROOT/create.img-raw.argv && ! -e $GDN_DEPOT/img-raw/image-plugin ]] ||
		fail "the plugin ran for raw://"
	[[ -d $GDN_DEPOT/img-raw/volume ]] || fail "the built-in volumizer did not run"
	run run_in img-raw 'echo ok'
	assert_output ok
	destroy_container img-raw
	assert_equal "$(log_calls "$GROOT" delete img-raw)" 0
	api_req POST /containers '{"handle":"img-both","rootfs":"/a","image":{"uri":"/b"}}'
	assert_garden_error 500 "" "^Cannot provide both Image.URI and RootFSPath$"
	[[ ! -e $GROOT/create.img-both.argv ]] || fail "the plugin ran"
	assert_no_leaks img-both
}

@test "the plugin selection: 'no image_plugin provided' / 'no privileged_image_plugin provided'" {
	start_guardian --image-plugin "$FAKE_GROOTFS" --image-plugin-extra-arg=--store \
		--image-plugin-extra-arg="$GROOT"
	api_req POST /containers '{"handle":"img-np","privileged":true}'
	assert_garden_error 500 "" "^no privileged_image_plugin provided$"
	assert_no_leaks img-np
	start_guardian --privileged-image-plugin "$FAKE_GROOTFS" \
		--privileged-image-plugin-extra-arg=--store --privileged-image-plugin-extra-arg="$PGROOT"
	api_req POST /containers '{"handle":"img-nu"}'
	assert_garden_error 500 "" "^no image_plugin provided$"
	assert_no_leaks img-nu
	# raw:// still works without the plugin it would need
	create_container img-nraw '{"rootfs":"raw://'"$GDN_ROOTFS"'"}'
	destroy_container img-nraw
	[[ ! -e $GROOT/create.img-np.argv && ! -e $PGROOT/create.img-nu.argv ]] || fail "a plugin ran"
	start_plugin_guardian
}

@test "a failed plugin create is the Garden error with the plugin's message, and nothing is left" {
	start_plugin_guardian --unpriv-arg --fail --unpriv-arg create
	api_req POST /containers '{"handle":"img-f1"}'
	assert_garden_error 500 "" "^running image plugin create: create failed as asked \(--fail\): exit status 1$"
	assert_no_leaks img-f1
	image_gone "$GROOT" img-f1
	# create's undo ran delete (an unknown image is fine for the plugin)
	assert_equal "$(log_calls "$GROOT" delete img-f1)" 1
	# the message on stdout is what Garden reports
	start_plugin_guardian --priv-arg --fail-stdout --priv-arg create
	api_req POST /containers '{"handle":"img-f2","privileged":true}'
	assert_garden_error 500 "" "^running image plugin create: create failed as asked \(--fail-stdout\): exit status 1$"
	assert_no_leaks img-f2
	# a plugin that made the image and then failed: the delete removes it
	start_plugin_guardian --unpriv-arg --fail-late --unpriv-arg create
	api_req POST /containers '{"handle":"img-f3"}'
	assert_garden_error 500 "" "^running image plugin create: create failed late as asked \(--fail-late\): exit status 1$"
	assert_no_leaks img-f3
	assert_equal "$(log_calls "$GROOT" delete img-f3)" 1
	image_gone "$GROOT" img-f3
	# an image the plugin cannot find
	start_plugin_guardian
	api_req POST /containers '{"handle":"img-f4","image":{"uri":"/no/such/image"}}'
	assert_garden_error 500 "" "^running image plugin create: image '/no/such/image' not found \(a local directory\): exit status 1$"
	assert_no_leaks img-f4
	run list_handles 'garden.state=all'
	refute_output --partial img-f
	[[ -z $(pgrep -f "fake-grootfs.*img-f" || true) ]] || fail "a plugin process was left"
}

@test "a create that fails after the plugin's create runs its delete: nothing is left" {
	# a mount the runtime cannot make: the runtime fails after the image was made
	start_plugin_guardian --unpriv-arg --bad-mount
	api_req POST /containers '{"handle":"img-late"}'
	[[ $API_STATUS == 500 ]] || fail "create: $API_STATUS $API_BODY"
	assert_no_leaks img-late
	assert_equal "$(log_calls "$GROOT" create img-late)" 1
	assert_equal "$(log_calls "$GROOT" delete img-late)" 1
	image_gone "$GROOT" img-late
	# output that is not a runtime spec
	start_plugin_guardian --unpriv-arg --env --unpriv-arg 'NOT-KV'
	api_req POST /containers '{"handle":"img-bad"}'
	assert_garden_error 500 "" "^parsing image plugin create: .*process.env entry 'NOT-KV' is not KEY=VALUE$"
	assert_no_leaks img-bad
	image_gone "$GROOT" img-bad
	start_plugin_guardian
}

@test "destroy runs delete; a failed delete fails the destroy, which is retried (and start-up finishes it)" {
	create_container img-x
	create_container img-y
	start_plugin_guardian --unpriv-arg --fail --unpriv-arg delete
	api_req DELETE /containers/img-x
	assert_garden_error 500 "" "running image plugin destroy: delete failed as asked \(--fail\): exit status 1"
	# still there, still listed, and a retry runs delete again
	handle_listed img-x || fail "img-x is gone after a failed destroy"
	[[ -d $GROOT/images/img-x ]] || fail "the image went although delete failed"
	api_req DELETE /containers/img-x
	[[ $API_STATUS == 500 ]] || fail "the retry: $API_STATUS $API_BODY"
	assert_equal "$(log_calls "$GROOT" delete img-x)" 2
	# a guardian with a working plugin: start-up finishes the interrupted destroy
	start_plugin_guardian
	wait_until 100 test ! -e "$GDN_DEPOT/img-x" || fail "start-up did not finish the destroy"
	image_gone "$GROOT" img-x
	assert_no_leaks img-x
	destroy_container img-y
	image_gone "$GROOT" img-y
}

@test "the plugin's stderr is re-logged in guardian's log: lager lines at their level, others as errors" {
	start_plugin_guardian --unpriv-arg --noisy
	create_container img-log
	run log_json 'select(.message == "guardian.create.worker.grootfs.create.created")'
	assert_output --partial '"handle":"img-log"'
	assert_output --partial '"id":"img-log"'
	assert_output --partial '"original_timestamp":'
	run log_json 'select(.message == "guardian.create.worker.error" and .data.output != null)'
	assert_output --partial '"level":"error"'
	assert_output --partial '"output":"fake-grootfs: create is running (not a lager line)"'
	destroy_container img-log
	run log_json 'select(.message == "guardian.destroy.worker.grootfs.delete.deleted")'
	assert_output --partial '"id":"img-log"'
	start_plugin_guardian
}

@test "capacity: schedulable disk is the plugin's capacity; stats through the shim" {
	start_plugin_guardian --unpriv-arg --store-size-bytes --unpriv-arg 123456789
	api_req GET /capacity
	assert_equal "$(jq -r .schedulable_disk_in_bytes <<<"$API_BODY")" 123456789
	[[ $(jq -r .disk_in_bytes <<<"$API_BODY") -gt 0 ]] || fail "$API_BODY"
	assert_equal "$(cat "$GROOT/capacity.argv")" "--store $GROOT $UMAP $GMAP --store-size-bytes 123456789 capacity"
	create_container img-s
	run_in img-s 'dd if=/dev/zero of=/blob bs=1024 count=64 2>/dev/null'
	run "$SHIM" --socket "$GDN_TMP/image-plugin-shim.sock" stats img-s
	assert_success
	local used
	used=$(jq -r .disk_usage.exclusive_bytes_used <<<"$output")
	((used >= 65536)) || fail "exclusive_bytes_used $used: $output"
	run "$SHIM" --socket "$GDN_TMP/image-plugin-shim.sock" --privileged stats img-s
	assert_failure 1
	assert_output --partial "running image plugin metrics: image not found: img-s: exit status 1"
	destroy_container img-s
	start_plugin_guardian
}

@test "Metrics' DiskStat is the plugin's stats (inodes 0, as Garden); a slow stats holds up nothing else" {
	create_container img-m
	run_in img-m 'dd if=/dev/zero of=/blob bs=1024 count=64 2>/dev/null'
	api_ok GET /containers/img-m/metrics
	local excl total
	excl=$(jq -r .DiskStat.ExclusiveBytesUsed <<<"$API_BODY")
	total=$(jq -r .DiskStat.TotalBytesUsed <<<"$API_BODY")
	((excl >= 65536)) || fail "ExclusiveBytesUsed $excl: $API_BODY"
	# the fake plugin's total is its exclusive + 4096
	assert_equal "$total" "$((excl + 4096))"
	assert_equal "$(jq -c '[.DiskStat.TotalInodesUsed, .DiskStat.ExclusiveInodesUsed]' <<<"$API_BODY")" '[0,0]'
	assert_equal "$(cat "$GROOT/stats.img-m.argv")" "--store $GROOT $UMAP $GMAP stats img-m"
	destroy_container img-m

	start_plugin_guardian --unpriv-arg --slow --unpriv-arg stats
	create_container img-slow
	local t0 t1
	t0=$(date +%s%N)
	(api GET '/containers/bulk_metrics?handles=img-slow' >"$GDN_TMP/bulk.out" 2>&1 &)
	sleep 0.3
	# Ping, Info and a create answer while the worker waits on the plugin's 3 s stats
	api_ok GET /ping
	api_ok GET /containers/img-slow/info
	t1=$(date +%s%N)
	(((t1 - t0) / 1000000 < 2500)) || fail "Ping and Info took $(((t1 - t0) / 1000000)) ms beside a slow BulkMetrics"
	wait_until 100 grep -q '^200$' "$GDN_TMP/bulk.out"
	assert_equal "$(head -1 "$GDN_TMP/bulk.out" | jq -r '.["img-slow"].Err')" null
	destroy_container img-slow
	start_plugin_guardian
}

@test "Metrics of a container whose plugin's stats fail is the plugin's error; BulkMetrics gives it per handle" {
	start_plugin_guardian --unpriv-arg --fail --unpriv-arg stats
	create_container img-sf
	api_req GET /containers/img-sf/metrics
	assert_garden_error 500 '' 'stats failed as asked'
	api_ok GET '/containers/bulk_metrics?handles=img-sf'
	assert_regex "$(jq -r '.["img-sf"].Err.Message' <<<"$API_BODY")" 'stats failed as asked'
	assert_equal "$(jq -r '.["img-sf"].Err.Type' <<<"$API_BODY")" ''
	destroy_container img-sf
	start_plugin_guardian
}

@test "guardian restarts its shim after kill -9; a create meanwhile still succeeds" {
	local old new
	old=$(shim_pid)
	[[ -n $old ]] || fail "guardian runs no image-plugin-shim"
	kill -KILL "$old"
	wait_pid_gone "$old" 50
	create_container img-r
	wait_until 50 test -n "$(shim_pid)"
	new=$(shim_pid)
	[[ -n $new && $new != "$old" ]] || fail "no new shim ($old -> $new)"
	grep -q '"message":"guardian.image-plugin-shim.exited-restarting"' "$GDN_LOG"
	destroy_container img-r
	image_gone "$GROOT" img-r
	# guardian's SIGTERM stops its shim
	stop_guardian
	wait_pid_gone "$new" 50 || fail "the shim outlived guardian"
	start_plugin_guardian
}

@test "with --image-plugin-shim-socket guardian uses a shim started separately (BPM) and starts none" {
	local -a args
	mapfile -t args < <(plugin_args --image-plugin-extra-arg --store "$GROOT" $UMAP $GMAP)
	"$SHIM" serve --socket "$SHIM_SOCK" --image-plugin "$FAKE_GROOTFS" "${args[@]}" \
		--log-level debug </dev/null >/dev/null 2>>"$GDN_TMP/ext-shim.log" 3>&- &
	echo $! >"$GDN_TMP/ext-shim.pid"
	wait_until 50 test -S "$SHIM_SOCK"
	start_guardian --image-plugin-shim-socket "$SHIM_SOCK"
	[[ -z $(shim_pid) ]] || fail "guardian started a shim of its own"
	create_container img-b '{"env":["B=1"]}'
	assert_equal "$(cat "$GROOT/create.img-b.argv")" \
		"--store $GROOT $UMAP $GMAP create $GDN_ROOTFS img-b"
	run run_in img-b 'echo $PATH'
	assert_output /usr/local/bin:/usr/bin:/bin:/image/bin
	# the plugin's stderr still lands in guardian's log (the shim sends it back)
	grep -q '"message":"guardian.create.worker.grootfs.create.created"' "$GDN_LOG"
	# the shim holds no privileged plugin, so guardian says so before anything runs
	api_req POST /containers '{"handle":"img-bp","privileged":true}'
	assert_garden_error 500 "" "^no privileged_image_plugin provided$"
	assert_no_leaks img-bp
	destroy_container img-b
	image_gone "$GROOT" img-b
	stop_ext_shim
	start_plugin_guardian
}

@test "image plugin flags: conflicts are refused at start-up; --no-image-plugin keeps the built-in volumizer" {
	local -a base
	mapfile -t base < <(gdn_default_args)
	# (another depot: this file's is locked by its guardian)
	base+=(--depot "$GDN_TMP/depot-flags" --bind-socket "$GDN_TMP/flags.sock")
	run --separate-stderr "$GUARDIAN_BIN" "${base[@]}" --no-image-plugin --image-plugin /bin/true
	assert_failure 1
	[[ $stderr == *'"error":"--no-image-plugin excludes --image-plugin, '* ]] || fail "$stderr"
	run --separate-stderr "$GUARDIAN_BIN" "${base[@]}" --image-plugin-shim-socket /x --image-plugin /bin/true
	assert_failure 1
	[[ $stderr == *'"error":"--image-plugin-shim-socket: that shim holds the plugins'* ]] || fail "$stderr"
	run --separate-stderr "$GUARDIAN_BIN" "${base[@]}" --image-plugin-extra-arg x
	assert_failure 1
	[[ $stderr == *'"error":"--image-plugin-extra-arg without --image-plugin"'* ]] || fail "$stderr"
	run --separate-stderr "$GUARDIAN_BIN" "${base[@]}" --image-plugin-timeout 0s --image-plugin /bin/true
	assert_failure 2
	[[ $stderr == "guardian: --image-plugin-timeout: '0s' is not a positive duration"* ]] || fail "$stderr"
	start_guardian --no-image-plugin
	[[ -z $(shim_pid) ]] || fail "a shim without plugins"
	create_container img-n
	[[ -d $GDN_DEPOT/img-n/volume && ! -e $GDN_DEPOT/img-n/image-plugin ]] || fail "not the built-in volumizer"
	destroy_container img-n
	start_plugin_guardian
}

@test "start-up destroys an interrupted create through the plugin's delete" {
	create_container img-i
	# make it look interrupted: no created marker
	rm -f "$GDN_DEPOT/img-i/created"
	kill9_guardian
	start_plugin_guardian
	wait_until 100 test ! -e "$GDN_DEPOT/img-i" || fail "img-i was not undone"
	image_gone "$GROOT" img-i
	assert_equal "$(log_calls "$GROOT" delete img-i)" 1
	assert_no_leaks img-i
}

@test "nothing of this file is left" {
	destroy_all
	assert_all_clean
	[[ -z $(find "$GROOT/images" "$PGROOT/images" -mindepth 1 -maxdepth 1 2>/dev/null) ]] ||
		fail "images left: $(find "$GROOT/images" "$PGROOT/images" -mindepth 1 -maxdepth 1)"
	! grep -qF "$GDN_TMP/grootfs" /proc/self/mounts || fail "plugin mounts left"
}

@test "a pea's rootfs comes from the plugin (its process id as the handle) and is deleted when it exits" {
	create_container img-pea
	local spec s out
	spec=$(SPEC_EXTRA=$(jq -cn --arg r "$GDN_ROOTFS" '{id: "pea-1", image: {uri: $r}}') \
		sh_spec 'mount | grep " on / "; grep -c img-pea /etc/hosts')
	s=$(gc run img-pea "$spec" --stdout - --stderr -) || fail "run: $s"
	assert_equal "$(json_field "$s" .exit_status)" 0
	out=$(json_field "$s" .stdout)
	[[ $out == *"upperdir=$GROOT/images/pea-1/upper"* ]] || fail "the pea's root is not the plugin's: $out"
	assert_equal "$(sed -n 2p <<<"$out")" 1
	assert_equal "$(cat "$GROOT/create.pea-1.argv")" "--store $GROOT $UMAP $GMAP create $GDN_ROOTFS pea-1"
	# the plugin logs the call before it deletes
	pea_deleted() { [[ $(log_calls "$GROOT" delete pea-1) == 1 && ! -e $GROOT/images/pea-1 ]]; }
	wait_until 300 pea_deleted ||
		fail "the plugin's delete of the pea ran $(log_calls "$GROOT" delete pea-1) times"
	image_gone "$GROOT" pea-1
	destroy_container img-pea
	assert_equal "$(log_calls "$GROOT" delete pea-1)" 1
	assert_no_leaks img-pea
}

@test "a pea of a skip_mount plugin: a user name is found in its image's lower layers" {
	start_plugin_guardian --unpriv-arg --without-mount
	local spec s
	spec=$(SPEC_EXTRA=$(jq -cn --arg r "$GDN_ROOTFS" '{id: "pea-sm", user: "nobody", image: {uri: $r}}') \
		sh_spec 'id -un')
	if [[ $GDN_RUNTIME == crun ]]; then
		# crun 1.8 cannot mount at "/" (see the skip_mount test): the sandbox comes from the
		# built-in volumizer (raw://), the pea's Run fails with crun's word and leaves nothing
		create_container img-sm-pea "$(jq -cn --arg r "raw://$GDN_ROOTFS" '{rootfs: $r}')"
		s=$(gc run img-sm-pea "$spec") || fail "run: $s"
		assert_equal "$(json_field "$s" .status)" 500
		[[ $(json_field "$s" .body) == *"mount \`overlay\` to \`\`"* ]] || fail "body: $s"
		image_gone "$GROOT" pea-sm
		[[ ! -e $GDN_DEPOT/img-sm-pea/processes/pea-sm ]] || fail "the pea's process dir is left"
		destroy_container img-sm-pea
		assert_no_leaks img-sm-pea
		return 0
	fi
	create_container img-sm-pea
	s=$(gc run img-sm-pea "$spec" --stdout - --stderr -) || fail "run: $s"
	assert_equal "$(json_field "$s" .exit_status)" 0
	assert_equal "$(json_field "$s" .stdout)" nobody
	destroy_container img-sm-pea
	image_gone "$GROOT" pea-sm
	assert_no_leaks img-sm-pea
}
