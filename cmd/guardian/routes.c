/* Route matching as pat/rata do it: per method, patterns in the order of protocol §3, ":name"
 * captures one path segment, captured values are query-unescaped. Unknown path: 404 text;
 * known path, wrong method: 405 with Allow. */
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "lib/http.h"
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
    {"GET", "/containers/bulk_metrics", "bulk-metrics", gd_h_not_implemented},
    {"DELETE", "/containers/:handle", "destroy", gd_h_destroy},
    {"PUT", "/containers/:handle/stop", "stop", gd_h_stop},
    {"PUT", "/containers/:handle/files", "stream-in", gd_h_not_implemented},
    {"GET", "/containers/:handle/files", "stream-out", gd_h_not_implemented},
    {"GET", "/containers/:handle/limits/bandwidth", "limits-bandwidth", gd_h_limits_empty},
    {"GET", "/containers/:handle/limits/cpu", "limits-cpu", gd_h_limits_cpu},
    {"GET", "/containers/:handle/limits/disk", "limits-disk", gd_h_limits_empty},
    {"GET", "/containers/:handle/limits/memory", "limits-memory", gd_h_limits_memory},
    {"POST", "/containers/:handle/net/in", "net-in", gd_h_not_implemented},
    {"POST", "/containers/:handle/net/out", "net-out", gd_h_not_implemented},
    {"POST", "/containers/:handle/net/out/bulk", "bulk-net-out", gd_h_not_implemented},
    {"GET", "/containers/:handle/processes/:pid/attaches/:streamid/stdout", "stdout", gd_h_stdout},
    {"GET", "/containers/:handle/processes/:pid/attaches/:streamid/stderr", "stderr", gd_h_stderr},
    {"POST", "/containers/:handle/processes", "run", gd_h_run},
    {"GET", "/containers/:handle/processes/:pid", "attach", gd_h_attach},
    {"PUT", "/containers/:handle/grace_time", "set-grace-time", gd_h_grace_time},
    {"GET", "/containers/:handle/properties", "properties", gd_h_properties},
    {"GET", "/containers/:handle/properties/:key", "property", gd_h_property_get},
    {"PUT", "/containers/:handle/properties/:key", "set-property", gd_h_property_set},
    {"DELETE", "/containers/:handle/properties/:key", "remove-property", gd_h_property_remove},
    {"GET", "/containers/:handle/metrics", "metrics", gd_h_not_implemented},
};

static void params_free(struct gd_params *p)
{
	free(p->handle);
	free(p->second);
	free(p->third);
}

/* Matches path against pattern; on success the captures are stored in order. */
static bool match(const char *pattern, const char *path, struct gd_params *p)
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
			v = gdn_url_decode(path, vlen, true);
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

void gd_route(struct gd_server *s, struct gd_conn *c)
{
	char allow[64] = "";
	struct gd_params p;

	for (size_t i = 0; i < GDN_ARRAY_SIZE(routes); i++) {
		if (!match(routes[i].pattern, c->req.path, &p))
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
