#!/usr/bin/env bats
# The built-in volumizer's images: local OCI layouts and docker-save archives, made here from the
# busybox rootfs (test/images/mkimage: two layers, a whiteout, an opaque dir, Env, User and
# WorkingDir), unpacked once into the store's layer store, shared through overlay, collected
# when unused; and hostile layers, which change nothing outside the layer being unpacked.

load helpers/common

MKIMAGE=$BATS_TEST_DIRNAME/../images/mkimage

setup_file() {
	gdn_setup_tmp
	export IMG=$GDN_TMP/images
	mkdir -p "$IMG"
	"$MKIMAGE" oci "$IMG/oci" "$GDN_ROOTFS"
	"$MKIMAGE" docker "$IMG/docker.tar" "$GDN_ROOTFS"
	start_guardian
}

teardown_file() {
	gdn_teardown_file
}

teardown() {
	gdn_teardown
}

layers() {
	find "$GDN_STORE/layers" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort
}

# check_image_content HANDLE: what both layers and the config give the container.
check_image_content() {
	run gaol run -a "$1" -u root -c 'cat /etc/image-marker; ls /etc/opaque-dir; ls /bin/vi 2>&1; echo $IMAGE_VAR; ls /bin/busybox'
	assert_success
	assert_output "$(printf 'marker\nnew\nls: /bin/vi: No such file or directory\nfrom-image\n/bin/busybox')"
	# the image's User and WorkingDir are the defaults of processes that name none
	run gaol run -a "$1" -c 'id -un; pwd; echo $USER; run.sh'
	assert_success
	assert_output "$(printf 'vcap\n/opt/app\nvcap\napp')"
}

@test "an OCI layout: layers, whiteouts, opaque dirs, Env, User and WorkingDir" {
	create_container img-oci '{"image":{"uri":"oci://'"$IMG"'/oci"}}'
	check_image_content img-oci
	# the spec's env comes after the image's (it wins)
	create_container img-oci-env '{"rootfs":"oci://'"$IMG"'/oci:v1","env":["IMAGE_VAR=from-spec"]}'
	run gaol run -a img-oci-env -c 'echo $IMAGE_VAR'
	assert_output from-spec
	# unprivileged: the layer's owners are shifted into the container's ids (once per layer)
	run gaol run -a img-oci -u root -c 'stat -c %u:%g /opt/app/run.sh /etc/passwd /'
	assert_output "$(printf '1000:1000\n0:0\n0:0')"
	assert_equal "$(layers | wc -l)" 2
	destroy_container img-oci
	destroy_container img-oci-env
	assert_no_leaks img-oci
	assert_no_leaks img-oci-env
}

@test "layers are unpacked once and shared; privileged containers get their own unshifted copy" {
	create_container img-a '{"rootfs":"oci://'"$IMG"'/oci"}'
	local unpacked
	unpacked=$(grep -c 'unpacked-layer"' "$GDN_LOG")
	create_container img-b '{"rootfs":"oci://'"$IMG"'/oci"}'
	assert_equal "$(grep -c 'unpacked-layer"' "$GDN_LOG")" "$unpacked"
	run gaol run -a img-b -u root -c 'echo b > /mine; cat /mine'
	assert_output b
	run gaol run -a img-a -u root -c 'cat /mine'
	assert_failure
	create_container img-p '{"rootfs":"oci://'"$IMG"'/oci","privileged":true}'
	check_image_content img-p
	run gaol run -a img-p -u root -c 'stat -c %u:%g /opt/app/run.sh /'
	assert_output "$(printf '1000:1000\n0:0')"
	assert_equal "$(layers | grep -vc -- -u)" 2
	for h in img-a img-b img-p; do destroy_container "$h"; done
}

@test "a docker-save archive" {
	create_container img-docker '{"rootfs":"docker-archive://'"$IMG"'/docker.tar"}'
	check_image_content img-docker
	# the same diff_ids as the OCI layout's: the same layers
	create_container img-oci2 '{"rootfs":"oci://'"$IMG"'/oci"}'
	assert_equal "$(layers | grep -c -- -u)" 2
	destroy_container img-docker
	destroy_container img-oci2
}

