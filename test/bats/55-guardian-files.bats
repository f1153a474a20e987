#!/usr/bin/env bats
# StreamIn / StreamOut (garden-protocol.md §4.11-4.12, internals §9) on real containers, through
# gaol (a chunked body, as Go's client sends a reader) and curl (Content-Length): round trips,
# owners and modes, Garden's errors, hostile archives and hostile symlinks in the container
# (with the host's /etc and a scratch dir hashed before and after), a 1 GiB sparse file, and
# containers whose init is gone (their volume mounted privately by nstar).

load helpers/common

setup_file() {
	gdn_setup_file
	# host paths that hostile archives aim at: they must come out unchanged
	mkdir -p "$GDN_TMP/canary/dir"
	echo "canary" >"$GDN_TMP/canary/file"
	export GDN_CANARY=$GDN_TMP/canary
}

setup() {
	handle_listed fi-u || create_container fi-u
	handle_listed fi-p || create_container fi-p '{"privileged":true}'
	mkdir -p "$BATS_TEST_TMPDIR/w"
	W=$BATS_TEST_TMPDIR/w
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	gdn_teardown
}

# host_state: a digest of the host's /etc and the canary dir (names, modes, owners, contents).
host_state() {
	{
		rootfs_fingerprint /etc
		rootfs_fingerprint "$GDN_CANARY"
	} | md5sum
}

# in_ctr HANDLE CMD...: runs CMD in the container (busybox), output on stdout.
in_ctr() {
	local h=$1
	shift
	rt_exec "$h" "$@"
}

# stream_in HANDLE DEST [USER]: stdin through PUT .../files (chunked, via gaol); sets
# $status/$output like run.
stream_in() {
	run --separate-stderr gaol stream-in -d "$2" ${3:+-u "$3"} "$1"
}

