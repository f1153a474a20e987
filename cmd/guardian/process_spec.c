#include <string.h>
#include <sys/resource.h>

#include "lib/gojson.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/caps.h"
#include "cmd/guardian/process_spec.h"

static const struct {
	const char *key;
	const char *oci;
} rlimit_names[] = {
    {"as", "RLIMIT_AS"},	   {"core", "RLIMIT_CORE"},
    {"cpu", "RLIMIT_CPU"},	   {"data", "RLIMIT_DATA"},
    {"fsize", "RLIMIT_FSIZE"},	   {"locks", "RLIMIT_LOCKS"},
    {"memlock", "RLIMIT_MEMLOCK"}, {"msgqueue", "RLIMIT_MSGQUEUE"},
    {"nice", "RLIMIT_NICE"},	   {"nofile", "RLIMIT_NOFILE"},
    {"nproc", "RLIMIT_NPROC"},	   {"rss", "RLIMIT_RSS"},
    {"rtprio", "RLIMIT_RTPRIO"},   {"sigpending", "RLIMIT_SIGPENDING"},
    {"stack", "RLIMIT_STACK"},
};

static int get_str(const struct gdn_gojson *obj, const char *key, char **ret, struct gdn_err **err)
{
	const char *v;
	int r = gdn_gojson_get_str(obj, "ProcessSpec", key, &v, err);

	if (r < 0)
		return r;
	*ret = strdup(v);
	return *ret ? 0 : gdn_err_set(err, ENOMEM, "process spec");
}

/* OCI rlimits are uint64 like garden's: every value is carried exactly (gdn_json_u64). */
static int parse_rlimits(const struct gdn_gojson *spec, json_t **ret, struct gdn_err **err)
{
	const struct gdn_gojson *rl;
	int r;

	*ret = json_array();
	if (!*ret)
		return gdn_err_set(err, ENOMEM, "rlimits");
	r = gdn_gojson_get_obj(spec, "ProcessSpec", "rlimits", "garden.ResourceLimits", &rl, err);
	if (r < 0)
		return r;
	for (size_t i = 0; rl && i < GDN_ARRAY_SIZE(rlimit_names); i++) {
		uint64_t v;

		if (!gdn_gojson_member(rl, rlimit_names[i].key))
			continue;
		r = gdn_gojson_get_u64(rl, "ResourceLimits", rlimit_names[i].key, &v, err);
		if (r < 0)
			return r;
		if (json_array_append_new(
			*ret, json_pack("{s:s, s:o, s:o}", "type", rlimit_names[i].oci, "hard",
					gdn_json_u64(v), "soft", gdn_json_u64(v))) < 0)
			return gdn_err_set(err, ENOMEM, "rlimits");
	}
	return 0;
}

static int parse_tty(const struct gdn_gojson *spec, struct gd_process_spec *s, struct gdn_err **err)
{
	const struct gdn_gojson *tty, *ws;
	uint16_t cols, rows;
	int r;

	if ((r = gdn_gojson_get_obj(spec, "ProcessSpec", "tty", "garden.TTYSpec", &tty, err)) < 0 ||
	    !tty)
		return r;
	s->tty = true;
	if ((r = gdn_gojson_get_obj(tty, "TTYSpec", "window_size", "garden.WindowSize", &ws, err)) <
		0 ||
	    !ws)
		return r;
	if ((r = gdn_gojson_get_u16(ws, "WindowSize", "columns", &cols, err)) < 0 ||
	    (r = gdn_gojson_get_u16(ws, "WindowSize", "rows", &rows, err)) < 0)
		return r;
	s->cols = cols;
	s->rows = rows;
	return 0;
}

/* A non-empty image.uri makes the process a pea (pea.c decodes the rest); bind mounts are
 * only for peas, as in Garden. */
static int check_pea(const struct gdn_gojson *spec, struct gd_process_spec *s, struct gdn_err **err)
{
	const struct gdn_gojson *image = gdn_gojson_member(spec, "image");
	const struct gdn_gojson *uri = gdn_gojson_member(image, "uri");
	const struct gdn_gojson *bms = gdn_gojson_member(spec, "bind_mounts");

	s->pea = uri && uri->kind == GDN_GOJSON_STRING && *uri->text;
	if (!s->pea && bms && bms->kind == GDN_GOJSON_ARRAY && bms->n > 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "Running a process with bind mounts and no image provided is "
				    "not allowed");
	return 0;
}

static int parse_top(const struct gdn_gojson *spec, struct gd_process_spec *s, struct gdn_err **err)
{
	char generated[37];
	int r;

	if (spec->kind != GDN_GOJSON_OBJECT)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "json: cannot unmarshal non-object into Go value of type "
				    "garden.ProcessSpec");
	if ((r = get_str(spec, "id", &s->id, err)) < 0 ||
	    (r = get_str(spec, "path", &s->path, err)) < 0 ||
	    (r = gdn_gojson_get_strv(spec, "ProcessSpec", "args", &s->args, err)) < 0 ||
	    (r = gdn_gojson_get_strv(spec, "ProcessSpec", "env", &s->env, err)) < 0 ||
	    (r = get_str(spec, "dir", &s->dir, err)) < 0 ||
	    (r = get_str(spec, "user", &s->user, err)) < 0 ||
	    (r = parse_rlimits(spec, &s->rlimits, err)) < 0 || (r = parse_tty(spec, s, err)) < 0 ||
	    (r = check_pea(spec, s, err)) < 0)
		return r;
	if (!*s->path)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "process spec has no path");
	for (char **e = s->env; *e; e++)
		if (!strchr(*e, '=') || **e == '=')
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "invalid env entry '%s': must be KEY=VALUE", *e);
	if (*s->dir && s->dir[0] != '/')
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "dir '%s' must be an absolute path", s->dir);
	if (!*s->id) {
		free(s->id);
		gdn_uuid_v4(generated);
		s->id = strdup(generated);
		if (!s->id)
			return gdn_err_set(err, ENOMEM, "process id");
	}
	return gdn_name_validate("process ID", s->id, err);
}

