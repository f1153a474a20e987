#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/gojson.h"
#include "lib/imageplugin.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/spec.h"
#include "cmd/guardian/image.h"

/* ContainerSpec.limits (garden.Limits), or ProcessSpec.limits (garden.ProcessLimits: only
 * its cpu and memory members); *ret_present (may be NULL): the spec had them. */
static int parse_limits_of(const struct gdn_gojson *spec, const char *what, const char *type,
			   struct gd_limits *l, bool *ret_present, struct gdn_err **err)
{
	const struct gdn_gojson *limits, *mem, *cpu, *pid = NULL, *disk = NULL;
	bool process = strcmp(what, "ProcessSpec") == 0;
	const char *lim = process ? "ProcessLimits" : "Limits";
	uint64_t weight = 0, shares = 0;
	int r;

	r = gdn_gojson_get_obj(spec, what, "limits", type, &limits, err);
	if (ret_present)
		*ret_present = r >= 0 && limits;
	if (r < 0 || !limits)
		return r;
	if ((r = gdn_gojson_get_obj(limits, lim, "memory_limits", "garden.MemoryLimits", &mem,
				    err)) < 0 ||
	    (r = gdn_gojson_get_obj(limits, lim, "cpu_limits", "garden.CPULimits", &cpu, err)) < 0)
		return r;
	if (!process &&
	    ((r = gdn_gojson_get_obj(limits, lim, "pid_limits", "garden.PidLimits", &pid, err)) <
		 0 ||
	     (r = gdn_gojson_get_obj(limits, lim, "disk_limits", "garden.DiskLimits", &disk, err)) <
		 0))
		return r;
	if (mem && (r = gdn_gojson_get_u64(mem, "MemoryLimits", "limit_in_bytes", &l->memory_bytes,
					   err)) < 0)
		return r;
	if (cpu &&
	    ((r = gdn_gojson_get_u64(cpu, "CPULimits", "weight", &weight, err)) < 0 ||
	     (r = gdn_gojson_get_u64(cpu, "CPULimits", "limit_in_shares", &shares, err)) < 0))
		return r;
	l->cpu_shares = weight > 0 ? weight : shares;
	if (pid && (r = gdn_gojson_get_u64(pid, "PidLimits", "max", &l->pids_max, err)) < 0)
		return r;
	uint64_t scope = 0;
	if (disk &&
	    ((r = gdn_gojson_get_u64(disk, "DiskLimits", "byte_hard", &l->disk_byte_hard, err)) <
		 0 ||
	     (r = gdn_gojson_get_u64(disk, "DiskLimits", "inode_hard", &l->disk_inode_hard, err)) <
		 0))
		return r;
	if (disk && (r = gdn_gojson_get_uint(disk, "DiskLimits", "scope", UINT8_MAX,
					     "garden.DiskLimitScope", &scope, err)) < 0)
		return r;
	/* garden.DiskLimitScope: 0 total, 1 exclusive (Garden treats any other value as total) */
	l->disk_exclusive = scope == 1;
	return 0;
}

static int parse_limits(const struct gdn_gojson *spec, struct gd_limits *l, struct gdn_err **err)
{
	return parse_limits_of(spec, "ContainerSpec", "garden.Limits", l, NULL, err);
}

static int parse_env(const struct gdn_gojson *spec, char ***ret, struct gdn_err **err)
{
	_cleanup_strv_ char **out = NULL;
	int r;

	*ret = NULL;
	r = gdn_gojson_get_strv(spec, "ContainerSpec", "env", &out, err);
	if (r < 0)
		return r;
	for (char **e = out; *e; e++)
		if (!strchr(*e, '=') || **e == '=')
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "invalid env entry '%s': must be KEY=VALUE", *e);
	*ret = out;
	out = NULL;
	return 0;
}

static int parse_properties(const struct gdn_gojson *spec, json_t **ret, struct gdn_err **err)
{
	const struct gdn_gojson *props;
	json_auto_t *out = NULL;
	int r;

	*ret = NULL;
	r = gdn_gojson_get_obj(spec, "ContainerSpec", "properties", "garden.Properties", &props,
			       err);
	if (r < 0)
		return r;
	out = json_object();
	if (!out)
		return gdn_err_set(err, ENOMEM, "properties");
	for (size_t i = 0; props && i < props->n; i++) {
		const char *v;

		/* a map: null sets the value to "" (Go stores the zero value) */
		if (props->items[i]->kind == GDN_GOJSON_NULL)
			v = "";
		else if ((r = gdn_gojson_str(props->items[i], "ContainerSpec", "properties", &v,
					     err)) < 0)
			return r;
		if (json_object_set_new(out, props->keys[i], json_string(v)) < 0)
			return gdn_err_set(err, ENOMEM, "properties");
	}
	*ret = json_incref(out);
	return 0;
}

