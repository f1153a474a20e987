/* gaol create's ContainerSpec and gaol run's ProcessSpec, built as Go's client encodes them
 * (protocol §9.1, §9.2), and the parsers of option values. No I/O here, so that it can be
 * unit-tested. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/gaol/gaol.h"
#include "lib/util.h"

/* Sets key to val (a NULL val, from a failed allocation, fails). */
static int set(json_t *obj, const char *key, json_t *val)
{
	return json_object_set_new(obj, key, val);
}

static json_t *bind_mounts(const struct gl_create_opts *o)
{
	json_auto_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; i < o->n_mounts; i++) {
		json_t *m = json_object();

		/* BindMount: src_path, dst_path, mode (1 = RW), origin; all omitempty. */
		if (json_array_append_new(a, m) < 0 ||
		    set(m, "src_path", gl_json_string(o->mounts[i].src)) < 0 ||
		    set(m, "dst_path", gl_json_string(o->mounts[i].dst)) < 0 ||
		    (o->mounts[i].rw && set(m, "mode", json_integer(1)) < 0))
			return NULL;
	}
	return gdn_steal_ptr(&a);
}

/* map[string]string: a later KEY replaces an earlier one; encoded with keys sorted. */
static json_t *properties(const struct gl_create_opts *o)
{
	json_auto_t *tmp = json_object();
	json_auto_t *sorted = json_object();
	_cleanup_free_ const char **keys = NULL;

	if (!tmp || !sorted)
		return NULL;
	for (size_t i = 0; i < o->n_props; i++)
		if (set(tmp, o->props[i].key, gl_json_string(o->props[i].value)) < 0)
			return NULL;
	keys = gl_sorted_keys(tmp);
	if (!keys)
		return NULL;
	for (size_t i = 0; keys[i]; i++)
		if (json_object_set(sorted, keys[i], json_object_get(tmp, keys[i])) < 0)
			return NULL;
	return gdn_steal_ptr(&sorted);
}

static json_t *string_array(const char *const *v, size_t n)
{
	json_auto_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(a, gl_json_string(v[i])) < 0)
			return NULL;
	return gdn_steal_ptr(&a);
}

/* Limits: every member struct is present (Go never omits a struct), their fields omitempty. */
static json_t *limits(const struct gl_create_opts *o)
{
	json_auto_t *l = json_object();
	json_auto_t *cpu = json_object();
	json_auto_t *mem = json_object();
	json_auto_t *pid = json_object();

	if (!l || !cpu || !mem || !pid)
		return NULL;
	if (o->cpu_shares &&
	    set(cpu, "limit_in_shares", json_integer((json_int_t)o->cpu_shares)) < 0)
		return NULL;
	if (o->memory_bytes &&
	    set(mem, "limit_in_bytes", json_integer((json_int_t)o->memory_bytes)) < 0)
		return NULL;
	if (o->pids && set(pid, "max", json_integer((json_int_t)o->pids)) < 0)
		return NULL;
	/* json_object_set() takes its own reference; ours go at the end of the scope. */
	if (set(l, "bandwidth_limits", json_object()) < 0 ||
	    json_object_set(l, "cpu_limits", cpu) < 0 || set(l, "disk_limits", json_object()) < 0 ||
	    json_object_set(l, "memory_limits", mem) < 0 ||
	    json_object_set(l, "pid_limits", pid) < 0)
		return NULL;
	return gdn_steal_ptr(&l);
}

