/* link: cmd/guardian/spec.c */
/* max_len: 16384 */
/* libFuzzer target: guardian's Create request body (cmd/guardian/spec.c). */
#include <stddef.h>
#include <stdint.h>

#include "cmd/guardian/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gd_config cfg = {.default_rootfs = "/", .default_grace_ns = 7};
	struct gd_create_spec s = {0};
	struct gdn_err *err = NULL;
	uint64_t grace = 0;

	if (gd_spec_parse(&cfg, (const char *)data, size, &s, &grace, &err) == 0)
		gd_spec_free(&s);
	gdn_err_free(err);
	return 0;
}
