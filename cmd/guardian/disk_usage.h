/* What a directory tree holds, counted as `du` does: for the image's share of a total-scope disk
 * limit (grootfs sizes a volume with `du -bs`) and for DiskStat on a store without project
 * quotas. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/err.h"

struct gd_disk_usage {
	uint64_t apparent_bytes;  /* sum of st_size (du -b), each inode once */
	uint64_t allocated_bytes; /* sum of st_blocks * 512 (du -B1), each inode once */
	uint64_t inodes;	  /* distinct inodes */
};

/* Walks `root` without following symlinks or crossing into other file systems; with
 * `include_root` false the root directory itself is not counted. */
int gd_disk_usage(const char *root, bool include_root, struct gd_disk_usage *ret,
		  struct gdn_err **err);

/* A file's identity, for the tsearch trees of walks that must see each hard-linked inode once
 * (this count, and the volumizer's uid shift). */
struct gd_inode_key {
	dev_t dev;
	ino_t ino;
};
int gd_inode_cmp(const void *a, const void *b);
