/* Capability names and the bounding set of this process (for privileged containers: asking a
 * runtime for a capability outside the bounding set makes it fail "unable to apply caps"). */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "lib/err.h"
#include "lib/fs.h"
#include "cmd/guardian/caps.h"
#include "cmd/guardian/container.h"

static const char *const cap_names[GD_CAP_LAST + 1] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

/* Garden's unprivileged list, in Garden's order. */
static const char *const unprivileged_names[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",	       "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",	       "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",	   "CAP_AUDIT_WRITE",
};

const char *gd_cap_name(unsigned cap)
{
	return cap <= GD_CAP_LAST ? cap_names[cap] : NULL;
}

int gd_cap_from_name(const char *name)
{
	if (strncasecmp(name, "CAP_", 4) == 0)
		name += 4;
	for (unsigned i = 0; i <= GD_CAP_LAST; i++)
		if (strcasecmp(cap_names[i] + 4, name) == 0)
			return (int)i;
	return -EINVAL;
}

uint64_t gd_caps_unprivileged(void)
{
	uint64_t set = 0;
	for (size_t i = 0; i < GDN_ARRAY_SIZE(unprivileged_names); i++)
		set |= UINT64_C(1) << gd_cap_from_name(unprivileged_names[i]);
	return set;
}

uint64_t gd_caps_all(void)
{
	return (UINT64_C(1) << (GD_CAP_LAST + 1)) - 1;
}

int gd_caps_bounding(uint64_t *ret, struct gdn_err **err)
{
	_cleanup_free_ char *status = NULL;
	size_t len = 0;
	int r = gdn_fs_read_file("/proc/self/status", 1 << 20, &status, &len, err);
	if (r < 0)
		return r;
	const char *p = strstr(status, "\nCapBnd:");
	if (!p)
		return gdn_err_set(err, EINVAL, "no CapBnd in /proc/self/status");
	p += strlen("\nCapBnd:");
	p += strspn(p, " \t");
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 16);
	if (errno != 0 || end == p || (*end != '\n' && *end != '\0'))
		return gdn_err_set(err, EINVAL, "cannot parse CapBnd in /proc/self/status");
	*ret = (uint64_t)v;
	return 0;
}
