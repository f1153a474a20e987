#!/usr/bin/env bats
# The BOSH release skeleton (bosh/): every template of every job rendered by test/bosh/render
# (ERB as the director renders it) with the spec's defaults and with other properties; the
# rendered configs checked by guardian and kawasaki themselves; then the rendered kawasaki and
# garden jobs started for real by their ctl scripts, used through gaol, and stopped by them.
# No BOSH director, monit or bpm runs here: the ctl scripts are what monit would run without bpm.
# The jobs run under $GDN_TMP/v (render --vcap-root) with their data in $GDN_TMP, tag b, pool
# 10.254.95.0/24. Last, the package's packaging script compiles the tree as a BOSH compilation
# VM would.

load helpers/common

# the packaging test compiles the whole tree (about 30 s on 2 cores)
BATS_TEST_TIMEOUT=180

RENDER=$BATS_TEST_DIRNAME/../bosh/render
RELEASE=$BATS_TEST_DIRNAME/../../bosh
BOSH_POOL=10.254.95.0/24
BOSH_TAG=b

setup_file() {
	gdn_setup_tmp
	# what the helpers look at (gaol, assert_no_leaks, the teardown's safety nets) is where the
	# rendered jobs keep it
	export GDN_KAWASAKI_STATE=$GDN_TMP/kawasaki
	export GDN_KAWASAKI_SOCK=$GDN_TMP/sockets/kawasaki.sock
	export V=$GDN_TMP/v
	# the garden-c package: the build's binaries (guardian finds garden-init, dadoo, nstar beside it)
	mkdir -p "$V/packages/garden-c/bin"
	local b
	for b in "$GDN_BUILD"/bin/*; do
		ln -s "$b" "$V/packages/garden-c/bin/"
	done
	# guardian_pid and the teardown's stop_guardian see the garden job's pidfile
	ln -s "$V/sys/run/garden/garden.pid" "$GDN_TMP/guardian.pid"
}

teardown_file() {
	local pid
	# the garden job (and its containers), then the kawasaki job, whatever a failed test left
	destroy_all || true
	"$V/jobs/garden/bin/garden_ctl" stop >/dev/null 2>&1 || true
	if [[ -x $V/jobs/kawasaki/bin/kawasaki_ctl ]]; then
		"$V/jobs/kawasaki/bin/kawasaki_ctl" stop >/dev/null 2>&1 || true
	fi
	pid=$(cat "$V/sys/run/kawasaki/kawasaki.pid" 2>/dev/null) && kill -KILL "$pid" 2>/dev/null
	rm -f "$GDN_TMP/guardian.pid"
	local c
	for c in $(runtime_containers); do
		rt delete --force "$c" >/dev/null 2>&1 || true
	done
	# the XFS store 'guardian setup' made (its loop device and mount), then any other mount
	"$GUARDIAN_BIN" teardown-store --store "$GDN_STORE" >/dev/null 2>&1 || true
	gdn_cleanup_runtime_and_mounts
	# every chain, hook and link of tag b (the helpers' network clean-up would start an
	# untagged kawasaki: its state goes first)
	"$KAWASAKI_BIN" --tag "$BOSH_TAG" --socket "$GDN_KAWASAKI_SOCK" teardown >/dev/null 2>&1 || true
	rm -rf "$GDN_KAWASAKI_STATE"
	gdn_teardown_file
}

# render MANIFEST JOB: renders JOB of MANIFEST into $GDN_TMP/r/<manifest name>/JOB.
render() {
	"$RENDER" "$RELEASE" "$1" "$2" "$GDN_TMP/r/$(basename "$1" .yml)/$2"
}

rendered() {
	printf '%s\n' "$GDN_TMP/r/$(basename "$1" .yml)/$2"
}

# manifest NAME YAML: writes $GDN_TMP/NAME.yml and prints its path.
manifest() {
	printf '%s\n' "$2" >"$GDN_TMP/$1.yml"
	printf '%s\n' "$GDN_TMP/$1.yml"
}

# yq FILE RUBY-EXPR: evaluates EXPR with y = the YAML of FILE (ruby's stdlib YAML)
yq() {
	ruby -ryaml -e 'y = YAML.safe_load(File.read(ARGV[0])); puts(eval(ARGV[1]))' "$1" "$2"
}

# check_bpm FILE JOB VOLUME...: bpm.yml parses and runs JOB's start script privileged, with
# each VOLUME among its additional volumes (writable).
check_bpm() {
	local f=$1 job=$2 v
	shift 2
	run yq "$f" 'y["processes"].map { |p| p["name"] }.join(",")'
	assert_success
	assert_output "$job"
	run yq "$f" 'y["processes"][0]["unsafe"]["privileged"]'
	assert_output true
	run yq "$f" 'y["processes"][0]["executable"]'
	assert_output "/var/vcap/jobs/$job/bin/${job}_start"
	for v in "$@"; do
		run yq "$f" "y['processes'][0]['additional_volumes'].select { |v| v['path'] == '$v' && v['writable'] }.size"
		assert_output 1
	done
}

# check_scripts DIR: the rendered bin/ scripts are executable bash that bash -n (and shellcheck,
# when installed) accept.
check_scripts() {
	local s
	for s in "$1"/bin/*; do
		[[ -x $s ]] || fail "$s is not executable"
		[[ $(head -n1 "$s") == '#!/usr/bin/env bash' ]] || fail "$s: $(head -n1 "$s")"
		bash -n "$s" || fail "bash -n $s"
		if command -v shellcheck >/dev/null; then
			run shellcheck -s bash "$s"
			assert_success
		fi
	done
}

@test "bosh: every job's templates render with the spec's defaults; guardian and kawasaki accept the configs" {
	local m d
	# garden alone; each other job with the garden job it needs (its link)
	m=$(manifest defaults 'jobs: {garden: {}, kawasaki: {}}')
	render "$m" garden
	render "$m" kawasaki
	d=$(rendered "$m" garden)
	ls "$d/bin/garden_ctl" "$d/bin/garden_start" "$d/config/config.ini" "$d/config/bpm.yml" "$d/monit"
	run "$GUARDIAN_BIN" --config "$d/config/config.ini" server --help
	assert_success
	run grep -vE '^(;|$)' "$d/config/config.ini"
	assert_line --index 0 '[server]'
	assert_line 'bind-socket = /var/vcap/data/garden/garden.sock'
	assert_line 'depot = /var/vcap/data/garden/depot'
	assert_line 'max-containers = 250'
	assert_line 'read-header-timeout = 30s'
	assert_line 'network-pool = 10.254.0.0/22'
	assert_line 'deny-network = 0.0.0.0/0'
	assert_line 'runtime-plugin = runc'
	assert_line 'skip-setup = true'
	assert_line 'kawasaki-socket = /var/vcap/data/garden/sockets/kawasaki.sock'
	refute_line --partial 'image-plugin'
	refute_line --partial 'network-plugin'
	check_bpm "$d/config/bpm.yml" garden /var/vcap/data/garden/sockets /var/vcap/data/garden/depot \
		/var/vcap/data/garden/store
	run grep -c 'garden_ctl' "$d/monit"
	assert_output 2
	check_scripts "$d"
	d=$(rendered "$m" kawasaki)
	run "$KAWASAKI_BIN" --config "$d/config/config.ini" serve --help
	assert_success
	run grep -vE '^(;|$)' "$d/config/config.ini"
	assert_line --index 0 '[kawasaki]'
	assert_line 'socket = /var/vcap/data/garden/sockets/kawasaki.sock'
	assert_line 'network-pool = 10.254.0.0/22'
	check_bpm "$d/config/bpm.yml" kawasaki /var/vcap/data/garden/sockets
	grep -q 'kawasaki_ctl start' "$d/monit"
	check_scripts "$d"
	# garden without the kawasaki job starts kawasaki itself
	m=$(manifest garden-only 'jobs: {garden: {}}')
	render "$m" garden
	run grep -c kawasaki "$(rendered "$m" garden)/config/config.ini"
	assert_output 0
	# the shims with a garden job that names their plugins
	m=$(manifest shims 'jobs:
  garden: {properties: {garden: {image_plugin: /opt/groot, network_plugin: /opt/np}}}
  image-plugin-shim: {}
  netplugin-shim: {}')
	render "$m" garden
	render "$m" image-plugin-shim
	render "$m" netplugin-shim
	d=$(rendered "$m" garden)
	run "$GUARDIAN_BIN" --config "$d/config/config.ini" server --help
	assert_success
	run grep -E '^(image|network)-plugin' "$d/config/config.ini"
	assert_output "$(printf '%s\n' \
		'image-plugin-shim-socket = /var/vcap/data/garden/sockets/image-plugin-shim.sock' \
		'network-plugin = /var/vcap/packages/garden-c/bin/netplugin-shim' \
		'network-plugin-extra-arg = --socket' \
		'network-plugin-extra-arg = /var/vcap/data/garden/sockets/netplugin-shim.sock')"
	d=$(rendered "$m" image-plugin-shim)
	check_bpm "$d/config/bpm.yml" image-plugin-shim /var/vcap/data/garden/sockets
	check_scripts "$d"
	grep -q "^	--image-plugin '/opt/groot' \\\\$" "$d/bin/image-plugin-shim_start"
	d=$(rendered "$m" netplugin-shim)
	check_bpm "$d/config/bpm.yml" netplugin-shim /var/vcap/data/garden/sockets
	check_scripts "$d"
	grep -q "^	--plugin-path '/opt/np' \\\\$" "$d/bin/netplugin-shim_start"
}

@test "bosh: other properties reach guardian's, kawasaki's and the shims' flags" {
	local m d
	m=$(manifest other 'jobs:
  garden:
    properties:
      bpm: {enabled: true}
      garden:
        listen_network: tcp
        listen_address: 127.0.0.1:7790
        debug_listen_address: 127.0.0.1:17090
        log_level: debug
        max_containers: 7
        destroy_containers_on_start: true
        default_container_rootfs: /var/vcap/packages/rootfs
        default_container_grace_time: 5m
        cleanup_process_dirs_on_wait: true
        runtime_plugin: /usr/bin/crun
        runtime_plugin_extra_args: [--debug]
        image_plugin: /opt/groot
        image_plugin_extra_args: [--config, "/a b/groot.yml"]
        privileged_image_plugin: /opt/groot
        network_pool: 10.254.95.0/24
        deny_networks: []
        allow_host_access: true
        dns_servers: [10.0.0.2, 10.0.0.3]
        additional_dns_servers: [10.0.0.4]
        additional_host_entries: ["127.0.0.9 registry.test"]
        port_pool: {start: 62000, size: 100}
        network_mtu: 1400
        tag: b
        device_cgroup_rules: ["c 10:229 rwm"]
        default_container_blockio_weight: 100
        cpu_quota_per_share_in_us: 50
        disable_swap_limit: true
        additional_bpm_volumes: [/var/vcap/data/groot]
  kawasaki:
    properties:
      bpm: {enabled: true}
      kawasaki: {socket: /var/vcap/data/garden/k/k.sock, log_level: error}
  image-plugin-shim:
    properties:
      image_plugin_shim: {timeout: 2m, additional_bpm_volumes: [/var/vcap/data/groot]}')
	render "$m" garden
	render "$m" kawasaki
	render "$m" image-plugin-shim
	d=$(rendered "$m" garden)
	run "$GUARDIAN_BIN" --config "$d/config/config.ini" server --help
	assert_success
	run grep -vE '^(;|$)' "$d/config/config.ini"
	local l
	for l in 'bind-ip = 127.0.0.1' 'bind-port = 7790' 'debug-bind-ip = 127.0.0.1' \
		'debug-bind-port = 17090' 'log-level = debug' 'max-containers = 7' \
		'destroy-containers-on-startup = true' 'default-rootfs = /var/vcap/packages/rootfs' \
		'default-grace-time = 5m' 'cleanup-process-dirs-on-wait = true' \
		'runtime-plugin = /usr/bin/crun' 'runtime-plugin-extra-arg = --debug' \
		'image-plugin-shim-socket = /var/vcap/data/garden/sockets/image-plugin-shim.sock' \
		'network-pool = 10.254.95.0/24' 'deny-network = ""' 'allow-host-access = true' \
		'dns-server = 10.0.0.2' 'dns-server = 10.0.0.3' 'additional-dns-server = 10.0.0.4' \
		'additional-host-entry = 127.0.0.9 registry.test' 'port-pool-start = 62000' \
		'port-pool-size = 100' 'mtu = 1400' 'tag = b' 'device-cgroup-rule = c 10:229 rwm' \
		'kawasaki-socket = /var/vcap/data/garden/k/k.sock' \
		'default-container-blockio-weight = 100' 'cpu-quota-per-share = 50' \
		'disable-swap-limit = true'; do
		assert_line "$l"
	done
	refute_line --partial bind-socket
	# (the shim holds the plugins: guardian refuses both)
	refute_line --regexp '^image-plugin ='
	grep -q 'bpm start garden' "$d/monit"
	check_bpm "$d/config/bpm.yml" garden /var/vcap/data/garden/sockets /var/vcap/data/garden/k \
		/var/vcap/data/groot
	run yq "$d/config/bpm.yml" 'y["processes"][0]["additional_volumes"].find { |v| v["path"] == "/var/vcap/data/groot" }["shared"]'
	assert_output true
	d=$(rendered "$m" kawasaki)
	run "$KAWASAKI_BIN" --config "$d/config/config.ini" serve --help
	assert_success
	run grep -vE '^(;|$)' "$d/config/config.ini"
	for l in 'socket = /var/vcap/data/garden/k/k.sock' 'log-level = error' \
		'network-pool = 10.254.95.0/24' 'deny-network = ""' 'dns-server = 10.0.0.2' \
		'dns-server = 10.0.0.3' 'allow-host-access = true' 'port-pool-start = 62000' \
		'port-pool-size = 100' 'mtu = 1400' 'tag = b'; do
		assert_line "$l"
	done
	grep -q 'bpm start kawasaki' "$d/monit"
	check_bpm "$d/config/bpm.yml" kawasaki /var/vcap/data/garden/k
	d=$(rendered "$m" image-plugin-shim)
	check_scripts "$d"
	run sed -n '/serve/,$p' "$d/bin/image-plugin-shim_start"
	assert_output "$(printf '%s\n' \
		'exec /var/vcap/packages/garden-c/bin/image-plugin-shim serve \' \
		"	--socket '/var/vcap/data/garden/sockets/image-plugin-shim.sock' \\" \
		"	--socket-mode '0600' \\" "	--timeout '2m' \\" "	--image-plugin '/opt/groot' \\" \
		"	--image-plugin-extra-arg '--config' \\" \
		"	--image-plugin-extra-arg '/a b/groot.yml' \\" \
		"	--privileged-image-plugin '/opt/groot' \\" "	--log-level 'info'")"
	check_bpm "$d/config/bpm.yml" image-plugin-shim /var/vcap/data/garden/sockets /var/vcap/data/groot
}

@test "bosh: the renderer refuses unknown properties, missing links and properties guardian cannot take" {
	local m
	# a garden-runc-release property guardian has no flag for is not in the spec
	m=$(manifest bad1 'jobs: {garden: {properties: {garden: {allow_networks: [10.0.0.0/8]}}}}')
	run render "$m" garden
	assert_failure 1
	assert_output "render: garden: unknown property 'garden.allow_networks' (not in the job's spec)"
	m=$(manifest bad2 'jobs: {garden: {properties: {garden: {port_pool: {start: 1, bogus: 2}}}}}')
	run render "$m" garden
	assert_failure 1
	assert_output "render: garden: unknown property 'garden.port_pool.bogus' (not in the job's spec)"
	m=$(manifest bad3 'jobs: {garden: {}, kawasaki: {properties: {kawasaki: {sokcet: /x}}}}')
	run render "$m" garden
	assert_failure 1
	assert_output "render: kawasaki: unknown property 'kawasaki.sokcet' (not in the job's spec)"
	for p in containerd_mode tcp_keepalive_time dropsonde iptables_bin_dir http_proxy; do
		m=$(manifest bad4 "jobs: {garden: {properties: {garden: {$p: 1}}}}")
		run render "$m" garden
		assert_failure 1
		assert_output --partial "unknown property 'garden.$p"
	done
	# a job's required link
	m=$(manifest bad5 'jobs: {kawasaki: {}}')
	run render "$m" kawasaki
	assert_failure 1
	assert_output "render: kawasaki: link 'garden' (type garden) is not provided"
	# values the templates refuse
	m=$(manifest bad6 'jobs: {garden: {properties: {garden: {listen_network: udp}}}}')
	run render "$m" garden
	assert_failure 1
	assert_output --partial "garden.listen_network: 'udp' is neither unix nor tcp"
	m=$(manifest bad7 'jobs: {garden: {properties: {garden: {deny_networks: [10.0.0.0/33]}}}}')
	run render "$m" garden
	assert_failure 1
	assert_output --partial "garden.deny_networks: '10.0.0.0/33' is not an IP address"
	m=$(manifest bad8 'jobs: {garden: {properties: {garden: {network_plugin: /np}}}, kawasaki: {}}')
	run render "$m" garden
	assert_failure 1
	assert_output --partial "a kawasaki job is linked but garden.network_plugin is set"
	m=$(manifest bad9 'jobs: {garden: {}, image-plugin-shim: {}}')
	run render "$m" image-plugin-shim
	assert_failure 1
	assert_output --partial "sets neither garden.image_plugin nor garden.privileged_image_plugin"
	m=$(manifest bad10 'jobs: {garden: {properties: {garden: {additional_host_entries: ["a\nb"]}}}}')
	run render "$m" garden
	assert_failure 1
	assert_output --partial "additional-host-entry: a value may not hold a line break"
	[[ ! -e $GDN_TMP/r/bad1/garden/config/config.ini ]] || fail "a failed render wrote its output"
}

@test "bosh: the rendered kawasaki and garden jobs start, serve gaol (create, run, destroy) and stop leaving nothing" {
	local m
	m=$(manifest run "jobs:
  garden:
    properties:
      garden:
        listen_address: $GDN_SOCK
        depot_dir: $GDN_DEPOT
        store_dir: $GDN_STORE
        store_size_bytes: $((320 << 20))
        runtime_plugin: $GDN_RUNTIME
        runtime_root: $GDN_RUNTIME_ROOT
        default_container_rootfs: $GDN_ROOTFS
        resolv_conf: $GDN_HOST_RESOLV
        network_pool: $BOSH_POOL
        tag: $BOSH_TAG
        log_level: debug
  kawasaki:
    properties:
      kawasaki:
        socket: $GDN_KAWASAKI_SOCK
        state_dir: $GDN_KAWASAKI_STATE
        log_level: debug")
	"$RENDER" --vcap-root "$V" "$RELEASE" "$m" kawasaki "$V/jobs/kawasaki"
	"$RENDER" --vcap-root "$V" "$RELEASE" "$m" garden "$V/jobs/garden"
	! grep -rn /var/vcap "$V/jobs" || fail "a path not redirected"
	# monit's start programs (they exec the daemon in the foreground: detached, as monit would)
	(setsid "$V/jobs/kawasaki/bin/kawasaki_ctl" start </dev/null >/dev/null 2>&1 &)
	wait_until 100 test -S "$GDN_KAWASAKI_SOCK" ||
		fail "kawasaki did not start: $(cat "$V"/sys/log/kawasaki/*.log)"
	(setsid "$V/jobs/garden/bin/garden_ctl" start </dev/null >/dev/null 2>&1 &)
	GDN_LOG=$V/sys/log/garden/garden.stderr.log wait_for_guardian
	local kpid gpid
	kpid=$(cat "$V/sys/run/kawasaki/kawasaki.pid")
	gpid=$(cat "$V/sys/run/garden/garden.pid")
	assert_equal "$(cat "/proc/$kpid/comm")" kawasaki
	assert_equal "$(cat "/proc/$gpid/comm")" guardian
	# guardian uses the kawasaki job's and starts none of its own
	run pgrep -P "$gpid" -x kawasaki
	assert_failure
	grep -q '"message":"guardian.setup.finished"' "$V/sys/log/garden/garden.stderr.log"

	run gaol create -n bosh-a
	assert_success
	assert_output bosh-a
	note_handle bosh-a
	local ipid ip host bridge
	ipid=$(init_pid bosh-a)
	api_req GET /containers/bosh-a/info
	ip=$(jq -r .ContainerIP <<<"$API_BODY")
	host=$(jq -r '.Properties["kawasaki.host-interface"]' <<<"$API_BODY")
	bridge=$(jq -r '.Properties["kawasaki.bridge-interface"]' <<<"$API_BODY")
	[[ $ip == 10.254.95.* ]] || fail "ContainerIP $ip is not from $BOSH_POOL"
	[[ $host == w${BOSH_TAG}* && $bridge == w${BOSH_TAG}* ]] || fail "links $host $bridge"
	"$KAWASAKI_BIN" --socket "$GDN_KAWASAKI_SOCK" list | grep -q '^bosh-a '
	run gaol run -a bosh-a -c 'echo hi'
	assert_success
	assert_output hi
	run gaol destroy bosh-a
	assert_success
	assert_no_leaks bosh-a "$ipid"

	# monit's stop programs
	run "$V/jobs/garden/bin/garden_ctl" stop
	assert_success
	run "$V/jobs/kawasaki/bin/kawasaki_ctl" stop
	assert_success
	wait_pid_gone "$gpid" 50 || fail "guardian $gpid is still running"
	wait_pid_gone "$kpid" 50 || fail "kawasaki $kpid is still running"
	[[ ! -e $V/sys/run/garden/garden.pid && ! -e $V/sys/run/kawasaki/kawasaki.pid ]] ||
		fail "pidfiles left"
	run ip -o link show
	refute_output --partial "$host"
	refute_output --partial "$bridge"
	assert_all_clean
	# kawasaki leaves its global chains for the next start (as Garden does); its teardown
	# removes them, and then nothing of the tag is left
	run "$KAWASAKI_BIN" --tag "$BOSH_TAG" --socket "$GDN_KAWASAKI_SOCK" teardown
	assert_success
	run bash -c "iptables-legacy-save | grep -- '-$BOSH_TAG-' || true"
	assert_output ''
	run bash -c "ip -o link show | awk -F': ' '{ print \$2 }' | grep '^w$BOSH_TAG' || true"
	assert_output ''
}

@test "bosh: the garden-c package's packaging script builds its spec's files into BOSH_INSTALL_TARGET" {
	local src=$BATS_TEST_DIRNAME/../.. c=$GDN_TMP/compile t=$GDN_TMP/pkg
	# the director's compilation: the files the spec's globs match (under src/garden-c in a
	# release; here the source tree itself) are copied, and packaging runs among them
	run ruby -ryaml -rfileutils -e '
		src, dst = ARGV
		globs = YAML.safe_load(File.read("#{src}/bosh/packages/garden-c/spec"))["files"]
		n = 0
		globs.each do |g|
			Dir.glob(g.sub(%r{\Agarden-c/}, ""), base: src).each do |f|
				next unless File.file?("#{src}/#{f}")
				FileUtils.mkdir_p(File.dirname("#{dst}/garden-c/#{f}"))
				FileUtils.cp("#{src}/#{f}", "#{dst}/garden-c/#{f}")
				n += 1
			end
		end
		puts n' "$src" "$c"
	assert_success
	(("$output" > 100)) || fail "only $output files"
	[[ ! -e $c/garden-c/build ]] || fail "the build directory was copied"
	(cd "$c" && BOSH_INSTALL_TARGET=$t bash "$src/bosh/packages/garden-c/packaging") \
		>"$GDN_TMP/packaging.log" 2>&1 || fail "packaging failed: $(tail -n 20 "$GDN_TMP/packaging.log")"
	local b
	for b in guardian dadoo kawasaki nstar gaol image-plugin-shim netplugin-shim; do
		[[ -x $t/bin/$b ]] || fail "no bin/$b"
	done
	[[ -x $t/libexec/garden-c/garden-init ]] || fail "no libexec/garden-c/garden-init"
	[[ -f $t/share/man/man5/guardian-config.5 ]] || fail "no man pages"
	# a package installs below BOSH_INSTALL_TARGET only: no units, no /etc/garden on the host
	! grep -E '/lib/systemd|/etc/garden' "$GDN_TMP/packaging.log" || fail "it installed outside the target"
	run "$t/bin/guardian" --version
	assert_success
	assert_output "$("$GUARDIAN_BIN" --version)"
}
