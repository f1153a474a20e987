/* kawasaki's iptables layer: one libiptc handle per table and request, under the xtables lock. */
/* libiptc first: its net/if.h must come before the first linux/ header (libc-compat.h) */
#include "cmd/kawasaki/ipt_entry.h"
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <bsd/string.h>
#include <linux/netfilter/xt_comment.h>

#include "cmd/kawasaki/ipt.h"
#include "lib/util.h"

/* iptables' XT_LOCK_NAME (xtables.h, which libiptc-dev does not ship): iptables-legacy -w and
 * iptables-legacy-restore take it around their read-modify-replace of a table. Like them, we
 * take $XTABLES_LOCKFILE instead when it is set. */
#define KW_XT_LOCK_NAME "/run/xtables.lock"
#define LOCK_POLL_NS (10 * 1000 * 1000ull) /* iptables -W's default interval is 1 s; ours 10 ms */

struct kw_ipt {
	struct xtc_handle *h;
	int lock_fd;
	bool changed;
	char table[XT_TABLE_MAXNAMELEN];
};

/* timeout_ms < 0: no limit */
static int lock_take(int timeout_ms, int *ret_fd, struct gdn_err **err)
{
	uint64_t deadline =
	    gdn_now_mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;
	const char *path = getenv("XTABLES_LOCKFILE");
	_cleanup_close_ int fd = -1;

	if (!path || !path[0])
		path = KW_XT_LOCK_NAME;
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return gdn_err_set(err, errno, "can't open lock file %s", path);
	for (;;) {
		uint64_t now, nap;

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return gdn_err_set(err, errno, "can't lock %s", path);
		now = gdn_now_mono_ns();
		if (timeout_ms >= 0 && now >= deadline)
			return gdn_err_kind(
			    err, GDN_ERR_GENERIC, ETIMEDOUT,
			    "another app is currently holding the xtables lock (%s); "
			    "stopped waiting after %d ms",
			    path, timeout_ms);
		nap = timeout_ms >= 0 && deadline - now < LOCK_POLL_NS ? deadline - now
								       : LOCK_POLL_NS;
		(void)nanosleep(&(struct timespec){.tv_nsec = (long)nap}, NULL);
	}
	*ret_fd = gdn_steal_fd(&fd);
	return 0;
}

int kw_ipt_begin(const char *table, int timeout_ms, struct kw_ipt **ret, struct gdn_err **err)
{
	_cleanup_free_ struct kw_ipt *t = NULL;
	int r;

	*ret = NULL;
	if (strlen(table) >= sizeof(t->table))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "table name `%s' too long",
				    table);
	t = calloc(1, sizeof(*t));
	if (!t)
		return gdn_err_set(err, ENOMEM, "opening iptables table `%s'", table);
	(void)strlcpy(t->table, table, sizeof(t->table));
	if ((r = lock_take(timeout_ms, &t->lock_fd, err)) < 0)
		return r;
	t->h = iptc_init(table);
	if (!t->h) {
		int e = errno ? errno : EIO;

		(void)close(t->lock_fd);
		return gdn_err_kind(err, GDN_ERR_GENERIC, e,
				    "can't initialize iptables table `%s': %s", table,
				    iptc_strerror(e));
	}
	*ret = gdn_steal_ptr(&t);
	return 0;
}

static void release(struct kw_ipt *t)
{
	if (t->h)
		iptc_free(t->h);
	(void)close(t->lock_fd); /* drops the flock */
	free(t);
}

int kw_ipt_commit(struct kw_ipt *t, struct gdn_err **err)
{
	int r = 0;

	if (t->changed && !iptc_commit(t->h)) {
		int e = errno ? errno : EIO;

		r = gdn_err_kind(err, GDN_ERR_GENERIC, e, "committing iptables table `%s': %s",
				 t->table, iptc_strerror(e));
	}
	release(t);
	return r;
}

void kw_ipt_abort(struct kw_ipt *t)
{
	if (t)
		release(t);
}

/* An iptc failure of `what` on `chain`, worded with libiptc's reason. */
static int iptc_err(struct kw_ipt *t, struct gdn_err **err, const char *what, const char *chain)
{
	int e = errno ? errno : EIO;

	return gdn_err_kind(err, GDN_ERR_GENERIC, e, "iptables %s chain `%s' in table `%s': %s",
			    what, chain, t->table, iptc_strerror(e));
}

bool kw_ipt_chain_exists(struct kw_ipt *t, const char *chain)
{
	return iptc_is_chain(chain, t->h) != 0;
}

