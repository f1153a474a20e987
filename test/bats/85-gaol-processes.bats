#!/usr/bin/env bats
# gaol run, attach and shell against a real guardian: exit statuses, the three streams, ids,
# users, directories, environment, terminals, signals, errors and usage.

load helpers/common

setup_file() {
	gdn_setup_file
}

# The shared container; made again when a failed test's teardown destroyed everything.
setup() {
	handle_listed pg-a || create_container pg-a '{"env":["CENV=from-container","OVER=container"]}'
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	gdn_teardown
}

# in_pty COMMAND: runs the shell command line COMMAND with a pseudo-terminal as its stdin, stdout
# and stderr (script(1)); its stdin is this function's stdin. Output has CRLF line ends. script
# runs COMMAND with $SHELL, which CI leaves unset (so /bin/sh, dash): COMMAND is bash, say so.
in_pty() {
	SHELL=$BASH timeout 30 script -qec "$1" /dev/null
}

@test "gaol run -a: the exit status is gaol's" {
	run --separate-stderr gaol run -a pg-a -c 'exit 42' </dev/null
	assert_failure 42
	assert_output ''
	assert_equal "$stderr" ''
	run --separate-stderr gaol run --attach pg-a -c 'echo hi; exit 0' </dev/null
	assert_success
	assert_output hi
}

@test "gaol run -a -- PATH ARGS: no shell, arguments kept as they are" {
	run --separate-stderr gaol run -a pg-a -- /bin/echo -n 'two  spaces' '$HOME' </dev/null
	assert_success
	assert_output 'two  spaces $HOME'
	run --separate-stderr gaol run -a pg-a -- printf '%s|' a 'b c' </dev/null
	assert_output 'a|b c|'
}

@test "gaol run -a: stdout and stderr go to gaol's stdout and stderr" {
	run --separate-stderr gaol run -a pg-a -c 'echo to-out; echo to-err >&2; exit 3' </dev/null
	assert_failure 3
	assert_output to-out
	assert_equal "$stderr" to-err
}

@test "gaol run -a: 10 MiB of binary on stdout and on stderr, byte for byte" {
	local sum
	sum=$(gaol run -a pg-a -c 'head -c 10485760 /dev/urandom >/tmp/blob && sha256sum </tmp/blob' </dev/null)
	sum=${sum%% *}
	assert_regex "$sum" '^[0-9a-f]{64}$'
	gaol run -a pg-a -c 'cat /tmp/blob & cat /tmp/blob >&2; wait' \
		</dev/null >"$GDN_TMP/out.bin" 2>"$GDN_TMP/err.bin"
	assert_equal "$(sha256sum <"$GDN_TMP/out.bin" | cut -d' ' -f1)" "$sum"
	assert_equal "$(sha256sum <"$GDN_TMP/err.bin" | cut -d' ' -f1)" "$sum"
	rm -f "$GDN_TMP/out.bin" "$GDN_TMP/err.bin"
}

@test "gaol run -a: stdin is passed on and its end ends cat" {
	run --separate-stderr bash -c "printf 'a\nb\n' | \"\$0\" -t \"\$1\" run -a pg-a -- cat" \
		"$GAOL_BIN" "$GDN_SOCK"
	assert_success
	assert_output $'a\nb'
	# ~1 MiB, and UTF-8 split at arbitrary read boundaries.
	{
		seq 1 100000
		for _ in $(seq 1 2000); do printf '\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80'; done
		echo
	} >"$GDN_TMP/in.txt"
	gaol run -a pg-a -- cat <"$GDN_TMP/in.txt" >"$GDN_TMP/out.txt"
	cmp "$GDN_TMP/in.txt" "$GDN_TMP/out.txt"
	# The stdin of `sha256sum` inside equals the file outside.
	run --separate-stderr gaol run -a pg-a -c 'sha256sum | cut -d" " -f1' <"$GDN_TMP/in.txt"
	assert_output "$(sha256sum <"$GDN_TMP/in.txt" | cut -d' ' -f1)"
}