static bool has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

static int parse_bind_mounts(const struct gdn_gojson *spec, const char *what,
			     struct gd_create_spec *s, struct gdn_err **err)
{
	const struct gdn_gojson *bms;
	struct stat st;
	int r;

	r = gdn_gojson_get_arr(spec, what, "bind_mounts", "[]garden.BindMount", &bms, err);
	if (r < 0 || !bms)
		return r;
	s->bind_mounts = calloc(bms->n + 1, sizeof(*s->bind_mounts));
	if (!s->bind_mounts)
		return gdn_err_set(err, ENOMEM, "bind mounts");
	for (size_t i = 0; i < bms->n; i++) {
		const struct gdn_gojson *bm = bms->items[i];
		const char *src, *dst;
		uint64_t mode = 0;

		/* null is a zero BindMount (no paths, refused below), as in Go */
		if (bm->kind != GDN_GOJSON_OBJECT && bm->kind != GDN_GOJSON_NULL)
			return gdn_gojson_type_err(err, what, "bind_mounts", bm,
						   "garden.BindMount");
		if ((r = gdn_gojson_get_str(bm, "BindMount", "src_path", &src, err)) < 0 ||
		    (r = gdn_gojson_get_str(bm, "BindMount", "dst_path", &dst, err)) < 0 ||
		    (r = gdn_gojson_get_u64(bm, "BindMount", "mode", &mode, err)) < 0)
			return r;
		if (src[0] != '/' || dst[0] != '/')
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "bind mount '%s' -> '%s': both paths must be absolute",
					    src, dst);
		if (has_dotdot(dst))
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "bind mount destination '%s' must not contain '..'",
					    dst);
		if (stat(src, &st) < 0)
			return gdn_err_kind(err, GDN_ERR_GENERIC, errno,
					    "bind mount source '%s' does not exist", src);
		if (mode > 1)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "bind mount '%s': invalid mode %llu (0 = ro, 1 = rw)",
					    src, (unsigned long long)mode);
		s->bind_mounts[i].src = strdup(src);
		s->bind_mounts[i].dst = strdup(dst);
		s->bind_mounts[i].rw = mode == 1;
		s->n_bind_mounts++;
		if (!s->bind_mounts[i].src || !s->bind_mounts[i].dst)
			return gdn_err_set(err, ENOMEM, "bind mounts");
	}
	return 0;
}

/* The rootfs: the spec's rootfs or image.uri (a local directory, plain path or raw://), else
 * --default-rootfs. With image plugins, anything but raw:// goes to the plugin (internals
 * §10.1): the privileged one for privileged containers. */
static int resolve_rootfs(const struct gd_config *cfg, const char *rootfs, const char *uri,
			  struct gd_create_spec *s, struct gdn_err **err)
{
	char **ret = &s->rootfs;
	const char *want = *uri ? uri : rootfs;
	char real[PATH_MAX];
	struct stat st;

	if (*rootfs && *uri)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "Cannot provide both Image.URI and RootFSPath");
	if (!*want) {
		if (!cfg->default_rootfs)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "no rootfs given and guardian has no --default-rootfs");
		want = cfg->default_rootfs;
	}
	if (cfg->image_plugins_used && strncmp(want, "raw://", 6) != 0) {
		if (!cfg->image_plugin_have[s->privileged ? GDN_IMAGEPLUGIN_PRIVILEGED
							  : GDN_IMAGEPLUGIN_UNPRIVILEGED])
			return gdn_err_kind(err, GDN_ERR_GENERIC, ENOENT, "no %s provided",
					    s->privileged ? "privileged_image_plugin"
							  : "image_plugin");
		s->image_uri = strdup(want);
		return s->image_uri ? 0 : gdn_err_set(err, ENOMEM, "rootfs");
	}
	/* an image is read (and its layers unpacked) by the create itself, in its worker */
	if (gd_layout_is_uri(want)) {
		*ret = strdup(want);
		return *ret ? 0 : gdn_err_set(err, ENOMEM, "rootfs");
	}
	if (strncmp(want, "raw://", 6) == 0)
		want += 6;
	else if (strstr(want, "://"))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "rootfs '%s': only local directories (a path or raw:///path), "
				    "OCI layouts (oci:///path[:tag]) and docker-save archives "
				    "(docker-archive:///path.tar) are supported without an image "
				    "plugin",
				    want);
	if (want[0] != '/')
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "rootfs '%s': must be an absolute path", want);
	if (!realpath(want, real) || stat(real, &st) < 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, ENOENT, "rootfs '%s' does not exist",
				    want);
	if (!S_ISDIR(st.st_mode))
		return gdn_err_kind(err, GDN_ERR_GENERIC, ENOTDIR, "rootfs '%s' is not a directory",
				    want);
	*ret = strdup(real);
	return *ret ? 0 : gdn_err_set(err, ENOMEM, "rootfs");
}