int kw_ipt_chain_create(struct kw_ipt *t, const char *chain, struct gdn_err **err)
{
	if (kw_ipt_chain_exists(t, chain))
		return 0;
	if (!iptc_create_chain(chain, t->h))
		return iptc_err(t, err, "creating", chain);
	t->changed = true;
	return 0;
}

int kw_ipt_chain_flush(struct kw_ipt *t, const char *chain, struct gdn_err **err)
{
	if (!kw_ipt_chain_exists(t, chain) || !iptc_first_rule(chain, t->h))
		return 0;
	if (!iptc_flush_entries(chain, t->h))
		return iptc_err(t, err, "flushing", chain);
	t->changed = true;
	return 0;
}

int kw_ipt_chain_delete(struct kw_ipt *t, const char *chain, struct gdn_err **err)
{
	unsigned refs = 0;
	int r;

	if (!kw_ipt_chain_exists(t, chain))
		return 0;
	/* libiptc's own answer would be EMLINK, "Too many links" */
	if (iptc_get_references(&refs, chain, t->h) && refs > 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EBUSY,
				    "iptables deleting chain `%s' in table `%s': it is still "
				    "referenced (%u references)",
				    chain, t->table, refs);
	if ((r = kw_ipt_chain_flush(t, chain, err)) < 0)
		return r;
	if (!iptc_delete_chain(chain, t->h))
		return iptc_err(t, err, "deleting", chain);
	t->changed = true;
	return 0;
}

/* The entry for r, after the checks libiptc would leave to the kernel (a jump to a chain that is
 * not there becomes a module target named like it, refused only at commit). */
static int build(struct kw_ipt *t, const char *chain, const struct kw_rule *r,
		 struct ipt_entry **ret, struct gdn_err **err)
{
	if (!kw_ipt_chain_exists(t, chain))
		return gdn_err_kind(err, GDN_ERR_GENERIC, ENOENT,
				    "iptables: no chain `%s' in table `%s'", chain, t->table);
	if ((r->target == KW_T_JUMP || r->target == KW_T_GOTO) && r->chain &&
	    !kw_ipt_chain_exists(t, r->chain))
		return gdn_err_kind(err, GDN_ERR_GENERIC, ENOENT,
				    "iptables: no chain `%s' in table `%s' to jump to", r->chain,
				    t->table);
	return kw_ipt_entry_build(r, ret, err);
}

int kw_ipt_append(struct kw_ipt *t, const char *chain, const struct kw_rule *r,
		  struct gdn_err **err)
{
	_cleanup_free_ struct ipt_entry *e = NULL;
	int ret;

	if ((ret = build(t, chain, r, &e, err)) < 0)
		return ret;
	if (!iptc_append_entry(chain, e, t->h))
		return iptc_err(t, err, "appending to", chain);
	t->changed = true;
	return 0;
}

int kw_ipt_insert(struct kw_ipt *t, const char *chain, unsigned pos, const struct kw_rule *r,
		  struct gdn_err **err)
{
	_cleanup_free_ struct ipt_entry *e = NULL;
	int ret;

	if ((ret = build(t, chain, r, &e, err)) < 0)
		return ret;
	/* libiptc refuses a position past the end (E2BIG): that is an append */
	if (!iptc_insert_entry(chain, e, pos, t->h)) {
		if (errno != E2BIG)
			return iptc_err(t, err, "inserting into", chain);
		if (!iptc_append_entry(chain, e, t->h))
			return iptc_err(t, err, "appending to", chain);
	}
	t->changed = true;
	return 0;
}

/* What iptc says of a table entry's target. A rule added in this session that jumps to a chain
 * still holds the chain's name where the kernel's copy holds "", hence the chain check. */
static struct kw_ipt_entry_target entry_target(struct kw_ipt *t, const struct ipt_entry *e)
{
	const struct xt_entry_target *xt = (const void *)((const char *)e + e->target_offset);
	const char *label = iptc_get_target(e, t->h);

	return (struct kw_ipt_entry_target){
	    .label = label ? label : "",
	    .module = xt->u.user.name[0] && !iptc_is_chain(xt->u.user.name, t->h),
	};
}

bool kw_ipt_has_rule(struct kw_ipt *t, const char *chain, const struct kw_rule *r)
{
	_cleanup_free_ struct ipt_entry *want = NULL;

	if (!kw_ipt_chain_exists(t, chain) || kw_ipt_entry_build(r, &want, NULL) < 0)
		return false;
	for (const struct ipt_entry *e = iptc_first_rule(chain, t->h); e;
	     e = iptc_next_rule(e, t->h)) {
		struct kw_ipt_entry_target et = entry_target(t, e);

		if (kw_ipt_entry_same(want, r, e, &et))
			return true;
	}
	return false;
}