int gd_process_spec_parse(const char *body, size_t len, struct gd_process_spec *ret,
			  struct gdn_err **err)
{
	_cleanup_gojson_ struct gdn_gojson *spec = NULL;
	struct gd_process_spec s = {0};
	int r = gdn_gojson_decode(body, len, &spec, err);

	if (r < 0)
		return r;
	r = parse_top(spec, &s, err);
	if (r < 0) {
		gd_process_spec_free(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void gd_process_spec_free(struct gd_process_spec *s)
{
	free(s->id);
	free(s->path);
	gdn_strv_free(s->args);
	gdn_strv_free(s->env);
	free(s->dir);
	free(s->user);
	json_decref(s->rlimits);
	memset(s, 0, sizeof(*s));
}

static bool has_key(const json_t *env, const char *key)
{
	size_t i, n = strlen(key);
	json_t *v;

	json_array_foreach (env, i, v) {
		const char *s = json_string_value(v);
		if (s && strncmp(s, key, n) == 0 && s[n] == '=')
			return true;
	}
	return false;
}

/* Later entries win, as in a shell: an entry replaces an earlier one with the same key. */
static void env_set(json_t *env, const char *entry)
{
	size_t i, n = strcspn(entry, "=");
	json_t *v;

	json_array_foreach (env, i, v) {
		const char *s = json_string_value(v);
		if (s && strncmp(s, entry, n) == 0 && s[n] == '=') {
			json_array_set_new(env, i, json_string(entry));
			return;
		}
	}
	json_array_append_new(env, json_string(entry));
}

static json_t *restrict_caps(const json_t *caps, bool root)
{
	static const char *const sets[] = {"bounding", "inheritable", "permitted", "effective",
					   "ambient"};
	uint64_t allowed = gd_caps_unprivileged() | (1ULL << 21); /* + CAP_SYS_ADMIN */
	json_t *out = json_object();

	for (size_t i = 0; i < GDN_ARRAY_SIZE(sets); i++) {
		json_t *in = json_object_get(caps, sets[i]), *v;
		json_t *list = json_array();
		size_t j;

		json_array_foreach (in, j, v) {
			int cap = gd_cap_from_name(json_string_value(v));
			bool keep = root || (cap >= 0 && (allowed & (1ULL << cap)) &&
					     strcmp(sets[i], "effective") != 0 &&
					     strcmp(sets[i], "ambient") != 0);
			if (keep)
				json_array_append(list, v);
		}
		json_object_set_new(out, sets[i], list);
	}
	return out;
}

json_t *gd_process_oci(const json_t *config, const struct gd_process_spec *spec,
		       const struct gd_user *user, const char *cwd)
{
	json_t *cproc = json_object_get(config, "process");
	json_t *env = json_array(), *args = json_array(), *groups = json_array(), *v;
	char buf[4200];
	size_t i;

	json_array_foreach (json_object_get(cproc, "env"), i, v) {
		env_set(env, json_string_value(v));
	}
	for (char **e = spec->env; *e; e++)
		env_set(env, *e);
	if (!has_key(env, "PATH"))
		env_set(env,
			user->uid == 0
			    ? "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
			    : "PATH=/usr/local/bin:/usr/bin:/bin");
	if (!has_key(env, "USER")) {
		(void)snprintf(buf, sizeof(buf), "USER=%s",
			       *spec->user   ? spec->user
			       : *user->name ? user->name
					     : "root");
		env_set(env, buf);
	}
	json_array_append_new(args, json_string(spec->path));
	for (char **a = spec->args; *a; a++)
		json_array_append_new(args, json_string(*a));
	for (i = 0; i < user->n_groups; i++)
		json_array_append_new(groups, json_integer(user->groups[i]));
	/* the container's no_new_privs and AppArmor profile hold for its processes too, as in
	 * Garden (an exec's process.json replaces the container's process wholesale) */
	json_t *p = json_pack(
	    "{s:b, s:{s:i, s:i}, s:{s:I, s:I, s:o}, s:o, s:o, s:s, s:o, s:O, s:b}", "terminal",
	    spec->tty, "consoleSize", "height", spec->rows ? (int)spec->rows : 24, "width",
	    spec->cols ? (int)spec->cols : 80, "user", "uid", (json_int_t)user->uid, "gid",
	    (json_int_t)user->gid, "additionalGids", groups, "args", args, "env", env, "cwd", cwd,
	    "capabilities", restrict_caps(json_object_get(cproc, "capabilities"), user->uid == 0),
	    "rlimits", spec->rlimits, "noNewPrivileges",
	    json_is_true(json_object_get(cproc, "noNewPrivileges")));
	json_t *apparmor = json_object_get(cproc, "apparmorProfile");
	if (p && json_is_string(apparmor) && json_object_set(p, "apparmorProfile", apparmor) < 0) {
		json_decref(p);
		return NULL;
	}
	return p;
}
