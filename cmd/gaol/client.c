/* gaol: one HTTP call per request, Garden error decoding, small JSON helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/gaol/gaol.h"
#include "lib/buf.h"
#include "lib/util.h"

const char *arg_target;

const char *gl_target(void)
{
	const char *env;

	if (arg_target && *arg_target)
		return arg_target;
	env = getenv("GAOL_TARGET");
	if (env && *env)
		return env;
	return GL_DEFAULT_TARGET;
}

static int bad_response(const struct gdn_http_resp *resp, struct gdn_err **err)
{
	const char *body = resp->body ? resp->body : "";
	size_t len = resp->body_len;

	while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == ' ' ||
			   body[len - 1] == '\t'))
		len--;
	if (len == 0)
		return gdn_err_set(err, 0, "bad response (HTTP %d): empty body", resp->status);
	return gdn_err_set(err, 0, "bad response (HTTP %d): %.*s", resp->status, (int)len, body);
}

static const char *member_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(gdn_json_get(obj, key));

	return s ? s : "";
}

/* A non-2xx answer: {"Type":…,"Message":…,"Handle":…,"ProcessID":…,"Binary":…}. */
static int decode_error(const struct gdn_http_resp *resp, struct gdn_err **err)
{
	json_auto_t *j = NULL;
	const char *type, *msg;

	if (resp->body_len > 0)
		j = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (!json_is_object(j) || !json_is_string(gdn_json_get(j, "Message")))
		return bad_response(resp, err);

	type = member_str(j, "Type");
	msg = member_str(j, "Message");
	/* Like Go's client, the NotFound errors are rebuilt from their Handle/ProcessID. */
	if (strcmp(type, "ContainerNotFoundError") == 0 && *member_str(j, "Handle"))
		return gdn_err_not_found(err, member_str(j, "Handle"));
	if (strcmp(type, "ProcessNotFoundError") == 0 && *member_str(j, "ProcessID"))
		return gdn_err_process_not_found(err, member_str(j, "ProcessID"));
	if (strcmp(type, "ExecutableNotFoundError") == 0)
		return gdn_err_kind(err, GDN_ERR_EXECUTABLE_NOT_FOUND, 0, "%s", msg);
	if (strcmp(type, "ServiceUnavailableError") == 0)
		return gdn_err_kind(err, GDN_ERR_SERVICE_UNAVAILABLE, 0, "%s", msg);
	if (strcmp(type, "UnrecoverableError") == 0)
		return gdn_err_kind(err, GDN_ERR_UNRECOVERABLE, 0, "%s", msg);
	return gdn_err_kind(err, GDN_ERR_GENERIC, 0, "%s", msg);
}

int gl_request(const char *method, const char *path, const char *body, size_t body_len,
	       struct gdn_http_resp *ret_resp, struct gdn_err **err)
{
	_cleanup_close_ int fd = -1;
	int r;

	*ret_resp = (struct gdn_http_resp){0};
	fd = gdn_http_dial(gl_target(), err);
	if (fd < 0)
		return fd;
	r = gdn_http_request(fd, method, path, body ? "application/json" : NULL, body, body_len,
			     ret_resp, err);
	if (r < 0)
		return r;
	if (ret_resp->status < 200 || ret_resp->status > 299) {
		r = decode_error(ret_resp, err);
		gdn_http_resp_free(ret_resp);
		return r;
	}
	return 0;
}

int gl_call(const char *method, const char *path, const json_t *body, json_t **ret,
	    struct gdn_err **err)
{
	struct gdn_http_resp resp = {0};
	_cleanup_free_ char *text = NULL;
	_cleanup_buf_ struct gdn_buf line = {0};
	int r;

	if (ret)
		*ret = NULL;
	if (body) {
		/* Go's json.Encoder: compact, then "\n". */
		text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!text || gdn_buf_puts(&line, text) < 0 || gdn_buf_puts(&line, "\n") < 0)
			return gdn_err_set(err, ENOMEM, "encode request");
	}
	r = gl_request(method, path, line.data, line.len, &resp, err);
	if (r < 0)
		return r;
	if (ret) {
		*ret = resp.body_len ? json_loadb(resp.body, resp.body_len, JSON_DECODE_ANY, NULL)
				     : NULL;
		if (!*ret)
			r = bad_response(&resp, err);
	}
	gdn_http_resp_free(&resp);
	return r;
}

int gl_fail(const struct gdn_err *err)
{
	fprintf(stderr, "gaol: %s\n", err ? gdn_err_str(err) : "out of memory");
	return GL_EXIT_FAIL;
}

char *gl_container_path(const char *handle, const char *suffix)
{
	_cleanup_free_ char *esc = gdn_url_path_escape(handle);
	char *path = NULL;

	if (!esc || asprintf(&path, "/containers/%s%s", esc, suffix ? suffix : "") < 0)
		return NULL;
	return path;
}

/* Length of the valid UTF-8 sequence at p, or 0 if it is not one (RFC 3629). */
static size_t utf8_seq_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xBF;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		return (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		if (p[0] == 0xE0)
			lo = 0xA0;
		if (p[0] == 0xED)
			hi = 0x9F;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		if (p[0] == 0xF0)
			lo = 0x90;
		if (p[0] == 0xF4)
			hi = 0x8F;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80
			   ? 4
			   : 0;
	}
	return 0;
}

json_t *gl_json_string(const char *s)
{
	_cleanup_buf_ struct gdn_buf b = {0};
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq_len(p);
		int r = n ? gdn_buf_append(&b, p, n) : gdn_buf_puts(&b, "\xEF\xBF\xBD");

		if (r < 0)
			return NULL;
		p += n ? n : 1;
	}
	return json_stringn(b.data ? b.data : "", b.len);
}

static int compare_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **gl_sorted_keys(const json_t *obj)
{
	const char **keys = calloc(json_object_size(obj) + 1, sizeof(*keys));
	const char *key;
	json_t *v;
	size_t n = 0;

	if (!keys)
		return NULL;
	json_object_foreach ((json_t *)obj, key, v)
		keys[n++] = key;
	qsort(keys, n, sizeof(*keys), compare_str);
	return keys;
}
