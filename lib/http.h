/* HTTP/1.1 for the Garden API: request-head parsing, incremental chunked decoding, query strings,
 * response and hijack heads (garden-protocol.md §1). No I/O here: callers own the sockets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"
#include "lib/buf.h"

#define GDN_HTTP_MAX_HEAD (64 * 1024)
#define GDN_HTTP_MAX_HEADERS 64
#define GDN_HTTP_MAX_LEADING_EMPTY 8 /* empty lines tolerated before a request line */

struct gdn_http_header {
	char *name;  /* as sent */
	char *value; /* leading/trailing whitespace trimmed */
};

struct gdn_http_req {
	char *method;
	char *target; /* raw request target, e.g. "/containers?app=x" */
	char *path;   /* raw path part (not decoded) */
	char *query;  /* raw query part after '?', "" if none */
	int minor;    /* HTTP/1.<minor> */
	struct gdn_http_header headers[GDN_HTTP_MAX_HEADERS];
	size_t n_headers;
	bool chunked;	 /* Transfer-Encoding: chunked */
	bool has_length; /* Content-Length present */
	uint64_t content_length;
	bool keep_alive; /* HTTP/1.1 without "Connection: close" (or 1.0 with keep-alive) */
};

/* Parses a request head from buf[0..len). Returns 0 if the head is not complete yet, the head's
 * length in bytes (including the blank line) when complete, or a negative errno with *err set
 * (err->http_status = 400 for malformed input, 431 for a head over GDN_HTTP_MAX_HEAD,
 * 501 for an unsupported Transfer-Encoding). Strings in req are owned by req. */
int gdn_http_parse_head(const char *buf, size_t len, struct gdn_http_req *req,
			struct gdn_err **err);
void gdn_http_req_free(struct gdn_http_req *req);
/* Whether buf[0..len) may hold a complete head (or has outgrown the limit) when buf[0..scanned)
 * did not: an empty line among the new bytes, or more than GDN_HTTP_MAX_HEAD bytes. A reader
 * calls gdn_http_parse_head only then, so a head trickled in byte by byte is scanned once, not
 * once per read (quadratic). */
bool gdn_http_head_ready(const char *buf, size_t scanned, size_t len);
/* Case-insensitive search of `token` in a comma-separated header value (e.g. Connection). */
bool gdn_http_list_has_token(const char *list, const char *token);
/* Case-insensitive header lookup; NULL if absent. */
const char *gdn_http_header(const struct gdn_http_req *req, const char *name);

/* Longest chunk-size line (size, extensions, CRLF), as Go's chunked reader (its 4 KiB bufio
 * line): a longer one is malformed framing. Extensions are otherwise skipped unread. */
#define GDN_HTTP_CHUNK_LINE_MAX 4096

/* Incremental decoder for a chunked body. */
struct gdn_chunked {
	int state;
	uint64_t remaining; /* bytes left in the current chunk */
	size_t line_len;    /* bytes of the current chunk-size line so far */
	bool done;	    /* terminal chunk and trailers consumed */
};
/* Consumes input from in[0..in_len), appending decoded body bytes to out. Returns the number of
 * input bytes consumed (it stops right after the end of the body, so pipelined bytes are left),
 * or -EBADMSG with *err (http_status 400) on malformed framing, a chunk-size line over
 * GDN_HTTP_CHUNK_LINE_MAX included. */
ssize_t gdn_chunked_feed(struct gdn_chunked *c, const char *in, size_t in_len, struct gdn_buf *out,
			 struct gdn_err **err);

/* Decodes %XX and (if plus_is_space) '+'. Returns a new string or NULL on bad escapes/ENOMEM. */
char *gdn_url_decode(const char *s, size_t len, bool plus_is_space);
/* First value of `key` in a raw query string, decoded (Go url.Values rules). 1 if found (with
 * *ret_value, caller frees), 0 if absent, negative on a bad escape. */
int gdn_http_query_get(const char *query, const char *key, char **ret_value);
/* Calls fn for each key=value pair (decoded), in order. Stops and returns fn's value if non-zero.
 */
int gdn_http_query_foreach(const char *query,
			   int (*fn)(const char *key, const char *value, void *ud), void *ud);

const char *gdn_http_status_text(int status);

/* A complete response: status line, Content-Type (if non-NULL), Content-Length, Date,
 * "Connection: close" when !keep_alive, blank line, body. */
int gdn_http_write_response(struct gdn_buf *out, int status, const char *content_type,
			    const void *body, size_t body_len, bool keep_alive);
/* The head of a hijacked response (protocol §1.3): status line, Content-Type, Date,
 * "Transfer-Encoding: chunked", blank line. Raw bytes follow. */
int gdn_http_write_hijack_head(struct gdn_buf *out, int status, const char *content_type);
/* The head of a chunked streaming response (e.g. StreamOut), then gdn_http_write_chunk()s and a
 * final gdn_http_write_chunk(out, NULL, 0). */
int gdn_http_write_chunked_head(struct gdn_buf *out, int status, const char *content_type,
				bool keep_alive);
int gdn_http_write_chunk(struct gdn_buf *out, const void *data, size_t len);