json_t *gl_create_spec(const struct gl_create_opts *o)
{
	json_auto_t *spec = json_object();

	/* Field order is ContainerSpec's declaration order. */
	if (!spec)
		return NULL;
	if (o->handle && *o->handle && set(spec, "handle", gl_json_string(o->handle)) < 0)
		return NULL;
	if (o->grace_ns && set(spec, "grace_time", json_integer(o->grace_ns)) < 0)
		return NULL;
	if (o->rootfs && *o->rootfs && set(spec, "rootfs", gl_json_string(o->rootfs)) < 0)
		return NULL;
	if (set(spec, "image", json_object()) < 0)
		return NULL;
	if (o->n_mounts && set(spec, "bind_mounts", bind_mounts(o)) < 0)
		return NULL;
	if (o->n_props && set(spec, "properties", properties(o)) < 0)
		return NULL;
	if (o->n_env && set(spec, "env", string_array(o->env, o->n_env)) < 0)
		return NULL;
	if (o->privileged && set(spec, "privileged", json_true()) < 0)
		return NULL;
	if (set(spec, "limits", limits(o)) < 0)
		return NULL;
	return gdn_steal_ptr(&spec);
}

static bool nonempty(const char *s)
{
	return s && *s;
}

json_t *gl_process_spec(const struct gl_process_opts *o)
{
	json_auto_t *spec = json_object();

	/* ProcessSpec's declaration order: id, path, args, env, dir, user, rlimits, limits, tty,
	 * image, bind_mounts. */
	if (!spec)
		return NULL;
	if (nonempty(o->id) && set(spec, "id", gl_json_string(o->id)) < 0)
		return NULL;
	if (nonempty(o->path) && set(spec, "path", gl_json_string(o->path)) < 0)
		return NULL;
	if (o->n_args && set(spec, "args", string_array(o->args, o->n_args)) < 0)
		return NULL;
	if (o->n_env && set(spec, "env", string_array(o->env, o->n_env)) < 0)
		return NULL;
	if (nonempty(o->dir) && set(spec, "dir", gl_json_string(o->dir)) < 0)
		return NULL;
	if (nonempty(o->user) && set(spec, "user", gl_json_string(o->user)) < 0)
		return NULL;
	if (set(spec, "rlimits", json_object()) < 0)
		return NULL;
	if (o->tty && set(spec, "tty",
			  json_pack("{s:{s:I,s:I}}", "window_size", "columns",
				    (json_int_t)o->columns, "rows", (json_int_t)o->rows)) < 0)
		return NULL;
	if (set(spec, "image",
		nonempty(o->image) ? json_pack("{s:o}", "uri", gl_json_string(o->image))
				   : json_object()) < 0)
		return NULL;
	return gdn_steal_ptr(&spec);
}

int gl_parse_mount(const char *s, struct gl_mount *m, char **ret_copy)
{
	char *copy = strdup(s);
	char *colon, *mode;

	*ret_copy = NULL;
	if (!copy)
		return -ENOMEM;
	*m = (struct gl_mount){.src = copy};
	colon = strchr(copy, ':');
	if (!colon)
		goto invalid;
	*colon = '\0';
	m->dst = colon + 1;
	mode = strchr(m->dst, ':');
	if (mode) {
		*mode++ = '\0';
		if (strcmp(mode, "rw") == 0)
			m->rw = true;
		else if (strcmp(mode, "ro") != 0)
			goto invalid;
	}
	if (!*m->src || !*m->dst)
		goto invalid;
	*ret_copy = copy;
	return 0;
invalid:
	free(copy);
	*m = (struct gl_mount){0};
	return -EINVAL;
}

int gl_parse_bytes(const char *s, uint64_t *ret)
{
	size_t digits = strspn(s, "0123456789");
	_cleanup_free_ char *num = NULL;
	unsigned shift = 0;
	uint64_t n;
	int r;

	if (digits == 0)
		return -EINVAL;
	if (s[digits]) {
		if (s[digits + 1])
			return -EINVAL;
		switch (s[digits]) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		case 't':
		case 'T':
			shift = 40;
			break;
		default:
			return -EINVAL;
		}
	}
	num = strndup(s, digits);
	if (!num)
		return -ENOMEM;
	r = gdn_parse_u64(num, &n);
	if (r < 0)
		return r;
	if (n > (uint64_t)INT64_MAX >> shift)
		return -ERANGE;
	*ret = n << shift;
	return 0;
}