@test "gaol run -a: invalid UTF-8 on stdin becomes U+FFFD, as with Go's client" {
	run --separate-stderr bash -c "printf 'a\xffb\n' | \"\$0\" -t \"\$1\" run -a pg-a -- od -An -tx1" \
		"$GAOL_BIN" "$GDN_SOCK"
	assert_success
	assert_equal "$(tr -s ' \n' ' ' <<<"$output")" ' 61 ef bf bd 62 0a '
}

@test "gaol run without -a prints the process id; attach gets early and late output" {
	# "early" is written before the attach (the process marks it), "late" only once the
	# attach has printed "early" (the test releases the process).
	run --separate-stderr gaol run pg-a -c "echo early; $(sh_mark pg-early)$(sh_await pg-late)echo late"
	assert_success
	local id=$output pid rc=0
	assert_regex "$id" "$uuid_v4_regex"
	ctr_wait_mark pg-a pg-early || fail "the process did not start"
	bg_gaol attach -p "$id" pg-a </dev/null >"$GDN_TMP/early.out"
	pid=$!
	wait_until 100 grep -q early "$GDN_TMP/early.out" || fail "attach did not print early"
	ctr_signal pg-a pg-late
	wait_client "$pid" || rc=$?
	assert_equal "$rc" 0
	assert_equal "$(<"$GDN_TMP/early.out")" $'early\nlate'
}

@test "gaol run -p ID uses that id; a duplicate fails with exit 1" {
	run --separate-stderr gaol run -p gp-dup pg-a -- sleep 100
	assert_success
	assert_output gp-dup
	run --separate-stderr gaol run --process-id gp-dup pg-a -- true
	assert_failure 1
	assert_equal "$stderr" "gaol: process ID 'gp-dup' already in use"
	kill -KILL "$(process_host_pid pg-a gp-dup)"
	run --separate-stderr gaol attach -p gp-dup pg-a </dev/null
	assert_failure 137
}

@test "gaol attach to a finished process exits with its status" {
	run --separate-stderr gaol run -p gp-fin pg-a -c 'echo bye; exit 9'
	assert_success
	wait_process_exited pg-a gp-fin
	run --separate-stderr gaol attach -p gp-fin pg-a </dev/null
	assert_failure 9
	run --separate-stderr gaol attach --process-id gp-fin pg-a </dev/null
	assert_failure 9
}

@test "gaol attach -p unknown: 'unknown process', exit 1" {
	run --separate-stderr gaol attach -p gp-nope pg-a </dev/null
	assert_failure 1
	assert_output ''
	assert_equal "$stderr" 'gaol: unknown process: gp-nope'
}

@test "gaol run of a missing executable fails with exit 1 and the server's message" {
	run --separate-stderr gaol run -a pg-a -- /bin/no-such-binary </dev/null
	assert_failure 1
	[[ $stderr == gaol:*no-such-binary* ]] || fail "stderr: $stderr"
	run --separate-stderr gaol run pg-a -- no-such-command
	assert_failure 1
	assert_output ''
	[[ $stderr == gaol:*no-such-command* ]] || fail "stderr: $stderr"
}

@test "gaol run on an unknown container fails with exit 1" {
	run --separate-stderr gaol run -a gp-no-ctr -- true </dev/null
	assert_failure 1
	[[ $stderr == gaol:* ]] || fail "stderr: $stderr"
}

@test "gaol run: kill -9 \$\$ is 137; SIGTERM to gaol terminates the process (143)" {
	run --separate-stderr gaol run -a pg-a -c 'kill -9 $$' </dev/null
	assert_failure 137
	local pid
	bg_gaol run -a -p gp-term pg-a -- sleep 100 </dev/null
	pid=$!
	wait_process_running pg-a gp-term
	kill -TERM "$pid"
	local rc=0
	wait_client "$pid" || rc=$?
	assert_equal "$rc" 143
}

