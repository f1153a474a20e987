#!/usr/bin/env bats
# image-plugin-shim(8) with test/imageplugin/fake-grootfs, without guardian: its command line,
# its socket and peers, bad requests, concurrent and timed-out runs, and SIGTERM. (guardian
# with the shim is test/bats/35-guardian-imageplugin.bats.)

load helpers/common

FAKE_GROOTFS=$(cd "$BATS_TEST_DIRNAME/../imageplugin" && pwd)/fake-grootfs
SHIM=$GDN_BUILD/bin/image-plugin-shim

setup_file() {
	gdn_setup_tmp
	export IPS_SOCK=$GDN_TMP/ips.sock IPS_LOG=$GDN_TMP/shim.log
	export STORE=$GDN_TMP/store-u PSTORE=$GDN_TMP/store-p
	# the command run as nobody must be able to execute it
	cp "$SHIM" "$GDN_TMP/image-plugin-shim"
	chmod 0755 "$GDN_TMP/image-plugin-shim"
}

teardown() {
	if [[ -z ${BATS_TEST_COMPLETED:-} && -f $IPS_LOG ]]; then
		echo "# --- shim log (tail)" >&3
		tail -n 30 "$IPS_LOG" | sed 's/^/# /' >&3
	fi
	stop_shim
	delete_images
}

teardown_file() {
	stop_shim
	delete_images
	gdn_cleanup_runtime_and_mounts
	[[ -n ${GDN_TMP:-} ]] && rm -rf "$GDN_TMP"
	return 0
}

shim_pid() {
	cat "$GDN_TMP/shim.pid" 2>/dev/null || true
}

# start_shim [SERVE-ARGS...]: a shim holding fake-grootfs as both plugins (stores of their own,
# the unprivileged one given ARGS after its store); waits for its socket.
start_shim() {
	local i pid
	stop_shim
	printf -- '--- start: serve %s\n' "$*" >>"$IPS_LOG"
	"$SHIM" serve --socket "$IPS_SOCK" --image-plugin "$FAKE_GROOTFS" \
		--image-plugin-extra-arg=--store --image-plugin-extra-arg="$STORE" \
		--privileged-image-plugin "$FAKE_GROOTFS" \
		--privileged-image-plugin-extra-arg=--store \
		--privileged-image-plugin-extra-arg="$PSTORE" --log-level debug "$@" \
		</dev/null >>"$GDN_TMP/shim.out" 2>>"$IPS_LOG" 3>&- &
	pid=$!
	echo "$pid" >"$GDN_TMP/shim.pid"
	for ((i = 0; i < 100; i++)); do
		[[ -S $IPS_SOCK ]] && return 0
		pid_alive "$pid" || break
		sleep 0.05
	done
	echo "image-plugin-shim serve did not come up" >&2
	tail -n 20 "$IPS_LOG" >&2
	return 1
}

stop_shim() {
	local pid
	pid=$(shim_pid)
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait_pid_gone "$pid" 100 || kill -KILL "$pid" 2>/dev/null || true
	rm -f "$GDN_TMP/shim.pid"
}

# Images the tests made: unmounted and removed by the plugin itself.
delete_images() {
	local s i
	for s in "$STORE" "$PSTORE"; do
		for i in "$s"/images/*; do
			[[ -d $i ]] && "$FAKE_GROOTFS" --store "$s" delete "${i##*/}" >/dev/null 2>&1
		done
	done
	return 0
}

ips() {
	"$SHIM" --socket "$IPS_SOCK" "$@"
}

# raw JSON...: each JSON text (plus the framing's newline) one packet on one connection; prints
# each reply (python3).
raw() {
	python3 - "$IPS_SOCK" "$@" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
for m in sys.argv[2:]:
    s.send(m.encode() + b"\n")
    print(s.recv(1 << 21).decode().rstrip("\n"))
EOF
}

# group_gone PID: no process is left in the process group PID led.
group_gone() {
	local i
	for ((i = 0; i < 30; i++)); do
		[[ -z $(pgrep -g "$1" 2>/dev/null || true) ]] && return 0
		sleep 0.1
	done
	return 1
}

