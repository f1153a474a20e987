/* The external network plugin: see netplugin.h. Facts carried over from Garden's
 * netplugin/external_networker.go: the argv (extra args, then --action and --handle), stdin
 * as json.Marshal writes the Go structs (UpInputs, NetInInputs, NetOutInputs,
 * BulkNetOutInputs; a nil input is `null`), stdout decoded by json.Unmarshal only when the
 * action has outputs and stdout is not empty, and the error texts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/gojson.h"
#include "lib/run.h"
#include "cmd/guardian/netplugin.h"

#define PROP_PREFIX "network."

/* --- stdin: json.Marshal --------------------------------------------------------------------- */

/* json.Marshal's text from jansson's compact one: Go also escapes <, > and & (HTMLEscape) and
 * U+2028, U+2029, and writes \u escapes in lower case. Those bytes only occur inside strings
 * in the encoding, so a pass over the text is enough. */
static char *go_marshal(const json_t *v)
{
	_cleanup_free_ char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	_cleanup_buf_ struct gdn_buf b = {0};
	int r = 0;

	if (!s)
		return NULL;
	for (size_t i = 0; s[i] && r >= 0;) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\' && s[i + 1] == 'u') {
			char esc[7];

			memcpy(esc, s + i, 6);
			esc[6] = '\0';
			for (int k = 2; k < 6; k++)
				if (esc[k] >= 'A' && esc[k] <= 'F')
					esc[k] = (char)(esc[k] - 'A' + 'a');
			r = gdn_buf_puts(&b, esc);
			i += 6;
		} else if (c == '\\') {
			r = gdn_buf_append(&b, s + i, 2);
			i += 2;
		} else if (c == '<' || c == '>' || c == '&') {
			r = gdn_buf_printf(&b, "\\u%04x", c);
			i++;
		} else if (c == 0xe2 && (unsigned char)s[i + 1] == 0x80 &&
			   ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			r = gdn_buf_printf(&b, "\\u%04x", 0x2000 | (unsigned char)s[i + 2]);
			i += 3;
		} else {
			r = gdn_buf_append(&b, s + i, 1);
			i++;
		}
	}
	if (r < 0)
		return NULL;
	return b.data ? gdn_buf_steal(&b, NULL) : strdup("");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* networkProperties(): "network.*" with the prefix removed, plus "log_config". Go writes a
 * map's keys sorted; when both "network.log_config" and "log_config" are set (Go keeps
 * whichever its map iteration met last), the container's own "log_config" is kept. */
static json_t *network_properties(const json_t *props)
{
	json_auto_t *out = json_object();
	_cleanup_free_ const char **keys = NULL;
	const char *key;
	size_t n = 0;
	json_t *v;

	if (!out)
		return NULL;
	keys = calloc(json_is_object(props) ? json_object_size(props) + 1 : 1, sizeof(*keys));
	if (!keys)
		return NULL;
	json_object_foreach ((json_t *)props, key, v) {
		if (!json_is_string(v))
			continue;
		if (strncmp(key, PROP_PREFIX, strlen(PROP_PREFIX)) == 0 &&
		    !(strcmp(key + strlen(PROP_PREFIX), "log_config") == 0 &&
		      json_object_get(props, "log_config")))
			keys[n++] = key;
		else if (strcmp(key, "log_config") == 0)
			keys[n++] = key;
	}
	/* sorted by the keys as written, i.e. without the prefix */
	for (size_t i = 0; i < n; i++)
		if (strncmp(keys[i], PROP_PREFIX, strlen(PROP_PREFIX)) == 0)
			keys[i] += strlen(PROP_PREFIX);
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *full = NULL;

		v = strcmp(keys[i], "log_config") == 0 ? json_object_get(props, "log_config")
						       : NULL;
		if (!v) {
			if (asprintf(&full, "%s%s", PROP_PREFIX, keys[i]) < 0)
				return NULL;
			v = json_object_get(props, full);
		}
		if (json_object_set(out, keys[i], v) < 0)
			return NULL;
	}
	return json_incref(out);
}

