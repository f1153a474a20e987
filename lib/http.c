/* HTTP/1.1 heads, chunked bodies, query strings: see http.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "lib/http.h"
#include "lib/util.h"

#define CHUNK_SIZE_MAX ((uint64_t)1 << 40)

/* Sets *err (if not yet set) with an HTTP status and returns -errnum. */
static int http_fail(struct gdn_err **err, int status, int errnum, const char *fmt, ...)
    GDN_PRINTF(4, 5);
static int http_fail(struct gdn_err **err, int status, int errnum, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int r;

	if (!err || *err)
		return -errnum;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r = gdn_err_kind(err, GDN_ERR_GENERIC, errnum, "%s", msg);
	if (*err)
		(*err)->http_status = status;
	return r;
}

/* RFC 7230 tchar */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

bool gdn_http_list_has_token(const char *list, const char *token)
{
	size_t tl = strlen(token);
	const char *p = list;

	while (*p) {
		size_t len;

		while (*p == ',' || is_ows(*p))
			p++;
		len = strcspn(p, ",");
		while (len > 0 && is_ows(p[len - 1]))
			len--;
		if (len == tl && strncasecmp(p, token, tl) == 0)
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

void gdn_http_req_free(struct gdn_http_req *req)
{
	if (!req)
		return;
	free(req->method);
	free(req->target);
	free(req->path);
	free(req->query);
	for (size_t i = 0; i < req->n_headers; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	memset(req, 0, sizeof(*req));
}

const char *gdn_http_header(const struct gdn_http_req *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* Finds the end of the head: the offset just past the blank line, or 0. Lines end in LF with
 * an optional CR before it. */
static size_t find_head_end(const char *buf, size_t len, size_t start)
{
	const char *p = buf + start, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			return 0;
		if (nl + 1 < end && nl[1] == '\n')
			return (size_t)(nl + 2 - buf);
		if (nl + 2 < end && nl[1] == '\r' && nl[2] == '\n')
			return (size_t)(nl + 3 - buf);
		if (nl + 1 >= end || (nl + 2 >= end && nl[1] == '\r'))
			return 0;
		p = nl + 1;
	}
	return 0;
}

static int parse_request_line(const char *line, size_t len, struct gdn_http_req *req,
			      struct gdn_err **err)
{
	const char *sp1, *sp2, *end = line + len, *q;
	size_t ml, tl;

	sp1 = memchr(line, ' ', len);
	if (!sp1 || sp1 == line)
		return http_fail(err, 400, EBADMSG, "malformed request line");
	for (const char *p = line; p < sp1; p++)
		if (!is_tchar((unsigned char)*p))
			return http_fail(err, 400, EBADMSG, "malformed request method");
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1)
		return http_fail(err, 400, EBADMSG, "malformed request line");
	for (const char *p = sp1 + 1; p < sp2; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c == 0x7f)
			return http_fail(err, 400, EBADMSG, "malformed request target");
	}
	if (end - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' ||
	    sp2[8] > '9')
		return http_fail(err, 400, EBADMSG, "malformed HTTP version");
	req->minor = sp2[8] - '0';
	ml = (size_t)(sp1 - line);
	tl = (size_t)(sp2 - sp1 - 1);
	req->method = strndup(line, ml);
	req->target = strndup(sp1 + 1, tl);
	if (!req->method || !req->target)
		return http_fail(err, 500, ENOMEM, "out of memory");
	q = memchr(req->target, '?', tl);
	if (q) {
		req->path = strndup(req->target, (size_t)(q - req->target));
		req->query = strdup(q + 1);
	} else {
		req->path = strdup(req->target);
		req->query = strdup("");
	}
	if (!req->path || !req->query)
		return http_fail(err, 500, ENOMEM, "out of memory");
	return 0;
}

static int parse_header_line(const char *line, size_t len, struct gdn_http_req *req,
			     struct gdn_err **err)
{
	const char *colon, *v, *ve, *end = line + len;
	struct gdn_http_header *h;

	if (is_ows(line[0]))
		return http_fail(err, 400, EBADMSG, "obsolete header line folding");
	colon = memchr(line, ':', len);
	if (!colon || colon == line)
		return http_fail(err, 400, EBADMSG, "malformed header line");
	for (const char *p = line; p < colon; p++)
		if (!is_tchar((unsigned char)*p))
			return http_fail(err, 400, EBADMSG, "malformed header name");
	for (const char *p = colon + 1; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return http_fail(err, 400, EBADMSG, "invalid character in header value");
	}
	if (req->n_headers >= GDN_HTTP_MAX_HEADERS)
		return http_fail(err, 431, EMSGSIZE, "too many header fields");
	v = colon + 1;
	ve = end;
	while (v < ve && is_ows(*v))
		v++;
	while (ve > v && is_ows(ve[-1]))
		ve--;
	h = &req->headers[req->n_headers];
	h->name = strndup(line, (size_t)(colon - line));
	h->value = strndup(v, (size_t)(ve - v));
	req->n_headers++;
	if (!h->name || !h->value)
		return http_fail(err, 500, ENOMEM, "out of memory");
	return 0;
}

/* Content-Length, Transfer-Encoding and Connection semantics over all headers. */
static int apply_framing(struct gdn_http_req *req, struct gdn_err **err)
{
	bool has_te = false, te_ok = true, conn_close = false, conn_keep = false;
	int n_chunked = 0;

	for (size_t i = 0; i < req->n_headers; i++) {
		const char *name = req->headers[i].name, *value = req->headers[i].value;

		if (strcasecmp(name, "Content-Length") == 0) {
			uint64_t v = 0;

			if (!*value)
				return http_fail(err, 400, EBADMSG, "invalid Content-Length");
			for (const char *p = value; *p; p++) {
				if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
					return http_fail(err, 400, EBADMSG,
							 "invalid Content-Length");
				v = v * 10 + (uint64_t)(*p - '0');
			}
			if (req->has_length && req->content_length != v)
				return http_fail(err, 400, EBADMSG,
						 "conflicting Content-Length headers");
			req->has_length = true;
			req->content_length = v;
		} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
			const char *p = value;

			has_te = true;
			while (*p) {
				size_t len;

				while (*p == ',' || is_ows(*p))
					p++;
				if (!*p)
					break;
				len = strcspn(p, ",");
				while (len > 0 && is_ows(p[len - 1]))
					len--;
				if (len == 7 && strncasecmp(p, "chunked", 7) == 0)
					n_chunked++;
				else
					te_ok = false;
				p += strcspn(p, ",");
			}
		} else if (strcasecmp(name, "Connection") == 0) {
			if (gdn_http_list_has_token(value, "close"))
				conn_close = true;
			if (gdn_http_list_has_token(value, "keep-alive"))
				conn_keep = true;
		}
	}
	if (has_te) {
		/* only "chunked", exactly once, is supported (as Go's server) */
		if (!te_ok || n_chunked != 1)
			return http_fail(err, 501, EOPNOTSUPP, "unsupported Transfer-Encoding");
		req->chunked = true;
		/* RFC 7230 3.3.3: Transfer-Encoding overrides Content-Length */
		req->has_length = false;
		req->content_length = 0;
	}
	if (req->minor >= 1)
		req->keep_alive = !conn_close;
	else
		req->keep_alive = conn_keep && !conn_close;
	return 0;
}

