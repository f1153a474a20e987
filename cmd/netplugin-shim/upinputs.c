/* `up`'s stdin as the client passes it on: Pid read as Go reads it, and set to 0 in the text
 * itself, so that every other member reaches the plugin byte for byte (numbers past int64,
 * duplicate members, escapes and all). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/gojson.h"
#include "cmd/netplugin-shim/nps.h"

static size_t skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

int nps_upinputs_rewrite(const char *text, size_t len, int64_t *ret_pid, char **ret_text,
			 size_t *ret_len, struct gdn_err **err)
{
	_cleanup_gojson_ struct gdn_gojson *v = NULL;
	_cleanup_buf_ struct gdn_buf b = {0};
	size_t i, copied = 0;
	int r;

	*ret_pid = 0;
	*ret_text = NULL;
	r = gdn_gojson_decode(text, len, &v, err);
	if (r < 0)
		return gdn_err_wrap(err, "UpInputs on stdin");
	if (v->kind != GDN_GOJSON_NULL && v->kind != GDN_GOJSON_OBJECT)
		return gdn_gojson_value_err(err, v, "netplugin.UpInputs");
	r = gdn_gojson_get_i64(v, "UpInputs", "Pid", "int", ret_pid, err);
	if (r < 0)
		return r;
	/* the members in the text come in the order of v's */
	i = skip_ws(text, len, 0);
	if (v->kind == GDN_GOJSON_OBJECT)
		i++; /* '{' */
	for (size_t m = 0; m < v->n; m++) {
		size_t start;

		i = skip_ws(text, len, i);
		i = gdn_gojson_value_end(text, len, i); /* the name */
		i = skip_ws(text, len, i) + 1;		/* ':' */
		start = skip_ws(text, len, i);
		i = gdn_gojson_value_end(text, len, start); /* the value */
		if (strcasecmp(v->keys[m], "Pid") == 0 && v->items[m]->kind != GDN_GOJSON_NULL) {
			if (gdn_buf_append(&b, text + copied, start - copied) < 0 ||
			    gdn_buf_puts(&b, "0") < 0)
				return gdn_err_set(err, ENOMEM, "UpInputs");
			copied = i;
		}
		i = skip_ws(text, len, i) + 1; /* ',' or '}' */
	}
	if (gdn_buf_append(&b, text + copied, len - copied) < 0)
		return gdn_err_set(err, ENOMEM, "UpInputs");
	*ret_text = gdn_buf_steal(&b, ret_len);
	if (!*ret_text && !(*ret_text = strdup("")))
		return gdn_err_set(err, ENOMEM, "UpInputs");
	return 0;
}
