/* The requests guardian and image-plugin-shim agree on, the plugin's argv and Garden's failure
 * message (image-plugin-shim(8)). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/ipc.h"
#include "lib/path.h"
#include "lib/util.h"
#include "lib/imageplugin.h"

static const char *const op_names[] = {"create", "delete", "stats", "capacity", "ping"};
/* guardian's imageplugin wraps its errors as "running image plugin destroy", "... metrics" */
static const char *const op_words[] = {"create", "destroy", "metrics", "capacity", "ping"};

const char *gdn_imageplugin_name(enum gdn_imageplugin_kind p)
{
	return p == GDN_IMAGEPLUGIN_PRIVILEGED ? "privileged" : "unprivileged";
}

const char *gdn_imageplugin_op_name(enum gdn_imageplugin_op op)
{
	return op_names[op];
}

const char *gdn_imageplugin_op_word(enum gdn_imageplugin_op op)
{
	return op_words[op];
}

static bool op_takes_handle(enum gdn_imageplugin_op op)
{
	return op == GDN_IMAGEPLUGIN_CREATE || op == GDN_IMAGEPLUGIN_DELETE ||
	       op == GDN_IMAGEPLUGIN_STATS;
}

static int set_str(json_t *o, const char *key, const char *v)
{
	return v ? json_object_set_new(o, key, json_string(v)) : 0;
}

json_t *gdn_imageplugin_request_new(const struct gdn_imageplugin_request *req)
{
	json_auto_t *m =
	    gdn_ipc_request_new(gdn_imageplugin_op_name(req->op), GDN_IMAGEPLUGIN_VERSION);

	if (!m)
		return NULL;
	if (req->op != GDN_IMAGEPLUGIN_PING &&
	    json_object_set_new(m, "plugin", json_string(gdn_imageplugin_name(req->plugin))) < 0)
		return NULL;
	if (op_takes_handle(req->op) && set_str(m, "handle", req->handle) < 0)
		return NULL;
	if (req->op == GDN_IMAGEPLUGIN_CREATE &&
	    (set_str(m, "rootfs", req->rootfs) < 0 ||
	     (req->disk_limit > 0 &&
	      json_object_set_new(m, "disk_limit_size_bytes", gdn_json_u64(req->disk_limit)) < 0) ||
	     (req->exclude_image &&
	      json_object_set_new(m, "exclude_image_from_quota", json_true()) < 0) ||
	     (req->username && *req->username && set_str(m, "username", req->username) < 0) ||
	     (req->password && *req->password && set_str(m, "password", req->password) < 0)))
		return NULL;
	return json_incref(m);
}

static int bad(struct gdn_err **err, const char *op, const char *what)
{
	return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "request '%s': %s", op, what);
}

/* A member that must be a string (without NUL: it becomes an argument) when present. */
static int get_str(const json_t *msg, const char *op, const char *key, bool required,
		   const char **ret, struct gdn_err **err)
{
	json_t *v = json_object_get(msg, key);
	char what[96];

	*ret = "";
	if (!v && !required)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		(void)snprintf(what, sizeof(what), "%s must be a string without NUL", key);
		return bad(err, op, what);
	}
	*ret = json_string_value(v);
	return 0;
}

int gdn_imageplugin_request_parse(const json_t *msg, struct gdn_imageplugin_request *ret,
				  struct gdn_err **err)
{
	const char *op = NULL, *plugin = "";
	json_t *v;
	size_t i;
	int ver = 0, r;

	memset(ret, 0, sizeof(*ret));
	r = gdn_ipc_request_parse(msg, &op, &ver, err);
	if (r < 0)
		return r;
	ret->v = ver;
	for (i = 0; i < GDN_ARRAY_SIZE(op_names) && strcmp(op, op_names[i]) != 0; i++)
		;
	if (i == GDN_ARRAY_SIZE(op_names))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "unknown op '%s'", op);
	ret->op = (enum gdn_imageplugin_op)i;
	if (ver > GDN_IMAGEPLUGIN_VERSION)
		return gdn_err_kind(
		    err, GDN_ERR_GENERIC, EPROTONOSUPPORT,
		    "request '%s' is of protocol version %d; this image-plugin-shim "
		    "speaks versions 0 to %d",
		    op, ver, GDN_IMAGEPLUGIN_VERSION);
	if (ret->op == GDN_IMAGEPLUGIN_PING)
		return 0;
	if ((r = get_str(msg, op, "plugin", true, &plugin, err)) < 0)
		return r;
	if (strcmp(plugin, "privileged") == 0)
		ret->plugin = GDN_IMAGEPLUGIN_PRIVILEGED;
	else if (strcmp(plugin, "unprivileged") != 0)
		return bad(err, op, "plugin must be \"unprivileged\" or \"privileged\"");
	if (op_takes_handle(ret->op)) {
		if ((r = get_str(msg, op, "handle", true, &ret->handle, err)) < 0)
			return r;
		if ((r = gdn_name_validate("handle", ret->handle, err)) < 0)
			return r;
	}
	if (ret->op != GDN_IMAGEPLUGIN_CREATE)
		return 0;
	if ((r = get_str(msg, op, "rootfs", true, &ret->rootfs, err)) < 0 ||
	    (r = get_str(msg, op, "username", false, &ret->username, err)) < 0 ||
	    (r = get_str(msg, op, "password", false, &ret->password, err)) < 0)
		return r;
	if (!*ret->rootfs)
		return bad(err, op, "rootfs must not be empty");
	/* an operand that starts with '-' would be read as a flag by the plugin */
	if (ret->rootfs[0] == '-')
		return bad(err, op, "rootfs must not start with '-'");
	v = json_object_get(msg, "disk_limit_size_bytes");
	if (v && (gdn_json_u64_value(v, &ret->disk_limit) < 0 || ret->disk_limit > INT64_MAX))
		return bad(err, op, "disk_limit_size_bytes must be an integer from 0 to 2^63-1");
	v = json_object_get(msg, "exclude_image_from_quota");
	if (v && !json_is_boolean(v))
		return bad(err, op, "exclude_image_from_quota must be a boolean");
	ret->exclude_image = json_is_true(v);
	return 0;
}