static int parse_head(const char *buf, size_t start, size_t head_end, struct gdn_http_req *req,
		      struct gdn_err **err)
{
	const char *p = buf + start, *end = buf + head_end;
	bool first = true;
	int r;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)(nl - p);

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0)
			break; /* the blank line */
		if (memchr(p, '\r', len) || memchr(p, '\0', len))
			return http_fail(err, 400, EBADMSG, "invalid character in request head");
		if (first)
			r = parse_request_line(p, len, req, err);
		else
			r = parse_header_line(p, len, req, err);
		if (r < 0)
			return r;
		first = false;
		p = nl + 1;
	}
	return apply_framing(req, err);
}

int gdn_http_parse_head(const char *buf, size_t len, struct gdn_http_req *req, struct gdn_err **err)
{
	size_t start = 0, end;
	int r;

	memset(req, 0, sizeof(*req));
	/* RFC 7230 3.5: ignore empty lines before the request line; a few, not a stream of them. */
	for (unsigned n = 0; start < len && (buf[start] == '\r' || buf[start] == '\n'); n++) {
		if (buf[start] == '\r' && (start + 1 >= len || buf[start + 1] != '\n'))
			break;
		if (n == GDN_HTTP_MAX_LEADING_EMPTY)
			return http_fail(err, 400, EBADMSG,
					 "malformed request: more than %d empty lines before the "
					 "request line",
					 GDN_HTTP_MAX_LEADING_EMPTY);
		start += buf[start] == '\r' ? 2 : 1;
	}
	if (start >= len)
		return 0;
	end = find_head_end(buf, len, start);
	if (end == 0) {
		if (len - start > GDN_HTTP_MAX_HEAD)
			return http_fail(err, 431, EMSGSIZE, "request head too large");
		return 0;
	}
	if (end - start > GDN_HTTP_MAX_HEAD)
		return http_fail(err, 431, EMSGSIZE, "request head too large");
	r = parse_head(buf, start, end, req, err);
	if (r < 0) {
		gdn_http_req_free(req);
		return r;
	}
	return (int)end;
}

