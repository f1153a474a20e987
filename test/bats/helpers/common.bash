# Shared helpers of the garden-c integration tests (bats 1.8.2).
#
# Every test file gets its own scratch directory $GDN_TMP (a short /tmp/gdn.XXXX path, so that
# socket paths stay short) holding the depot, the volumizer store, the runtime root, the UNIX
# socket and the guardian logs. The file's guardian is started in setup_file and everything is
# torn down in teardown_file, even when tests fail: containers via the API, then the guardian by
# its PID, then (as a safety net) the runtime's containers under our own --root, then every mount
# under $GDN_TMP, then the directory itself.
#
# Environment (set by `make bats`): GDN_BUILD (build/release), GDN_ROOTFS (busybox rootfs
# directory), GDN_RUNTIME (runc or crun).

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

: "${BATS_TEST_TIMEOUT:=60}"
export BATS_TEST_TIMEOUT

: "${GDN_BUILD:?GDN_BUILD must point at build/<variant>}"
: "${GDN_ROOTFS:?GDN_ROOTFS must point at the busybox rootfs}"
: "${GDN_RUNTIME:=runc}"
export GDN_BUILD GDN_ROOTFS GDN_RUNTIME

GUARDIAN_BIN=$GDN_BUILD/bin/guardian
GAOL_BIN=$GDN_BUILD/bin/gaol
GARDEN_INIT_BIN=$GDN_BUILD/bin/garden-init
# Rendered man pages live next to the variant directories (build/man).
GDN_MAN_DIR=$(cd "$GDN_BUILD/.." 2>/dev/null && pwd)/man

# Host id of an unprivileged container's root (maxid), garden's default.
GDN_MAXID=4294967294

# --- per-file scratch area and guardian --------------------------------------------------------

# gdn_setup_tmp: creates $GDN_TMP and the paths inside it (exported for the tests).
gdn_setup_tmp() {
	GDN_TMP=$(mktemp -d /tmp/gdn.XXXX)
	# Unprivileged container roots (host uid 4294967294) must be able to reach their rootfs.
	chmod 0755 "$GDN_TMP"
	export GDN_TMP
	export GDN_DEPOT=$GDN_TMP/depot
	export GDN_STORE=$GDN_TMP/store
	export GDN_RUNTIME_ROOT=$GDN_TMP/runtime-root
	export GDN_SOCK=$GDN_TMP/gdn.sock
	export GDN_LOG=$GDN_TMP/guardian.log
	export GDN_KAWASAKI_STATE=$GDN_TMP/kawasaki
	export GDN_KAWASAKI_SOCK=$GDN_KAWASAKI_STATE/kawasaki.sock
	# The host resolv.conf containers' is derived from: a local resolver, so that containers
	# get their gateway (this host) as nameserver and never one beyond it.
	export GDN_HOST_RESOLV=$GDN_TMP/host-resolv.conf
	printf 'nameserver 127.0.0.53\n' >"$GDN_HOST_RESOLV"
}

# The flags every test guardian gets; tests add more with start_guardian ARGS...
gdn_default_args() {
	printf '%s\n' server --bind-socket "$GDN_SOCK" --depot "$GDN_DEPOT" --store "$GDN_STORE" \
		--runtime-plugin "$GDN_RUNTIME" --runtime-root "$GDN_RUNTIME_ROOT" \
		--init-bin "$GARDEN_INIT_BIN" --default-rootfs "$GDN_ROOTFS" --log-level debug \
		--resolv-conf "$GDN_HOST_RESOLV"
}

guardian_pid() {
	cat "$GDN_TMP/guardian.pid" 2>/dev/null || true
}

# pid_alive PID: true while PID exists and is not a zombie.
pid_alive() {
	local st
	[[ -n ${1:-} ]] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && ${st:0:1} != Z && ${st:0:1} != X ]]
}

guardian_alive() {
	pid_alive "$(guardian_pid)"
}

# start_guardian [EXTRA-ARGS...]: starts guardian with the default flags plus EXTRA-ARGS and waits
# until GET /ping answers. The guardian runs in its own session under a small bash wrapper that
# records its exit status in $GDN_TMP/guardian.exit; its PID is in $GDN_TMP/guardian.pid.
start_guardian() {
	local -a args
	mapfile -t args < <(gdn_default_args)
	printf '%s' "$*" >"$GDN_TMP/guardian.extra-args.new"
	start_guardian_args "${args[@]}" "$@"
}

