# Checked once per bats run (prove runs one per file). A missing prerequisite fails the run: the
# tests never skip (a skip counts as a failure in CI).

setup_suite() {
	local missing=() t

	[[ $(id -u) == 0 ]] || missing+=("must run as root (containers, mounts, cgroups)")
	[[ -n ${GDN_BUILD:-} ]] || missing+=("GDN_BUILD is not set (e.g. build/release)")
	[[ -n ${GDN_ROOTFS:-} ]] || missing+=("GDN_ROOTFS is not set (make rootfs builds build/rootfs/busybox)")
	case ${GDN_RUNTIME:-runc} in
	runc | crun) ;;
	*) missing+=("GDN_RUNTIME must be runc or crun, not '$GDN_RUNTIME'") ;;
	esac

	for t in "${GDN_RUNTIME:-runc}" curl jq nsenter ip ss setsid stat find md5sum awk mktemp \
		umount timeout perl pgrep dd man python3 script; do
		command -v "$t" >/dev/null || missing+=("command not found: $t")
	done
	for t in guardian gaol garden-init; do
		[[ -x ${GDN_BUILD:-/nonexistent}/bin/$t ]] ||
			missing+=("binary not built: ${GDN_BUILD:-\$GDN_BUILD}/bin/$t (make all)")
	done
	for t in guardian.8 gaol.1; do
		[[ -f ${GDN_BUILD:-/nonexistent}/../man/$t ]] ||
			missing+=("man page not rendered: build/man/$t (make man)")
	done
	for t in bin/busybox bin/sh bin/sleep etc/passwd; do
		[[ -e ${GDN_ROOTFS:-/nonexistent}/$t ]] ||
			missing+=("rootfs incomplete: ${GDN_ROOTFS:-\$GDN_ROOTFS}/$t missing (make rootfs)")
	done
	if [[ -f ${GDN_ROOTFS:-/nonexistent}/etc/passwd ]] &&
		! grep -q '^vcap:[^:]*:1000:' "$GDN_ROOTFS/etc/passwd"; then
		missing+=("rootfs /etc/passwd has no vcap user with uid 1000")
	fi
	for t in bats-support bats-assert; do
		(bats_load_library "$t") >/dev/null 2>&1 || missing+=("bats library missing: $t (apt-get install $t)")
	done
	[[ $(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0) -gt 0 ]] ||
		missing+=("user namespaces are disabled (user.max_user_namespaces = 0)")
	[[ -d /sys/fs/cgroup ]] || missing+=("no cgroup file system at /sys/fs/cgroup")
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
		missing+=("overlay file system not available")

	command -v iptables-legacy-save >/dev/null || missing+=("command not found: iptables-legacy-save")
	# No test packet may leave this machine: the FORWARD guard must be in place (make bats
	# installs it; a bats run by hand gets it here and keeps it).
	local guard
	guard=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/net-guard
	"$guard" check 2>/dev/null || "$guard" install || missing+=("cannot install $guard")

	if ((${#missing[@]})); then
		printf 'setup_suite: %s\n' "${missing[@]}" >&2
		return 1
	fi
}

# After each file: kawasaki's base chains and hooks of the default tag (w--input, w--forward,
# w--default, w--prerouting, w--postrouting) outlive a guardian by design, as Garden's do; the
# tests made them, so they go too (teardown_file has stopped the file's kawasaki).
teardown_suite() {
	"${GDN_BUILD:-/nonexistent}/bin/kawasaki" teardown >/dev/null 2>&1 || true
}