bool gdn_http_head_ready(const char *buf, size_t scanned, size_t len)
{
	const char *end = buf + len;
	size_t from = scanned > 2 ? scanned - 2 : 0;

	if (len > GDN_HTTP_MAX_HEAD || from >= len)
		return len > GDN_HTTP_MAX_HEAD;
	for (const char *nl = memchr(buf + from, '\n', len - from); nl;
	     nl = memchr(nl + 1, '\n', (size_t)(end - nl - 1)))
		if (nl + 1 < end &&
		    (nl[1] == '\n' || (nl[1] == '\r' && nl + 2 < end && nl[2] == '\n')))
			return true;
	return false;
}

/* --- chunked bodies ------------------------------------------------------------------------ */

enum chunked_state {
	CH_SIZE_START = 0, /* first hex digit of a chunk size */
	CH_SIZE,	   /* more hex digits */
	CH_SIZE_WS,	   /* whitespace after the size: ';' or CR */
	CH_EXT,		   /* chunk extension, ignored up to CR */
	CH_SIZE_LF,	   /* LF ending the size line */
	CH_DATA,
	CH_DATA_CR, /* CRLF after the chunk data */
	CH_DATA_LF,
	CH_TRAILER_START, /* start of a trailer line, or CR of the final blank line */
	CH_TRAILER,	  /* inside a trailer line */
	CH_TRAILER_LF,
	CH_END_LF, /* LF of the final blank line */
	CH_DONE,
};

static ssize_t chunk_fail(struct gdn_chunked *c, struct gdn_err **err, const char *what)
{
	c->state = CH_DONE;
	return http_fail(err, 400, EBADMSG, "malformed chunked encoding: %s", what);
}

ssize_t gdn_chunked_feed(struct gdn_chunked *c, const char *in, size_t in_len, struct gdn_buf *out,
			 struct gdn_err **err)
{
	size_t i = 0;

	if (c->done)
		return 0;
	while (i < in_len) {
		char ch = in[i];
		int d;

		if (c->state <= CH_SIZE_LF && ++c->line_len > GDN_HTTP_CHUNK_LINE_MAX)
			return chunk_fail(c, err, "chunk size line longer than 4096 bytes");
		switch (c->state) {
		case CH_SIZE_START:
		case CH_SIZE:
			d = gdn_hex_digit(ch);
			if (d >= 0) {
				if (c->remaining > (CHUNK_SIZE_MAX >> 4))
					return chunk_fail(c, err, "chunk size too large");
				c->remaining = (c->remaining << 4) | (uint64_t)d;
				if (c->remaining > CHUNK_SIZE_MAX)
					return chunk_fail(c, err, "chunk size too large");
				c->state = CH_SIZE;
				i++;
				break;
			}
			if (c->state == CH_SIZE_START)
				return chunk_fail(c, err, "invalid chunk size");
			c->state = CH_SIZE_WS;
			c->line_len--; /* ch is counted again */
			break;	       /* reprocess ch */
		case CH_SIZE_WS:
			if (ch == ';')
				c->state = CH_EXT;
			else if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (!is_ows(ch))
				return chunk_fail(c, err, "invalid chunk size");
			i++;
			break;
		case CH_EXT:
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\n' || ((unsigned char)ch < 0x20 && ch != '\t'))
				return chunk_fail(c, err, "invalid chunk extension");
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return chunk_fail(c, err, "missing LF after chunk size");
			i++;
			c->line_len = 0;
			c->state = c->remaining ? CH_DATA : CH_TRAILER_START;
			break;
		case CH_DATA: {
			size_t n = in_len - i;

			if ((uint64_t)n > c->remaining)
				n = (size_t)c->remaining;
			if (gdn_buf_append(out, in + i, n) < 0)
				return http_fail(err, 500, ENOMEM, "out of memory");
			i += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (ch != '\r')
				return chunk_fail(c, err, "missing CRLF after chunk data");
			c->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return chunk_fail(c, err, "missing CRLF after chunk data");
			c->state = CH_SIZE_START;
			c->remaining = 0;
			i++;
			break;
		case CH_TRAILER_START:
			c->state = ch == '\r' ? CH_END_LF : CH_TRAILER;
			if (ch == '\n')
				return chunk_fail(c, err, "bare LF in trailer");
			i++;
			break;
		case CH_TRAILER:
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if (ch == '\n')
				return chunk_fail(c, err, "bare LF in trailer");
			i++;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				return chunk_fail(c, err, "missing LF in trailer");
			c->state = CH_TRAILER_START;
			i++;
			break;
		case CH_END_LF:
			if (ch != '\n')
				return chunk_fail(c, err, "missing final CRLF");
			i++;
			c->state = CH_DONE;
			c->done = true;
			return (ssize_t)i;
		default:
			return chunk_fail(c, err, "decoder already failed");
		}
	}
	return (ssize_t)i;
}

/* --- URLs and queries ---------------------------------------------------------------------- */

char *gdn_url_decode(const char *s, size_t len, bool plus_is_space)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len) {
				free(out);
				return NULL;
			}
			hi = gdn_hex_digit(s[i + 1]);
			lo = gdn_hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				/* bad escape; %00 is refused as it would truncate a C string */
				free(out);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+' && plus_is_space) {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

