/* Route matching as pat/rata do it: per method, patterns in the order of protocol §3, ":name"
 * captures one path segment, captured values are query-unescaped. Unknown path: 404 text;
 * known path, wrong method: 405 with Allow.
 *
 * Before any route, the path goes through what Go's net/http does with it: a '%' that does not
 * start a two-digit hex escape makes url.ParseRequestURI fail, and Go's server answers
 * "400 Bad Request" (text, connection closed) without reaching the router. An escape that
 * decodes to NUL (%00) is fine for Go: the handle "a\x00b" reaches the handler, which answers
 * ContainerNotFoundError for it; so do we (a C string cannot carry it further). */
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "lib/http.h"
#include "lib/util.h"
#include "cmd/guardian/routes.h"

struct route {
	const char *method;
	const char *pattern;
	const char *name;
	gd_handler_fn fn;
};

static const struct route routes[] = {
    {"GET", "/ping", "ping", gd_h_ping},
    {"GET", "/capacity", "capacity", gd_h_capacity},
    {"GET", "/containers", "list", gd_h_list},
    {"POST", "/containers", "create", gd_h_create},
    {"GET", "/containers/:handle/info", "info", gd_h_info},
    {"GET", "/containers/bulk_info", "bulk-info", gd_h_bulk_info},
    {"GET", "/containers/bulk_metrics", "bulk-metrics", gd_h_bulk_metrics},
    {"DELETE", "/containers/:handle", "destroy", gd_h_destroy},
    {"PUT", "/containers/:handle/stop", "stop", gd_h_stop},
    {"PUT", "/containers/:handle/files", "stream-in", gd_h_stream_in},
    {"GET", "/containers/:handle/files", "stream-out", gd_h_stream_out},
    {"GET", "/containers/:handle/limits/bandwidth", "limits-bandwidth", gd_h_limits_empty},
    {"GET", "/containers/:handle/limits/cpu", "limits-cpu", gd_h_limits_cpu},
    {"GET", "/containers/:handle/limits/disk", "limits-disk", gd_h_limits_empty},
    {"GET", "/containers/:handle/limits/memory", "limits-memory", gd_h_limits_memory},
    {"POST", "/containers/:handle/net/in", "net-in", gd_h_net_in},
    {"POST", "/containers/:handle/net/out", "net-out", gd_h_net_out},
    {"POST", "/containers/:handle/net/out/bulk", "bulk-net-out", gd_h_bulk_net_out},
    {"GET", "/containers/:handle/processes/:pid/attaches/:streamid/stdout", "stdout", gd_h_stdout},
    {"GET", "/containers/:handle/processes/:pid/attaches/:streamid/stderr", "stderr", gd_h_stderr},
    {"POST", "/containers/:handle/processes", "run", gd_h_run},
    {"GET", "/containers/:handle/processes/:pid", "attach", gd_h_attach},
    {"PUT", "/containers/:handle/grace_time", "set-grace-time", gd_h_grace_time},
    {"GET", "/containers/:handle/properties", "properties", gd_h_properties},
    {"GET", "/containers/:handle/properties/:key", "property", gd_h_property_get},
    {"PUT", "/containers/:handle/properties/:key", "set-property", gd_h_property_set},
    {"DELETE", "/containers/:handle/properties/:key", "remove-property", gd_h_property_remove},
    {"GET", "/containers/:handle/metrics", "metrics", gd_h_metrics},
};

static void params_free(struct gd_params *p)
{
	free(p->handle);
	free(p->second);
	free(p->third);
}

/* Whether every '%' in path starts a valid escape (Go's url unescape rule). */
static bool escapes_ok(const char *path)
{
	for (const char *p = strchr(path, '%'); p; p = strchr(p + 1, '%'))
		if (gdn_hex_digit(p[1]) < 0 || gdn_hex_digit(p[2]) < 0)
			return false;
	return true;
}

/* s[0..len) query-unescaped ('+' is a space), malloc'd; it may hold NUL bytes (from %00),
 * which *ret_len counts. NULL on a bad escape or ENOMEM. */
static char *unescape(const char *s, size_t len, size_t *ret_len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi = i + 2 < len + 1 ? gdn_hex_digit(s[i + 1]) : -1;
			int lo = hi >= 0 && i + 2 < len ? gdn_hex_digit(s[i + 2]) : -1;
			if (lo < 0) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = s[i] == '+' ? ' ' : s[i];
		}
	}
	*o = '\0';
	*ret_len = (size_t)(o - out);
	return out;
}

/* Matches path against pattern; on success the captures are stored in order and lens[] gets
 * their decoded lengths: a capture holding NUL (%00) is longer than its C string. */
