/* A small /proc/self/mountinfo reader (proc(5)): "ID PARENT MAJ:MIN ROOT TARGET OPTS [OPTIONAL...]
 * - FSTYPE SOURCE SUPER_OPTS", with space, tab, newline and backslash escaped as \ooo. */
#include <errno.h>
#include <string.h>
#include "lib/fs.h"
#include "cmd/guardian/mountinfo.h"

#define MOUNTINFO_MAX (64 << 20)

/* Unescapes \ooo in place. */
static char *unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return s;
}

static void mount_clear(struct gd_mount *m)
{
	free(m->root);
	free(m->target);
	free(m->fstype);
	free(m->source);
	free(m->super_opts);
}

void gd_mounts_free(struct gd_mounts *m)
{
	for (size_t i = 0; i < m->n; i++)
		mount_clear(&m->v[i]);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* Splits one line into fields; returns 0 or -EINVAL. */
static int parse_line(char *line, struct gd_mount *ret)
{
	char *fields[6] = {0};
	char *save = NULL;
	char *tok = strtok_r(line, " ", &save);
	size_t i = 0;
	for (; tok && i < 6; i++, tok = strtok_r(NULL, " ", &save))
		fields[i] = tok;
	/* skip optional fields up to the "-" separator */
	while (tok && strcmp(tok, "-") != 0)
		tok = strtok_r(NULL, " ", &save);
	if (i < 6 || !tok)
		return -EINVAL;
	char *fstype = strtok_r(NULL, " ", &save);
	char *source = strtok_r(NULL, " ", &save);
	char *super = strtok_r(NULL, " ", &save);
	if (!fstype || !source)
		return -EINVAL;
	ret->root = strdup(unescape(fields[3]));
	ret->target = strdup(unescape(fields[4]));
	ret->fstype = strdup(unescape(fstype));
	ret->source = strdup(unescape(source));
	ret->super_opts = strdup(super ? super : "");
	if (!ret->root || !ret->target || !ret->fstype || !ret->source || !ret->super_opts) {
		mount_clear(ret);
		return -ENOMEM;
	}
	return 0;
}

int gd_mountinfo_read(const char *path, struct gd_mounts *ret, struct gdn_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (!path)
		path = "/proc/self/mountinfo";
	int r = gdn_fs_read_file(path, MOUNTINFO_MAX, &text, &len, err);
	if (r < 0)
		return r;

	struct gd_mounts m = {0};
	size_t cap = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (m.n == cap) {
			cap = cap ? cap * 2 : 64;
			struct gd_mount *v = reallocarray(m.v, cap, sizeof(*v));
			if (!v) {
				gd_mounts_free(&m);
				return gdn_err_set(err, ENOMEM, "cannot parse '%s'", path);
			}
			m.v = v;
		}
		r = parse_line(line, &m.v[m.n]);
		if (r == -ENOMEM) {
			gd_mounts_free(&m);
			return gdn_err_set(err, ENOMEM, "cannot parse '%s'", path);
		}
		if (r == 0)
			m.n++;
	}
	*ret = m;
	return 0;
}

bool gd_opts_has(const char *opts, const char *opt)
{
	size_t n = strlen(opt);
	for (const char *p = opts; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, opt, n) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}
