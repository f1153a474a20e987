/* max_len: 70000 */
/* libFuzzer target: the HTTP request-head parser and header lookup (lib/http.c). */
#include <stddef.h>
#include <stdint.h>

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
	return 0;
}
