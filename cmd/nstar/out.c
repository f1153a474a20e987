/* Stream-out: `member` (relative to the cwd) packed with libarchive into a pax archive on out_fd:
 * symlinks stored as symlinks (never followed), hard links as links to their first occurrence,
 * sparse files with their holes (SEEK_DATA/SEEK_HOLE) left out of the stream, extended
 * attributes kept. Directory names end in '/' as GNU tar writes them. Nothing is written before
 * the member is known to exist, so a missing source is an error with no output; any later error
 * stops the archive short (guardian then truncates the response). */
#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/nstar/nstar.h"

#define ZERO_BLOCK (64 * 1024)
#define WRITE_BLOCK (256 * 1024)

static void free_read(struct archive **a)
{
	if (*a)
		(void)archive_read_free(*a);
}

static void free_write(struct archive **a)
{
	if (*a)
		(void)archive_write_free(*a);
}

static void free_resolver(struct archive_entry_linkresolver **r)
{
	if (*r)
		archive_entry_linkresolver_free(*r);
}

static void free_entry(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}

/* The file's data; the holes of a sparse file are handed over as zeros, which the pax writer
 * drops again (the entry's sparse map says where they are). */
static int copy_data(struct archive *disk, struct archive *out, const char *name,
		     struct gdn_err **err)
{
	static const char zeros[ZERO_BLOCK];
	la_int64_t done = 0, off;
	const void *buf;
	size_t len;

	for (;;) {
		int r = archive_read_data_block(disk, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return gdn_err_set(err, 0, "%s: Read error: %s", name, nst_why(disk));
		while (done < off) {
			size_t n = off - done > ZERO_BLOCK ? ZERO_BLOCK : (size_t)(off - done);
			la_ssize_t w = archive_write_data(out, zeros, n);
			if (w <= 0)
				return gdn_err_set(err, 0, "write: %s", nst_why(out));
			done += w;
		}
		while (len > 0) {
			la_ssize_t w = archive_write_data(out, buf, len);
			if (w <= 0)
				return gdn_err_set(err, 0, "write: %s", nst_why(out));
			buf = (const char *)buf + w;
			len -= (size_t)w;
			done += w;
		}
	}
}

int nst_pack(int out_fd, const char *member, struct gdn_log *log, struct gdn_err **err)
{
	__attribute__((cleanup(free_read))) struct archive *disk = archive_read_disk_new();
	__attribute__((cleanup(free_write))) struct archive *out = archive_write_new();
	__attribute__((cleanup(free_resolver))) struct archive_entry_linkresolver *links =
	    archive_entry_linkresolver_new();
	struct stat st;

	if (!disk || !out || !links)
		return gdn_err_set(err, ENOMEM, "libarchive");
	if (lstat(member, &st) < 0)
		return gdn_err_set(err, errno, "%s: Cannot stat", member);
	/* no uname/gname lookups: they would load NSS modules of the container's libc */
	(void)archive_read_disk_set_symlink_physical(disk);
	(void)archive_read_disk_set_behavior(disk,
					     ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS);
	if (archive_read_disk_open(disk, member) != ARCHIVE_OK)
		return gdn_err_set(err, 0, "%s: Cannot open: %s", member, nst_why(disk));
	(void)archive_write_set_format_pax_restricted(out);
	/* big writes into the pipe (tar's 10 KiB blocks cost a syscall and a wake-up of the
	 * reader each), and no padding of the last one beyond the 512-byte records */
	(void)archive_write_set_bytes_per_block(out, WRITE_BLOCK);
	(void)archive_write_set_bytes_in_last_block(out, 1);
	archive_entry_linkresolver_set_strategy(links, archive_format(out));
	if (archive_write_open_fd(out, out_fd) != ARCHIVE_OK)
		return gdn_err_set(err, 0, "cannot write the archive: %s", nst_why(out));
	for (;;) {
		__attribute__((cleanup(free_entry))) struct archive_entry *e = archive_entry_new();
		struct archive_entry *spare = NULL;
		if (!e)
			return gdn_err_set(err, ENOMEM, "libarchive");
		int r = archive_read_next_header2(disk, e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return gdn_err_set(err, 0, "%s", nst_why(disk));
		if (r == ARCHIVE_WARN)
			gdn_log_info(log, "member-warning", "member", archive_entry_pathname(e),
				     "warning", nst_why(disk), NULL);
		if (archive_read_disk_can_descend(disk))
			(void)archive_read_disk_descend(disk);
		archive_entry_linkify(links, &e, &spare);
		if (!e)
			continue;
		r = archive_write_header(out, e);
		if (r < ARCHIVE_WARN)
			return gdn_err_set(err, 0, "%s: %s", archive_entry_pathname(e),
					   nst_why(out));
		if (archive_entry_size(e) > 0 &&
		    copy_data(disk, out, archive_entry_pathname(e), err) < 0)
			return NST_EXIT_ARCHIVE;
		free_entry(&spare);
	}
	if (archive_write_close(out) != ARCHIVE_OK)
		return gdn_err_set(err, 0, "cannot finish the archive: %s", nst_why(out));
	return 0;
}
