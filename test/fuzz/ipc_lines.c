/* max_len: 8192 */
/* libFuzzer target: the NDJSON line reader (lib/ipc.c), fed from a buffer instead of an fd. */
#include <stddef.h>
#include <stdint.h>

#include "lib/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(struct gdn_lines *r)
{
	for (;;) {
		struct gdn_err *err = NULL;
		json_t *msg = NULL;
		int ret = gdn_lines_next(r, &msg, &err);

		json_decref(msg);
		gdn_err_free(err);
		if (ret == 0)
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gdn_lines r = {0};
	size_t half = size / 2;

	/* the first half arrives, then the rest and EOF */
	if (gdn_buf_append(&r.buf, data, half) == 0)
		drain(&r);
	if (gdn_buf_append(&r.buf, data + half, size - half) == 0) {
		r.eof = true;
		drain(&r);
	}
	gdn_lines_free(&r);
	return 0;
}