/* Deletes the rules of `chain` for which match(e) holds, last first (a rule number stays valid
 * while only rules after it go). Returns how many. */
static int delete_where(struct kw_ipt *t, const char *chain,
			bool (*match)(struct kw_ipt *t, const struct ipt_entry *e, const void *arg),
			const void *arg, struct gdn_err **err)
{
	_cleanup_free_ unsigned *nums = NULL;
	size_t n = 0, cap = 0;
	unsigned i = 0;

	if (!kw_ipt_chain_exists(t, chain))
		return 0;
	for (const struct ipt_entry *e = iptc_first_rule(chain, t->h); e;
	     e = iptc_next_rule(e, t->h), i++) {
		if (!match(t, e, arg))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			unsigned *p = reallocarray(nums, ncap, sizeof(*p));

			if (!p)
				return gdn_err_set(err, ENOMEM, "deleting rules of chain `%s'",
						   chain);
			nums = p;
			cap = ncap;
		}
		nums[n++] = i;
	}
	for (size_t k = n; k-- > 0;) {
		if (!iptc_delete_num_entry(chain, nums[k], t->h))
			return iptc_err(t, err, "deleting a rule of", chain);
		t->changed = true;
	}
	return (int)n;
}

static bool jumps_to(struct kw_ipt *t, const struct ipt_entry *e, const void *target)
{
	struct kw_ipt_entry_target et = entry_target(t, e);

	return !et.module && strcmp(et.label, target) == 0;
}

int kw_ipt_delete_jumps(struct kw_ipt *t, const char *chain, const char *target,
			struct gdn_err **err)
{
	return delete_where(t, chain, jumps_to, target, err);
}

struct commented {
	const char *comment;
	enum kw_target target;
};

static bool is_verdict(const char *label)
{
	return strcmp(label, "ACCEPT") == 0 || strcmp(label, "DROP") == 0 ||
	       strcmp(label, "RETURN") == 0 || strcmp(label, "QUEUE") == 0 || !label[0];
}

static bool has_comment(struct kw_ipt *t, const struct ipt_entry *e, const void *arg)
{
	const struct commented *c = arg;
	struct kw_ipt_entry_target et = entry_target(t, e);
	struct kw_rule r = {.target = c->target};
	char buf[XT_MAX_COMMENT_LEN];
	const char *comment = kw_ipt_entry_comment(e, buf);

	if (!comment || strncmp(comment, c->comment, XT_MAX_COMMENT_LEN - 1) != 0)
		return false;
	switch (c->target) {
	case KW_T_JUMP:
	case KW_T_GOTO:
		/* any chain, by the kind of jump */
		return !et.module && !is_verdict(et.label) &&
		       ((e->ip.flags & IPT_F_GOTO) != 0) == (c->target == KW_T_GOTO);
	default:
		return et.module == kw_ipt_rule_target_is_module(&r) &&
		       strcmp(et.label, kw_ipt_rule_target(&r)) == 0;
	}
}

int kw_ipt_delete_commented(struct kw_ipt *t, const char *chain, const char *comment,
			    enum kw_target target, struct gdn_err **err)
{
	struct commented c = {.comment = comment, .target = target};

	return delete_where(t, chain, has_comment, &c, err);
}

void kw_ipt_chains(struct kw_ipt *t, const char *prefix, void (*fn)(const char *chain, void *arg),
		   void *arg)
{
	size_t n = strlen(prefix);

	for (const char *c = iptc_first_chain(t->h); c; c = iptc_next_chain(t->h))
		if (!iptc_builtin(c, t->h) && strncmp(c, prefix, n) == 0)
			fn(c, arg);
}

int kw_ipt_format_chain(struct kw_ipt *t, const char *chain, struct gdn_buf *out,
			struct gdn_err **err)
{
	int r;

	if (!kw_ipt_chain_exists(t, chain))
		return 0;
	for (const struct ipt_entry *e = iptc_first_rule(chain, t->h); e;
	     e = iptc_next_rule(e, t->h)) {
		struct kw_ipt_entry_target et = entry_target(t, e);

		if ((r = gdn_buf_printf(out, "-A %s", chain)) < 0 ||
		    (r = kw_ipt_entry_format(e, &et, out)) < 0 || (r = gdn_buf_puts(out, "\n")) < 0)
			return gdn_err_set(err, -r, "formatting chain `%s'", chain);
	}
	return 0;
}
