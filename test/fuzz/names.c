/* max_len: 512 */
/* libFuzzer target: Go durations (lib/duration.c) and handle/process-id validation
 * (lib/path.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/duration.h"
#include "lib/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gdn_err *err = NULL;
	char *s = strndup((const char *)data, size);
	int64_t ns;

	if (!s)
		return 0;
	(void)gdn_parse_duration(s, &ns);
	(void)gdn_name_validate("handle", s, &err);
	gdn_err_free(err);
	free(gdn_path_join(s, s));
	free(s);
	return 0;
}