# start_guardian_args ARGS...: starts `guardian ARGS...` (no default flags added) the same way.
start_guardian_args() {
	if guardian_alive; then
		stop_guardian
	fi
	if [[ -e $GDN_TMP/guardian.extra-args.new ]]; then
		mv "$GDN_TMP/guardian.extra-args.new" "$GDN_TMP/guardian.extra-args"
	else
		echo "(custom)" >"$GDN_TMP/guardian.extra-args"
	fi
	rm -f "$GDN_TMP/guardian.pid" "$GDN_TMP/guardian.exit" "$GDN_TMP/guardian.pid.new"
	printf -- '--- start: guardian %s\n' "$*" >>"$GDN_LOG"
	(
		exec setsid bash -c '
			tmp=$1; shift
			"$@" </dev/null >>"$tmp/guardian.out" 2>>"$tmp/guardian.log" &
			pid=$!
			echo "$pid" >"$tmp/guardian.pid.new" && mv "$tmp/guardian.pid.new" "$tmp/guardian.pid"
			wait "$pid"
			echo $? >"$tmp/guardian.exit"
		' guardian-wrapper "$GDN_TMP" "$GUARDIAN_BIN" "$@"
	) 3>&- 4>&- </dev/null >/dev/null 2>&1 &
	wait_for_guardian
}

# wait_for_guardian: waits (10 s) for the PID file and a successful GET /ping.
wait_for_guardian() {
	local i pid=
	for ((i = 0; i < 200; i++)); do
		pid=$(guardian_pid)
		if [[ -n $pid ]]; then
			if [[ -S $GDN_SOCK ]] && curl --unix-socket "$GDN_SOCK" -sf --max-time 2 \
				-o /dev/null http://api/ping; then
				return 0
			fi
			if ! pid_alive "$pid"; then
				echo "guardian (pid $pid) exited during start-up, status $(cat "$GDN_TMP/guardian.exit" 2>/dev/null)" >&2
				tail -n 20 "$GDN_LOG" >&2
				return 1
			fi
		fi
		sleep 0.05
	done
	echo "guardian did not answer GET /ping within 10 s" >&2
	tail -n 20 "$GDN_LOG" >&2
	return 1
}