@test "bad image URIs and images are Garden errors, and leave nothing behind" {
	local before
	before=$(layers)
	api_req POST /containers '{"handle":"img-bad1","rootfs":"docker:///busybox"}'
	assert_garden_error 500 "" "only local directories .*oci:///path\\[:tag\\].*docker-archive"
	api_req POST /containers '{"handle":"img-bad2","rootfs":"oci:///nonexistent/layout"}'
	assert_garden_error 500 "" "read the OCI layout '/nonexistent/layout'.*No such file"
	api_req POST /containers '{"handle":"img-bad3","rootfs":"oci://'"$IMG"'/oci:nosuchtag"}'
	assert_garden_error 500 "" "has no image tagged 'nosuchtag'"
	api_req POST /containers '{"handle":"img-bad4","rootfs":"docker-archive:///nonexistent.tar"}'
	assert_garden_error 500 "" "open the archive '/nonexistent.tar'"
	# a layer whose content is not its diff_id (a layer not unpacked yet: the store trusts
	# what it checked once)
	make_layer tampered 'entry("bin/tampered", data=b"t")'
	local blob
	blob=$(layer_blob tampered)
	printf 'x' >>"$blob"
	api_req POST /containers '{"handle":"img-bad5","rootfs":"oci://'"$IMG"'/tampered"}'
	assert_garden_error 500 "" "does not match its diff_id"
	# a corrupt tar
	make_layer corrupt 'entry("bin/corrupt", data=b"c")'
	blob=$(layer_blob corrupt)
	head -c 3000 /dev/urandom >"$blob"
	api_req POST /containers '{"handle":"img-bad6","rootfs":"oci://'"$IMG"'/corrupt"}'
	assert_garden_error 500 "" "unpack the layer"
	for h in img-bad1 img-bad2 img-bad3 img-bad4 img-bad5 img-bad6; do
		assert_no_leaks "$h"
	done
	assert_equal "$(layers)" "$before"
	run find "$GDN_STORE/layers" -maxdepth 1 -name 'tmp.*'
	assert_output ""
}

@test "unused layers are collected at start-up and by guardian gc, used ones are kept" {
	create_container img-keep '{"rootfs":"docker-archive://'"$IMG"'/docker.tar","privileged":true}'
	create_container img-drop '{"rootfs":"oci://'"$IMG"'/oci"}'
	destroy_container img-drop
	local kept
	kept=$(layers | grep -vc -- -u)
	stop_guardian
	run "$GUARDIAN_BIN" gc --store "$GDN_STORE" --depot "$GDN_DEPOT"
	assert_success
	assert_equal "$(layers | grep -c -- -u || true)" 0
	assert_equal "$(layers | grep -vc -- -u)" "$kept"
	start_guardian
	run gaol run -a img-keep -u root -c 'cat /etc/image-marker'
	assert_output marker
	destroy_container img-keep
	stop_guardian
	start_guardian
	assert_equal "$(layers | wc -l)" 0
	grep -q 'collected-layers".*"removed":"2"' "$GDN_LOG"
}

@test "a store is one guardian's: a second guardian on it is refused" {
	run "$GUARDIAN_BIN" server --bind-socket "$GDN_TMP/other.sock" --depot "$GDN_TMP/other-depot" \
		--store "$GDN_STORE" --runtime-plugin "$GDN_RUNTIME" --no-networking \
		--init-bin "$GARDEN_INIT_BIN" --skip-setup
	assert_failure
	assert_output --partial "store '$GDN_STORE' is in use by another guardian"
}