@test "image-plugin-shim: --help, --version and usage errors as every binary; its options in image-plugin-shim(8)" {
	local v text f missing=()
	v=$("$GUARDIAN_BIN" --version)
	run --separate-stderr "$SHIM" --help
	assert_success
	[[ $output == *Usage:* ]] || fail "$output"
	run --separate-stderr "$SHIM" --version
	assert_success
	assert_equal "${output#image-plugin-shim }" "${v#guardian }"
	run --separate-stderr "$SHIM" --no-such-flag
	assert_failure 2
	[[ $stderr == *"Try 'image-plugin-shim --help'."* ]] || fail "usage error: $stderr"
	run --separate-stderr "$SHIM" serve --socket "$IPS_SOCK"
	assert_failure 2
	[[ $stderr == "image-plugin-shim: serve: give --image-plugin, --privileged-image-plugin or both"* ]] || fail "$stderr"
	run --separate-stderr "$SHIM" serve --socket "$IPS_SOCK" --privileged-image-plugin-extra-arg x --image-plugin /bin/true
	assert_failure 2
	run --separate-stderr "$SHIM" --socket "$IPS_SOCK" reboot
	assert_failure 2
	assert_equal "$stderr" "image-plugin-shim: unknown command 'reboot'"$'\n'"Try 'image-plugin-shim --help'."
	run --separate-stderr "$SHIM" --socket "$IPS_SOCK" create onlyone
	assert_failure 2
	text=$(sed -e 's/\\-/-/g' -e 's/\\(hy/-/g' -e 's/\\f[BIRP]//g' "$GDN_MAN_DIR/image-plugin-shim.8")
	for f in $("$SHIM" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
		grep -qF -- "$f" <<<"$text" || missing+=("$f")
	done
	((${#missing[@]} == 0)) || fail "not in image-plugin-shim(8): ${missing[*]}"
	run bash -c "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z '$GDN_MAN_DIR/image-plugin-shim.8' 2>&1 >/dev/null"
	assert_output ''
}

@test "serve: a plugin that is not there is reported at start-up" {
	run --separate-stderr "$SHIM" serve --socket "$IPS_SOCK" --image-plugin no-such-plugin-xyz
	assert_failure 1
	[[ $stderr == *'"message":"image-plugin-shim.plugin-not-found"'* ]] || fail "$stderr"
	[[ ! -e $IPS_SOCK ]] || fail "it left its socket"
}

@test "ping lists the plugins; the four subcommands with Garden's argv, through either plugin" {
	start_shim
	run ips ping
	assert_success
	assert_output '{"ok":true,"v":1,"plugins":["unprivileged","privileged"]}'
	run --separate-stderr ips create --disk-limit-size-bytes 99 --exclude-image-from-quota "$GDN_ROOTFS#v2" ips-1
	assert_success
	assert_equal "$(jq -r .root.path <<<"$output")" "$STORE/images/ips-1/rootfs"
	assert_equal "$(cat "$STORE/create.ips-1.argv")" \
		"--store $STORE create --disk-limit-size-bytes 99 --exclude-image-from-quota $GDN_ROOTFS:v2 ips-1"
	# the plugin's lager lines, re-logged by the command
	[[ $stderr == *'"message":"image-plugin-shim.grootfs.create.created"'* ]] || fail "$stderr"
	grep -qF " $STORE/images/ips-1/rootfs overlay " /proc/self/mounts || fail "not mounted"
	run ips stats ips-1
	assert_success
	[[ $(jq -r .disk_usage.total_bytes_used <<<"$output") -gt 0 ]] || fail "$output"
	run ips capacity
	assert_output '{"capacity":10737418240}'
	run --separate-stderr ips delete ips-1
	assert_output "Image ips-1 deleted"
	assert_equal "$(cat "$STORE/delete.ips-1.argv")" "--store $STORE delete ips-1"
	[[ ! -e $STORE/images/ips-1 ]] || fail "not deleted"
	run ips --privileged create "$GDN_ROOTFS" ips-2
	assert_success
	assert_equal "$(cat "$PSTORE/create.ips-2.argv")" "--store $PSTORE create $GDN_ROOTFS ips-2"
	run ips --privileged delete ips-2
	assert_success
	# an unknown image: grootfs' answer, success
	run --separate-stderr ips delete ips-none
	assert_success
	assert_output "Image not found: ips-none Skipping delete."
}

@test "a plugin failure is Garden's message, from stdout or else the last stderr line; the reply carries its stderr" {
	start_shim --image-plugin-extra-arg=--fail --image-plugin-extra-arg=create
	run --separate-stderr ips create "$GDN_ROOTFS" ips-f
	assert_failure 1
	assert_equal "$stderr" "image-plugin-shim: running image plugin create: create failed as asked (--fail): exit status 1"
	run raw '{"op":"create","v":1,"plugin":"unprivileged","handle":"ips-f","rootfs":"/x"}'
	assert_equal "$(jq -r .error.message <<<"$output")" "running image plugin create: create failed as asked (--fail): exit status 1"
	jq -e '.stderr | contains("\"grootfs.create.failed\"")' <<<"$output" >/dev/null || fail "$output"
	start_shim --image-plugin-extra-arg=--fail-stdout --image-plugin-extra-arg=stats
	run --separate-stderr ips stats ips-g
	assert_failure 1
	assert_equal "$stderr" "image-plugin-shim: running image plugin metrics: stats failed as asked (--fail-stdout): exit status 1"
	start_shim --image-plugin-extra-arg=--fail --image-plugin-extra-arg=delete
	run --separate-stderr ips delete ips-g
	assert_equal "$stderr" "image-plugin-shim: running image plugin destroy: delete failed as asked (--fail): exit status 1"
	start_shim --image-plugin-extra-arg=--fail --image-plugin-extra-arg=capacity
	run --separate-stderr ips capacity
	assert_equal "$stderr" "image-plugin-shim: running image plugin capacity: capacity failed as asked (--fail): exit status 1"
}

@test "bad requests are refused and run nothing; the connection survives them" {
	local before
	start_shim
	before=$(cat "$STORE/log" "$PSTORE/log" 2>/dev/null | wc -l)
	run raw '{"op":"create","v":1,"plugin":"unprivileged","handle":"../etc","rootfs":"/x"}' \
		'{"op":"create","v":1,"plugin":"root","handle":"h","rootfs":"/x"}' \
		'{"op":"create","v":1,"plugin":"unprivileged","handle":"h","rootfs":"--help"}' \
		'{"op":"create","v":1,"plugin":"unprivileged","handle":"h"}' \
		'{"op":"create","v":2,"plugin":"unprivileged","handle":"h","rootfs":"/x"}' \
		'{"op":"exec","v":1,"argv":["/bin/sh"]}' \
		'{"op":"create","v":1,"plugin":"unprivileged","handle":"h","rootfs":"/x","disk_limit_size_bytes":-1}' \
		'{"op":"create","v":1,"plugin":"unprivileged","handle":"h","rootfs":"/x","exclude_image_from_quota":"yes"}' \
		'not json' \
		'{"op":"ping","v":1}'
	local -a msgs
	mapfile -t msgs < <(jq -r '.error.message // "ok"' <<<"$output")
	[[ ${msgs[0]} == "invalid handle '../etc'"* ]] || fail "${msgs[0]}"
	assert_equal "${msgs[1]}" "request 'create': plugin must be \"unprivileged\" or \"privileged\""
	assert_equal "${msgs[2]}" "request 'create': rootfs must not start with '-'"
	assert_equal "${msgs[3]}" "request 'create': rootfs must be a string without NUL"
	assert_equal "${msgs[4]}" "request 'create' is of protocol version 2; this image-plugin-shim speaks versions 0 to 1"
	assert_equal "${msgs[5]}" "unknown op 'exec'"
	assert_equal "${msgs[6]}" "request 'create': disk_limit_size_bytes must be an integer from 0 to 2^63-1"
	assert_equal "${msgs[7]}" "request 'create': exclude_image_from_quota must be a boolean"
	[[ ${msgs[8]} == "invalid JSON"* || ${msgs[8]} == *"JSON"* ]] || fail "${msgs[8]}"
	assert_equal "${msgs[9]}" ok
	assert_line --index 9 '{"ok":true,"v":1,"plugins":["unprivileged","privileged"]}'
	assert_equal "$(cat "$STORE/log" "$PSTORE/log" 2>/dev/null | wc -l)" "$before"
	# a shim without a privileged plugin says so
	stop_shim
	"$SHIM" serve --socket "$IPS_SOCK" --image-plugin "$FAKE_GROOTFS" \
		--image-plugin-extra-arg=--store --image-plugin-extra-arg="$STORE" \
		2>>"$IPS_LOG" 3>&- &
	echo $! >"$GDN_TMP/shim.pid"
	wait_until 50 test -S "$IPS_SOCK"
	run --separate-stderr ips --privileged create "$GDN_ROOTFS" ips-np
	assert_failure 1
	assert_equal "$stderr" "image-plugin-shim: no privileged_image_plugin provided"
	run ips ping
	assert_output '{"ok":true,"v":1,"plugins":["unprivileged"]}'
}

@test "the socket's mode: 0600 unless --socket-mode says otherwise; other users are refused" {
	local as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups "$GDN_TMP/image-plugin-shim")
	start_shim
	assert_equal "$(stat -c %a "$IPS_SOCK")" 600
	run --separate-stderr "${as_nobody[@]}" --socket "$IPS_SOCK" capacity
	assert_failure 1
	[[ $stderr == *"Permission denied"* ]] || fail "$stderr"
	start_shim --socket-mode 0666
	assert_equal "$(stat -c %a "$IPS_SOCK")" 666
	run --separate-stderr "${as_nobody[@]}" --socket "$IPS_SOCK" --privileged create / ips-nobody
	assert_failure 1
	grep -q '"message":"image-plugin-shim.serve.peer-refused"' "$IPS_LOG"
	[[ ! -e $PSTORE/create.ips-nobody.argv ]] || fail "the plugin ran for nobody"
	run ips capacity
	assert_success
}

@test "requests proceed at once: a slow plugin holds up only its own connection; the deadline kills it" {
	local start elapsed slow_pid pid
	start_shim --image-plugin-extra-arg=--slow --image-plugin-extra-arg=stats --timeout 10s
	ips stats ips-slow >"$GDN_TMP/slow.out" 2>&1 3>&- &
	slow_pid=$!
	sleep 0.3
	start=$(date +%s%N)
	run ips capacity
	assert_success
	elapsed=$((($(date +%s%N) - start) / 1000000))
	((elapsed < 2000)) || fail "capacity waited ${elapsed} ms behind a slow stats"
	wait "$slow_pid" && fail "stats of no image succeeded: $(cat "$GDN_TMP/slow.out")"
	grep -q "image not found: ips-slow" "$GDN_TMP/slow.out" || fail "$(cat "$GDN_TMP/slow.out")"

	start_shim --image-plugin-extra-arg=--slow --image-plugin-extra-arg=create --timeout 1s
	start=$(date +%s%N)
	run --separate-stderr ips create "$GDN_ROOTFS" ips-late
	assert_failure 1
	assert_equal "$stderr" "image-plugin-shim: running image plugin create: : timed out after 1s: killed"
	elapsed=$((($(date +%s%N) - start) / 1000000))
	((elapsed < 2900)) || fail "the deadline took ${elapsed} ms"
	# the plugin led its process group: its `sleep 3` went with it
	pid=$(pgrep -f "fake-grootfs.*ips-late" || true)
	[[ -z $pid ]] || fail "the plugin lives on: $pid"
	[[ ! -e $STORE/images/ips-late ]] || fail "the killed create went on"
}

@test "SIGTERM: the shim finishes the request in flight, removes its socket and exits 0" {
	local pid client_pid
	start_shim --image-plugin-extra-arg=--slow --image-plugin-extra-arg=create
	pid=$(shim_pid)
	ips create "$GDN_ROOTFS" ips-term >"$GDN_TMP/term.out" 2>&1 3>&- &
	client_pid=$!
	sleep 0.5
	kill -TERM "$pid"
	sleep 0.3
	[[ ! -e $IPS_SOCK ]] || fail "the socket is still there"
	pid_alive "$pid" || fail "the shim did not wait for its run"
	wait "$client_pid" || fail "the run in flight failed: $(cat "$GDN_TMP/term.out")"
	wait_pid_gone "$pid" 50
	grep -q '"message":"image-plugin-shim.serve.stopped"' "$IPS_LOG"
	[[ -d $STORE/images/ips-term ]] || fail "the create did not complete"
}
