/* Validation of names that become paths: see path.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/path.h"

static bool name_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("._+-", c) != NULL);
}

static int invalid(struct gdn_err **err, int r)
{
	if (err && *err)
		(*err)->http_status = 400;
	return r;
}

int gdn_name_validate(const char *what, const char *name, struct gdn_err **err)
{
	bool had = err && *err;
	size_t len;
	int r;

	if (!what)
		what = "name";
	if (!name || !*name) {
		r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid %s '': must not be empty",
				 what);
		return had ? r : invalid(err, r);
	}
	len = strlen(name);
	if (len > GDN_HANDLE_MAX) {
		r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				 "invalid %s '%.*s...': too long (max %d)", what, GDN_HANDLE_MAX,
				 name, GDN_HANDLE_MAX);
		return had ? r : invalid(err, r);
	}
	for (size_t i = 0; i < len; i++) {
		if (!name_char_ok((unsigned char)name[i])) {
			r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					 "invalid %s '%s': may contain only letters, digits and "
					 ". _ + -",
					 what, name);
			return had ? r : invalid(err, r);
		}
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "'%s' is not a valid %s", name,
				 what);
		return had ? r : invalid(err, r);
	}
	return 0;
}

char *gdn_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	char *s = NULL;

	if (asprintf(&s, "%s%s%s", a, la && a[la - 1] == '/' ? "" : "/", b) < 0)
		return NULL;
	return s;
}
