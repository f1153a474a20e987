#!/usr/bin/env bats
# The guardian binary itself: command line, listening sockets, logs, shutdown, man page.
# Each test starts the guardian it needs.

load helpers/common

CONTRACT_FLAGS=(--bind-socket --socket-mode --bind-ip --bind-port --depot --store --default-rootfs
	--default-grace-time --max-containers --destroy-containers-on-startup
	--disable-privileged-containers --runtime-plugin --runtime-root --init-bin --log-level --help)

setup_file() {
	gdn_setup_tmp
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	if [[ -z ${BATS_TEST_COMPLETED:-} ]]; then
		show_log_tail
	fi
	destroy_all
	stop_guardian >/dev/null 2>&1 || true
}

# help_text: everything guardian prints for --help (top level and for the server subcommand).
help_text() {
	"$GUARDIAN_BIN" --help 2>&1
	"$GUARDIAN_BIN" server --help 2>&1
}

# free_port: a TCP port nobody listens on.
free_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 30000))
		if [[ -z $(ss -Htln "sport = :$p") ]]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

@test "guardian --help exits 0 and documents every server flag" {
	run --separate-stderr "$GUARDIAN_BIN" --help
	assert_success
	run --separate-stderr "$GUARDIAN_BIN" server --help
	assert_success
	local text f
	text=$(help_text)
	for f in "${CONTRACT_FLAGS[@]}"; do
		[[ $text == *"$f"* ]] || fail "--help does not mention $f"
	done
}