# make_layer NAME PYTHON-BODY: a one-layer OCI layout at $IMG/NAME whose layer tar the Python
# code writes to the tarfile.TarFile `t`.
make_layer() {
	local out=$IMG/$1
	mkdir -p "$out/blobs/sha256"
	python3 - "$out" <<EOF
import hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
buf = io.BytesIO()
t = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
def entry(name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644, dev=(0, 0)):
    i = tarfile.TarInfo(name); i.type = kind; i.mode = mode; i.linkname = link
    i.size = len(data) if kind == tarfile.REGTYPE else 0
    i.devmajor, i.devminor = dev
    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
entry("bin", tarfile.DIRTYPE, mode=0o755)
$2
t.close()
layer = buf.getvalue()
def blob(b):
    d = hashlib.sha256(b).hexdigest()
    open(os.path.join(out, "blobs/sha256", d), "wb").write(b)
    return "sha256:" + d, len(b)
ld, ls = blob(layer)
cd, cs = blob(json.dumps({"config": {}, "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode())
md, ms = blob(json.dumps({"schemaVersion": 2, "config": {"digest": cd, "size": cs},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}]}).encode())
json.dump({"schemaVersion": 2, "manifests": [{"digest": md, "size": ms}]}, open(os.path.join(out, "index.json"), "w"))
EOF
}

# layer_blob NAME: the layer blob of make_layer's layout NAME.
layer_blob() {
	local d
	d=$(jq -r '.manifests[0].digest' "$IMG/$1/index.json")
	d=$(jq -r '.layers[0].digest' "$IMG/$1/blobs/sha256/${d#sha256:}")
	printf '%s\n' "$IMG/$1/blobs/sha256/${d#sha256:}"
}

host_print() {
	find /etc -maxdepth 2 -printf '%p %s %m %U %T@\n' 2>/dev/null | sort | sha256sum
}

@test "hostile layers change nothing outside the layer" {
	local before
	before=$(host_print)
	make_layer hostile '
entry("/etc/abs-name", data=b"x")
entry("../../../../../../tmp/dotdot-escape", data=b"x")
entry("esc", tarfile.SYMTYPE, link="/etc")
entry("esc/through-symlink", data=b"x")
entry("up", tarfile.SYMTYPE, link="../../../../../../../../tmp")
entry("up/through-relative-symlink", data=b"x")
entry("hard", tarfile.LNKTYPE, link="/etc/passwd")
entry("dev-sda", tarfile.BLKTYPE, dev=(8, 0))
entry("dev-mem", tarfile.CHRTYPE, dev=(1, 1))
entry("bin/ok", data=b"fine")'
	for priv in false true; do
		api_req POST /containers '{"handle":"img-hostile","rootfs":"oci://'"$IMG"'/hostile","privileged":'"$priv"'}'
		# whatever the outcome, nothing outside the layer store changed
		assert_equal "$(host_print)" "$before"
		[[ ! -e /etc/abs-name && ! -e /tmp/dotdot-escape && ! -e /etc/through-symlink ]] ||
			fail "a hostile name reached the host"
		[[ ! -e /tmp/through-relative-symlink ]] || fail "a relative symlink reached the host"
		if [[ $API_STATUS == 200 ]]; then
			destroy_container img-hostile
		fi
		assert_no_leaks img-hostile
	done
	# with every layer dir of the store checked: no device node in the unprivileged ones
	run find "$GDN_STORE/layers" -path '*-u*' \( -type b -o -type c \) ! -name '.wh.*' -newer "$IMG/hostile/index.json"
	refute_output --partial dev-sda
	refute_output --partial dev-mem
}

@test "a huge layer entry that is cut short fails cleanly" {
	make_layer truncated '
i = tarfile.TarInfo("bin/huge"); i.size = 1 << 40
t.fileobj.write(i.tobuf(tarfile.PAX_FORMAT)); t.fileobj.write(b"x" * 1024)'
	api_req POST /containers '{"handle":"img-trunc","rootfs":"oci://'"$IMG"'/truncated"}'
	[[ $API_STATUS == 500 ]] || fail "created: $API_STATUS $API_BODY"
	assert_no_leaks img-trunc
	run find "$GDN_STORE/layers" -maxdepth 1 -name 'tmp.*'
	assert_output ""
}
