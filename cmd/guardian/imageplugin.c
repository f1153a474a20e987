/* Requests to image-plugin-shim over its SEQPACKET socket, and what the plugins answer. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "lib/gojson.h"
#include "lib/ipc.h"
#include "lib/run.h"
#include "lib/util.h"
#include "cmd/guardian/imageplugin.h"

#define RETRY_NS (50 * 1000 * 1000L)
/* beyond the shim's own deadline of a plugin run, so that its timeout error is what arrives */
#define REPLY_SLACK_NS (10ULL * 1000 * 1000 * 1000)

void gd_image_free(struct gd_image *im)
{
	free(im->rootfs);
	gdn_strv_free(im->env);
	json_decref(im->mounts);
	memset(im, 0, sizeof(*im));
}

static int parse_err(struct gdn_err **err, const char *what, const char *out, size_t len,
		     const char *why)
{
	size_t n = len;

	while (n > 0 && strchr(" \t\r\n", out[n - 1]))
		n--;
	return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "parsing image plugin %s: %.*s: %s", what,
			    (int)n, out, why);
}

/* The mounts, as OCI mounts for config.json. */
static int parse_mounts(const struct gdn_gojson *mounts, json_t **ret, struct gdn_err **err)
{
	json_auto_t *arr = json_array();

	if (!arr)
		return gdn_err_set(err, ENOMEM, "mounts");
	for (size_t i = 0; mounts && i < mounts->n; i++) {
		const struct gdn_gojson *m = mounts->items[i];
		const char *dst, *type, *src;
		_cleanup_strv_ char **opts = NULL;
		json_auto_t *o = NULL, *jm = NULL;
		int r;

		if (m->kind == GDN_GOJSON_NULL)
			continue;
		if (m->kind != GDN_GOJSON_OBJECT)
			return gdn_gojson_type_err(err, "Spec", "mounts", m, "specs.Mount");
		if ((r = gdn_gojson_get_str(m, "Mount", "destination", &dst, err)) < 0 ||
		    (r = gdn_gojson_get_str(m, "Mount", "type", &type, err)) < 0 ||
		    (r = gdn_gojson_get_str(m, "Mount", "source", &src, err)) < 0 ||
		    (r = gdn_gojson_get_strv(m, "Mount", "options", &opts, err)) < 0)
			return r;
		if (dst[0] != '/')
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "mount destination '%s' is not absolute", dst);
		o = json_array();
		for (char **p = opts; o && *p; p++)
			if (json_array_append_new(o, json_string(*p)) < 0)
				return gdn_err_set(err, ENOMEM, "mounts");
		jm = o ? json_pack("{s:s, s:s, s:s, s:O}", "destination", dst, "type", type,
				   "source", src, "options", o)
		       : NULL;
		if (!jm || json_array_append(arr, jm) < 0)
			return gdn_err_set(err, ENOMEM, "mounts");
	}
	*ret = json_incref(arr);
	return 0;
}

static int parse_spec(const struct gdn_gojson *v, struct gd_image *im, struct gdn_err **err)
{
	const struct gdn_gojson *root, *process, *mounts;
	const char *path;
	int r;

	if (v->kind != GDN_GOJSON_OBJECT)
		return gdn_gojson_value_err(err, v, "specs.Spec");
	if ((r = gdn_gojson_get_obj(v, "Spec", "root", "specs.Root", &root, err)) < 0 ||
	    (r = gdn_gojson_get_obj(v, "Spec", "process", "specs.Process", &process, err)) < 0 ||
	    (r = gdn_gojson_get_arr(v, "Spec", "mounts", "[]specs.Mount", &mounts, err)) < 0)
		return r;
	/* missing process and root are tolerated, as in Garden (the zero values) */
	if ((r = gdn_gojson_get_str(root, "Root", "path", &path, err)) < 0 ||
	    (r = gdn_gojson_get_strv(process, "Process", "env", &im->env, err)) < 0)
		return r;
	if (path[0] != '/')
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "root.path '%s' is not an absolute path", path);
	for (char **e = im->env; *e; e++)
		if (!strchr(*e, '=') || **e == '=')
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "process.env entry '%s' is not KEY=VALUE", *e);
	if (!(im->rootfs = strdup(path)))
		return gdn_err_set(err, ENOMEM, "root.path");
	return parse_mounts(mounts, &im->mounts, err);
}

int gd_image_parse(const char *out, size_t len, struct gd_image *ret, struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_gojson_ struct gdn_gojson *v = NULL;
	struct gd_image im = {0};
	int r = gdn_gojson_decode(out, len, &v, &e);

	if (r >= 0)
		r = parse_spec(v, &im, &e);
	if (r < 0) {
		gd_image_free(&im);
		return parse_err(err, "create", out, len, gdn_err_str(e));
	}
	*ret = im;
	return 0;
}