@test "every --long-option of guardian --help is in guardian(8)" {
	local page=$GDN_MAN_DIR/guardian.8 f missing=()
	assert [ -f "$page" ]
	# Roff escapes '-' as '\-'; undo that before searching.
	local text
	text=$(sed -e 's/\\-/-/g' -e 's/\\(hy/-/g' -e 's/\\f[BIRP]//g' "$page")
	for f in $(help_text | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
		grep -qF -- "$f" <<<"$text" || missing+=("$f")
	done
	((${#missing[@]} == 0)) || fail "not in guardian.8: ${missing[*]}"
	# The page renders without warnings.
	run bash -c "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z '$page' 2>&1 >/dev/null"
	assert_output ''
}

@test "bad command lines are rejected with a non-zero exit and a message" {
	local -a bad=(
		"--no-such-flag"
		"--log-level loud"
		"--default-grace-time soon"
		"--max-containers many"
		"--max-containers -1"
		"--socket-mode 999"
		"--bind-ip 127.0.0.1 --bind-port 70000"
		"--bind-ip not-an-ip --bind-port 7777"
		"--bind-socket"
		"--runtime-plugin gdn-no-such-runtime"
	)
	local b
	for b in "${bad[@]}"; do
		# shellcheck disable=SC2086
		run --separate-stderr timeout 5 "$GUARDIAN_BIN" server --depot "$GDN_TMP/bad-depot" \
			--runtime-root "$GDN_TMP/bad-rr" --bind-socket "$GDN_TMP/bad.sock" $b
		if ((status == 0 || status == 124)); then
			fail "guardian server $b: exit status $status (expected a usage error)"
		fi
		[[ -n $stderr ]] || fail "guardian server $b: nothing on stderr"
		[[ ! -e $GDN_TMP/bad.sock ]] ||
			fail "guardian server $b (exit $status) left its socket $GDN_TMP/bad.sock behind"
	done
	run --separate-stderr timeout 5 "$GUARDIAN_BIN" no-such-subcommand
	assert_failure
	((status != 124)) || fail "guardian no-such-subcommand timed out"
	[[ -n $stderr ]] || fail "guardian no-such-subcommand: nothing on stderr"
	rm -rf "$GDN_TMP/bad-depot" "$GDN_TMP/bad-rr" "$GDN_TMP/bad.sock"
}

@test "--config FILE: gdn's [server] section, flags override it, a bad file names its line" {
	local ini=$GDN_TMP/gdn.ini
	{
		echo '; as garden-runc-release renders it'
		echo '[server]'
		gdn_default_args | tail -n +2 | paste -d' ' - - | sed 's/^--\([^ ]*\) \(.*\)$/\1 = \2/'
		echo 'max-containers = 1'
		echo 'destroy-containers-on-startup = false'
		echo 'deny-network = 10.0.0.0/8'
		echo 'deny-network = "0.0.0.0/0"'
	} >"$ini"
	# gdn's order (--config before server); the flag wins over the file's max-containers
	start_guardian_args --config "$ini" server --max-containers 2
	api_req GET /capacity
	assert_equal "$(jq -r .max_containers <<<"$API_BODY")" 2
	create_container cfg-a
	destroy_container cfg-a
	stop_guardian
	# among server's flags; a repeatable flag given as a flag replaces the file's list
	start_guardian_args server --config="$ini" --deny-network 10.1.0.0/16
	api_req GET /capacity
	assert_equal "$(jq -r .max_containers <<<"$API_BODY")" 1
	local kw
	kw=$(tr '\0' ' ' </proc/"$(pgrep -P "$(guardian_pid)" kawasaki)"/cmdline)
	[[ $kw == *"--deny-network 10.1.0.0/16"* && $kw != *10.0.0.0/8* ]] ||
		fail "the file's deny-network list was not replaced by the flag's: kawasaki $kw"
	stop_guardian
	local bad
	for bad in $'[server]\nbogus = 1:2: unknown key \x27bogus\x27' \
		$'depot = /x:1: \x27depot = /x\x27 is outside the [server] section' \
		$'[server]\nskip-setup = yes:2: \x27skip-setup\x27 takes true or false, not \x27yes\x27' \
		$'[gdn]:1: unknown section [gdn] (only [server])'; do
		printf '%s\n' "${bad%%:*}" >"$GDN_TMP/bad.ini"
		run --separate-stderr "$GUARDIAN_BIN" --config "$GDN_TMP/bad.ini" server
		assert_failure 2
		assert_equal "${stderr%%$'\n'*}" "guardian: $GDN_TMP/bad.ini:${bad#*:}"
	done
	run --separate-stderr "$GUARDIAN_BIN" --config "$GDN_TMP/no-such.ini" server
	assert_failure 2
	[[ $stderr == *"no-such.ini"* ]] || fail "stderr: $stderr"
}

@test "guardian --config FILE setup: the server's file and flags; cgroups, sysctls, kawasaki's chains; then server --skip-setup" {
	local ini=$GDN_TMP/setup.ini
	{
		echo '[server]'
		gdn_default_args | tail -n +2 | paste -d' ' - - | sed 's/^--\([^ ]*\) \(.*\)$/\1 = \2/'
		echo 'deny-network = 10.0.0.0/8'
		echo "store-size-bytes = $((320 << 20))"
	} >"$ini"
	# kawasaki's global chains (the default tag's) are rebuilt from the file's deny-network
	run --separate-stderr "$GUARDIAN_BIN" --config "$ini" setup
	assert_success
	[[ $stderr == *guardian.setup.finished* ]] || fail "no setup.finished line: $stderr"
	if [[ -e /proc/fs/xfs/xqmstat ]]; then
		assert_equal "$(stat -f -c %T "$GDN_STORE")" xfs
		run "$GUARDIAN_BIN" teardown-store --store "$GDN_STORE"
		assert_success
	else
		# a kernel without XFS quotas: the plain store stays, and setup says why
		run jq -r 'select(.message == "guardian.setup.store-without-quotas") | .data.error' <<<"$stderr"
		assert_output --partial "CONFIG_XFS_QUOTA is not set"
		[[ ! -e $GDN_STORE.backing-store ]] || fail "a backing file was left"
	fi
	assert_equal "$(cat /proc/sys/net/ipv4/ip_forward)" 1
	(($(cat /proc/sys/kernel/pid_max) >= 4194304)) || fail "pid_max $(cat /proc/sys/kernel/pid_max)"
	assert_equal "$(cat /proc/sys/kernel/dmesg_restrict)" 1
	run iptables-legacy -S w--default
	assert_line -- "-A w--default -d 10.0.0.0/8 -j REJECT --reject-with icmp-port-unreachable"
	# the server then needs no set-up of its own
	start_guardian_args --config "$ini" server --skip-setup
	create_container setup-a
	run gaol run -a setup-a -c 'echo hi'
	assert_output hi
	destroy_container setup-a
	stop_guardian
	# setup checks the server's configuration as the server does
	printf '[server]\nbogus = 1\n' >"$GDN_TMP/bad.ini"
	run --separate-stderr "$GUARDIAN_BIN" --config "$GDN_TMP/bad.ini" setup
	assert_failure 2
	assert_equal "${stderr%%$'\n'*}" "guardian: $GDN_TMP/bad.ini:2: unknown key 'bogus'"
	run --separate-stderr "$GUARDIAN_BIN" setup --uid-map-length 0
	assert_failure
	[[ $stderr == *"uid/gid map lengths must be > 0"* ]] || fail "stderr: $stderr"
}

@test "the UNIX socket is mode 0600 by default and --socket-mode changes it" {
	start_guardian
	run stat -c %a "$GDN_SOCK"
	assert_output 600
	stop_guardian
	start_guardian --socket-mode 0660
	run stat -c %a "$GDN_SOCK"
	assert_output 660
	stop_guardian
	start_guardian --socket-mode 777
	run stat -c %a "$GDN_SOCK"
	assert_output 777
}

@test "--bind-ip/--bind-port also listen on TCP" {
	local port
	port=$(free_port)
	start_guardian --bind-ip 127.0.0.1 --bind-port "$port"
	run curl -s --max-time 5 "http://127.0.0.1:$port/ping"
	assert_success
	assert_output '{}'
	run curl -s --max-time 5 "http://127.0.0.1:$port/containers"
	assert_output '{"Handles":[]}'
	# The UNIX socket still works too.
	api_req GET /ping
	assert_api 200 '{}'
	stop_guardian
	run curl -s --max-time 2 "http://127.0.0.1:$port/ping"
	assert_failure
}

@test "a container created over TCP is visible over the UNIX socket" {
	local port
	port=$(free_port)
	start_guardian --bind-ip 127.0.0.1 --bind-port "$port"
	note_handle srv-tcp
	run curl -s --max-time 30 -H 'Content-Type: application/json' -d '{"handle":"srv-tcp"}' "http://127.0.0.1:$port/containers"
	assert_output '{"Handle":"srv-tcp"}'
	run list_handles
	assert_output srv-tcp
	destroy_container srv-tcp
	assert_no_leaks srv-tcp
}

@test "logs are lager JSON lines on stderr" {
	: >"$GDN_LOG"
	start_guardian --log-level debug
	create_container srv-log
	destroy_container srv-log
	api_req GET /containers/srv-log/info
	stop_guardian
	local n=0 line
	while IFS= read -r line; do
		[[ $line == '--- start: '* ]] && continue
		n=$((n + 1))
		run jq -e 'type == "object" and (keys | sort) == ["data","level","message","source","timestamp"]
			and (.level | IN("debug","info","error","fatal"))
			and (.timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z$"))
			and (.source | type == "string" and length > 0)
			and (.source as $s | .message | startswith($s + "."))
			and (.data | type == "object")' <<<"$line"
		((status == 0)) || fail "not a lager line: $line"
	done <"$GDN_LOG"
	((n > 0)) || fail "no log lines"
	run jq -r 'select(.message == "guardian.create.started") | .message' <(grep -v '^--- ' "$GDN_LOG")
	assert_output --partial guardian.create.started
	run jq -r 'select(.message | startswith("guardian.create.")) | .data.handle' <(grep -v '^--- ' "$GDN_LOG")
	assert_output --partial srv-log
	run jq -r 'select(.message | test("destroy")) | .data.handle' <(grep -v '^--- ' "$GDN_LOG")
	assert_output --partial srv-log
	# Nothing on stdout.
	run cat "$GDN_TMP/guardian.out"
	assert_output ''
}

@test "--log-level error suppresses info and debug lines" {
	: >"$GDN_LOG"
	start_guardian --log-level error
	create_container srv-quiet
	destroy_container srv-quiet
	run jq -r '.level' <(grep -v '^--- ' "$GDN_LOG")
	refute_output --regexp '(^|'$'\n'')(info|debug)($|'$'\n'')'
}

@test "SIGTERM: exits 0 within seconds, removes nothing, and containers keep running" {
	start_guardian
	create_container srv-term
	local pid
	pid=$(init_pid srv-term)
	run stop_guardian
	assert_success
	assert_equal "$(guardian_exit_status)" 0
	assert pid_alive "$pid"
	assert [ -d "$GDN_DEPOT/srv-term" ]
	run runtime_containers
	assert_output srv-term
	start_guardian
	run list_handles
	assert_output srv-term
	destroy_container srv-term
	assert_no_leaks srv-term "$pid"
}

@test "SIGTERM while a request is in flight lets it finish" {
	# The runtime's `run` is held (helpers/gated-runtime), so the create is provably in flight
	# when SIGTERM arrives, and guardian must wait for it.
	local out=$BATS_TEST_TMPDIR/create pid
	start_gated_guardian
	pid=$(guardian_pid)
	note_handle srv-inflight
	gate_hold run srv-inflight
	bg_start api POST /containers '{"handle":"srv-inflight"}' >"$out"
	gate_wait_entered run srv-inflight || fail "the create never reached the runtime"
	kill -TERM "$pid"
	wait_until 50 grep -q '"message":"guardian.stopping"' "$GDN_LOG" ||
		fail "guardian did not log that it is stopping"
	# It stopped listening, but waits for the create.
	wait_until 50 test ! -e "$GDN_SOCK" || fail "guardian still listens after SIGTERM"
	assert pid_alive "$pid"
	[[ ! -s $out ]] || fail "the create returned while its runtime was held: $(<"$out")"
	gate_release run srv-inflight
	bg_wait
	assert_equal "$(head -n 1 "$out")" '{"Handle":"srv-inflight"}'
	assert_equal "$(tail -n 1 "$out")" 200
	wait_pid_gone "$pid" || fail "guardian did not exit after the create finished"
	assert_equal "$(guardian_exit_status)" 0
	start_guardian
	run list_handles
	assert_output srv-inflight
	destroy_container srv-inflight
	assert_no_leaks srv-inflight
}

@test "the default rootfs is required to create without a rootfs" {
	local -a args
	mapfile -t args < <(gdn_default_args | grep -v -e '^--default-rootfs$' -e "^$GDN_ROOTFS\$")
	start_guardian_args "${args[@]}"
	api_req POST /containers '{"handle":"srv-norootfs"}'
	assert_garden_error 500 '' '.+'
	assert_no_leaks srv-norootfs
	create_container srv-withrootfs "$(jq -cn --arg r "$GDN_ROOTFS" '{rootfs: $r}')"
	destroy_container srv-withrootfs
	assert_no_leaks srv-withrootfs
}

@test "depot and store: created searchable whatever the umask; an unsearchable one is refused" {
	local depot=$GDN_TMP/um/depot store=$GDN_TMP/um/store
	local -a args
	mapfile -t args < <(gdn_default_args | sed -e "s|^$GDN_DEPOT\$|$depot|" -e "s|^$GDN_STORE\$|$store|")
	(
		umask 077
		start_guardian_args "${args[@]}"
	)
	run stat -c %a "$GDN_TMP/um" "$depot" "$store"
	assert_output $'755\n755\n755'
	# An unprivileged container's process can use what lies there.
	create_container srv-umask '{}'
	run --separate-stderr gaol run -a srv-umask -c 'echo ok' </dev/null
	assert_success
	assert_output ok
	destroy_container srv-umask
	stop_guardian
	# A store that exists without o+x is the operator's: guardian says what to do, changes nothing.
	chmod 700 "$store"
	run --separate-stderr timeout 5 "$GUARDIAN_BIN" "${args[@]}"
	assert_failure
	assert_equal "$(jq -r 'select(.message == "guardian.failed") | .data.error' <<<"$stderr")" \
		"--store '$store' is not reachable by unprivileged containers: '$store' lacks o+x (chmod o+x '$store')"
	run stat -c %a "$store"
	assert_output 700
	[[ ! -e $GDN_SOCK ]] || fail "the refused guardian left its socket behind"
	rm -rf "$GDN_TMP/um"
}

@test "nothing is left behind" {
	start_guardian
	destroy_all
	assert_all_clean
}

@test "dadoo and garden-init: --help and --version as every binary does, options in their pages" {
	local bin page f text missing=() v
	v=$("$GUARDIAN_BIN" --version)
	for bin in dadoo garden-init; do
		run --separate-stderr "$GDN_BUILD/bin/$bin" --help
		assert_success
		[[ $output == *Usage:* ]] || fail "$bin --help: $output"
		run --separate-stderr "$GDN_BUILD/bin/$bin" --version
		assert_success
		# one version for the suite
		assert_equal "${output#"$bin "}" "${v#guardian }"
		run --separate-stderr "$GDN_BUILD/bin/$bin" --no-such-flag
		assert_failure 2
		[[ $stderr == *"Try '$bin --help'."* ]] || fail "$bin usage error: $stderr"
		page=$(ls "$GDN_MAN_DIR/$bin".[0-9])
		text=$(sed -e 's/\\-/-/g' -e 's/\\(hy/-/g' -e 's/\\f[BIRP]//g' "$page")
		missing=()
		for f in $("$GDN_BUILD/bin/$bin" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
			grep -qF -- "$f" <<<"$text" || missing+=("$f")
		done
		((${#missing[@]} == 0)) || fail "not in $page: ${missing[*]}"
	done
}