/* --- stdout: json.Unmarshal ------------------------------------------------------------------ */

static bool go_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Go's quoteChar, for the one byte its scanner stopped at. */
static void quote_char(unsigned char c, char out[16])
{
	static const char esc_in[] = "\a\b\t\n\v\f\r", esc_out[] = "abtnvfr";
	const char *e = c ? strchr(esc_in, c) : NULL;

	if (c == '\'')
		(void)snprintf(out, 16, "'\\''");
	else if (c == '\\')
		(void)snprintf(out, 16, "'\\\\'");
	else if (e)
		(void)snprintf(out, 16, "'\\%c'", esc_out[e - esc_in]);
	else if (c < 0x20 || c == 0x7f)
		(void)snprintf(out, 16, "'\\x%02x'", c);
	else if ((c >= 0x80 && c <= 0xa0) || c == 0xad)
		(void)snprintf(out, 16, "'\\u%04x'", c);
	else if (c >= 0x80)
		(void)snprintf(out, 16, "'%c%c'", 0xc0 | (c >> 6), 0x80 | (c & 0x3f));
	else
		(void)snprintf(out, 16, "'%c'", c);
}

static int unmarshal_err(struct gdn_err **err, const char *msg)
{
	return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
			    "unmarshaling result from external networker: %s", msg);
}

/* json.Unmarshal's syntax check: one value and nothing but white space after it, with the
 * words of Go's scanner ("unexpected end of JSON input" where a decoder says EOF). */
static int unmarshal(const char *s, size_t len, struct gdn_gojson **ret, struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	static const char prefix[] = "invalid JSON: ";
	size_t i = 0;
	int r = gdn_gojson_decode(s, len, ret, &e);

	if (r == -ENOMEM)
		return gdn_err_set(err, ENOMEM, "unmarshaling result from external networker");
	if (r < 0) {
		const char *msg = gdn_err_str(e);

		if (strncmp(msg, prefix, sizeof(prefix) - 1) == 0)
			msg += sizeof(prefix) - 1;
		if (strcmp(msg, "EOF") == 0 || strcmp(msg, "unexpected EOF") == 0)
			msg = "unexpected end of JSON input";
		return unmarshal_err(err, msg);
	}
	while (i < len && go_ws(s[i]))
		i++;
	for (i = gdn_gojson_value_end(s, len, i); i < len && go_ws(s[i]); i++)
		;
	if (i < len) {
		char q[16], msg[64];

		gdn_gojson_free(gdn_steal_ptr(ret));
		quote_char((unsigned char)s[i], q);
		(void)snprintf(msg, sizeof(msg), "invalid character %s after top-level value", q);
		return unmarshal_err(err, msg);
	}
	return 0;
}

/* A []string member: a new array (null items are ""), or the first type error. */
static int decode_strings(const struct gdn_gojson *v, const char *field, json_t **ret,
			  struct gdn_err **err)
{
	json_auto_t *a = NULL;
	int r = 0;

	if (v->kind != GDN_GOJSON_ARRAY)
		return gdn_gojson_type_err(err, "UpOutputs", field, v, "[]string");
	a = json_array();
	if (!a)
		return gdn_err_set(err, ENOMEM, "UpOutputs");
	for (size_t i = 0; i < v->n; i++) {
		const char *s = "";

		if (v->items[i]->kind != GDN_GOJSON_NULL &&
		    gdn_gojson_str(v->items[i], "UpOutputs", field, &s, err) < 0) {
			r = -EINVAL; /* Go goes on and reports the first */
			continue;
		}
		if (json_array_append_new(a, json_string(s)) < 0)
			return gdn_err_set(err, ENOMEM, "UpOutputs");
	}
	if (r < 0)
		return r;
	*ret = gdn_steal_ptr(&a);
	return 0;
}