/* A map[string]map[string]uint64 or map[string]uint64 member, as Go decodes it. */
static int get_u64(const struct gdn_gojson *obj, const char *key, uint64_t *ret,
		   struct gdn_err **err)
{
	const struct gdn_gojson *v = NULL;

	*ret = 0;
	/* a map's key matches exactly, the last one winning */
	for (size_t i = 0; obj && i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			v = obj->items[i];
	if (!v || v->kind == GDN_GOJSON_NULL)
		return 0;
	if (v->kind != GDN_GOJSON_NUMBER || gdn_gojson_u64(v, ret) < 0)
		return gdn_gojson_value_err(err, v, "uint64");
	return 0;
}

int gd_imageplugin_parse_stats(const char *out, size_t len, uint64_t *ret_total,
			       uint64_t *ret_exclusive, struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_gojson_ struct gdn_gojson *v = NULL;
	const struct gdn_gojson *usage = NULL;
	int r = gdn_gojson_decode(out, len, &v, &e);

	if (r >= 0 && v->kind != GDN_GOJSON_OBJECT && v->kind != GDN_GOJSON_NULL)
		r = gdn_gojson_value_err(&e, v, "map[string]map[string]uint64");
	for (size_t i = 0; r >= 0 && i < v->n; i++)
		if (strcmp(v->keys[i], "disk_usage") == 0)
			usage = v->items[i];
	if (r >= 0 && usage && usage->kind != GDN_GOJSON_OBJECT && usage->kind != GDN_GOJSON_NULL)
		r = gdn_gojson_value_err(&e, usage, "map[string]uint64");
	if (r >= 0 && (r = get_u64(usage, "total_bytes_used", ret_total, &e)) >= 0)
		r = get_u64(usage, "exclusive_bytes_used", ret_exclusive, &e);
	if (r < 0) {
		size_t n = len;

		while (n > 0 && strchr(" \t\r\n", out[n - 1]))
			n--;
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "parsing stats: %.*s: %s", (int)n,
				    out, gdn_err_str(e));
	}
	return 0;
}

int gd_imageplugin_parse_capacity(const char *out, size_t len, uint64_t *ret, struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_gojson_ struct gdn_gojson *v = NULL;
	int r = gdn_gojson_decode(out, len, &v, &e);

	if (r >= 0 && v->kind != GDN_GOJSON_OBJECT && v->kind != GDN_GOJSON_NULL)
		r = gdn_gojson_value_err(&e, v, "map[string]uint64");
	if (r >= 0)
		r = get_u64(v, "capacity", ret, &e);
	if (r < 0) {
		size_t n = len;

		while (n > 0 && strchr(" \t\r\n", out[n - 1]))
			n--;
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "parsing capacity: %.*s: %s",
				    (int)n, out, gdn_err_str(e));
	}
	return 0;
}

/* ---- the socket -------------------------------------------------------------------------------
 */

static int connect_waiting(const char *path, struct gdn_err **err)
{
	uint64_t until = gdn_now_mono_ns() + (uint64_t)GD_IMAGEPLUGIN_CONNECT_WAIT_MS * 1000000;

	for (;;) {
		_cleanup_err_ struct gdn_err *e = NULL;
		int fd = gdn_ipc_connect(path, SOCK_SEQPACKET, 0, &e);
		if (fd >= 0)
			return fd;
		bool restarting = fd == -ENOENT || fd == -ECONNREFUSED || fd == -EAGAIN;
		if (!restarting || gdn_now_mono_ns() >= until) {
			(void)gdn_err_set(err, -fd, "image-plugin-shim is not answering on '%s'",
					  path);
			return fd;
		}
		struct timespec ts = {0, RETRY_NS};
		(void)nanosleep(&ts, NULL);
	}
}

/* The plugin's stderr lines, re-logged as Garden's relogger does. */
static void relog(struct gdn_log *log, const json_t *reply)
{
	const char *p = json_string_value(json_object_get(reply, "stderr"));

	while (log && p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);

		gdn_run_relog_line(log, p, n);
		p += n;
	}
}

