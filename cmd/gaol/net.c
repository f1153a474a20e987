/* gaol net-in and net-out: the real gaol's commands over NetIn and NetOut. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cmd/gaol/gaol.h"
#include "lib/util.h"

/* A port flag: 0 to 65535 (net-in's -p 0 lets the server pick the container port too). */
static bool parse_port(const char *s, uint32_t *ret)
{
	return gdn_parse_u32(s, ret) >= 0 && *ret <= 65535;
}

/* net-in: maps a host port from the server's pool to the container port; prints HOST:PORT
 * (the target's host) for a TCP target, as gaol does, or the host port alone for a UNIX one. */
int gl_cmd_net_in(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	json_auto_t *body = NULL, *resp = NULL;
	uint32_t port = 0;
	bool have_port = false;
	int c;

	while ((c = gl_getopt(cmd, argc, argv)) != -1) {
		if (c != 'p')
			return gl_opt_other(cmd, c);
		if (!parse_port(optarg, &port))
			return gl_usage_error(cmd, "invalid port '%s': expected 0 to 65535",
					      optarg);
		have_port = true;
	}
	if (!have_port)
		return gl_usage_error(cmd, "-p/--port is required");
	if (!gl_nargs_ok(cmd, argc, argv, 1, 1))
		return GL_EXIT_USAGE;
	if (!*argv[optind])
		return gl_usage_error(cmd, "empty handle");

	path = gl_container_path(argv[optind], "/net/in");
	body = json_pack("{s:s, s:I}", "handle", argv[optind], "container_port", (json_int_t)port);
	if (!path || !body || gl_call("POST", path, body, &resp, &err) < 0)
		return gl_fail(err);
	json_t *hp = json_object_get(resp, "host_port");
	if (!json_is_integer(hp)) {
		gdn_err_set(&err, 0, "bad response: no host_port");
		return gl_fail(err);
	}
	const char *target = gl_target();
	if (strchr(target, '/')) {
		printf("%lld\n", (long long)json_integer_value(hp));
		return GL_EXIT_OK;
	}
	/* HOST:PORT, [V6]:PORT: the host is everything before the last ':' */
	const char *colon = strrchr(target, ':');
	int hl = colon ? (int)(colon - target) : (int)strlen(target);
	printf("%.*s:%lld\n", hl, target, (long long)json_integer_value(hp));
	return GL_EXIT_OK;
}

static int parse_ip(const char *s, char *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	return inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN) ? 0 : -1;
}

/* net-out: allows the container's traffic to one IP range and port range (Garden's NetOutRule,
 * protocol tcp or udp); prints "applied". */
int gl_cmd_net_out(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	json_auto_t *body = NULL;
	char ip_start[INET_ADDRSTRLEN] = "", ip_end[INET_ADDRSTRLEN] = "";
	uint32_t port_start = 0, port_end = 0;
	int protocol = 0, seen = 0, c;

	while ((c = gl_getopt(cmd, argc, argv)) != -1) {
		switch (c) {
		case 'p':
			if (strcmp(optarg, "tcp") == 0)
				protocol = 1;
			else if (strcmp(optarg, "udp") == 0)
				protocol = 2;
			else
				return gl_usage_error(cmd, "invalid protocol '%s': tcp or udp",
						      optarg);
			seen |= 1;
			break;
		case GL_OPT_IP_START:
		case GL_OPT_IP_END:
			if (parse_ip(optarg, c == GL_OPT_IP_START ? ip_start : ip_end) < 0)
				return gl_usage_error(cmd, "invalid IP: '%s'", optarg);
			seen |= c == GL_OPT_IP_START ? 2 : 4;
			break;
		case GL_OPT_PORT_START:
		case GL_OPT_PORT_END:
			if (!parse_port(optarg, c == GL_OPT_PORT_START ? &port_start : &port_end))
				return gl_usage_error(cmd, "invalid port '%s': expected 0 to 65535",
						      optarg);
			seen |= c == GL_OPT_PORT_START ? 8 : 16;
			break;
		default:
			return gl_opt_other(cmd, c);
		}
	}
	if (seen != 31)
		return gl_usage_error(cmd, "-p/--protocol, --ip-start, --ip-end, --port-start and "
					   "--port-end are required");
	if (!gl_nargs_ok(cmd, argc, argv, 1, 1))
		return GL_EXIT_USAGE;
	if (!*argv[optind])
		return gl_usage_error(cmd, "empty handle");

	path = gl_container_path(argv[optind], "/net/out");
	body = json_pack("{s:i, s:[{s:s, s:s}], s:[{s:I, s:I}]}", "protocol", protocol, "networks",
			 "start", ip_start, "end", ip_end, "ports", "start", (json_int_t)port_start,
			 "end", (json_int_t)port_end);
	if (!path || !body || gl_call("POST", path, body, NULL, &err) < 0)
		return gl_fail(err);
	printf("applied\n");
	return GL_EXIT_OK;
}