/* Properties map[string]string: merged into *props (Go reuses a map it already made). */
static int decode_properties(const struct gdn_gojson *v, json_t **props, struct gdn_err **err)
{
	int r = 0;

	if (v->kind != GDN_GOJSON_OBJECT)
		return gdn_gojson_type_err(err, "UpOutputs", "Properties", v, "map[string]string");
	if (!*props && !(*props = json_object()))
		return gdn_err_set(err, ENOMEM, "UpOutputs");
	for (size_t i = 0; i < v->n; i++) {
		const char *s = "";

		if (v->items[i]->kind != GDN_GOJSON_NULL &&
		    gdn_gojson_str(v->items[i], "UpOutputs", "Properties", &s, err) < 0) {
			r = -EINVAL;
			continue;
		}
		if (json_object_set_new(*props, v->keys[i], json_string(s)) < 0)
			return gdn_err_set(err, ENOMEM, "UpOutputs");
	}
	return r;
}

/* UpOutputs {Properties map[string]string; DNSServers []string `json:"dns_servers"`;
 * SearchDomains []string `json:"search_domains"`}: members in the document's order, names
 * matched ignoring case, a null resets a map or slice, the first type error is reported. */
static int decode_up(const char *s, size_t len, json_t **ret, struct gdn_err **err)
{
	_cleanup_gojson_ struct gdn_gojson *v = NULL;
	_cleanup_err_ struct gdn_err *first = NULL;
	json_auto_t *props = NULL, *dns = NULL, *search = NULL, *out = json_object();
	int r = unmarshal(s, len, &v, err);

	if (r < 0)
		return r;
	if (!out)
		return gdn_err_set(err, ENOMEM, "UpOutputs");
	if (v->kind != GDN_GOJSON_NULL && v->kind != GDN_GOJSON_OBJECT) {
		(void)gdn_gojson_value_err(&first, v, "netplugin.UpOutputs");
		return unmarshal_err(err, gdn_err_str(first));
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct gdn_gojson *m = v->items[i];
		json_t **slot = NULL;
		const char *field = NULL;

		if (strcasecmp(v->keys[i], "Properties") == 0) {
			if (m->kind == GDN_GOJSON_NULL)
				json_decref(gdn_steal_ptr(&props));
			else if ((r = decode_properties(m, &props, &first)) == -ENOMEM)
				break;
			continue;
		}
		if (strcasecmp(v->keys[i], "dns_servers") == 0) {
			slot = &dns;
			field = "dns_servers";
		} else if (strcasecmp(v->keys[i], "search_domains") == 0) {
			slot = &search;
			field = "search_domains";
		} else {
			continue;
		}
		json_decref(gdn_steal_ptr(slot));
		if (m->kind != GDN_GOJSON_NULL &&
		    (r = decode_strings(m, field, slot, &first)) == -ENOMEM)
			break;
	}
	if (first)
		return r == -ENOMEM ? gdn_err_set(err, ENOMEM, "UpOutputs")
				    : unmarshal_err(err, gdn_err_str(first));
	if ((props && json_object_set(out, "properties", props) < 0) ||
	    (dns && json_object_set(out, "dns_servers", dns) < 0) ||
	    (search && json_object_set(out, "search_domains", search) < 0))
		return gdn_err_set(err, ENOMEM, "UpOutputs");
	*ret = gdn_steal_ptr(&out);
	return 0;
}

/* NetInOutputs {HostPort uint32 `json:"host_port"`; ContainerPort uint32
 * `json:"container_port"`}. */
static int decode_net_in(const char *s, size_t len, uint32_t *host, uint32_t *container,
			 struct gdn_err **err)
{
	_cleanup_gojson_ struct gdn_gojson *v = NULL;
	_cleanup_err_ struct gdn_err *first = NULL;
	int r = unmarshal(s, len, &v, err);

