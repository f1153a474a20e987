/* gaol create: the command line -> a ContainerSpec (spec.c) -> POST /containers. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/gaol/gaol.h"
#include "lib/duration.h"
#include "lib/util.h"

static int parse_count(const struct gl_cmd *cmd, const char *opt, const char *arg, uint64_t *ret)
{
	if (gdn_parse_u64(arg, ret) < 0 || *ret > (uint64_t)INT64_MAX)
		return gl_usage_error(cmd, "invalid %s '%s': expected a non-negative integer", opt,
				      arg);
	return 0;
}

/* Parses the command line into o; 0, or an exit status (help or usage error). The arrays are
 * sized argc: every repeatable option takes at least one argv slot. */
static int parse_create(const struct gl_cmd *cmd, int argc, char **argv, struct gl_create_opts *o,
			char **copies)
{
	size_t n_copies = 0;
	int c, r;

	while ((c = gl_getopt(cmd, argc, argv)) != -1) {
		char *eq;

		switch (c) {
		case 'n':
			o->handle = optarg;
			break;
		case 'r':
			o->rootfs = optarg;
			break;
		case 'e':
			if (!gl_key_value_ok(cmd, "environment variable", optarg))
				return GL_EXIT_USAGE;
			o->env[o->n_env++] = optarg;
			break;
		case 'g':
			if (gdn_parse_duration(optarg, &o->grace_ns) < 0)
				return gl_usage_error(cmd,
						      "invalid grace time '%s': expected a Go "
						      "duration such as 30s, 5m, 1h30m or 500ms",
						      optarg);
			if (o->grace_ns < 0)
				return gl_usage_error(
				    cmd, "invalid grace time '%s': must not be negative", optarg);
			break;
		case 'p':
			o->privileged = true;
			break;
		case 'P':
			if (!gl_key_value_ok(cmd, "property", optarg))
				return GL_EXIT_USAGE;
			/* Split in a copy: argv stays intact for getopt. */
			copies[n_copies] = strdup(optarg);
			if (!copies[n_copies])
				return gl_fail(NULL);
			eq = copies[n_copies] + strcspn(optarg, "=");
			*eq = '\0';
			o->props[o->n_props++] = (struct gl_kv){copies[n_copies++], eq + 1};
			break;
		case 'm':
			r = gl_parse_mount(optarg, &o->mounts[o->n_mounts], &copies[n_copies]);
			if (r == -ENOMEM)
				return gl_fail(NULL);
			if (r < 0)
				return gl_usage_error(
				    cmd, "invalid bind mount '%s': expected SRC:DST[:ro|rw]",
				    optarg);
			n_copies++;
			o->n_mounts++;
			break;
		case GL_OPT_MEMORY:
			if (gl_parse_bytes(optarg, &o->memory_bytes) < 0)
				return gl_usage_error(cmd,
						      "invalid memory limit '%s': expected BYTES, "
						      "optionally with a K, M, G or T suffix",
						      optarg);
			break;
		case GL_OPT_CPU_SHARES:
			r = parse_count(cmd, "CPU shares", optarg, &o->cpu_shares);
			if (r)
				return r;
			break;
		case GL_OPT_PIDS:
			r = parse_count(cmd, "process limit", optarg, &o->pids);
			if (r)
				return r;
			break;
		default:
			return gl_opt_other(cmd, c) == GL_EXIT_OK ? -1 : GL_EXIT_USAGE;
		}
	}
	if (!gl_nargs_ok(cmd, argc, argv, 0, 0))
		return GL_EXIT_USAGE;
	return 0;
}

struct create_state {
	struct gl_create_opts o;
	char **copies;
};

static void create_state_free(struct create_state *s)
{
	if (s->copies)
		for (char **p = s->copies; *p; p++)
			free(*p);
	free(s->copies);
	free(s->o.env);
	free(s->o.props);
	free(s->o.mounts);
}

int gl_cmd_create(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_(create_state_free) struct create_state s = {0};
	_cleanup_err_ struct gdn_err *err = NULL;
	json_auto_t *spec = NULL;
	json_auto_t *resp = NULL;
	const char *handle;
	size_t n = (size_t)argc + 1;
	int r;

	s.copies = calloc(n, sizeof(*s.copies));
	s.o.env = calloc(n, sizeof(*s.o.env));
	s.o.props = calloc(n, sizeof(*s.o.props));
	s.o.mounts = calloc(n, sizeof(*s.o.mounts));
	if (!s.copies || !s.o.env || !s.o.props || !s.o.mounts)
		return gl_fail(NULL);

	r = parse_create(cmd, argc, argv, &s.o, s.copies);
	if (r == -1)
		return GL_EXIT_OK; /* --help */
	if (r)
		return r;

	spec = gl_create_spec(&s.o);
	if (!spec)
		return gl_usage_error(cmd, "cannot encode the container spec (is every "
					   "property key valid UTF-8?)");
	if (gl_call("POST", "/containers", spec, &resp, &err) < 0)
		return gl_fail(err);
	handle = json_string_value(gdn_json_get(resp, "Handle"));
	if (!handle) {
		gdn_err_set(&err, 0, "bad response: no handle in the answer to create");
		return gl_fail(err);
	}
	printf("%s\n", handle);
	return GL_EXIT_OK;
}