# curl_put HANDLE QUERY FILE: a Content-Length StreamIn; sets API_STATUS and API_BODY.
curl_put() {
	local out
	out=$(curl --unix-socket "$GDN_SOCK" -s -w '\n%{http_code}' --max-time 60 -X PUT \
		-H 'Content-Type: application/x-tar' --data-binary "@$3" "http://api/containers/$1/files?$2")
	API_STATUS=${out##*$'\n'}
	API_BODY=${out%$'\n'*}
}

# curl_get HANDLE QUERY FILE: StreamOut's body into FILE; sets API_STATUS, API_BODY (= FILE's
# content when it is not a tar).
curl_get() {
	API_STATUS=$(curl --unix-socket "$GDN_SOCK" -s -o "$3" -w '%{http_code}' --max-time 60 \
		"http://api/containers/$1/files?$2")
	API_BODY=$(head -c 4096 "$3")
}

# hostile_tar OUT KIND...: writes an archive of hostile members (python's tarfile).
hostile_tar() {
	python3 - "$@" <<'EOF'
import io, sys, tarfile
out, kinds, canary = sys.argv[1], sys.argv[2:], __import__("os").environ["GDN_CANARY"]
t = tarfile.open(out, "w", format=tarfile.PAX_FORMAT)
def add(name, data=b"evil\n", **kw):
    i = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(i, k, v)
    if i.type == tarfile.REGTYPE:
        i.size = len(data)
        t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
for k in kinds:
    if k == "absolute":
        add(canary + "/planted-abs")
        add("/etc/planted-abs")
    elif k == "dotdot":
        add("../../../../../../.." + canary + "/planted-dotdot")
        add("a/../../../../../../../../etc/planted-dotdot")
    elif k == "symlink":
        add("esc", type=tarfile.SYMTYPE, linkname=canary)
        add("esc/planted-link")
        add("esc2", type=tarfile.SYMTYPE, linkname="../../../../../../.." + canary)
        add("esc2/planted-link2")
        add("etcl", type=tarfile.SYMTYPE, linkname="/etc")
        add("etcl/planted-etc")
    elif k == "hardlink":
        add("hl", type=tarfile.LNKTYPE, linkname=canary + "/file")
        add("hl2", type=tarfile.LNKTYPE, linkname="../../../../../../../etc/passwd")
        add("hl3", type=tarfile.LNKTYPE, linkname="/etc/shadow")
    elif k == "device":
        add("null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        add("sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0)
    elif k == "ok":
        add("fine", b"fine\n")
t.close()
EOF
}

# --- round trips --------------------------------------------------------------------------------

@test "StreamIn then StreamOut round-trips a tree: contents, modes, symlinks, hard links" {
	local src=$W/src out=$W/out
	mkdir -p "$src/d/e" "$src/private" "$out"
	echo one >"$src/a"
	printf 'x%.0s' {1..100000} >"$src/d/big"
	echo two >"$src/d/e/b"
	chmod 0600 "$src/d/e/b"
	chmod 0755 "$src/a"
	chmod 0700 "$src/private"
	ln -s ../a "$src/d/rel-link"
	ln -s /etc/passwd "$src/abs-link"
	ln "$src/a" "$src/d/hard"
	mkfifo "$src/fifo"
	tar -C "$src" -cf "$W/in.tar" .
	for h in fi-u fi-p; do
		stream_in "$h" /tmp/rt vcap <"$W/in.tar"
		assert_success
		rm -rf "${out:?}"/*
		gaol stream-out -s /tmp/rt/ -u vcap "$h" >"$W/out.tar"
		tar -C "$out" -xf "$W/out.tar"
		diff -r --no-dereference -x fifo "$src" "$out"
		assert_equal "$(stat -c %a "$out/a") $(stat -c %a "$out/d/e/b") $(stat -c %a "$out/private")" "755 600 700"
		assert_equal "$(readlink "$out/d/rel-link") $(readlink "$out/abs-link")" "../a /etc/passwd"
		assert_equal "$(stat -c %i "$out/a")" "$(stat -c %i "$out/d/hard")"
		[[ -p $out/fifo ]]
		# inside: everything belongs to vcap (1000:1000 of the container), hard link kept
		run in_ctr "$h" sh -c 'cd /tmp/rt && stat -c "%u:%g %h %n" a d/hard d/e/b && stat -c "%u:%g %n" private .'
		assert_output $'1000:1000 2 a\n1000:1000 2 d/hard\n1000:1000 1 d/e/b\n1000:1000 private\n1000:1000 .'
	done
}

@test "StreamOut: one member named after the source; a trailing slash streams the contents" {
	run in_ctr fi-u sh -c 'mkdir -p /root/documents/some/reports && echo hello >/root/documents/some/reports/test'
	assert_success
	run bash -c "gaol() { \"$GAOL_BIN\" -t \"$GDN_SOCK\" \"\$@\"; }; gaol stream-out -s /root/documents/some/reports fi-u | tar -tf -"
	assert_output $'reports/\nreports/test'
	run bash -c "\"$GAOL_BIN\" -t \"$GDN_SOCK\" stream-out -s /root/documents/some/reports/ fi-u | tar -tf -"
	assert_output $'./\n./test'
	run bash -c "\"$GAOL_BIN\" -t \"$GDN_SOCK\" stream-out -s /root/documents/some/reports/test fi-u | tar -xOf -"
	assert_output hello
	# curl: a raw chunked 200 body
	curl_get fi-u 'source=/etc/passwd' "$W/p.tar"
	assert_equal "$API_STATUS" 200
	assert_equal "$(tar -tf "$W/p.tar")" passwd
	cmp <(tar -xOf "$W/p.tar") "$GDN_ROOTFS/etc/passwd"
}

@test "StreamIn: a Content-Length body is answered {} once unpacked; the destination is made (mkdir -p) for the user" {
	mkdir -p "$W/src"
	echo data >"$W/src/f"
	tar -C "$W/src" -cf "$W/in.tar" .
	curl_put fi-u 'destination=%2Ftmp%2Fnew%2Fdeep%2Fdir&user=vcap' "$W/in.tar"
	assert_equal "$API_STATUS" 200
	assert_json "$API_BODY" '{}'
	run in_ctr fi-u sh -c 'cat /tmp/new/deep/dir/f; stat -c "%u %a %n" /tmp/new /tmp/new/deep /tmp/new/deep/dir /tmp'
	assert_output $'data\n1000 755 /tmp/new\n1000 755 /tmp/new/deep\n1000 755 /tmp/new/deep/dir\n0 1777 /tmp'
}

@test "StreamIn: default user root; relative paths are from the user's home; modes less the umask, no set-id bits" {
	mkdir -p "$W/src/sub"
	echo x >"$W/src/suid"
	chmod 4777 "$W/src/suid"
	chmod 2775 "$W/src/sub"
	tar -C "$W/src" -cf "$W/in.tar" .
	stream_in fi-u rel <"$W/in.tar"
	assert_success
	stream_in fi-u rel vcap <"$W/in.tar"
	assert_success
	run in_ctr fi-u sh -c 'stat -c "%u %a %n" /root/rel/suid /root/rel/sub /home/vcap/rel/suid /home/vcap/rel/sub'
	assert_output $'0 755 /root/rel/suid\n0 755 /root/rel/sub\n1000 755 /home/vcap/rel/suid\n1000 755 /home/vcap/rel/sub'
	run --separate-stderr bash -c "\"$GAOL_BIN\" -t \"$GDN_SOCK\" stream-out -s rel/suid -u vcap fi-u | tar -tvf -"
	assert_output --regexp '^-rwxr-xr-x .* suid$'
}

# --- errors -------------------------------------------------------------------------------------

@test "errors: unknown handle, unknown user, corrupt archive, missing source, no permission" {
	local before
	mkdir -p "$W/src"
	echo x >"$W/src/f"
	tar -C "$W/src" -cf "$W/in.tar" .
	curl_put nope 'destination=%2Ftmp' "$W/in.tar"
	assert_garden_error 404 ContainerNotFoundError '^unknown handle: nope$'
	curl_get nope 'source=%2Ftmp' "$W/o"
	assert_garden_error 404 ContainerNotFoundError '^unknown handle: nope$'

	before=$(in_ctr fi-u sh -c 'ls -R /tmp /root | md5sum')
	curl_put fi-u 'destination=%2Ftmp%2Fu&user=ghost' "$W/in.tar"
	assert_garden_error 500 '' '^stream-in: nstar: error streaming in: exit status 1\. Output: unable to find user ghost: no matching entries in passwd file$'
	curl_get fi-u 'source=%2Fetc&user=ghost' "$W/o"
	assert_garden_error 500 '' '^stream-out: nstar: error streaming out: exit status 1\. Output: unable to find user ghost'

	head -c 20000 /dev/urandom >"$W/junk"
	curl_put fi-u 'destination=%2Ftmp%2Fjunk' "$W/junk"
	assert_garden_error 500 '' '^stream-in: nstar: error streaming in: exit status 2\. Output: cannot read the archive: Unrecognized archive format'

	curl_get fi-u 'source=%2Fno%2Fsuch' "$W/o"
	assert_garden_error 500 '' '^stream-out: nstar: error streaming out: exit status 1\. Output: /no: Cannot open: No such file or directory$'
	curl_get fi-u 'source=%2Ftmp%2Fnothing' "$W/o"
	assert_garden_error 500 '' 'nothing: Cannot stat: No such file or directory$'
	# nothing was created by the failed calls
	assert_equal "$(in_ctr fi-u sh -c 'ls -R /tmp /root | md5sum')" "$before"

	# vcap may not write into /root (0700 root) nor read it
	curl_put fi-u 'destination=%2Froot&user=vcap' "$W/in.tar"
	assert_garden_error 500 '' '^stream-in: nstar: error streaming in: exit status 2\. Output: .*Permission denied'
	run in_ctr fi-u test -e /root/f
	assert_failure
	curl_get fi-u 'source=%2Froot%2F&user=vcap' "$W/o"
	assert_garden_error 500 '' '^stream-out: nstar: error streaming out: exit status 2\. Output: .*Permission denied'
	# gaol: the message, exit 1
	run --separate-stderr gaol stream-in -d /tmp/x -u ghost fi-u <"$W/in.tar"
	assert_failure 1
	assert_equal "$stderr" "gaol: stream-in: nstar: error streaming in: exit status 1. Output: unable to find user ghost: no matching entries in passwd file"
	run --separate-stderr gaol stream-out -s /no/such fi-u
	assert_failure 1
	[[ $stderr == *"Cannot open: No such file or directory" ]]
}

@test "a truncated archive (a member claiming more than comes) fails and leaves no half file" {
	python3 - "$W/cut.tar" <<'EOF'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT)
i = tarfile.TarInfo("whole"); d = b"all of it\n"; i.size = len(d); t.addfile(i, io.BytesIO(d))
t.close()
raw = open(sys.argv[1], "rb").read().rstrip(b"\0")
raw = raw + b"\0" * (-len(raw) % 512)
h = tarfile.TarInfo("huge"); h.size = 1 << 40   # claims 1 TiB
open(sys.argv[1], "wb").write(raw + h.tobuf(tarfile.GNU_FORMAT) + b"x" * 100000)
EOF
	curl_put fi-u 'destination=%2Ftmp%2Fcut' "$W/cut.tar"
	assert_garden_error 500 '' 'error streaming in: exit status 2\. Output: .*runcated'
	run in_ctr fi-u ls /tmp/cut
	assert_output whole
}

# --- hostile input ------------------------------------------------------------------------------

@test "hostile archives (absolute names, .., symlink then write, hard links to host paths) change nothing on the host" {
	local before kind h
	before=$(host_state)
	for kind in absolute dotdot symlink hardlink; do
		hostile_tar "$W/$kind.tar" "$kind" ok
		for h in fi-u fi-p; do
			for user in "" vcap; do
				curl_put "$h" "destination=%2Ftmp%2Fh-$kind-${user:-root}&user=$user" "$W/$kind.tar"
				assert_garden_error 500 '' "error streaming in: exit status 2"
				# the harmless member is in: tar carries on past a refused one
				run in_ctr "$h" cat "/tmp/h-$kind-${user:-root}/fine"
				assert_output fine
			done
		done
	done
	assert_equal "$(host_state)" "$before"
	[[ ! -e /etc/planted-abs && ! -e /etc/planted-dotdot && ! -e /etc/planted-etc ]]
	run find "$GDN_CANARY" -name 'planted*'
	assert_output ''
	# nothing escaped into the container's own /etc either, and no device node exists
	run in_ctr fi-p sh -c 'ls /etc/planted* /tmp/h-*/null /tmp/h-*/sda /tmp/h-*/hl* 2>/dev/null'
	assert_output ''
}

@test "device nodes: root of a privileged container may make them, nobody else; the host is unchanged" {
	local before
	before=$(host_state)
	hostile_tar "$W/dev.tar" device
	curl_put fi-p 'destination=%2Ftmp%2Fdevp' "$W/dev.tar"
	assert_equal "$API_STATUS" 200
	run in_ctr fi-p stat -c '%F %t:%T' /tmp/devp/null
	assert_output 'character special file 1:3'
	curl_put fi-p 'destination=%2Ftmp%2Fdevv&user=vcap' "$W/dev.tar"
	assert_garden_error 500 '' 'null: Cannot mknod: Operation not permitted'
	curl_put fi-u 'destination=%2Ftmp%2Fdevu' "$W/dev.tar"
	assert_garden_error 500 '' 'null: Cannot mknod: Operation not permitted'
	run in_ctr fi-u sh -c 'ls /tmp/devu /tmp/devv 2>&1'
	refute_output --partial null
	assert_equal "$(host_state)" "$before"
}

@test "hostile symlinks in the container (/tmp/x -> /etc, /tmp/y -> /proc/1/root) stay inside it" {
	local before h
	before=$(host_state)
	mkdir -p "$W/src"
	echo planted >"$W/src/planted-through"
	tar -C "$W/src" -cf "$W/in.tar" .
	for h in fi-u fi-p; do
		in_ctr "$h" sh -c 'ln -sfn /etc /tmp/x; ln -sfn /proc/1/root /tmp/y; ln -sfn ../../../../.. /tmp/z'
		stream_in "$h" /tmp/x/sub <"$W/in.tar"
		assert_success
		run in_ctr "$h" cat /etc/sub/planted-through
		assert_output planted
		stream_in "$h" /tmp/z/etc <"$W/in.tar"
		assert_success
		run in_ctr "$h" cat /etc/planted-through
		assert_output planted
		# StreamOut through them: the container's passwd, never the host's
		run bash -c "\"$GAOL_BIN\" -t \"$GDN_SOCK\" stream-out -s /tmp/x/passwd $h | tar -xOf -"
		assert_output "$(cat "$GDN_ROOTFS/etc/passwd")"
		run bash -c "\"$GAOL_BIN\" -t \"$GDN_SOCK\" stream-out -s /tmp/y/etc/passwd $h | tar -xOf -"
		if [[ -n $output ]]; then
			assert_output "$(cat "$GDN_ROOTFS/etc/passwd")"
		fi
		stream_in "$h" /tmp/y/tmp/via-proc <"$W/in.tar"
		if ((status == 0)); then
			run in_ctr "$h" cat /tmp/via-proc/planted-through
			assert_output planted
		fi
	done
	assert_equal "$(host_state)" "$before"
	[[ ! -e /etc/sub && ! -e /etc/planted-through && ! -e /tmp/via-proc ]]
}

# --- big and sparse -----------------------------------------------------------------------------

@test "a 1 GiB sparse file round-trips sparse: small on the wire, small on disk, same bytes" {
	local src=$W/sparse out=$W/sout
	mkdir -p "$src" "$out"
	truncate -s 1G "$src/big"
	echo head | dd of="$src/big" conv=notrunc status=none
	echo tail | dd of="$src/big" bs=1 seek=$((1024 * 1024 * 1024 - 5)) conv=notrunc status=none
	tar -C "$src" -S -cf "$W/sparse.tar" big
	(($(stat -c %s "$W/sparse.tar") < 1024 * 1024))
	stream_in fi-u /tmp/sparse vcap <"$W/sparse.tar"
	assert_success
	# inside: the full size, a few blocks allocated
	run in_ctr fi-u stat -c '%s %b' /tmp/sparse/big
	local size=${output% *} blocks=${output#* }
	assert_equal "$size" 1073741824
	((blocks < 2048)) || fail "allocated $blocks blocks of 512 bytes: not sparse"
	# out: a small stream that unpacks to the same bytes, sparse again
	gaol stream-out -s /tmp/sparse/big fi-u >"$W/s.tar"
	(($(stat -c %s "$W/s.tar") < 1024 * 1024)) || fail "stream of $(stat -c %s "$W/s.tar") bytes"
	tar -C "$out" -xf "$W/s.tar"
	cmp "$src/big" "$out/big"
	(($(stat -c %b "$out/big") < 2048))
}

# --- containers whose init is gone --------------------------------------------------------------

@test "a container whose init is gone: its volume is mounted privately for the stream, owners are the container's" {
	local h p mounts_before
	mkdir -p "$W/src/d"
	echo stopped >"$W/src/d/f"
	tar -C "$W/src" -cf "$W/in.tar" .
	for spec in '{}' '{"privileged":true}'; do
		h=fi-dead-$RANDOM
		create_container "$h" "$spec"
		p=$(init_pid "$h")
		kill -KILL "$p"
		wait_pid_gone "$p"
		mounts_before=$(grep -c . /proc/self/mountinfo)
		stream_in "$h" /home/vcap/in vcap <"$W/in.tar"
		assert_success
		run bash -c "\"$GAOL_BIN\" -t \"$GDN_SOCK\" stream-out -s /home/vcap/in/d/f -u vcap $h | tar -xOf -"
		assert_output stopped
		# on the host, in the upper dir: vcap's host id (1000 under Garden's mapping)
		assert_equal "$(stat -c %u "$GDN_STORE/volumes/$h/upper/home/vcap/in/d/f")" 1000
		# nothing mounted in the host's namespace (nor guardian's), no nstar left
		assert_equal "$(grep -c . /proc/self/mountinfo)" "$mounts_before"
		run mounts_under "$GDN_DEPOT/$h"
		assert_output ''
		run pgrep -x nstar
		assert_failure
		# several at once: each mounts its own view in turn (an flock), none fails
		local pids=() n
		for n in 1 2 3; do
			gaol stream-in -d "/tmp/par$n" "$h" <"$W/in.tar" &
			pids+=($!)
		done
		for n in "${pids[@]}"; do
			wait "$n"
		done
		for n in 1 2 3; do
			run bash -c "\"$GAOL_BIN\" -t \"$GDN_SOCK\" stream-out -s /tmp/par$n/d/f $h | tar -xOf -"
			assert_output stopped
		done
		destroy_container "$h"
		assert_no_leaks "$h"
	done
}

@test "a destroy during a stream ends it (running or init gone); the destroy succeeds and leaves nothing" {
	local h p gpid spec
	mkdir -p "$W/src"
	head -c 100000 /dev/urandom >"$W/src/f"
	tar -C "$W/src" -cf "$W/in.tar" .
	for spec in running gone; do
		h=fi-ds-$spec
		create_container "$h"
		p=$(init_pid "$h")
		if [[ $spec == gone ]]; then
			kill -KILL "$p"
			wait_pid_gone "$p"
		fi
		rm -f "$W/body"
		mkfifo "$W/body"
		gaol stream-in -d /tmp/slow "$h" <"$W/body" >"$W/g.out" 2>&1 &
		gpid=$!
		exec 5>"$W/body"
		# the archive's first blocks, then nothing: nstar waits inside the container
		head -c 2048 "$W/in.tar" >&5
		wait_until 50 pgrep -x nstar
		destroy_container "$h"
		assert_no_leaks "$h" "$p"
		# SIGKILLed with its worker (the exit itself may take a moment)
		wait_until 20 bash -c '! pgrep -x nstar >/dev/null'
		exec 5>&-
		local st=0
		wait "$gpid" || st=$?
		assert_equal "$st" 1
		run cat "$W/g.out"
		assert_output --partial "gaol: "
	done
}

@test "streams leave nothing behind: no nstar, no fd of guardian, no mount" {
	local g fds_before
	g=$(guardian_pid)
	mkdir -p "$W/src"
	echo x >"$W/src/f"
	tar -C "$W/src" -cf "$W/in.tar" .
	stream_in fi-u /tmp/warm <"$W/in.tar"
	fds_before=$(ls "/proc/$g/fd" | wc -l)
	# (not $i: bats' run --separate-stderr sets it)
	local n
	for n in 1 2 3 4 5; do
		stream_in fi-u "/tmp/l$n" <"$W/in.tar"
		assert_success
		gaol stream-out -s "/tmp/l$n" fi-u >/dev/null
		curl_put fi-u 'destination=%2Ftmp&user=ghost' "$W/in.tar"
		curl_get fi-u 'source=%2Fnope' "$W/o"
	done
	# a client that hangs up halfway through a StreamOut
	timeout 5 bash -c "\"$GAOL_BIN\" -t \"$GDN_SOCK\" stream-out -s /bin fi-u | head -c 1000 >/dev/null" || true
	wait_until 50 bash -c '! pgrep -x nstar >/dev/null'
	assert_equal "$(ls "/proc/$g/fd" | wc -l)" "$fds_before"
	run mounts_under "$GDN_DEPOT"
	assert_output ''
}

@test "gaol stream-in/stream-out: usage" {
	run --separate-stderr gaol stream-in fi-u
	assert_failure 2
	[[ $stderr == *"-d is required"* ]]
	run --separate-stderr gaol stream-out fi-u
	assert_failure 2
	[[ $stderr == *"-s is required"* ]]
	run gaol stream-in --help
	assert_success
	assert_output --partial 'Usage: gaol stream-in -d DIR [-u USER] HANDLE'
	run "$GDN_BUILD/bin/nstar" --help
	assert_success
	assert_output --partial 'Usage: nstar stream-in'
	run --separate-stderr "$GDN_BUILD/bin/nstar" stream-in --path /x
	assert_failure 2
	[[ $stderr == *"exactly one of --pidfd and --volume is required"* ]]
}
