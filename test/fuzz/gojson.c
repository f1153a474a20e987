/* max_len: 16384 */
/* libFuzzer target: lib/gojson's decoder, and its getters on whatever it decodes. */
#include <stddef.h>
#include <stdint.h>

#include "lib/gojson.h"
#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gdn_gojson *v = NULL;
	struct gdn_err *err = NULL;

	if (gdn_gojson_decode((const char *)data, size, &v, &err) == 0) {
		const struct gdn_gojson *o = v->kind == GDN_GOJSON_ARRAY && v->n ? v->items[0] : v;
		char **strv = NULL;
		const char *s;
		uint64_t u;
		int64_t i;

		(void)gdn_gojson_get_str(o, "T", "s", &s, &err);
		err = gdn_err_free(err);
		(void)gdn_gojson_get_u64(o, "T", "u", &u, &err);
		err = gdn_err_free(err);
		(void)gdn_gojson_get_i64(o, "T", "i", "int64", &i, &err);
		err = gdn_err_free(err);
		if (gdn_gojson_get_strv(o, "T", "v", &strv, &err) == 0)
			gdn_strv_free(strv);
		err = gdn_err_free(err);
		gdn_gojson_free(v);
	}
	gdn_err_free(err);
	return 0;
}
