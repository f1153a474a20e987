/* A small blocking HTTP/1.1 client for gaol and the tests' helpers: dial a UNIX socket path or
 * host:port, send one request with "Host: api" and "Connection: close", read one response. */
#pragma once

#include <stddef.h>
#include "lib/err.h"

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

/* Percent-encodes for a path segment or query value (Go url.QueryEscape rules: space -> '+'). */
char *gdn_url_query_escape(const char *s);
/* Like gdn_url_query_escape, but a space becomes "%20" (unambiguous in a path segment).
 * Only A-Za-z0-9-_.~ are kept. NULL on ENOMEM. */
char *gdn_url_path_escape(const char *s);
