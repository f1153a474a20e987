#include <errno.h>
#include <ftw.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"
#include "cmd/guardian/disk_usage.h"

int gd_inode_cmp(const void *a, const void *b)
{
	const struct gd_inode_key *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

/* nftw passes no user data: one walk at a time (guardian's workers are single-threaded). */
static struct usage_walk {
	struct gd_disk_usage u;
	bool include_root;
	void *seen;
	int errnum;
} walk;

static int count_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	if (type == FTW_NS || type == FTW_DNR) {
		walk.errnum = EACCES;
		return 1;
	}
	if (ftw->level == 0 && !walk.include_root)
		return 0;
	if (st->st_nlink > 1 && !S_ISDIR(st->st_mode)) {
		struct gd_inode_key *k = malloc(sizeof(*k));
		void **found;
		if (!k) {
			walk.errnum = ENOMEM;
			return 1;
		}
		*k = (struct gd_inode_key){st->st_dev, st->st_ino};
		found = tsearch(k, &walk.seen, gd_inode_cmp);
		if (!found) {
			free(k);
			walk.errnum = ENOMEM;
			return 1;
		}
		if (*found != k) { /* counted through another link */
			free(k);
			return 0;
		}
	}
	walk.u.apparent_bytes += (uint64_t)st->st_size;
	walk.u.allocated_bytes += (uint64_t)st->st_blocks * 512;
	walk.u.inodes++;
	return 0;
}

int gd_disk_usage(const char *root, bool include_root, struct gd_disk_usage *ret,
		  struct gdn_err **err)
{
	walk = (struct usage_walk){.include_root = include_root};
	int r = nftw(root, count_one, 64, FTW_PHYS | FTW_MOUNT);
	int errnum = walk.errnum ? walk.errnum : (r < 0 ? errno : 0);
	tdestroy(walk.seen, free);
	*ret = walk.u;
	walk = (struct usage_walk){0};
	if (errnum)
		return gdn_err_set(err, errnum, "disk usage of '%s'", root);
	return 0;
}