static bool match(const char *pattern, const char *path, struct gd_params *p, size_t lens[3])
{
	char **slots[] = {&p->handle, &p->second, &p->third};
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	for (;;) {
		if (*pattern == ':') {
			const char *pend = strchr(pattern, '/');
			const char *vend = strchr(path, '/');
			size_t vlen = vend ? (size_t)(vend - path) : strlen(path);
			char *v;

			if (vlen == 0 || n >= GDN_ARRAY_SIZE(slots))
				break;
			v = unescape(path, vlen, &lens[n]);
			if (!v)
				break;
			*slots[n++] = v;
			pattern = pend ? pend : pattern + strlen(pattern);
			path += vlen;
			continue;
		}
		if (*pattern != *path)
			break;
		if (!*pattern)
			return true;
		pattern++;
		path++;
	}
	params_free(p);
	memset(p, 0, sizeof(*p));
	return false;
}

/* The n-th capture holds NUL (%00), so nothing by that name can exist. A handle:
 * ContainerNotFoundError naming it, NUL and all, as Garden answers. A process or stream ID of an
 * existing container: ProcessNotFoundError. A property key: refused. */
static void reply_nul_capture(struct gd_server *s, struct gd_conn *c, const struct gd_params *p,
			      size_t n, size_t len)
{
	static const char *const prefix[] = {"unknown handle: ", "unknown process: "};
	const char *name = n == 0 ? p->handle : n == 1 ? p->second : p->third;
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_free_ char *msg = NULL;
	json_auto_t *body = NULL;
	char d[GDN_LOG_DURATION_MAX];
	size_t plen;

	if (n > 0 && !gd_lookup(s, c, p->handle))
		return;
	if (n > 0 && strstr(c->req.path, "/properties/")) {
		gdn_err_kind(&e, GDN_ERR_GENERIC, EINVAL,
			     "property names holding NUL (%%00) are not supported");
		gd_reply_error(s, c, e);
		return;
	}
	if (n == 0)
		gdn_err_not_found(&e, name);
	else
		gdn_err_process_not_found(&e, name);
	plen = strlen(prefix[n > 0]);
	body = gd_error_json(e);
	msg = malloc(plen + len + 1);
	if (!body || !msg) {
		gd_reply_error(s, c, e);
		return;
	}
	memcpy(msg, prefix[n > 0], plen);
	memcpy(msg + plen, name, len);
	(void)json_object_set_new(body, "Message", json_stringn(msg, plen + len));
	(void)json_object_set_new(body, n == 0 ? "Handle" : "ProcessID", json_stringn(name, len));
	gdn_log_error(c->log ? c->log : s->log, "failed", e, GDN_LOG_DURATION,
		      gdn_log_duration(gdn_log_started(c->log), d), NULL);
	gd_reply_json(s, c, 404, body);
}

void gd_route(struct gd_server *s, struct gd_conn *c)
{
	char allow[64] = "";
	struct gd_params p;
	size_t lens[3];

	if (!escapes_ok(c->req.path)) {
		gd_reply_text(s, c, 400, "400 Bad Request", NULL);
		return;
	}
	/* the debug listener has its own mux (as gdn's debug server, http.DefaultServeMux) */
	if (c->debug) {
		gd_debug_serve(s, c);
		return;
	}
	for (size_t i = 0; i < GDN_ARRAY_SIZE(routes); i++) {
		if (!match(routes[i].pattern, c->req.path, &p, lens))
			continue;
		if (strcmp(routes[i].method, c->req.method) != 0) {
			if (!strstr(allow, routes[i].method)) {
				if (*allow)
					strlcat(allow, ", ", sizeof(allow));
				strlcat(allow, routes[i].method, sizeof(allow));
			}
			params_free(&p);
			continue;
		}
		c->log = gdn_log_session(s->log, routes[i].name, "handle", p.handle ? p.handle : "",
					 NULL);
		gdn_log_debug(c->log, "started", NULL);
		const char *caps[] = {p.handle, p.second, p.third};
		size_t nul = 0;
		while (nul < GDN_ARRAY_SIZE(caps) && (!caps[nul] || strlen(caps[nul]) == lens[nul]))
			nul++;
		if (nul < GDN_ARRAY_SIZE(caps))
			reply_nul_capture(s, c, &p, nul, lens[nul]);
		else
			routes[i].fn(s, c, &p);
		params_free(&p);
		return;
	}
	if (*allow) {
		char header[80];
		(void)snprintf(header, sizeof(header), "Allow: %s", allow);
		gd_reply_text(s, c, 405, "Method Not Allowed\n", header);
		return;
	}
	gd_reply_text(s, c, 404, "404 page not found\n", NULL);
}
