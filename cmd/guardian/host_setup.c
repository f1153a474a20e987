/* guardian setup: cgroups, store, kernel settings, kawasaki's global chains. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/fs.h"
#include "lib/util.h"
#include "cmd/guardian/cgroup_setup.h"
#include "cmd/guardian/host_setup.h"
#include "cmd/guardian/kawasaki_proc.h"
#include "cmd/guardian/store_setup.h"

struct sysctl {
	const char *path;
	uint64_t value;
	bool at_least; /* only ever raised */
};

/* IPv4 forwarding carries the containers' traffic (kawasaki sets it too); a Diego cell runs
 * tens of thousands of processes (Garden raises pid_max); container users must not read the
 * host's kernel log (Garden restricts dmesg). */
static const struct sysctl sysctls[] = {
    {"/proc/sys/net/ipv4/ip_forward", 1, false},
    {"/proc/sys/kernel/pid_max", 4194304, true},
    {"/proc/sys/kernel/dmesg_restrict", 1, false},
};

static int set_sysctl(const struct sysctl *s, struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	uint64_t now = 0;
	char value[32];
	int r = gdn_fs_read_file(s->path, 64, &text, &len, err);

	if (r < 0)
		return r;
	const char *was = gdn_str_trim(text);
	if (gdn_parse_u64(was, &now) < 0)
		return gdn_err_set(err, EINVAL, "'%s' holds '%s', not a number", s->path, was);
	if (now == s->value || (s->at_least && now > s->value))
		return 0;
	int n = snprintf(value, sizeof(value), "%" PRIu64 "\n", s->value);
	r = gdn_fs_write_file(s->path, value, (size_t)n, err);
	if (r < 0)
		return gdn_err_wrap(err, "set '%s'", s->path);
	value[n - 1] = '\0';
	gdn_log_info(log, "set-sysctl", "path", s->path, "from", was, "to", value, NULL);
	return 0;
}

int gd_host_setup(const struct gd_config *cfg, struct gdn_log *log, struct gdn_err **err)
{
	int r = 0;

	gd_cgroup_setup(log);
	if (cfg->store && (r = gd_store_setup(cfg->store, cfg->store_size, log, err)) < 0) {
		if (r != -EOPNOTSUPP)
			return r;
		/* the plain store still serves; a disk limit is then refused, saying why */
		gdn_log_error(log, "store-without-quotas", err ? *err : NULL, NULL);
		if (err) {
			gdn_err_free(*err);
			*err = NULL;
		}
	}
	for (size_t i = 0; i < GDN_ARRAY_SIZE(sysctls); i++)
		if ((r = set_sysctl(&sysctls[i], log, err)) < 0)
			return r;
	if (!cfg->network_plugin && !cfg->no_networking && !cfg->kawasaki_socket)
		r = gd_kawasaki_setup(cfg, log, err);
	return r;
}
