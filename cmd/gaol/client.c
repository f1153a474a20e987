/* gaol: one HTTP call per request, Garden error decoding, small JSON helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/gaol/gaol.h"
#include "lib/buf.h"
#include "lib/errwire.h"
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

/* A non-2xx answer: {"Type":…,"Message":…,"Handle":…,"ProcessID":…,"Binary":…}. */
int gl_decode_error(const struct gdn_http_resp *resp, struct gdn_err **err)
{
	json_auto_t *j = NULL;
	int r;

	if (resp->body_len > 0)
		j = json_loadb(resp->body, resp->body_len, 0, NULL);
	r = gdn_err_from_garden_json(j, err);
	return r == -EBADMSG ? bad_response(resp, err) : r;
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
		r = gl_decode_error(ret_resp, err);
		gdn_http_resp_free(ret_resp);
		return r;
	}
	return 0;
}

int gl_hijack_begin(const char *method, const char *path, const char *content_type,
		    const void *body, size_t len, int *ret_sent, struct gdn_err **err)
{
	int fd = gdn_http_dial(gl_target(), err);

	if (fd >= 0)
		*ret_sent = gdn_http_hijack_send(fd, method, path, content_type, body, len);
	return fd;
}

int gl_hijack_end(int fd, int sent, const char *method, const char *path,
		  struct gdn_buf *ret_leftover, struct gdn_err **err)
{
	_cleanup_close_ int owned = fd;
	_cleanup_free_ char *error_body = NULL;
	int status = 0, r;

	r = gdn_http_hijack_recv(owned, sent, method, path, &status, ret_leftover, &error_body,
				 err);
	if (r < 0)
		return r;
	if (error_body) {
		const struct gdn_http_resp resp = {
		    .status = status, .body = error_body, .body_len = strlen(error_body)};

		return gl_decode_error(&resp, err);
	}
	return gdn_steal_fd(&owned);
}

int gl_hijack(const char *method, const char *path, const char *content_type, const void *body,
	      size_t len, struct gdn_buf *ret_leftover, struct gdn_err **err)
{
	int sent = 0;
	int fd = gl_hijack_begin(method, path, content_type, body, len, &sent, err);

	if (fd < 0)
		return fd;
	return gl_hijack_end(fd, sent, method, path, ret_leftover, err);
}

char *gl_json_line(const json_t *v, size_t *ret_len)
{
	_cleanup_free_ char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	_cleanup_buf_ struct gdn_buf b = {0};
	bool in_str = false;

	if (!text)
		return NULL;
	/* jansson's compact output differs from Go's only inside strings, so one pass suffices. */
	for (const char *p = text; *p; p++) {
		const char *esc = NULL;
		int r;

		if (!in_str) {
			in_str = *p == '"';
			r = gdn_buf_append(&b, p, 1);
		} else if (*p == '\\' && p[1] == 'u') {
			char u[6] = {'\\', 'u'};

			for (int i = 2; i < 6; i++)
				u[i] = (char)(p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 'a' : p[i]);
			r = gdn_buf_append(&b, u, sizeof(u));
			p += 5;
		} else if (*p == '\\') {
			r = gdn_buf_append(&b, p, 2);
			p++;
		} else {
			if (*p == '"')
				in_str = false;
			else if (*p == '<')
				esc = "\\u003c";
			else if (*p == '>')
				esc = "\\u003e";
			else if (*p == '&')
				esc = "\\u0026";
			else if (strncmp(p, "\xE2\x80\xA8", 3) == 0)
				esc = "\\u2028";
			else if (strncmp(p, "\xE2\x80\xA9", 3) == 0)
				esc = "\\u2029";
			r = esc ? gdn_buf_puts(&b, esc) : gdn_buf_append(&b, p, 1);
			if (esc && esc[2] == '2')
				p += 2;
		}
		if (r < 0)
			return NULL;
	}
	if (gdn_buf_puts(&b, "\n") < 0)
		return NULL;
	return gdn_buf_steal(&b, ret_len);
}

int gl_call(const char *method, const char *path, const json_t *body, json_t **ret,
	    struct gdn_err **err)
{
	struct gdn_http_resp resp = {0};
	_cleanup_free_ char *line = NULL;
	size_t len = 0;
	int r;

	if (ret)
		*ret = NULL;
	if (body) {
		/* Go's json.Encoder: compact, then "\n". */
		line = gl_json_line(body, &len);
		if (!line)
			return gdn_err_set(err, ENOMEM, "encode request");
	}
	r = gl_request(method, path, line, len, &resp, err);
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

/* The length a UTF-8 sequence starting with lead byte c has (0: not a lead byte), and the range
 * its second byte must be in (RFC 3629: no overlongs, surrogates or code points > U+10FFFF). */
static size_t utf8_lead(unsigned char c, unsigned char *ret_lo, unsigned char *ret_hi)
{
	*ret_lo = 0x80;
	*ret_hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return 2;
	if (c >= 0xE0 && c <= 0xEF) {
		if (c == 0xE0)
			*ret_lo = 0xA0;
		if (c == 0xED)
			*ret_hi = 0x9F;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (c == 0xF0)
			*ret_lo = 0x90;
		if (c == 0xF4)
			*ret_hi = 0x8F;
		return 4;
	}
	return 0;
}

/* How many of the n bytes at p (n >= 1) are a valid prefix of one UTF-8 sequence: the whole
 * sequence's length when it is complete, 0 when p does not start a valid sequence, and n (less
 * than the full length) when it is valid so far but cut off. */
static size_t utf8_prefix(const unsigned char *p, size_t n, size_t *ret_full)
{
	unsigned char lo, hi;
	size_t full = utf8_lead(p[0], &lo, &hi);

	*ret_full = full;
	if (full == 0)
		return 0;
	for (size_t i = 1; i < full; i++) {
		if (i == n)
			return n;
		if (i == 1 ? (p[1] < lo || p[1] > hi) : (p[i] & 0xC0) != 0x80)
			return 0;
	}
	return full;
}

json_t *gl_json_stringn(const char *s, size_t len)
{
	_cleanup_buf_ struct gdn_buf b = {0};
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + len;

	while (p < end) {
		size_t full, n = utf8_prefix(p, (size_t)(end - p), &full);
		int r =
		    n && n == full ? gdn_buf_append(&b, p, n) : gdn_buf_puts(&b, "\xEF\xBF\xBD");

		if (r < 0)
			return NULL;
		p += n && n == full ? n : 1;
	}
	return json_stringn(b.data ? b.data : "", b.len);
}

json_t *gl_json_string(const char *s)
{
	return gl_json_stringn(s, strlen(s));
}

size_t gl_utf8_complete_len(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	/* Only the start of the last sequence can be cut off: look at most 3 bytes back. */
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		size_t full, i = len - back;

		if ((p[i] & 0xC0) == 0x80)
			continue; /* a continuation byte: its lead is further back */
		if (utf8_prefix(p + i, back, &full) == back && back < full)
			return i;
		break;
	}
	return len;
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
