/* guardian's container limit and security flags. Values are checked here, at start-up, so that
 * a bad one fails the server with its flag's name instead of every create with a runtime's
 * message. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>
#include "lib/cli.h"
#include "lib/util.h"
#include "cmd/guardian/container_flags.h"

#define MAX_DEVICE_RULES 64
#define APPARMOR_ENABLED "/sys/module/apparmor/parameters/enabled"

static struct gd_device_rule device_rules[MAX_DEVICE_RULES];

static int bad_rule(struct gdn_err **err, const char *s, const char *why)
{
	return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
			    "--device-cgroup-rule: '%s' %s (want e.g. 'c 10:229 rwm')", s, why);
}

/* "*" or a decimal number; *end past it. */
static int device_number(const char *p, const char **end, long long *ret)
{
	if (*p == '*') {
		*ret = -1;
		*end = p + 1;
		return 0;
	}
	if (*p < '0' || *p > '9')
		return -EINVAL;
	char *e;
	errno = 0;
	long long v = strtoll(p, &e, 10);
	if (errno || v > UINT32_MAX)
		return -EINVAL;
	*ret = v;
	*end = e;
	return 0;
}

int gd_device_rule_parse(const char *s, struct gd_device_rule *ret, struct gdn_err **err)
{
	struct gd_device_rule r = {0};
	const char *p = s;

	if ((s[0] != 'a' && s[0] != 'b' && s[0] != 'c') || s[1] != ' ')
		return bad_rule(err, s, "must start with a type a, b or c and a space");
	r.type = s[0];
	p = s + 2;
	if (device_number(p, &p, &r.major) < 0 || *p++ != ':' ||
	    device_number(p, &p, &r.minor) < 0 || *p++ != ' ')
		return bad_rule(err, s, "needs MAJOR:MINOR, each a number or '*'");
	size_t n = strlen(p);
	if (n == 0 || n > 3 || strspn(p, "rwm") != n)
		return bad_rule(err, s, "needs an access of some of r, w and m");
	for (size_t i = 0; i < n; i++)
		if (strchr(p + i + 1, p[i]))
			return bad_rule(err, s, "repeats a letter of its access");
	memcpy(r.access, p, n + 1);
	*ret = r;
	return 0;
}

/* A positive decimal such as 0.5 or 12 (Go's float64 flag; here no exponents, NaN or signs). */
static int parse_percent(const char *flag, const char *v, double *ret, struct gdn_err **err)
{
	char *end = NULL;
	double d;

	if (!v || !*v || strspn(v, "0123456789.") != strlen(v))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "--%s: '%s' is not a number",
				    flag, v ? v : "");
	errno = 0;
	d = strtod(v, &end);
	if (errno || *end || !(d > 0) || d > 1e6)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "--%s: '%s' is not a positive number up to 1000000", flag, v);
	*ret = d;
	return 0;
}

double gd_cpu_entitlement_default(long cores, uint64_t ram_bytes)
{
	uint64_t mib = ram_bytes / 1024 / 1024;
	return mib ? (double)cores * 100.0 / (double)mib : 0;
}

int gd_container_flag(int opt, const char *v, struct gd_config *cfg, struct gdn_err **err)
{
	uint32_t u;
	int r;

	switch (opt) {
	case GD_OPT_DISABLE_SWAP_LIMIT:
		cfg->disable_swap_limit = true;
		return 0;
	case GD_OPT_CPU_QUOTA_PER_SHARE:
		if ((r = gdn_cli_u32("cpu-quota-per-share", v, UINT32_MAX, &u, err)) < 0)
			return r;
		cfg->cpu_quota_per_share = u;
		return 0;
	case GD_OPT_BLOCKIO_WEIGHT:
		if ((r = gdn_cli_u32("default-container-blockio-weight", v, 1000, &u, err)) < 0)
			return r;
		/* 10 is the least weight both blkio (v1) and runtimes' io.weight conversion take */
		if (u != 0 && u < 10)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "--default-container-blockio-weight: %u is below 10",
					    u);
		cfg->blockio_weight = (uint16_t)u;
		return 0;
	case GD_OPT_APPARMOR:
		cfg->apparmor_profile = v[0] ? v : NULL;
		return 0;
	case GD_OPT_NO_NEW_PRIVILEGES:
		cfg->no_new_privileges = true;
		return 0;
	case GD_OPT_DEVICE_CGROUP_RULE:
		if (cfg->n_device_rules == MAX_DEVICE_RULES)
			return gdn_err_kind(err, GDN_ERR_GENERIC, E2BIG,
					    "at most %d --device-cgroup-rule", MAX_DEVICE_RULES);
		if ((r = gd_device_rule_parse(v, &device_rules[cfg->n_device_rules], err)) < 0)
			return r;
		cfg->device_rules = device_rules;
		cfg->n_device_rules++;
		return 0;
	case GD_OPT_CPU_ENTITLEMENT_PER_SHARE:
		return parse_percent("cpu-entitlement-per-share", v,
				     &cfg->cpu_entitlement_per_share, err);
	case GD_OPT_NETWORK_METRICS:
		cfg->network_metrics = true;
		return 0;
	default:
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "unknown container flag %d", opt);
	}
}

/* Whether the kernel enforces AppArmor (what runc and crun check before applying a profile). */
static bool apparmor_enabled(void)
{
	char buf[4] = "";
	_cleanup_close_ int fd = open(APPARMOR_ENABLED, O_RDONLY | O_CLOEXEC);

	return fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && buf[0] == 'Y' &&
	       access("/sys/kernel/security/apparmor", F_OK) == 0;
}

int gd_container_flags_finish(struct gd_config *cfg, struct gdn_err **err)
{
	/* Garden hands the profile to the runtime regardless; here every unprivileged create
	 * would then fail, so say it once instead. */
	if (cfg->apparmor_profile && !apparmor_enabled())
		return gdn_err_kind(err, GDN_ERR_GENERIC, EOPNOTSUPP,
				    "--apparmor %s: AppArmor is not enabled on this host",
				    cfg->apparmor_profile);
	if (cfg->cpu_entitlement_per_share == 0) {
		struct sysinfo si;
		if (sysinfo(&si) < 0)
			return gdn_err_set(err, errno, "sysinfo");
		cfg->cpu_entitlement_per_share = gd_cpu_entitlement_default(
		    sysconf(_SC_NPROCESSORS_ONLN), (uint64_t)si.totalram * si.mem_unit);
	}
	return 0;
}
