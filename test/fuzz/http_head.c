/* max_len: 70000 */
/* libFuzzer target: the HTTP request-head parser and header lookup (lib/http.c), and that
 * gdn_http_head_ready never says "no" to bytes after which the parser has an answer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gdn_http_req req;
	struct gdn_err *err = NULL;
	int r = gdn_http_parse_head((const char *)data, size, &req, &err);

	if (r > 0) {
		(void)gdn_http_header(&req, "content-type");
		(void)gdn_http_header(&req, "Transfer-Encoding");
		(void)gdn_http_header(&req, "");
	}
	gdn_http_req_free(&req);
	gdn_err_free(err);

	/* The server skips the parser while head_ready says no; it must not skip an answer. */
	size_t scanned = size > 0 ? (size_t)data[0] * size / 256 : 0;
	if (r != 0 && scanned < size &&
	    gdn_http_parse_head((const char *)data, scanned, &req, NULL) == 0 &&
	    !gdn_http_head_ready((const char *)data, scanned, size))
		abort();
	gdn_http_req_free(&req);
	return 0;
}