@test "gaol run -u: a user name, UID:GID, and an unknown user" {
	run --separate-stderr gaol run -a -u vcap pg-a -c 'id -u; id -g' </dev/null
	assert_success
	assert_output $'1000\n1000'
	run --separate-stderr gaol run -a --user 1000:1000 pg-a -c 'id -u' </dev/null
	assert_output 1000
	run --separate-stderr gaol run -a -u nobody2 pg-a -- true </dev/null
	assert_failure 1
	assert_equal "$stderr" 'gaol: unable to find user nobody2: no matching entries in passwd file'
}

@test "gaol run -i: a pea in a rootfs of its own, in the container's network namespace" {
	run --separate-stderr gaol run -a -i "$GDN_ROOTFS" -u 1000:1000 pg-a -c 'echo pea >/tmp/pea-file; id -u; pwd; readlink /proc/self/ns/net'
	assert_success
	assert_line --index 0 1000
	assert_line --index 1 /
	assert_line --index 2 "$(readlink "/proc/$(init_pid pg-a)/ns/net")"
	run gaol run -a pg-a -c 'test -e /tmp/pea-file || echo not-in-the-container'
	assert_output not-in-the-container
	run --separate-stderr gaol run -a -i /no/such/rootfs pg-a -c true
	assert_failure 1
	[[ $stderr == *"rootfs '/no/such/rootfs' does not exist"* ]] || fail "stderr: $stderr"
}

@test "gaol run -d: the working directory is created and used" {
	run --separate-stderr gaol run -a -d /var/gaol-dir pg-a -- pwd </dev/null
	assert_success
	assert_output /var/gaol-dir
	run --separate-stderr gaol run -a --dir /tmp pg-a -- pwd </dev/null
	assert_output /tmp
}

@test "gaol run -e: variables on top of the container's" {
	run --separate-stderr gaol run -a -e OVER=process --env NEW='two words' pg-a \
		-c 'echo "$CENV|$OVER|$NEW"' </dev/null
	assert_success
	assert_output 'from-container|process|two words'
}

@test "gaol run --tty without a terminal: 80x24, CRLF, stderr merged" {
	run --separate-stderr gaol run -a --tty pg-a -c "$(tty_settle)stty size; echo e >&2" </dev/null
	assert_success
	assert_output $'24 80\r\ne\r'
	assert_equal "$stderr" ''
}

@test "gaol run --tty in a terminal: its size, and the terminal restored after" {
	run in_pty "stty cols 100 rows 30; s=\$(stty -g); $GAOL_BIN -t $GDN_SOCK run -a --tty pg-a -c '$(tty_settle)stty size; exit 4'; echo rc=\$?; [ \"\$(stty -g)\" = \"\$s\" ] && echo restored" </dev/null
	assert_success
	assert_output --partial $'30 100\r'
	assert_output --partial 'rc=4'
	# The local terminal is back as it was (canonical mode, echo).
	assert_output --partial 'restored'

}

@test "gaol run --tty | head: gaol dies of SIGPIPE and leaves the terminal restored" {
	run in_pty "s=\$(stty -g); $GAOL_BIN -t $GDN_SOCK run -a --tty -p gp-yes pg-a -- yes | head -n 2; echo \"st=\${PIPESTATUS[0]}\"; [ \"\$(stty -g)\" = \"\$s\" ] && echo restored" </dev/null
	assert_success
	assert_output --partial 'st=141'
	assert_output --partial 'restored'
	# The process outlives its client.
	local pid
	pid=$(process_host_pid pg-a gp-yes) || fail "no pidfile for gp-yes: $(ls -A "$(proc_dir pg-a gp-yes)")"
	kill -KILL "$pid" || fail "gp-yes (pid $pid) did not outlive gaol"
}

@test "gaol shell: an interactive sh in a terminal, exit status passed on" {
	run in_pty "stty cols 90 rows 20; $GAOL_BIN -t $GDN_SOCK shell -u vcap pg-a; echo rc=\$?" \
		<<<"$(tty_settle)"'stty size; id -u; echo "TERM=$TERM"; exit 3'
	assert_success
	assert_output --partial $'20 90\r'
	assert_output --partial $'1000\r'
	assert_output --partial 'rc=3'
}

