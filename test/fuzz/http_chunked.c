/* max_len: 16384 */
/* libFuzzer target: the incremental chunked-body decoder (lib/http.c). The input is fed in up to
 * four pieces whose sizes come from its first bytes, so that every state can be split. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool feed(struct gdn_chunked *c, const char *in, size_t len, struct gdn_buf *out)
{
	while (len > 0 && !c->done) {
		struct gdn_err *err = NULL;
		ssize_t n = gdn_chunked_feed(c, in, len, out, &err);

		gdn_err_free(err);
		if (n < 0)
			return false;
		if (n == 0)
			break;
		if ((size_t)n > len)
			__builtin_trap();
		in += n;
		len -= (size_t)n;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gdn_chunked c;
	struct gdn_buf out = {0};
	const char *in;
	size_t cuts[3] = {0};
	size_t pos = 0;
	bool ok = true;

	if (size < 3)
		return 0;
	for (size_t i = 0; i < 3; i++)
		cuts[i] = data[i];
	in = (const char *)data + 3;
	size -= 3;
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < 3 && ok && pos < size; i++) {
		size_t n = cuts[i] < size - pos ? cuts[i] : size - pos;

		ok = feed(&c, in + pos, n, &out);
		pos += n;
	}
	if (ok && pos < size)
		(void)feed(&c, in + pos, size - pos, &out);
	gdn_buf_free(&out);
	return 0;
}
