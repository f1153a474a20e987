#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/spec.h"

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	case JSON_NULL:
	default:
		return "null";
	}
}

int gd_json_type_err(struct gdn_err **err, const char *owner, const char *field, const json_t *v,
		     const char *gotype)
{
	/* Go names the number itself when it does not fit a numeric field ("number -1" into a
	 * uint64, "number 1.5" into a time.Duration), and only its kind when the field is not
	 * numeric. */
	if (json_is_number(v) &&
	    (strncmp(gotype, "uint", 4) == 0 || strncmp(gotype, "int", 3) == 0 ||
	     strcmp(gotype, "time.Duration") == 0)) {
		_cleanup_free_ char *lit = json_dumps(v, JSON_ENCODE_ANY);
		return gdn_err_kind(
		    err, GDN_ERR_GENERIC, EINVAL,
		    "json: cannot unmarshal number %s into Go struct field %s.%s of "
		    "type %s",
		    lit ? lit : "", owner, field, gotype);
	}
	return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
			    "json: cannot unmarshal %s into Go struct field %s.%s of type %s",
			    json_kind(v), owner, field, gotype);
}

int gd_json_decode(const char *body, size_t len, json_t **ret, struct gdn_err **err)
{
	json_error_t jerr;
	json_t *v;
	size_t i = 0;

	while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
		i++;
	if (i == len)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "EOF");
	v = json_loadb(body, len, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
	if (!v)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid JSON: %s", jerr.text);
	*ret = v;
	return 0;
}