int gdn_imageplugin_argv(const struct gdn_imageplugin_conf *pc,
			 const struct gdn_imageplugin_request *req, char ***ret_argv,
			 struct gdn_err **err)
{
	const char *a[GDN_IMAGEPLUGIN_ARGS_MAX + 16];
	char limit[24];
	size_t n = 0, bytes = 0;
	char **argv, *p;

	if (!pc->path)
		return gdn_err_kind(err, GDN_ERR_GENERIC, ENOENT, "no %s provided",
				    req->plugin == GDN_IMAGEPLUGIN_PRIVILEGED
					? "privileged_image_plugin"
					: "image_plugin");
	if (pc->n_args > GDN_IMAGEPLUGIN_ARGS_MAX)
		return gdn_err_kind(err, GDN_ERR_GENERIC, E2BIG, "at most %d plugin arguments",
				    GDN_IMAGEPLUGIN_ARGS_MAX);
	a[n++] = pc->path;
	for (size_t i = 0; i < pc->n_args; i++)
		a[n++] = pc->args[i];
	switch (req->op) {
	case GDN_IMAGEPLUGIN_CREATE:
		a[n++] = "create";
		if (req->disk_limit > 0) {
			(void)snprintf(limit, sizeof(limit), "%" PRIu64, req->disk_limit);
			a[n++] = "--disk-limit-size-bytes";
			a[n++] = limit;
			if (req->exclude_image)
				a[n++] = "--exclude-image-from-quota";
		}
		if (req->username && *req->username)
			a[n++] = "--username", a[n++] = req->username;
		if (req->password && *req->password)
			a[n++] = "--password", a[n++] = req->password;
		a[n++] = req->rootfs;
		a[n++] = req->handle;
		break;
	case GDN_IMAGEPLUGIN_DELETE:
	case GDN_IMAGEPLUGIN_STATS:
		a[n++] = gdn_imageplugin_op_name(req->op);
		a[n++] = req->handle;
		break;
	case GDN_IMAGEPLUGIN_CAPACITY:
		a[n++] = "capacity";
		break;
	case GDN_IMAGEPLUGIN_PING:
	default:
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "'%s' runs no plugin",
				    gdn_imageplugin_op_name(req->op));
	}
	for (size_t i = 0; i < n; i++)
		bytes += strlen(a[i]) + 1;
	argv = malloc((n + 1) * sizeof(*argv) + bytes);
	if (!argv)
		return gdn_err_set(err, ENOMEM, "argv");
	p = (char *)(argv + n + 1);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(a[i]) + 1;

		memcpy(p, a[i], len);
		argv[i] = p;
		p += len;
	}
	argv[n] = NULL;
	/* Garden: strings.Replace(rootfs, "#", ":", 1) */
	if (req->op == GDN_IMAGEPLUGIN_CREATE) {
		char *hash = strchr(argv[n - 2], '#');

		if (hash)
			*hash = ':';
	}
	*ret_argv = argv;
	return 0;
}

/* The last non-blank line of text, trimmed: *ret and *ret_len. */
static void last_line(const char *text, size_t len, const char **ret, size_t *ret_len)
{
	size_t end = len, start;

	*ret = NULL;
	*ret_len = 0;
	for (;;) {
		while (end > 0 && strchr(" \t\r\n", text[end - 1]))
			end--;
		if (end == 0)
			return;
		start = end;
		while (start > 0 && text[start - 1] != '\n')
			start--;
		while (start < end && (text[start] == ' ' || text[start] == '\t'))
			start++;
		if (start < end)
			break;
	}
	*ret = text + start;
	*ret_len = end - start;
}

/* What a plugin said on stderr: a lager line's data.error or message, else the line. */
static char *stderr_word(const char *text, size_t len)
{
	const char *line, *brace;
	size_t n;
	json_auto_t *j = NULL;
	const char *s;

	last_line(text, len, &line, &n);
	if (!line)
		return NULL;
	brace = memchr(line, '{', n);
	if (brace)
		j = json_loadb(brace, n - (size_t)(brace - line), 0, NULL);
	s = json_string_value(json_object_get(json_object_get(j, "data"), "error"));
	if (!s)
		s = json_string_value(json_object_get(j, "message"));
	return s ? strdup(s) : strndup(line, n);
}

int gdn_imageplugin_failure(struct gdn_err **err, int errnum, enum gdn_imageplugin_op op,
			    const char *out, size_t out_len, const char *errtext, size_t err_len,
			    const char *how)
{
	_cleanup_free_ char *said = NULL;
	size_t n = out ? out_len : 0;

	while (n > 0 && strchr(" \t\r\n", out[n - 1]))
		n--;
	if (n > 0)
		said = strndup(out, n);
	else if (errtext)
		said = stderr_word(errtext, err_len);
	/* the message is JSON text on its way back: bytes that are not UTF-8 cannot go into it */
	if (said) {
		json_auto_t *probe = json_string(said);

		for (char *p = said; !probe && *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	}
	return gdn_err_kind(err, GDN_ERR_GENERIC, errnum, "running image plugin %s: %s: %s",
			    gdn_imageplugin_op_word(op), said ? said : "", how);
}