/* ContainerSpec.netin ([]garden.NetIn, uint32 ports) and netout_rules, for the networker. */
static int parse_network(const struct gdn_gojson *spec, struct gd_create_spec *s,
			 struct gdn_err **err)
{
	const struct gdn_gojson *netin, *netout;
	int r = gdn_gojson_get_arr(spec, "ContainerSpec", "netin", "[]garden.NetIn", &netin, err);

	if (r >= 0)
		r = gdn_gojson_get_arr(spec, "ContainerSpec", "netout_rules", "[]garden.NetOutRule",
				       &netout, err);
	if (r < 0)
		return r;
	if (netin && netin->n) {
		s->net.netin = json_array();
		for (size_t i = 0; s->net.netin && i < netin->n; i++) {
			const struct gdn_gojson *m = netin->items[i];
			uint32_t host = 0, container = 0;
			if (m->kind != GDN_GOJSON_OBJECT && m->kind != GDN_GOJSON_NULL)
				return gdn_gojson_value_err(err, m, "garden.NetIn");
			if ((r = gdn_gojson_get_u32(m, "NetIn", "host_port", &host, err)) < 0 ||
			    (r = gdn_gojson_get_u32(m, "NetIn", "container_port", &container,
						    err)) < 0)
				return r;
			json_array_append_new(s->net.netin,
					      json_pack("{s:I,s:I}", "host_port", (json_int_t)host,
							"container_port", (json_int_t)container));
		}
		if (!s->net.netin)
			return gdn_err_set(err, ENOMEM, "netin");
	}
	if (netout && netout->n && !(s->net.netout = gdn_gojson_to_json(netout)))
		return gdn_err_set(err, ENOMEM, "netout_rules");
	return 0;
}

/* garden.ImageRef: uri, username, password ("" when absent). */
static int parse_image(const struct gdn_gojson *spec, const char *what, const char **uri,
		       const char **user, const char **pass, struct gdn_err **err)
{
	const struct gdn_gojson *image;
	int r = gdn_gojson_get_obj(spec, what, "image", "garden.ImageRef", &image, err);

	if (r < 0 || !image)
		return r;
	if ((r = gdn_gojson_get_str(image, "ImageRef", "uri", uri, err)) < 0 ||
	    (r = gdn_gojson_get_str(image, "ImageRef", "username", user, err)) < 0 ||
	    (r = gdn_gojson_get_str(image, "ImageRef", "password", pass, err)) < 0)
		return r;
	return 0;
}

static int image_credentials(struct gd_create_spec *s, const char *user, const char *pass,
			     struct gdn_err **err)
{
	if ((*user && !(s->image_username = strdup(user))) ||
	    (*pass && !(s->image_password = strdup(pass))))
		return gdn_err_set(err, ENOMEM, "image");
	return 0;
}

static int parse_top(const struct gd_config *cfg, const struct gdn_gojson *spec,
		     struct gd_create_spec *s, uint64_t *ret_grace, struct gdn_err **err)
{
	const char *handle, *rootfs, *uri = "", *network, *user = "", *pass = "";
	char generated[37];
	int64_t grace;
	int r;

	if (spec->kind != GDN_GOJSON_OBJECT)
		return gdn_gojson_value_err(err, spec, "garden.ContainerSpec");
	if ((r = gdn_gojson_get_str(spec, "ContainerSpec", "handle", &handle, err)) < 0 ||
	    (r = gdn_gojson_get_str(spec, "ContainerSpec", "rootfs", &rootfs, err)) < 0 ||
	    (r = gdn_gojson_get_str(spec, "ContainerSpec", "network", &network, err)) < 0 ||
	    (r = parse_image(spec, "ContainerSpec", &uri, &user, &pass, err)) < 0)
		return r;
	if ((r = gdn_gojson_get_bool(spec, "ContainerSpec", "privileged", &s->privileged, err)) <
		0 ||
	    (r = gdn_gojson_get_i64(spec, "ContainerSpec", "grace_time", "time.Duration", &grace,
				    err)) < 0)
		return r;
	if (grace < 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "grace_time must not be negative");
	*ret_grace = (uint64_t)grace;
	if (*ret_grace == 0)
		*ret_grace = cfg->default_grace_ns;
	if (!(s->net.network = strdup(network)))
		return gdn_err_set(err, ENOMEM, "network");
	if ((r = parse_network(spec, s, err)) < 0)
		return r;

