/* link: cmd/guardian/process_spec.c cmd/guardian/spec.c cmd/guardian/caps.c */
/* max_len: 16384 */
/* libFuzzer target: guardian's Run request body (cmd/guardian/process_spec.c). */
#include <stddef.h>
#include <stdint.h>

#include "cmd/guardian/process_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gd_process_spec s = {0};
	struct gdn_err *err = NULL;

	if (gd_process_spec_parse((const char *)data, size, &s, &err) == 0)
		gd_process_spec_free(&s);
	gdn_err_free(err);
	return 0;
}
