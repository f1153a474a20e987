/* A small blocking HTTP/1.1 client for gaol and the tests' helpers: dial a UNIX socket path or
 * host:port, send one request with "Host: api" and "Connection: close", read one response. */
#pragma once

#include <stddef.h>
#include "lib/err.h"
#include "lib/buf.h"

/* target: a path containing '/' is a UNIX socket; otherwise "host:port" (IPv4, IPv6 in
 * brackets, or a name) over TCP. Returns a CLOEXEC fd. */
int gdn_http_dial(const char *target, struct gdn_err **err);

struct gdn_http_resp {
	int status;
	char *content_type; /* may be NULL */
	char *body;	    /* NUL-terminated, may be NULL when empty */
	size_t body_len;
};
void gdn_http_resp_free(struct gdn_http_resp *r);

/* Sends method/path (path includes any query) with an optional body (content_type may be NULL)
 * and reads the whole response (Content-Length, chunked or close-delimited). */
int gdn_http_request(int fd, const char *method, const char *path, const char *content_type,
		     const void *body, size_t body_len, struct gdn_http_resp *ret_resp,
		     struct gdn_err **err);

/* A hijacked request (garden-protocol.md §1.2, §1.3), as Go's httputil.ClientConn sends it for
 * Run, Attach and the stdout/stderr stream attachments: method/path with "Host: api", no
 * "Connection: close", a Content-Type when content_type != NULL and a Content-Length when
 * body != NULL. Reads only the status line and headers (1xx interim heads are skipped).
 * - 2xx: the head must keep the connection open the way Go's client requires (no
 *   "Connection: close", not HTTP/1.0, and Content-Length or Transfer-Encoding: chunked), else
 *   the call fails with -EPROTO as Go's would. *ret_status is the status; *ret_leftover is
 *   replaced by the bytes already read past the head (the start of the raw stream);
 *   *ret_error_body is set to NULL.
 * - otherwise: the whole body is read (Content-Length, chunked, or to EOF) and returned in
 *   *ret_error_body (malloc'd, NUL-terminated, "" when empty) for Garden error decoding;
 *   *ret_leftover is emptied.
 * The out-params are only written on success (return 0). */
int gdn_http_hijack(int fd, const char *method, const char *path, const char *content_type,
		    const void *body, size_t len, int *ret_status, struct gdn_buf *ret_leftover,
		    char **ret_error_body, struct gdn_err **err);

/* gdn_http_hijack in two halves, so that a client can send several requests before it reads
 * any answer. _send returns 0 or -errno and reports nothing (the answer may explain a failed
 * write better); _recv takes that result and does the rest (at once for -ENOMEM: nothing was
 * sent, so no answer will come). */
int gdn_http_hijack_send(int fd, const char *method, const char *path, const char *content_type,
			 const void *body, size_t len);
int gdn_http_hijack_recv(int fd, int send_result, const char *method, const char *path,
			 int *ret_status, struct gdn_buf *ret_leftover, char **ret_error_body,
			 struct gdn_err **err);

/* Percent-encodes for a path segment or query value (Go url.QueryEscape rules: space -> '+'). */
char *gdn_url_query_escape(const char *s);
/* Like gdn_url_query_escape, but a space becomes "%20" (unambiguous in a path segment).
 * Only A-Za-z0-9-_.~ are kept. NULL on ENOMEM. */
char *gdn_url_path_escape(const char *s);