	if (r < 0)
		return r;
	if (v->kind != GDN_GOJSON_NULL && v->kind != GDN_GOJSON_OBJECT) {
		(void)gdn_gojson_value_err(&first, v, "netplugin.NetInOutputs");
		return unmarshal_err(err, gdn_err_str(first));
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct gdn_gojson *m = v->items[i];
		const char *field;
		uint32_t *slot;
		uint64_t n;

		if (strcasecmp(v->keys[i], "host_port") == 0) {
			field = "host_port";
			slot = host;
		} else if (strcasecmp(v->keys[i], "container_port") == 0) {
			field = "container_port";
			slot = container;
		} else {
			continue;
		}
		if (m->kind == GDN_GOJSON_NULL)
			continue;
		if (gdn_gojson_u64(m, &n) < 0 || n > UINT32_MAX)
			(void)gdn_gojson_type_err(&first, "NetInOutputs", field, m, "uint32");
		else
			*slot = (uint32_t)n;
	}
	if (first)
		return unmarshal_err(err, gdn_err_str(first));
	return 0;
}

/* --- running it ------------------------------------------------------------------------------ */

/* exec(): runs `<path> <extra args...> --action <action> --handle <handle>` with `input` on
 * stdin. *ret_out (may be NULL) gets its stdout. Its stderr is re-logged line by line as it
 * comes; the whole exchange is logged as external-networker-result (debug, error on failure). */
static int exec_plugin(const struct gd_netplugin *p, const char *action, const char *handle,
		       const json_t *input, char **ret_out, size_t *ret_len, struct gdn_log *log,
		       struct gdn_err **err)
{
	_cleanup_free_ char *stdin_text = go_marshal(input);
	_cleanup_free_ const char **argv = NULL;
	_cleanup_run_result_ struct gdn_run_result res = {0};
	_cleanup_err_ struct gdn_err *e = NULL;
	size_t n_extra = 0, n = 0;
	char status[16];
	int r;

	if (!stdin_text)
		return gdn_err_set(err, ENOMEM, "external networker '%s' action", action);
	while (p->extra_args && p->extra_args[n_extra])
		n_extra++;
	argv = calloc(n_extra + 6, sizeof(*argv));
	if (!argv)
		return gdn_err_set(err, ENOMEM, "external networker '%s' action", action);
	argv[n++] = p->path;
	for (size_t i = 0; i < n_extra; i++)
		argv[n++] = p->extra_args[i];
	argv[n++] = "--action";
	argv[n++] = action;
	argv[n++] = "--handle";
	argv[n++] = handle;
	{
		const struct gdn_spawn_opts so = {
		    .path = p->path,
		    .argv = (char *const *)argv,
		    .stdin_fd = -1,
		    .stdout_fd = -1,
		    .stderr_fd = -1,
		    /* at the deadline, whatever it started dies with it */
		    .setsid = true,
		};
		const struct gdn_run_opts ro = {
		    .spawn = &so,
		    .stdin_data = stdin_text,
		    .stdin_len = strlen(stdin_text),
		    .capture_stdout = true,
		    .capture_stderr = true,
		    .timeout_ns = p->timeout_ns,
		    .relog = log,
		};

		r = gdn_run(&ro, &res, &e);
	}
	/* what ran and exited, or was killed at the deadline, has a status */
	status[0] = '\0';
	if (r >= 0 || r == -ETIMEDOUT)
		(void)snprintf(status, sizeof(status), "%d", res.status);
	if (r >= 0 && res.status != 0)
		r = gdn_err_kind(&e, GDN_ERR_GENERIC, 0, "exit status %d", res.status);
	if (r < 0) {
		gdn_log_error(log, "external-networker-result", e, "action", action, "stdin",
			      stdin_text, "stderr", res.err ? res.err : "", "stdout",
			      res.out ? res.out : "", "exit_status", status, NULL);
		(void)gdn_err_kind(
		    err, GDN_ERR_GENERIC, e->errnum,
		    "external networker encountered an error running '%s' action: %s", action,
		    gdn_err_str(e));
		return r;
	}
	gdn_log_debug(log, "external-networker-result", "action", action, "stdin", stdin_text,
		      "stderr", res.err, "stdout", res.out, NULL);
	if (ret_out) {
		*ret_out = gdn_steal_ptr(&res.out);
		*ret_len = res.out_len;
	}
	return 0;
}

static void log_undecodable(struct gdn_log *log, const char *action, const char *out,
			    const struct gdn_err *e)
{
	gdn_log_error(log, "external-networker-result", e, "action", action, "stdout", out, NULL);
}