	if (!*handle) {
		gdn_uuid_v4(generated);
		handle = generated;
	}
	if ((r = gdn_name_validate("handle", handle, err)) < 0)
		return r;
	s->handle = strdup(handle);
	if (!s->handle)
		return gdn_err_set(err, ENOMEM, "handle");
	if (s->privileged && cfg->disable_privileged)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EPERM,
				    "privileged container creation is disabled");
	if ((r = parse_limits(spec, &s->limits, err)) < 0 ||
	    (r = parse_env(spec, &s->env, err)) < 0 ||
	    (r = parse_properties(spec, &s->properties, err)) < 0 ||
	    (r = parse_bind_mounts(spec, "ContainerSpec", s, err)) < 0)
		return r;
	if ((r = image_credentials(s, user, pass, err)) < 0)
		return r;
	return resolve_rootfs(cfg, rootfs, uri, s, err);
}

static int parse_pea(const struct gd_config *cfg, const struct gdn_gojson *spec,
		     struct gd_create_spec *s, bool *ret_own_limits, struct gdn_err **err)
{
	const char *uri = "", *user = "", *pass = "";
	int r;

	if (spec->kind != GDN_GOJSON_OBJECT)
		return gdn_gojson_value_err(err, spec, "garden.ProcessSpec");
	if ((r = parse_image(spec, "ProcessSpec", &uri, &user, &pass, err)) < 0 ||
	    (r = parse_limits_of(spec, "ProcessSpec", "garden.ProcessLimits", &s->limits,
				 ret_own_limits, err)) < 0 ||
	    (r = parse_bind_mounts(spec, "ProcessSpec", s, err)) < 0 ||
	    (r = image_credentials(s, user, pass, err)) < 0)
		return r;
	if (!*uri)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "a pea needs an image");
	return resolve_rootfs(cfg, "", uri, s, err);
}

int gd_pea_spec_parse(const struct gd_config *cfg, const char *body, size_t len, bool privileged,
		      const char *id, struct gd_create_spec *ret, bool *ret_own_limits,
		      struct gdn_err **err)
{
	_cleanup_gojson_ struct gdn_gojson *spec = NULL;
	struct gd_create_spec s = {.privileged = privileged};
	int r = gdn_gojson_decode(body, len, &spec, err);

	if (r < 0)
		return r;
	r = parse_pea(cfg, spec, &s, ret_own_limits, err);
	if (r >= 0 && !(s.handle = strdup(id)))
		r = gdn_err_set(err, ENOMEM, "pea");
	if (r < 0) {
		gd_spec_free(&s);
		return r;
	}
	*ret = s;
	return 0;
}

int gd_spec_parse(const struct gd_config *cfg, const char *body, size_t len,
		  struct gd_create_spec *ret, uint64_t *ret_grace_ns, struct gdn_err **err)
{
	_cleanup_gojson_ struct gdn_gojson *spec = NULL;
	struct gd_create_spec s = {0};
	uint64_t grace = 0;
	int r;

	r = gdn_gojson_decode(body, len, &spec, err);
	if (r < 0)
		return r;
	r = parse_top(cfg, spec, &s, &grace, err);
	if (r < 0) {
		gd_spec_free(&s);
		return r;
	}
	if (grace > 0) {
		char buf[32];
		(void)snprintf(buf, sizeof(buf), "%llu", (unsigned long long)grace);
		json_object_set_new(s.properties, "garden.grace-time", json_string(buf));
	}
	*ret = s;
	*ret_grace_ns = grace;
	return 0;
}

void gd_net_spec_free(struct gd_net_spec *ns)
{
	free(ns->network);
	json_decref(ns->netin);
	json_decref(ns->netout);
	memset(ns, 0, sizeof(*ns));
}

void gd_spec_free(struct gd_create_spec *s)
{
	free(s->handle);
	free(s->rootfs);
	free(s->image_uri);
	free(s->image_username);
	free(s->image_password);
	gdn_strv_free(s->env);
	json_decref(s->properties);
	for (size_t i = 0; i < s->n_bind_mounts; i++) {
		free(s->bind_mounts[i].src);
		free(s->bind_mounts[i].dst);
	}
	free(s->bind_mounts);
	gd_net_spec_free(&s->net);
	memset(s, 0, sizeof(*s));
}
