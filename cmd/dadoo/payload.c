/* Garden's ProcessPayload (garden-protocol.md §5.2, §5.5) and the requests guardian sends on
 * dadoo.sock (docs/PROCESSES.md: the versioned dadoo protocol). Parsing and encoding only. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include "lib/util.h"
#include "cmd/dadoo/dadoo.h"

#define DEFAULT_COLUMNS 80
#define DEFAULT_ROWS 24

int dd_payload_next(struct gdn_lines *r, json_t **ret_msg, struct gdn_err **err)
{
	*ret_msg = NULL;
	for (;;) {
		const char *data = r->buf.data;
		const char *nl = data ? memchr(data, '\n', r->buf.len) : NULL;
		size_t ll, used;
		json_error_t jerr;
		json_t *v;

		if (!nl) {
			if (r->buf.len > GDN_IPC_MAX_LINE) {
				gdn_buf_reset(&r->buf);
				return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
						    "payload longer than %d bytes",
						    GDN_IPC_MAX_LINE);
			}
			if (!r->eof || r->buf.len == 0)
				return 0;
			ll = used = r->buf.len; /* an unterminated last line before EOF */
		} else {
			ll = (size_t)(nl - data);
			used = ll + 1;
		}
		if (ll > GDN_IPC_MAX_LINE) {
			gdn_buf_consume(&r->buf, used);
			return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
					    "payload longer than %d bytes", GDN_IPC_MAX_LINE);
		}
		if (strspn(data, " \t\r") >= ll) {
			gdn_buf_consume(&r->buf, used);
			continue;
		}
		/* Go's encoder writes U+0000 as \u0000 and its decoder takes the last of duplicate
		 * keys; jansson does both with these flags */
		v = json_loadb(data, ll, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
		gdn_buf_consume(&r->buf, used);
		if (!v)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG, "invalid payload: %s",
					    jerr.text);
		if (!json_is_object(v)) {
			json_decref(v);
			return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
					    "invalid payload: not an object");
		}
		*ret_msg = v;
		return 1;
	}
}

static unsigned dimension(const json_t *ws, const char *key, unsigned dflt)
{
	json_int_t v = json_integer_value(gdn_json_get(ws, key));

	if (v <= 0 || v > 65535)
		return dflt;
	return (unsigned)v;
}

void dd_payload_parse(const json_t *msg, struct dd_payload *ret)
{
	const json_t *tty = gdn_json_get(msg, "tty");
	const json_t *source = gdn_json_get(msg, "source");
	const json_t *sig = gdn_json_get(msg, "signal");

	memset(ret, 0, sizeof(*ret));
	ret->kind = DD_P_OTHER;
	if (tty && !json_is_null(tty)) {
		const json_t *ws = gdn_json_get(tty, "window_size");

		/* a tty without a window size changes nothing (guardian's SetTTY) */
		if (json_is_object(ws)) {
			ret->kind = DD_P_RESIZE;
			ret->columns = dimension(ws, "columns", DEFAULT_COLUMNS);
			ret->rows = dimension(ws, "rows", DEFAULT_ROWS);
		}
		return;
	}
	if (source && !json_is_null(source)) {
		const json_t *data = gdn_json_get(msg, "data");

		if (!data || json_is_null(data)) {
			ret->kind = DD_P_STDIN_EOF;
		} else if (json_is_string(data)) {
			ret->kind = DD_P_STDIN;
			ret->data = json_string_value(data);
			ret->len = json_string_length(data);
		}
		return;
	}
	if (sig && !json_is_null(sig)) {
		json_int_t v = json_integer_value(sig);

		ret->kind = DD_P_SIGNAL;
		if (json_is_integer(sig) && v == 0)
			ret->signal = SIGTERM;
		else if (json_is_integer(sig) && v == 1)
			ret->signal = SIGKILL;
	}
}

static int put_line(struct gdn_buf *out, json_t *v)
{
	_cleanup_free_ char *line = NULL;
	size_t len = 0;

	if (!v)
		return -ENOMEM;
	line = gdn_json_line(v, &len);
	json_decref(v);
	if (!line)
		return -ENOMEM;
	return gdn_buf_append(out, line, len);
}

int dd_payload_first(struct gdn_buf *out, const char *process_id, const char *stream_id)
{
	return put_line(out,
			json_pack("{s:s, s:s}", "process_id", process_id, "stream_id", stream_id));
}

int dd_payload_exit(struct gdn_buf *out, const char *process_id, int status)
{
	return put_line(out,
			json_pack("{s:s, s:i}", "process_id", process_id, "exit_status", status));
}

static const char *opt_string(const json_t *msg, const char *key, size_t *ret_len)
{
	const json_t *v = json_object_get(msg, key);

	if (ret_len)
		*ret_len = json_string_length(v);
	return json_string_value(v);
}

int dd_request_parse(const json_t *msg, struct dd_request *ret, struct gdn_err **err)
{
	const char *op = NULL;
	const json_t *v;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = gdn_ipc_request_parse(msg, &op, &ret->v, err);
	if (r < 0)
		return r;
	if (ret->v > DD_PROTO_VERSION)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EPROTONOSUPPORT,
				    "request '%s' is of protocol version %d; this dadoo speaks "
				    "versions 0 to %d",
				    op, ret->v, DD_PROTO_VERSION);
	if (strcmp(op, "attach") == 0) {
		ret->op = DD_OP_ATTACH;
		v = json_object_get(msg, "status");
		ret->status = v ? (int)json_integer_value(v) : 200;
		if (ret->status != 200 && ret->status != 201)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "attach: bad status");
		ret->process_id = opt_string(msg, "process_id", NULL);
		ret->pending = opt_string(msg, "pending", &ret->pending_len);
	} else if (strcmp(op, "stream") == 0) {
		ret->op = DD_OP_STREAM;
		ret->source = (int)json_integer_value(json_object_get(msg, "source"));
		if (ret->source != 1 && ret->source != 2)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "stream: source must be 1 or 2");
	} else if (strcmp(op, "signal") == 0) {
		ret->op = DD_OP_SIGNAL;
		v = json_object_get(msg, "signal");
		ret->signal = (int)json_integer_value(v);
		if (!json_is_integer(v) || ret->signal < 1 || ret->signal >= NSIG)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "signal: bad signal number");
	} else if (strcmp(op, "state") == 0) {
		ret->op = DD_OP_STATE;
	} else {
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "unknown op '%s'", op);
	}
	if (ret->op == DD_OP_ATTACH || ret->op == DD_OP_STREAM) {
		ret->stream_id = opt_string(msg, "stream_id", NULL);
		if (!ret->stream_id || !*ret->stream_id)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "%s: no stream_id", op);
	}
	return 0;
}