int gd_netplugin_up(const struct gd_netplugin *p, const char *handle, pid_t pid,
		    const json_t *props, const json_t *netin, const json_t *netout,
		    json_t **ret_out, struct gdn_log *log, struct gdn_err **err)
{
	json_auto_t *in = json_object(), *np = network_properties(props), *out = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	*ret_out = NULL;
	if (!in || !np || json_object_set_new(in, "Pid", json_integer(pid)) < 0 ||
	    json_object_set(in, "Properties", np) < 0 ||
	    (json_array_size(netout) > 0 &&
	     json_object_set(in, "netout_rules", (json_t *)netout) < 0) ||
	    (json_array_size(netin) > 0 && json_object_set(in, "netin", (json_t *)netin) < 0))
		return gdn_err_set(err, ENOMEM, "external networker 'up' action");
	r = exec_plugin(p, "up", handle, in, &text, &len, log, err);
	if (r < 0)
		return r;
	if (len == 0) {
		out = json_object();
		if (!out)
			return gdn_err_set(err, ENOMEM, "external networker 'up' action");
	} else if ((r = decode_up(text, len, &out, err)) < 0) {
		log_undecodable(log, "up", text, *err);
		return r;
	}
	*ret_out = gdn_steal_ptr(&out);
	return 0;
}

int gd_netplugin_down(const struct gd_netplugin *p, const char *handle, struct gdn_log *log,
		      struct gdn_err **err)
{
	return exec_plugin(p, "down", handle, json_null(), NULL, NULL, log, err);
}

int gd_netplugin_net_in(const struct gd_netplugin *p, const char *handle, const char *external_ip,
			const char *container_ip, uint32_t host_port, uint32_t container_port,
			uint32_t *ret_host_port, uint32_t *ret_container_port, struct gdn_log *log,
			struct gdn_err **err)
{
	json_auto_t *in =
	    json_pack("{s:s, s:I, s:s, s:I}", "HostIP", external_ip ? external_ip : "", "HostPort",
		      (json_int_t)host_port, "ContainerIP", container_ip ? container_ip : "",
		      "ContainerPort", (json_int_t)container_port);
	_cleanup_free_ char *text = NULL;
	uint32_t h = 0, c = 0;
	size_t len = 0;
	int r;

	if (!in)
		return gdn_err_set(err, ENOMEM, "external networker 'net-in' action");
	r = exec_plugin(p, "net-in", handle, in, &text, &len, log, err);
	if (r < 0)
		return r;
	if (len > 0 && (r = decode_net_in(text, len, &h, &c, err)) < 0) {
		log_undecodable(log, "net-in", text, *err);
		return r;
	}
	*ret_host_port = h;
	*ret_container_port = c;
	return 0;
}

int gd_netplugin_net_out(const struct gd_netplugin *p, const char *handle, const char *container_ip,
			 const json_t *rule, struct gdn_log *log, struct gdn_err **err)
{
	/* a zero garden.NetOutRule marshals as {} (every member is omitempty) */
	json_auto_t *zero = json_object();
	json_auto_t *in = json_pack("{s:s, s:O}", "container_ip", container_ip ? container_ip : "",
				    "netout_rule", rule ? (json_t *)rule : zero);

	if (!in)
		return gdn_err_set(err, ENOMEM, "external networker 'net-out' action");
	return exec_plugin(p, "net-out", handle, in, NULL, NULL, log, err);
}

int gd_netplugin_bulk_net_out(const struct gd_netplugin *p, const char *handle,
			      const char *container_ip, const json_t *rules, struct gdn_log *log,
			      struct gdn_err **err)
{
	/* not omitempty: a nil slice is null */
	json_auto_t *in = json_pack("{s:s, s:O}", "container_ip", container_ip ? container_ip : "",
				    "netout_rules", rules ? (json_t *)rules : json_null());

	if (!in)
		return gdn_err_set(err, ENOMEM, "external networker 'bulk-net-out' action");
	return exec_plugin(p, "bulk-net-out", handle, in, NULL, NULL, log, err);
}