/* One request; *ret_stdout (may be NULL) gets the plugin's stdout of a successful run. */
static int call(const struct gd_config *cfg, const struct gdn_imageplugin_request *req,
		char **ret_stdout, struct gdn_log *log, struct gdn_err **err)
{
	uint64_t deadline = gdn_now_mono_ns() + cfg->image_plugin_timeout_ns + REPLY_SLACK_NS;
	_cleanup_close_ int sock = -1;
	json_auto_t *msg = gdn_imageplugin_request_new(req), *reply = NULL;
	const char *out;
	int r;

	if (!msg)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "image plugin request: a string is not UTF-8");
	sock = connect_waiting(cfg->image_plugin_shim_listen, err);
	if (sock < 0)
		return sock;
	uint64_t now = gdn_now_mono_ns();
	int timeout_ms = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
	_cleanup_err_ struct gdn_err *e = NULL;
	r = gdn_ipc_exchange(sock, msg, NULL, 0, timeout_ms, &reply, &e);
	if (r == -ETIMEDOUT)
		return gdn_err_kind(
		    err, GDN_ERR_GENERIC, ETIMEDOUT,
		    "running image plugin %s: image-plugin-shim did not reply in time",
		    gdn_imageplugin_op_word(req->op));
	if (r == -ECONNRESET)
		return gdn_err_kind(err, GDN_ERR_GENERIC, ECONNRESET,
				    "running image plugin %s: image-plugin-shim hung up without a "
				    "reply",
				    gdn_imageplugin_op_word(req->op));
	if (r < 0) {
		if (err && !*err)
			*err = gdn_steal_ptr(&e);
		return gdn_err_wrap(err, "image-plugin-shim at '%s'",
				    cfg->image_plugin_shim_listen);
	}
	relog(log, reply);
	if ((r = gdn_ipc_reply_parse(reply, NULL, err)) < 0)
		return r;
	out = json_string_value(json_object_get(reply, "stdout"));
	if (ret_stdout && !(*ret_stdout = strdup(out ? out : "")))
		return gdn_err_set(err, ENOMEM, "image plugin output");
	return 0;
}

int gd_imageplugin_create(const struct gd_config *cfg, const struct gdn_imageplugin_request *req,
			  struct gd_image *ret, struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *out = NULL;
	int r = call(cfg, req, &out, log, err);

	if (r < 0)
		return r;
	return gd_image_parse(out, strlen(out), ret, err);
}

int gd_imageplugin_delete(const struct gd_config *cfg, enum gdn_imageplugin_kind kind,
			  const char *handle, struct gdn_log *log, struct gdn_err **err)
{
	const struct gdn_imageplugin_request req = {
	    .op = GDN_IMAGEPLUGIN_DELETE, .plugin = kind, .handle = handle};

	return call(cfg, &req, NULL, log, err);
}

int gd_imageplugin_stats(const struct gd_config *cfg, enum gdn_imageplugin_kind kind,
			 const char *handle, uint64_t *ret_total, uint64_t *ret_exclusive,
			 struct gdn_log *log, struct gdn_err **err)
{
	const struct gdn_imageplugin_request req = {
	    .op = GDN_IMAGEPLUGIN_STATS, .plugin = kind, .handle = handle};
	_cleanup_free_ char *out = NULL;
	int r = call(cfg, &req, &out, log, err);

	return r < 0 ? r
		     : gd_imageplugin_parse_stats(out, strlen(out), ret_total, ret_exclusive, err);
}

int gd_imageplugin_capacity(const struct gd_config *cfg, uint64_t *ret, struct gdn_log *log,
			    struct gdn_err **err)
{
	const struct gdn_imageplugin_request req = {.op = GDN_IMAGEPLUGIN_CAPACITY,
						    .plugin = GDN_IMAGEPLUGIN_UNPRIVILEGED};
	_cleanup_free_ char *out = NULL;
	int r = call(cfg, &req, &out, log, err);

	return r < 0 ? r : gd_imageplugin_parse_capacity(out, strlen(out), ret, err);
}

int gd_imageplugin_ping(const struct gd_config *cfg, bool have[2], struct gdn_err **err)
{
	_cleanup_close_ int sock =
	    gdn_ipc_connect(cfg->image_plugin_shim_listen, SOCK_SEQPACKET, 0, err);
	json_auto_t *req = gdn_ipc_request_new("ping", GDN_IMAGEPLUGIN_VERSION), *reply = NULL;
	size_t i;
	json_t *v;
	int r;

	if (sock < 0)
		return sock;
	if (!req)
		return gdn_err_set(err, ENOMEM, "ping");
	r = gdn_ipc_call(sock, req, NULL, 0, 5000, &reply, err);
	if (r < 0)
		return r;
	have[0] = have[1] = false;
	json_array_foreach (json_object_get(reply, "plugins"), i, v) {
		const char *name = json_string_value(v);

		if (name && strcmp(name, "unprivileged") == 0)
			have[GDN_IMAGEPLUGIN_UNPRIVILEGED] = true;
		else if (name && strcmp(name, "privileged") == 0)
			have[GDN_IMAGEPLUGIN_PRIVILEGED] = true;
	}
	return 0;
}