int gdn_http_query_foreach(const char *query,
			   int (*fn)(const char *key, const char *value, void *ud), void *ud)
{
	const char *p = query;

	if (!p)
		return 0;
	while (*p) {
		size_t len = strcspn(p, "&"), kl;
		const char *eq = memchr(p, '=', len);
		_cleanup_free_ char *k = NULL, *v = NULL;
		int r;

		if (len == 0) {
			p++;
			continue;
		}
		kl = eq ? (size_t)(eq - p) : len;
		k = gdn_url_decode(p, kl, true);
		v = eq ? gdn_url_decode(eq + 1, len - kl - 1, true) : strdup("");
		if (!k || !v)
			return -EINVAL;
		r = fn(k, v, ud);
		if (r != 0)
			return r;
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

struct query_get {
	const char *key;
	char *value;
};

static int query_get_one(const char *key, const char *value, void *ud)
{
	struct query_get *q = ud;

	if (strcmp(key, q->key) != 0)
		return 0;
	q->value = strdup(value);
	return q->value ? 1 : -ENOMEM;
}

int gdn_http_query_get(const char *query, const char *key, char **ret_value)
{
	struct query_get q = {.key = key, .value = NULL};
	int r = gdn_http_query_foreach(query, query_get_one, &q);

	if (r < 0)
		return r;
	if (r == 0)
		return 0;
	*ret_value = q.value;
	return 1;
}

/* --- responses ----------------------------------------------------------------------------- */

const char *gdn_http_status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Request Entity Too Large";
	case 414:
		return "Request URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

/* "Date: Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate, locale independent) */
static int put_date(struct gdn_buf *out)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	struct tm tm;

	if (!gmtime_r(&now, &tm))
		memset(&tm, 0, sizeof(tm));
	return gdn_buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
			      days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
			      tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int put_status_and_type(struct gdn_buf *out, int status, const char *content_type)
{
	int r = gdn_buf_printf(out, "HTTP/1.1 %d %s\r\n", status, gdn_http_status_text(status));

	if (r < 0)
		return r;
	if (content_type)
		r = gdn_buf_printf(out, "Content-Type: %s\r\n", content_type);
	if (r < 0)
		return r;
	return put_date(out);
}

int gdn_http_write_response(struct gdn_buf *out, int status, const char *content_type,
			    const void *body, size_t body_len, bool keep_alive)
{
	int r = put_status_and_type(out, status, content_type);

	if (r < 0)
		return r;
	r = gdn_buf_printf(out, "Content-Length: %zu\r\n", body_len);
	if (r < 0)
		return r;
	if (!keep_alive && (r = gdn_buf_puts(out, "Connection: close\r\n")) < 0)
		return r;
	r = gdn_buf_puts(out, "\r\n");
	if (r < 0)
		return r;
	if (body_len)
		return gdn_buf_append(out, body, body_len);
	return 0;
}

int gdn_http_write_hijack_head(struct gdn_buf *out, int status, const char *content_type)
{
	int r = put_status_and_type(out, status, content_type);

	if (r < 0)
		return r;
	return gdn_buf_puts(out, "Transfer-Encoding: chunked\r\n\r\n");
}

int gdn_http_write_chunked_head(struct gdn_buf *out, int status, const char *content_type,
				bool keep_alive)
{
	int r = put_status_and_type(out, status, content_type);

	if (r < 0)
		return r;
	r = gdn_buf_puts(out, "Transfer-Encoding: chunked\r\n");
	if (r < 0)
		return r;
	if (!keep_alive && (r = gdn_buf_puts(out, "Connection: close\r\n")) < 0)
		return r;
	return gdn_buf_puts(out, "\r\n");
}

int gdn_http_write_chunk(struct gdn_buf *out, const void *data, size_t len)
{
	int r;

	if (!data)
		return gdn_buf_puts(out, "0\r\n\r\n");
	if (len == 0)
		return 0; /* an empty chunk would end the body */
	r = gdn_buf_printf(out, "%zx\r\n", len);
	if (r < 0)
		return r;
	r = gdn_buf_append(out, data, len);
	if (r < 0)
		return r;
	return gdn_buf_puts(out, "\r\n");
}
