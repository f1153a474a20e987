/* See config.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/fs.h"
#include "lib/util.h"

#define CONFIG_MAX (1 << 20)

static const struct option *find_option(const struct option *opts, const char *name, size_t len)
{
	for (const struct option *o = opts; o && o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static bool refused_key(const char *const *refused, const char *name)
{
	for (const char *const *r = refused; r && *r; r++)
		if (strcmp(*r, name) == 0)
			return true;
	return false;
}

struct args {
	char **v;
	size_t n, cap;
};

static int push(struct args *a, char *s)
{
	if (!s)
		return -ENOMEM;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 16;
		char **v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			free(s);
			return -ENOMEM;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

/* One "key = value" line of the section. */
static int key_line(const char *path, unsigned line, char *text, const struct option *opts,
		    const char *const *refused, struct args *out, struct gdn_err **err)
{
	char *eq = strchr(text, '=');
	char *key, *value, *flag = NULL;
	const struct option *o;

	if (!eq)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "%s:%u: expected 'key = value', got '%s'", path, line, text);
	*eq = '\0';
	key = gdn_str_trim(text);
	value = gdn_str_trim(eq + 1);
	o = find_option(opts, key, strlen(key));
	if (!*key || !o || refused_key(refused, key))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "%s:%u: unknown key '%s'", path,
				    line, key);
	if (o->has_arg == no_argument) {
		if (strcmp(value, "false") == 0)
			return 0;
		if (strcmp(value, "true") == 0) {
			if (asprintf(&flag, "--%s", key) < 0)
				return gdn_err_set(err, ENOMEM, "config");
			return push(out, flag) < 0 ? gdn_err_set(err, ENOMEM, "config") : 0;
		}
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "%s:%u: '%s' takes true or false, not '%s'", path, line, key,
				    value);
	}
	size_t vl = strlen(value);
	if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
		value[vl - 1] = '\0';
		value++;
	}
	if (asprintf(&flag, "--%s=%s", key, value) < 0)
		return gdn_err_set(err, ENOMEM, "config");
	return push(out, flag) < 0 ? gdn_err_set(err, ENOMEM, "config") : 0;
}

int gdn_config_parse(const char *path, const char *text, const char *section,
		     const struct option *opts, const char *const *refused, char ***ret,
		     size_t *ret_n, struct gdn_err **err)
{
	_cleanup_free_ char *copy = strdup(text);
	struct args out = {0};
	bool in_section = false;
	unsigned line = 0;
	int r = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!copy)
		return gdn_err_set(err, ENOMEM, "config");
	for (char *p = copy, *nl; r >= 0 && p; p = nl) {
		char *l;

		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';
		line++;
		l = gdn_str_trim(p);
		if (!*l || *l == ';' || *l == '#')
			continue;
		if (*l == '[') {
			size_t n = strlen(l);
			if (l[n - 1] != ']')
				r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
						 "%s:%u: bad section header '%s'", path, line, l);
			else if (strncmp(l + 1, section, n - 2) != 0 || strlen(section) != n - 2)
				r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
						 "%s:%u: unknown section %s (only [%s])", path,
						 line, l, section);
			in_section = true;
			continue;
		}
		if (!in_section)
			r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					 "%s:%u: '%s' is outside the [%s] section", path, line, l,
					 section);
		else
			r = key_line(path, line, l, opts, refused, &out, err);
	}
	if (r < 0) {
		gdn_config_free(out.v);
		return r;
	}
	/* no flags: an empty, NULL-terminated array */
	if (!out.v && !(out.v = calloc(1, sizeof(*out.v))))
		return gdn_err_set(err, ENOMEM, "config");
	*ret = out.v;
	*ret_n = out.n;
	return 0;
}

int gdn_config_read(const char *path, const char *section, const struct option *opts,
		    const char *const *refused, char ***ret, size_t *ret_n, struct gdn_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = gdn_fs_read_file(path, CONFIG_MAX, &text, &len, err);

	if (r < 0)
		return gdn_err_wrap(err, "--config");
	if (memchr(text, '\0', len))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "%s: not a text file", path);
	return gdn_config_parse(path, text, section, opts, refused, ret, ret_n, err);
}

/* The option a command-line token names ("--name" or "--name=value"), or NULL. */
static const struct option *token_option(const struct option *opts, const char *tok)
{
	if (strncmp(tok, "--", 2) != 0 || !tok[2])
		return NULL;
	return find_option(opts, tok + 2, strcspn(tok + 2, "="));
}

static bool given(const struct option *opts, int argc, char **argv, const struct option *o)
{
	for (int i = 1; i < argc; i++) {
		const struct option *t;

		if (strcmp(argv[i], "--") == 0)
			return false;
		t = token_option(opts, argv[i]);
		if (t == o)
			return true;
		/* "--name value": the value is no flag */
		if (t && t->has_arg == required_argument && !strchr(argv[i], '='))
			i++;
	}
	return false;
}

int gdn_config_merge(char *const *file, size_t n, int argc, char **argv, const struct option *opts,
		     char ***ret, int *ret_argc, struct gdn_err **err)
{
	char **v = calloc(n + (size_t)argc + 1, sizeof(*v));
	int k = 0;

	if (!v)
		return gdn_err_set(err, ENOMEM, "config");
	v[k++] = argv[0];
	for (size_t i = 0; i < n; i++)
		if (!given(opts, argc, argv, token_option(opts, file[i])))
			v[k++] = file[i];
	for (int i = 1; i < argc; i++)
		v[k++] = argv[i];
	v[k] = NULL;
	*ret = v;
	*ret_argc = k;
	return 0;
}

void gdn_config_free(char **args)
{
	for (char **a = args; a && *a; a++)
		free(*a);
	free(args);
}

int gdn_config_apply(const char *config, const char *section, const struct option *opts,
		     const char *const *refused, int *argc, char ***argv, struct gdn_err **err)
{
	char **file = NULL, **merged = NULL, **rest;
	int n_rest = 0, margc = 0;
	size_t n = 0;
	int r;

	rest = calloc((size_t)*argc + 1, sizeof(*rest));
	if (!rest)
		return gdn_err_set(err, ENOMEM, "--config");
	rest[n_rest++] = (*argv)[0];
	for (int i = 1; i < *argc; i++) {
		const char *a = (*argv)[i];
		if (strcmp(a, "--") == 0) {
			for (; i < *argc; i++)
				rest[n_rest++] = (*argv)[i];
			break;
		}
		if (strcmp(a, "--config") == 0 && i + 1 < *argc)
			config = (*argv)[++i];
		else if (strncmp(a, "--config=", 9) == 0)
			config = a + 9;
		else
			rest[n_rest++] = (*argv)[i];
	}
	rest[n_rest] = NULL;
	if (!config) {
		free(rest);
		return 0;
	}
	r = gdn_config_read(config, section, opts, refused, &file, &n, err);
	if (r >= 0)
		r = gdn_config_merge(file, n, n_rest, rest, opts, &merged, &margc, err);
	free(rest);
	if (r < 0) {
		gdn_config_free(file);
		return r;
	}
	/* the file's strings stay: merged (and whatever parses it) points into them */
	free(file);
	*argv = merged;
	*argc = margc;
	return 0;
}