/* A member that is absent or null is "not given" (Go leaves the field zero). */
static json_t *member(const json_t *obj, const char *key)
{
	json_t *v = gdn_json_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

static int get_u64(const json_t *obj, const char *owner, const char *key, uint64_t *ret,
		   struct gdn_err **err)
{
	json_t *v = member(obj, key);

	*ret = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return gd_json_type_err(err, owner, key, v, "uint64");
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_obj(const json_t *obj, const char *owner, const char *key, const char *gotype,
		   json_t **ret, struct gdn_err **err)
{
	json_t *v = member(obj, key);

	*ret = NULL;
	if (v && !json_is_object(v))
		return gd_json_type_err(err, owner, key, v, gotype);
	*ret = v;
	return 0;
}

static int get_str(const json_t *obj, const char *owner, const char *key, const char **ret,
		   struct gdn_err **err)
{
	json_t *v = member(obj, key);

	*ret = "";
	if (!v)
		return 0;
	if (!json_is_string(v))
		return gd_json_type_err(err, owner, key, v, "string");
	*ret = json_string_value(v);
	return 0;
}

static int parse_limits(const json_t *spec, struct gd_limits *l, struct gdn_err **err)
{
	json_t *limits, *mem, *cpu, *pid, *disk;
	uint64_t weight = 0, shares = 0;
	int r;

	r = get_obj(spec, "ContainerSpec", "limits", "garden.Limits", &limits, err);
	if (r < 0 || !limits)
		return r;
	if ((r = get_obj(limits, "Limits", "memory_limits", "garden.MemoryLimits", &mem, err)) <
		0 ||
	    (r = get_obj(limits, "Limits", "cpu_limits", "garden.CPULimits", &cpu, err)) < 0 ||
	    (r = get_obj(limits, "Limits", "pid_limits", "garden.PidLimits", &pid, err)) < 0 ||
	    (r = get_obj(limits, "Limits", "disk_limits", "garden.DiskLimits", &disk, err)) < 0)
		return r;
	if (mem && (r = get_u64(mem, "MemoryLimits", "limit_in_bytes", &l->memory_bytes, err)) < 0)
		return r;
	if (cpu && ((r = get_u64(cpu, "CPULimits", "weight", &weight, err)) < 0 ||
		    (r = get_u64(cpu, "CPULimits", "limit_in_shares", &shares, err)) < 0))
		return r;
	l->cpu_shares = weight > 0 ? weight : shares;
	if (pid && (r = get_u64(pid, "PidLimits", "max", &l->pids_max, err)) < 0)
		return r;
	if (disk && (r = get_u64(disk, "DiskLimits", "byte_hard", &l->disk_byte_hard, err)) < 0)
		return r;
	return 0;
}

static int parse_env(const json_t *spec, char ***ret, struct gdn_err **err)
{
	json_t *env = member(spec, "env"), *v;
	char **out;
	size_t i;

	*ret = NULL;
	if (env && !json_is_array(env))
		return gd_json_type_err(err, "ContainerSpec", "env", env, "[]string");
	out = calloc((env ? json_array_size(env) : 0) + 1, sizeof(char *));
	if (!out)
		return gdn_err_set(err, ENOMEM, "env");
	json_array_foreach (env, i, v) {
		if (!json_is_string(v)) {
			gdn_strv_free(out);
			return gd_json_type_err(err, "ContainerSpec", "env", v, "string");
		}
		if (!strchr(json_string_value(v), '=') || json_string_value(v)[0] == '=') {
			int r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					     "invalid env entry '%s': must be KEY=VALUE",
					     json_string_value(v));
			gdn_strv_free(out);
			return r;
		}
		out[i] = strdup(json_string_value(v));
		if (!out[i]) {
			gdn_strv_free(out);
			return gdn_err_set(err, ENOMEM, "env");
		}
	}
	*ret = out;
	return 0;
}

static int parse_properties(const json_t *spec, json_t **ret, struct gdn_err **err)
{
	json_t *props = member(spec, "properties"), *v;
	json_t *out;
	const char *k;

	*ret = NULL;
	if (props && !json_is_object(props))
		return gd_json_type_err(err, "ContainerSpec", "properties", props,
					"garden.Properties");
	out = json_object();
	if (!out)
		return gdn_err_set(err, ENOMEM, "properties");
	json_object_foreach (props, k, v) {
		if (!json_is_string(v)) {
			json_decref(out);
			return gd_json_type_err(err, "ContainerSpec", "properties", v, "string");
		}
		json_object_set(out, k, v);
	}
	*ret = out;
	return 0;
}

static bool has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

static int parse_bind_mounts(const json_t *spec, struct gd_create_spec *s, struct gdn_err **err)
{
	json_t *bms = member(spec, "bind_mounts"), *bm;
	size_t i;
	struct stat st;

	if (!bms)
		return 0;
	if (!json_is_array(bms))
		return gd_json_type_err(err, "ContainerSpec", "bind_mounts", bms,
					"[]garden.BindMount");
	s->bind_mounts = calloc(json_array_size(bms) + 1, sizeof(*s->bind_mounts));
	if (!s->bind_mounts)
		return gdn_err_set(err, ENOMEM, "bind mounts");
	json_array_foreach (bms, i, bm) {
		const char *src, *dst;
		uint64_t mode = 0;
		int r;

		if (!json_is_object(bm))
			return gd_json_type_err(err, "ContainerSpec", "bind_mounts", bm,
						"garden.BindMount");
		if ((r = get_str(bm, "BindMount", "src_path", &src, err)) < 0 ||
		    (r = get_str(bm, "BindMount", "dst_path", &dst, err)) < 0 ||
		    (r = get_u64(bm, "BindMount", "mode", &mode, err)) < 0)
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
 * --default-rootfs. Image plugins arrive with their own issue. */
static int resolve_rootfs(const struct gd_config *cfg, const char *rootfs, const char *uri,
			  char **ret, struct gdn_err **err)
{
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
	if (strncmp(want, "raw://", 6) == 0)
		want += 6;
	else if (strstr(want, "://"))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "rootfs '%s': only local directories (a path or raw:///path) "
				    "are supported without an image plugin",
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

static int reject_network_fields(const json_t *spec, struct gdn_err **err)
{
	static const char *const fields[] = {"netin", "netout_rules"};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(fields); i++) {
		json_t *v = member(spec, fields[i]);
		if (v && !json_is_array(v))
			return gd_json_type_err(err, "ContainerSpec", fields[i], v, "[]");
		if (v && json_array_size(v) > 0)
			return gdn_err_kind(
			    err, GDN_ERR_GENERIC, ENOTSUP,
			    "%s is not supported: this guardian has no networker yet", fields[i]);
	}
	return 0;
}

static int parse_top(const struct gd_config *cfg, const json_t *spec, struct gd_create_spec *s,
		     uint64_t *ret_grace, struct gdn_err **err)
{
	const char *handle, *rootfs, *uri = "", *network;
	json_t *image, *priv, *grace;
	char generated[37];
	int r;

	if (!json_is_object(spec))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "json: cannot unmarshal %s into Go value of type "
				    "garden.ContainerSpec",
				    json_kind(spec));
	if ((r = get_str(spec, "ContainerSpec", "handle", &handle, err)) < 0 ||
	    (r = get_str(spec, "ContainerSpec", "rootfs", &rootfs, err)) < 0 ||
	    (r = get_str(spec, "ContainerSpec", "network", &network, err)) < 0 ||
	    (r = get_obj(spec, "ContainerSpec", "image", "garden.ImageRef", &image, err)) < 0)
		return r;
	if (image && (r = get_str(image, "ImageRef", "uri", &uri, err)) < 0)
		return r;
	priv = member(spec, "privileged");
	if (priv && !json_is_boolean(priv))
		return gd_json_type_err(err, "ContainerSpec", "privileged", priv, "bool");
	s->privileged = json_is_true(priv);
	grace = member(spec, "grace_time");
	if (grace && !json_is_integer(grace))
		return gd_json_type_err(err, "ContainerSpec", "grace_time", grace, "time.Duration");
	if (grace && json_integer_value(grace) < 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "grace_time must not be negative");
	*ret_grace = grace ? (uint64_t)json_integer_value(grace) : 0;
	if (*ret_grace == 0)
		*ret_grace = cfg->default_grace_ns;
	if (*network)
		return gdn_err_kind(err, GDN_ERR_GENERIC, ENOTSUP,
				    "network '%s' is not supported: this guardian has no networker "
				    "yet",
				    network);
	if ((r = reject_network_fields(spec, err)) < 0)
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
	    (r = parse_bind_mounts(spec, s, err)) < 0)
		return r;
	return resolve_rootfs(cfg, rootfs, uri, &s->rootfs, err);
}

int gd_spec_parse(const struct gd_config *cfg, const char *body, size_t len,
		  struct gd_create_spec *ret, uint64_t *ret_grace_ns, struct gdn_err **err)
{
	json_auto_t *spec = NULL;
	struct gd_create_spec s = {0};
	uint64_t grace = 0;
	int r;

	r = gd_json_decode(body, len, &spec, err);
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

void gd_spec_free(struct gd_create_spec *s)
{
	free(s->handle);
	free(s->rootfs);
	gdn_strv_free(s->env);
	json_decref(s->properties);
	for (size_t i = 0; i < s->n_bind_mounts; i++) {
		free(s->bind_mounts[i].src);
		free(s->bind_mounts[i].dst);
	}
	free(s->bind_mounts);
	memset(s, 0, sizeof(*s));
}