@test "gaol run -a: 20 concurrent runs each get their own output and status" {
	local i pids=()
	for ((i = 1; i <= 20; i++)); do
		bg_gaol run -a pg-a -c "echo out-$i; echo err-$i >&2; exit $i" \
			</dev/null >"$GDN_TMP/g.$i.out" 2>"$GDN_TMP/g.$i.err"
		pids[i]=$!
	done
	for ((i = 1; i <= 20; i++)); do
		local rc=0
		wait_client "${pids[i]}" || rc=$?
		assert_equal "$rc" "$i"
		assert_equal "$(cat "$GDN_TMP/g.$i.out")" "out-$i"
		assert_equal "$(cat "$GDN_TMP/g.$i.err")" "err-$i"
	done
	rm -f "$GDN_TMP"/g.*
}

@test "a gaol killed while attached leaves the process running; attach later finishes it" {
	local pid
	# The process writes "two" only once the test lets it, after gaol is gone.
	bg_gaol run -a -p gp-kill pg-a -c "echo one; $(sh_await gp-kill-go)echo two; exit 6" \
		</dev/null >"$GDN_TMP/kill.out"
	pid=$!
	wait_until 100 grep -q one "$GDN_TMP/kill.out" || fail "gaol did not print one"
	kill -KILL "$pid"
	wait_client "$pid" || true
	assert pid_alive "$(process_host_pid pg-a gp-kill)"
	ctr_signal pg-a gp-kill-go
	run --separate-stderr gaol attach -p gp-kill pg-a </dev/null
	assert_failure 6
	assert_output two
}

@test "gaol stop ends an attached process: 143" {
	create_container pg-stop
	local pid
	bg_gaol run -a -p gp-stop pg-stop -- sleep 100 </dev/null
	pid=$!
	wait_process_running pg-stop gp-stop
	run --separate-stderr gaol stop pg-stop
	assert_success
	local rc=0
	wait_client "$pid" || rc=$?
	assert_equal "$rc" 143
	gaol destroy pg-stop
	assert_no_leaks pg-stop
}

@test "kill -9 guardian during a run; after a restart gaol attach gets the rest and exit 7" {
	# "1" is written before guardian dies, the rest only after the restart.
	run --separate-stderr gaol run -p gp-surv pg-a \
		-c "echo 1; $(sh_mark gp-surv)$(sh_await gp-surv-go)"'for i in 2 3 4 5; do echo $i; done; exit 7'
	assert_success
	wait_process_running pg-a gp-surv
	ctr_wait_mark pg-a gp-surv || fail "the process did not write its first line"
	kill9_guardian
	assert pid_alive "$(process_host_pid pg-a gp-surv)"
	start_guardian
	ctr_signal pg-a gp-surv-go
	run --separate-stderr gaol attach -p gp-surv pg-a </dev/null
	assert_failure 7
	[[ $'1\n2\n3\n4\n5' == *"$output" && $output == *5 ]] || fail "output: $output"
}

@test "bad usage of run, attach and shell exits 2" {
	local -a bad=(
		"run"
		"run pg-a"
		"run pg-a -c true -- /bin/true"
		"run -e novalue pg-a -c true"
		"run -p  pg-a -c true"
		"run --bogus pg-a -c true"
		"attach pg-a"
		"attach -p x"
		"attach -p x a b"
		"shell"
		"shell a b"
	)
	local b
	for b in "${bad[@]}"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$GAOL_BIN" -t "$GDN_SOCK" $b </dev/null
		((status == 2)) || fail "gaol $b: exit $status, expected 2 (stderr: $stderr)"
		[[ -n $stderr ]] || fail "gaol $b: no message on stderr"
		assert_output ''
	done
	run --separate-stderr "$GAOL_BIN" -t "$GDN_SOCK" run -p '' pg-a -c true
	assert_failure 2
	run --separate-stderr "$GAOL_BIN" run --help
	assert_success
	assert_output --partial --process-id
}

@test "every container was cleaned up and no dadoo is left" {
	destroy_all_no_dadoo_left
}