# wait_pid_gone PID [TENTHS]: waits until PID is gone (default 15 s).
wait_pid_gone() {
	local pid=$1 n=${2:-150} i
	for ((i = 0; i < n; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}

# stop_guardian: SIGTERM, wait up to 15 s, then SIGKILL. Prints nothing; returns 0 when it exited
# on SIGTERM within the time limit.
stop_guardian() {
	local pid rc=0
	pid=$(guardian_pid)
	[[ -n $pid ]] || return 0
	if pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		if ! wait_pid_gone "$pid" 150; then
			echo "guardian (pid $pid) ignored SIGTERM for 15 s; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
			wait_pid_gone "$pid" 50 || true
			rc=1
		fi
	fi
	wait_for_exit_file
	return $rc
}

# kill9_guardian: SIGKILL the guardian and wait until it is gone.
kill9_guardian() {
	local pid
	pid=$(guardian_pid)
	[[ -n $pid ]] || return 0
	kill -KILL "$pid" 2>/dev/null || true
	wait_pid_gone "$pid" 100
	wait_for_exit_file
}

wait_for_exit_file() {
	local i
	for ((i = 0; i < 20; i++)); do
		[[ -e $GDN_TMP/guardian.exit ]] && return 0
		sleep 0.05
	done
	return 0
}

# guardian_exit_status: exit status of the last guardian (empty if unknown).
guardian_exit_status() {
	cat "$GDN_TMP/guardian.exit" 2>/dev/null || true
}

# restart_default_guardian: (re)start the guardian with the default flags only if it is not
# running with them.
ensure_default_guardian() {
	if guardian_alive && [[ ! -s $GDN_TMP/guardian.extra-args ]]; then
		return 0
	fi
	start_guardian
}

# --- HTTP --------------------------------------------------------------------------------------

# api METHOD PATH [BODY]: prints the response body, a newline and the HTTP status code.
api() {
	local method=$1 path=$2
	local -a args=(--unix-socket "$GDN_SOCK" -s -w '\n%{http_code}' --max-time "${API_TIMEOUT:-30}"
		-X "$method")
	if (($# >= 3)); then
		args+=(-H 'Content-Type: application/json' --data-binary "$3")
	fi
	curl "${args[@]}" "http://api$path"
}

# api_req METHOD PATH [BODY]: like api but stores the status in API_STATUS and the body (without
# the one trailing newline the server writes) in API_BODY. API_NL=1 when that newline was there.
api_req() {
	local out
	out=$(api "$@") || true
	API_STATUS=${out##*$'\n'}
	if [[ $out == *$'\n'* ]]; then
		API_BODY=${out%$'\n'*}
	else
		API_BODY=
	fi
	API_NL=0
	if [[ $API_BODY == *$'\n' ]]; then
		API_BODY=${API_BODY%$'\n'}
		API_NL=1
	fi
}

# api_ok METHOD PATH [BODY]: api_req and assert a 200.
api_ok() {
	api_req "$@"
	if [[ $API_STATUS != 200 ]]; then
		batslib_print_kv_single_or_multi 8 request "$*" status "$API_STATUS" body "$API_BODY" |
			batslib_decorate 'expected 200' | fail
	fi
}

# raw_request [SECONDS]: sends stdin verbatim to the guardian's socket, half-closes, and prints
# what comes back (at most SECONDS, default 5, of waiting). For requests curl cannot produce.
raw_request() {
	timeout "${1:-5}" perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
		local $/; my $req = <STDIN>; print $s $req; $s->shutdown(1);
		while (sysread($s, my $buf, 65536)) { print $buf }' "$GDN_SOCK"
}

# json_canon JSON: prints JSON sorted and compact (fails on invalid JSON).
json_canon() {
	jq -cS . <<<"$1"
}

# assert_json ACTUAL EXPECTED: both parse and are equal as JSON values.
assert_json() {
	local a e
	if ! a=$(json_canon "$1" 2>/dev/null) || [[ -z $a ]]; then
		batslib_print_kv_single_or_multi 8 actual "$1" | batslib_decorate 'not valid JSON' | fail
		return 1
	fi
	e=$(json_canon "$2") || {
		echo "test bug: expected value is not JSON: $2" | fail
		return 1
	}
	if [[ $a != "$e" ]]; then
		batslib_print_kv_single_or_multi 8 expected "$e" actual "$a" |
			batslib_decorate 'JSON differs' | fail
	fi
}

# assert_api STATUS EXPECTED-JSON: checks API_STATUS and API_BODY (as JSON).
assert_api() {
	if [[ $API_STATUS != "$1" ]]; then
		batslib_print_kv_single_or_multi 8 'expected status' "$1" 'actual status' "$API_STATUS" \
			body "$API_BODY" | batslib_decorate 'HTTP status differs' | fail
		return 1
	fi
	assert_json "$API_BODY" "$2"
}

# assert_garden_error STATUS-REGEX TYPE-REGEX MESSAGE-REGEX: API_BODY is a Garden error with exactly
# the five keys, a Type matching ^(TYPE-REGEX)$ and a Message matching MESSAGE-REGEX; API_STATUS
# matches ^(STATUS-REGEX)$.
assert_garden_error() {
	local want_status=$1 want_type=$2 want_msg=$3 keys
	if [[ ! $API_STATUS =~ ^($want_status)$ ]]; then
		batslib_print_kv_single_or_multi 8 'expected status' "$want_status" 'actual status' \
			"$API_STATUS" body "$API_BODY" | batslib_decorate 'HTTP status differs' | fail
		return 1
	fi
	if ! keys=$(jq -r 'if type == "object" then keys | join(",") else "not an object" end' \
		<<<"$API_BODY" 2>/dev/null); then
		batslib_print_kv_single_or_multi 8 body "$API_BODY" |
			batslib_decorate 'error body is not JSON' | fail
		return 1
	fi
	if [[ $keys != "Binary,Handle,Message,ProcessID,Type" ]]; then
		batslib_print_kv_single_or_multi 8 keys "$keys" body "$API_BODY" |
			batslib_decorate 'error body must have exactly Type,Message,Handle,ProcessID,Binary' | fail
		return 1
	fi
	local t m
	t=$(jq -r '.Type' <<<"$API_BODY")
	m=$(jq -r '.Message' <<<"$API_BODY")
	if [[ ! $t =~ ^($want_type)$ ]]; then
		batslib_print_kv_single_or_multi 8 expected "$want_type" actual "$t" body "$API_BODY" |
			batslib_decorate 'error Type differs' | fail
		return 1
	fi
	if [[ ! $m =~ $want_msg ]]; then
		batslib_print_kv_single_or_multi 8 'expected regex' "$want_msg" actual "$m" |
			batslib_decorate 'error Message differs' | fail
		return 1
	fi
	if [[ $(jq -r '.Binary' <<<"$API_BODY") != "" ]]; then
		echo "Binary must be empty: $API_BODY" | fail
		return 1
	fi
}

# create_container HANDLE [SPEC-JSON]: POST /containers with {"handle":HANDLE} merged with SPEC and
# asserts {"Handle":HANDLE}.
create_container() {
	local h=$1 spec=${2:-'{}'} body
	note_handle "$h"
	body=$(jq -cn --arg h "$h" --argjson s "$spec" '{handle: $h} + $s')
	api_req POST /containers "$body"
	if [[ $API_STATUS != 200 ]]; then
		batslib_print_kv_single_or_multi 8 request "$body" status "$API_STATUS" body "$API_BODY" |
			batslib_decorate 'create failed' | fail
		return 1
	fi
	assert_json "$API_BODY" "$(jq -cn --arg h "$h" '{Handle: $h}')"
}

# note_handle HANDLE: remember a handle so that assert_all_clean looks for its cgroups.
note_handle() {
	printf '%s\n' "$@" >>"$GDN_TMP/handles"
}

destroy_container() {
	api_req DELETE "/containers/$1"
	assert_api 200 '{}'
}

# list_handles [QUERY]: prints the handles of GET /containers[?QUERY], one per line, sorted.
list_handles() {
	local q=${1:+?$1} out
	out=$(api GET "/containers$q") || return 1
	[[ ${out##*$'\n'} == 200 ]] || {
		echo "list failed: $out" >&2
		return 1
	}
	jq -r '.Handles[]' <<<"${out%$'\n'*}" | sort
}

handle_listed() {
	list_handles 'garden.state=all' | grep -qxF -- "$1"
}

# init_pid HANDLE: host pid of the container's init (from <depot>/<h>/pidfile).
init_pid() {
	local p
	p=$(cat "$GDN_DEPOT/$1/pidfile" 2>/dev/null) || return 1
	[[ $p =~ ^[0-9]+$ ]] || return 1
	printf '%s\n' "$p"
}

# unified_cgroup PID: the container cgroup (relative to the cgroup2 mount) of PID in the unified
# hierarchy: on a v2-only host a container's init and Runs are in its @init leaf, whose parent
# carries the limits and the usage.
unified_cgroup() {
	awk -F: '$1 == "0" { sub(/\/@init$/, "", $3); print $3 }' "/proc/$1/cgroup"
}

# rt ARGS...: the runtime under test with this file's --root.
rt() {
	"$GDN_RUNTIME" --root "$GDN_RUNTIME_ROOT" "$@"
}

# rt_exec HANDLE CMD...: runs CMD inside the container with the runtime (until the process API
# exists this is how tests act from inside a container).
rt_exec() {
	local h=$1
	shift
	rt exec "$h" "$@" </dev/null
}

# rt_exec_bg HANDLE CMD...: starts CMD detached inside the container (stdio to /dev/null).
rt_exec_bg() {
	local h=$1
	shift
	rt exec -d "$h" "$@" </dev/null >/dev/null 2>&1
}

runtime_containers() {
	[[ -d $GDN_RUNTIME_ROOT ]] || return 0
	rt list -q 2>/dev/null | sed '/^$/d' | sort
}

# mounts_in MOUNTINFO-FILE: prints "mountpoint fstype" lines, mountpoints unescaped.
mounts_in() {
	awk '{ m = $2; gsub(/\\040/, " ", m); gsub(/\\011/, "\t", m); gsub(/\\134/, "\\", m);
		print m " " $3 }' "$1" 2>/dev/null
}

# mounts_under DIR: mount points at or below DIR (as seen by this shell and by the guardian).
mounts_under() {
	local dir=$1 pid
	{
		mounts_in /proc/self/mounts
		pid=$(guardian_pid) && pid_alive "$pid" && mounts_in "/proc/$pid/mounts"
	} | awk -v d="$dir" '{ mp = $1; sub(/ [^ ]*$/, "", mp);
		if (mp == d || index(mp, d "/") == 1) print }' | sort -u
}

# cgroup_dirs_of HANDLE: cgroup directories named HANDLE below a "garden" directory.
cgroup_dirs_of() {
	find /sys/fs/cgroup -maxdepth 7 -type d -name "$1" -path "*/garden*/$1" 2>/dev/null
}

# assert_no_leaks HANDLE [INIT-PID]: nothing of HANDLE is left: no runtime container, no mount
# under its depot dir (nor any mount point named after it under $GDN_TMP), no depot dir, no cgroup
# directory, and (if given) its init process is gone.
assert_no_leaks() {
	local h=$1 pid=${2:-} problems=() m c
	if runtime_containers | grep -qxF -- "$h"; then
		problems+=("runtime still lists container '$h': $(rt state "$h" 2>&1 | tr -d '\n')")
	fi
	while read -r m; do
		[[ -n $m ]] && problems+=("mount left: $m")
	done < <({
		mounts_under "$GDN_DEPOT/$h"
		mounts_under "$GDN_TMP" | grep -F -- "/$h" || true
	} | sort -u)
	if [[ -e $GDN_STORE/volumes/$h ]]; then
		problems+=("volume left in the store: $GDN_STORE/volumes/$h")
	fi
	if [[ -e $GDN_DEPOT/$h || -L $GDN_DEPOT/$h ]]; then
		problems+=("depot entry left: $GDN_DEPOT/$h ($(ls -A "$GDN_DEPOT/$h" 2>&1 | tr '\n' ' '))")
	fi
	while read -r c; do
		[[ -n $c ]] && problems+=("cgroup left: $c")
	done < <(cgroup_dirs_of "$h")
	if [[ -n $pid ]] && pid_alive "$pid"; then
		problems+=("init process $pid still running: $(grep -E '^(Name|State|PPid):' "/proc/$pid/status" 2>/dev/null | tr '\n\t' '  ')")
	fi
	if ((${#problems[@]})); then
		printf '%s\n' "${problems[@]}" | batslib_decorate "leaks of container '$h'" | fail
		return 1
	fi
}

# assert_all_clean: no container is left in the depot, the runtime root or as an overlay mount.
assert_all_clean() {
	local problems=() l
	l=$(ls -A "$GDN_DEPOT" 2>/dev/null)
	[[ -z $l ]] || problems+=("depot not empty: $(tr '\n' ' ' <<<"$l")")
	l=$(runtime_containers)
	[[ -z $l ]] || problems+=("runtime containers left: $(tr '\n' ' ' <<<"$l")")
	l=$(mounts_under "$GDN_DEPOT")
	[[ -z $l ]] || problems+=("mounts under the depot: $(tr '\n' ' ' <<<"$l")")
	l=$(mounts_under "$GDN_TMP" | awk '$NF == "overlay"')
	[[ -z $l ]] || problems+=("overlay mounts left: $(tr '\n' ' ' <<<"$l")")
	if [[ -s $GDN_TMP/handles ]]; then
		l=$(find /sys/fs/cgroup -maxdepth 7 -type d -path '*/garden*/*' 2>/dev/null |
			awk -F/ 'NR == FNR { h[$0] = 1; next } ($NF in h)' "$GDN_TMP/handles" - || true)
		[[ -z $l ]] || problems+=("cgroups left: $(tr '\n' ' ' <<<"$l")")
	fi
	((${#problems[@]} == 0)) || {
		printf '%s\n' "${problems[@]}" | batslib_decorate 'leftovers' | fail
		return 1
	}
}

# destroy_all: DELETE every container the API knows (including half-created ones).
destroy_all() {
	local h
	guardian_alive || return 0
	for h in $(list_handles 'garden.state=all' 2>/dev/null); do
		API_TIMEOUT=60 api DELETE "/containers/$h" >/dev/null 2>&1 || true
	done
}

# --- file-level set-up and tear-down -----------------------------------------------------------

# gdn_setup_file [EXTRA-ARGS...]: scratch dir + a guardian.
gdn_setup_file() {
	gdn_setup_tmp
	start_guardian "$@"
}

# gdn_teardown_file: never fails; removes everything this file created.
gdn_teardown_file() {
	[[ -n ${GDN_TMP:-} && -d $GDN_TMP ]] || return 0
	local dadoos
	gate_release_all
	kill_bg_clients
	dadoos=$(all_dadoo_pids)
	destroy_all || true
	stop_guardian >/dev/null 2>&1 || true
	kill9_guardian >/dev/null 2>&1 || true
	gdn_cleanup_runtime_and_mounts
	gdn_cleanup_network
	# Safety net: shims that destroy should have killed (only ours, by the pids they wrote).
	kill_dadoos $dadoos
	rm -rf --one-file-system "$GDN_TMP" 2>/dev/null || rm -rf "$GDN_TMP" 2>/dev/null || true
	return 0
}

# Safety net: delete our runtime containers and unmount everything below $GDN_TMP.
gdn_cleanup_runtime_and_mounts() {
	local c m i
	for c in $(runtime_containers); do
		rt delete --force "$c" >/dev/null 2>&1 || true
	done
	for ((i = 0; i < 3; i++)); do
		local left=0
		while read -r m; do
			[[ -n $m ]] || continue
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
			left=1
		done < <(mounts_in /proc/self/mounts | sed 's/ [^ ]*$//' |
			awk -v d="$GDN_TMP" 'index($0, d "/") == 1' | awk '{ print length($0) " " $0 }' |
			sort -rn | cut -d' ' -f2-)
		((left)) || break
	done
	return 0
}

KAWASAKI_BIN=$GDN_BUILD/bin/kawasaki

# kawasaki ARGS...: the admin commands against this file's kawasaki.
kawasaki() {
	"$KAWASAKI_BIN" --socket "$GDN_KAWASAKI_SOCK" "$@"
}

# Safety net: networks whose containers are gone (the guardian was killed and not restarted)
# are removed by a kawasaki on this file's state dir: its cleanup drops every allocation whose
# veth went with its container, and chains and links that belong to none.
gdn_cleanup_network() {
	local pid
	[[ -d $GDN_KAWASAKI_STATE/containers ]] || return 0
	[[ -n $(ls -A "$GDN_KAWASAKI_STATE/containers" 2>/dev/null) ]] || return 0
	"$KAWASAKI_BIN" serve --socket "$GDN_KAWASAKI_SOCK" --state-dir "$GDN_KAWASAKI_STATE" \
		--log-level error 2>>"$GDN_TMP/kawasaki-cleanup.log" &
	pid=$!
	wait_until 100 test -S "$GDN_KAWASAKI_SOCK" >/dev/null 2>&1 || true
	kawasaki cleanup >>"$GDN_TMP/kawasaki-cleanup.log" 2>&1 || true
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 0
}

# show_log_tail: the last 25 non-debug lines of the guardian log.
show_log_tail() {
	echo "# --- $GDN_LOG (last 25 lines above debug level) ---"
	grep -v '"level":"debug"' "$GDN_LOG" 2>/dev/null | tail -n 25 | sed 's/^/# /'
}

# Per-test teardown: on failure show the end of the guardian log and destroy every container;
# then make sure the next test gets a guardian with the default flags.
gdn_teardown() {
	gate_release_all
	kill_bg_clients
	if [[ -z ${BATS_TEST_COMPLETED:-} ]]; then
		show_log_tail
		# Later tests should not trip over what a failed one left.
		destroy_all
	fi
	ensure_default_guardian >/dev/null 2>&1 || true
}

# --- misc --------------------------------------------------------------------------------------

# cap_bnd PID: CapBnd of PID as a number.
cap_bnd() {
	local hex
	hex=$(awk '/^CapBnd:/ { print $2 }' "/proc/$1/status") || return 1
	printf '%d\n' "0x$hex"
}

has_cap() { # has_cap MASK BIT
	(((($1 >> $2) & 1) == 1))
}

# rootfs_fingerprint DIR: a digest of names, types, modes, owners, sizes, link targets and file
# contents below DIR.
rootfs_fingerprint() {
	(
		cd "$1" || exit 1
		find . -printf '%p %y %m %U %G %s %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum
	) | md5sum | cut -d' ' -f1
}

# wait_until TENTHS CMD...: polls CMD every 0.1 s until it succeeds; fails after TENTHS tries.
wait_until() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# --- holding a runtime call in flight (helpers/gated-runtime) ----------------------------------
# For tests that must act while a request is really in flight (a create waiting for the runtime):
# start_gated_guardian runs guardian with the runtime under test wrapped by gated-runtime;
# gate_hold CMD HANDLE makes the runtime's next `CMD ... HANDLE` wait until gate_release CMD
# HANDLE (gate_fail CMD HANDLE: and then fail); gate_wait_entered CMD HANDLE waits until it is
# waiting. Teardowns release every gate.

GDN_GATED_RUNTIME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gated-runtime

# start_gated_guardian [EXTRA-ARGS...]: start_guardian with --runtime-plugin a wrapper script
# named like the runtime (so guardian's messages still name it) in $GDN_TMP/gate/bin.
start_gated_guardian() {
	local real wrapper
	local -a args
	real=$(command -v "$GDN_RUNTIME") || {
		echo "no $GDN_RUNTIME in PATH" >&2
		return 1
	}
	mkdir -p "$GDN_TMP/gate/bin"
	wrapper=$GDN_TMP/gate/bin/${real##*/}
	printf '#!/bin/bash\nexec %q %q %q "$@"\n' "$GDN_GATED_RUNTIME" "$GDN_TMP/gate" "$real" \
		>"$wrapper"
	chmod 0755 "$wrapper"
	mapfile -t args < <(gdn_default_args | sed "s|^$GDN_RUNTIME\$|$wrapper|")
	start_guardian_args "${args[@]}" "$@"
}

gate_hold() {
	mkdir -p "$GDN_TMP/gate"
	rm -f "$GDN_TMP/gate/$1.$2.entered" "$GDN_TMP/gate/$1.$2.release" "$GDN_TMP/gate/$1.$2.fail"
	: >"$GDN_TMP/gate/$1.$2.hold"
}

# gate_wait_entered CMD HANDLE [TENTHS]: waits (default 30 s) until the runtime is held there.
gate_wait_entered() {
	wait_until "${3:-300}" test -e "$GDN_TMP/gate/$1.$2.entered"
}

# gate_fail CMD HANDLE: the runtime's next `CMD ... HANDLE`, once released, fails (exit 1).
gate_fail() {
	mkdir -p "$GDN_TMP/gate"
	: >"$GDN_TMP/gate/$1.$2.fail"
}

gate_release() {
	rm -f "$GDN_TMP/gate/$1.$2.hold"
	: >"$GDN_TMP/gate/$1.$2.release"
}

gate_release_all() {
	local f
	for f in "${GDN_TMP:-/nonexistent}"/gate/*.hold; do
		[[ -e $f ]] || continue
		rm -f "$f"
		: >"${f%.hold}.release"
	done
	return 0
}

# --- a test and a container process waiting for each other -------------------------------------
# Through files in the container's /tmp, which the host sees through its init's /proc/PID/root
# (the rootfs is mounted only in the container's own mount namespace):
# sh_mark NAME / sh_await NAME are shell code for the process (create /tmp/NAME; wait, 60 s at
# most, until /tmp/NAME exists); ctr_wait_mark and ctr_signal are their host-side halves.

sh_mark() {
	printf 'touch /tmp/%s; ' "$1"
}

sh_await() {
	printf 'n=0; until [ -e /tmp/%s ] || [ $n -ge 1200 ]; do sleep 0.05; n=$((n + 1)); done; ' "$1"
}

# ctr_root HANDLE: the host path of the running container's root directory.
ctr_root() {
	local p
	p=$(init_pid "$1") || return 1
	printf '/proc/%s/root\n' "$p"
}

# ctr_tmp HANDLE NAME: the host path of the container's /tmp/NAME.
ctr_tmp() {
	printf '%s/tmp/%s\n' "$(ctr_root "$1")" "$2"
}

# ctr_wait_mark HANDLE NAME [TENTHS]: waits (default 10 s) until the process made /tmp/NAME.
ctr_wait_mark() {
	wait_until "${3:-100}" test -e "$(ctr_tmp "$1" "$2")"
}

# ctr_signal HANDLE NAME: lets a process waiting in sh_await NAME go on.
ctr_signal() {
	: >"$(ctr_tmp "$1" "$2")"
}

# bg_start CMD...: runs CMD in the background and remembers its pid; bg_wait waits for exactly
# those (a bare `wait` would also wait for bats' timeout watchdog).
BG_PIDS=()
bg_start() {
	"$@" &
	BG_PIDS+=($!)
}

bg_wait() {
	local p
	for p in "${BG_PIDS[@]}"; do
		wait "$p" || true
	done
	BG_PIDS=()
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

gaol() {
	"$GAOL_BIN" -t "$GDN_SOCK" "$@"
}

uuid_v4_regex='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'

# --- processes ---------------------------------------------------------------------------------

GARDEN_CLIENT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/garden_client.py

# gc ARGS...: the byte-level Garden process client (helpers/garden_client.py) on this file's
# socket; prints its JSON summary. See the script for the arguments.
gc() {
	timeout "${GC_TIMEOUT:-90}" python3 "$GARDEN_CLIENT" "$GDN_SOCK" "$@"
}

# process_spec ARGV0 ARGS...: a ProcessSpec JSON for path ARGV0 with ARGS, as Go's client sends it;
# SPEC_EXTRA (a JSON object) is merged in (e.g. '{"user":"vcap"}').
process_spec() {
	local -a named=()
	local i
	# (Not jq --args: jq 1.6 takes a "-c" among them for its own option.)
	for ((i = 2; i <= $#; i++)); do
		named+=(--arg "a$((i - 2))" "${!i}")
	done
	jq -cn --arg p "$1" "${named[@]}" --argjson extra "${SPEC_EXTRA:-{\}}" '
		[$ARGS.named | to_entries[] | select(.key | test("^a[0-9]+$")) |
			{n: (.key[1:] | tonumber), v: .value}] | sort_by(.n) | map(.v) as $a |
		{path: $p} + (if ($a | length) > 0 then {args: $a} else {} end) +
		{rlimits: {}, image: {}} + $extra'
}

# sh_spec COMMAND: process_spec sh -c COMMAND.
sh_spec() {
	process_spec sh -c "$1"
}

# proc_dir HANDLE PROCESS-ID: the process's directory in the depot.
proc_dir() {
	printf '%s\n' "$GDN_DEPOT/$1/processes/$2"
}

# read_pid_file FILE: the pid FILE holds; fails when it is missing or not a number.
read_pid_file() {
	local p
	p=$(cat "$1" 2>/dev/null) || return 1
	[[ $p =~ ^[0-9]+$ ]] || return 1
	printf '%s\n' "$p"
}

# process_host_pid HANDLE PROCESS-ID: the host pid of the process (its pidfile).
process_host_pid() {
	read_pid_file "$(proc_dir "$1" "$2")/pidfile"
}

# wait_process_running HANDLE PROCESS-ID: waits (10 s) until its pidfile names a live process.
wait_process_running() {
	local i p
	for ((i = 0; i < 100; i++)); do
		p=$(process_host_pid "$1" "$2") && pid_alive "$p" && return 0
		sleep 0.1
	done
	echo "process $2 of $1 did not start (dir: $(ls -A "$(proc_dir "$1" "$2")" 2>&1 | tr '\n' ' '))" >&2
	return 1
}

# wait_process_exited HANDLE PROCESS-ID: waits (30 s) until dadoo wrote its exitcode file.
wait_process_exited() {
	wait_until 300 test -s "$(proc_dir "$1" "$2")/exitcode"
}

# dadoo_pid HANDLE PROCESS-ID: the pid in its dadoo.pid file.
dadoo_pid() {
	read_pid_file "$(proc_dir "$1" "$2")/dadoo.pid"
}

# is_dadoo PID: PID is alive and is a dadoo.
is_dadoo() {
	pid_alive "$1" && [[ $(cat "/proc/$1/comm" 2>/dev/null) == dadoo ]]
}

# all_dadoo_pids: the pids in every dadoo.pid file of this file's depot that are dadoos.
all_dadoo_pids() {
	local f p
	for f in "$GDN_DEPOT"/*/processes/*/dadoo.pid; do
		p=$(read_pid_file "$f") && is_dadoo "$p" && printf '%s\n' "$p"
	done
	return 0
}

# destroy_all_no_dadoo_left: destroys every container, asserts nothing is left, and that every
# dadoo there was before is gone.
destroy_all_no_dadoo_left() {
	local d p
	d=$(all_dadoo_pids)
	destroy_all
	assert_all_clean
	for p in $d; do
		wait_pid_gone "$p" 50 || fail "dadoo $p survived the destroy of its container"
	done
}

# kill_dadoos PID...: SIGKILLs each PID that is still a dadoo (never anything else).
kill_dadoos() {
	local p
	for p in "$@"; do
		is_dadoo "$p" && kill -KILL "$p" 2>/dev/null
	done
	return 0
}

# bg_client CMD...: runs CMD (an executable, not a function) in the background as the leader of a
# session of its own; its pid is in $! and recorded in $GDN_TMP/bg.pids, so that the test's
# teardown kills its whole process group if the test did not wait for it.
bg_client() {
	setsid "$@" &
	echo "$!" >>"$GDN_TMP/bg.pids"
}

# bg_gaol ARGS... / bg_gc ARGS...: gaol / garden_client.py on this file's socket, in the background.
bg_gaol() {
	bg_client "$GAOL_BIN" -t "$GDN_SOCK" "$@"
}

bg_gc() {
	bg_client timeout "${GC_TIMEOUT:-90}" python3 "$GARDEN_CLIENT" "$GDN_SOCK" "$@"
}

# wait_client PID: waits for a bg_client and returns its exit status (and forgets it).
wait_client() {
	local rc=0
	wait "$1" || rc=$?
	sed -i "/^$1\$/d" "$GDN_TMP/bg.pids" 2>/dev/null
	return $rc
}

kill_bg_clients() {
	local p
	[[ -s ${GDN_TMP:-}/bg.pids ]] || return 0
	while read -r p; do
		[[ -n $p ]] && kill -KILL -- "-$p" 2>/dev/null
	done <"$GDN_TMP/bg.pids"
	rm -f "$GDN_TMP/bg.pids"
	return 0
}

# json_field JSON FILTER: jq -r FILTER of JSON.
json_field() {
	jq -r "$2" <<<"$1"
}

# tty_settle: a command prefix for TTY tests that read the terminal size at once. crun 1.8 does
# not apply process.consoleSize on exec: dadoo sizes the pty the moment crun hands the master
# over, which a process asking for its size at its first instruction can beat (about 1 run in
# 60 here). runc applies consoleSize itself, so there is no delay with runc. A known limitation
# with crun, documented in docs/PROCESSES.md.
tty_settle() {
	if [[ ${GDN_RUNTIME:-runc} == crun ]]; then
		printf 'sleep 0.2; '
	fi
}
