/* Path handling as Garden's Go side does it (path/filepath), so that a StreamOut source is split
 * into the same directory and member, and the id-map flags. Pure functions (unit-tested). */
#include <string.h>

#include "lib/util.h"
#include "cmd/nstar/nstar.h"

int nst_idmap_parse(const char *s, struct nst_idmap *ret, struct gdn_err **err)
{
	char buf[64];
	char *f[3], *save = NULL;
	uint32_t v[3];

	if (strlen(s) >= sizeof(buf))
		return gdn_err_set(err, EINVAL, "id map '%s' is not INSIDE:OUTSIDE:COUNT", s);
	memcpy(buf, s, strlen(s) + 1);
	f[0] = strtok_r(buf, ":", &save);
	f[1] = f[0] ? strtok_r(NULL, ":", &save) : NULL;
	f[2] = f[1] ? strtok_r(NULL, ":", &save) : NULL;
	for (size_t i = 0; i < 3; i++)
		if (!f[i] || gdn_parse_u32(f[i], &v[i]) < 0)
			return gdn_err_set(err, EINVAL, "id map '%s' is not INSIDE:OUTSIDE:COUNT",
					   s);
	if (strtok_r(NULL, ":", &save) || v[2] == 0)
		return gdn_err_set(err, EINVAL, "id map '%s' is not INSIDE:OUTSIDE:COUNT", s);
	ret->inside = v[0];
	ret->outside = v[1];
	ret->count = v[2];
	return 0;
}

/* Go's filepath.Clean: one slash between elements, no "." elements, each ".." with the element
 * before it removed, no ".." at the start of a rooted path; "" -> ".". */
char *nst_path_clean(const char *path)
{
	size_t n = strlen(path);
	bool rooted = n > 0 && path[0] == '/';
	char *out = malloc(n + 2);
	size_t w = 0, r = 0, dotdot = 0; /* dotdot: where ".." may no longer backtrack */

	if (!out)
		return NULL;
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (path[r] == '/') {
			r++;
		} else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
			r++;
		} else if (path[r] == '.' && path[r + 1] == '.' &&
			   (r + 2 == n || path[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				/* back up to the previous element */
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && path[r] != '/'; r++)
				out[w++] = path[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

char *nst_path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) + 1 : 0;
	_cleanup_free_ char *head = strndup(path, len);

	return head ? nst_path_clean(head) : NULL;
}

char *nst_path_base(const char *path)
{
	size_t n = strlen(path);
	const char *start;

	if (n == 0)
		return strdup(".");
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n == 0)
		return strdup("/");
	start = path + n;
	while (start > path && start[-1] != '/')
		start--;
	return strndup(start, (size_t)(path + n - start));
}

int nst_split_source(const char *source, char **ret_dir, char **ret_member)
{
	size_t n = strlen(source);
	_cleanup_free_ char *dir = NULL, *member = NULL;

	if (n > 0 && source[n - 1] == '/') {
		dir = strdup(source);
		member = strdup(".");
	} else {
		dir = nst_path_dir(source);
		member = nst_path_base(source);
	}
	if (!dir || !member)
		return -ENOMEM;
	*ret_dir = dir;
	*ret_member = member;
	dir = member = NULL;
	return 0;
}
