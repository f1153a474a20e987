/* max_len: 4096 */
/* libFuzzer target: URL decoding and query strings (lib/http.c). The first byte picks the
 * key looked up; the rest is the query. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(const char *key, const char *value, void *ud)
{
	size_t *n = ud;

	*n += strlen(key) + strlen(value);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {"handle", "limit", "", "a b", "%", "properties"};
	const char *key;
	char *query, *value = NULL;
	size_t n = 0;

	if (size < 1)
		return 0;
	key = keys[data[0] % (sizeof(keys) / sizeof(keys[0]))];
	free(gdn_url_decode((const char *)data + 1, size - 1, true));
	free(gdn_url_decode((const char *)data + 1, size - 1, false));
	query = strndup((const char *)data + 1, size - 1);
	if (!query)
		return 0;
	if (gdn_http_query_get(query, key, &value) == 1)
		free(value);
	(void)gdn_http_query_foreach(query, count, &n);
	free(query);
	return 0;
}
