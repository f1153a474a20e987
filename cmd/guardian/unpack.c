/* `guardian unpack-layer`: the child that unpacks one image layer (layer_store.c runs it).
 *
 *   guardian unpack-layer [--member NAME] [--shift MAXID:USTART:ULEN:GSTART:GLEN]
 *
 * stdin is the layer blob (an OCI layout's, compressed or not) or, with --member, a docker-save
 * archive holding the layer as that member; the working directory is the empty directory to fill.
 * It chroots there first, so that no name, symlink or hard link of the layer reaches anything
 * else, whatever libarchive's own checks would miss. OCI whiteouts become overlay's: `.wh.NAME`
 * a 0/0 character device NAME, `.wh..wh..opq` the trusted.overlay.opaque xattr on its directory.
 * With --shift every owner is mapped as for an unprivileged container (gd_idmap_host) and device
 * nodes are skipped (such a container could not make them either).
 * Prints the sha256 digest of the uncompressed layer tar ("sha256:<hex>", the image config's
 * diff_id) on stdout; errors are one line on stderr and exit status 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sha2.h>
#include <bsd/string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <archive.h>
#include <archive_entry.h>
#include "lib/fs.h"
#include "lib/util.h"
#include "cmd/guardian/unpack.h"
#include "cmd/guardian/volumizer.h"

#define CHUNK (128 * 1024)

struct shift {
	bool on;
	uint32_t maxid, ustart, ulen, gstart, glen;
};

/* The bytes of the layer as stored: stdin, or the docker archive's member. */
struct source {
	struct archive *outer; /* NULL: read fd */
	int fd;
	char buf[CHUNK];
};

/* The uncompressed tar, hashed as the tar reader consumes it. */
struct plain {
	struct archive *raw;
	SHA2_CTX sha;
	char buf[CHUNK];
};

static la_ssize_t source_read(struct archive *a, void *ctx, const void **out)
{
	struct source *s = ctx;
	ssize_t n;

	(void)a;
	*out = s->buf;
	if (s->outer)
		return archive_read_data(s->outer, s->buf, sizeof(s->buf));
	do
		n = read(s->fd, s->buf, sizeof(s->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		archive_set_error(a, errno, "read the layer");
	return n;
}

static la_ssize_t plain_read(struct archive *a, void *ctx, const void **out)
{
	struct plain *p = ctx;
	la_ssize_t n = archive_read_data(p->raw, p->buf, sizeof(p->buf));

	*out = p->buf;
	if (n < 0) {
		archive_set_error(a, EIO, "%s", archive_error_string(p->raw));
		return -1;
	}
	SHA256Update(&p->sha, (const uint8_t *)p->buf, (size_t)n);
	return n;
}

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static void writer_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

static int fail(const char *what, const char *why)
{
	fprintf(stderr, "unpack-layer: %s: %s\n", what, why ? why : "unknown error");
	return 1;
}

/* Positions `outer` (a docker archive on fd) at `member`'s data. */
static int open_member(struct archive *outer, int fd, const char *member)
{
	struct archive_entry *e;
	int r;

	archive_read_support_filter_all(outer);
	archive_read_support_format_tar(outer);
	if (archive_read_open_fd(outer, fd, CHUNK) != ARCHIVE_OK)
		return fail("open the archive", archive_error_string(outer));
	while ((r = archive_read_next_header(outer, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		if (strncmp(name, "./", 2) == 0)
			name += 2;
		if (strcmp(name, member) == 0)
			return 0;
	}
	if (r == ARCHIVE_EOF)
		return fail(member, "no such member in the archive");
	return fail("read the archive", archive_error_string(outer));
}

/* The entry's name relative to the root, or NULL for the root itself. */
static const char *relative(const char *name)
{
	while (*name == '/' || (name[0] == '.' && name[1] == '/'))
		name += (*name == '/') ? 1 : 2;
	return (*name == '\0' || strcmp(name, ".") == 0) ? NULL : name;
}

/* `.wh.NAME` and `.wh..wh..opq` (OCI image spec, layer whiteouts). 1: handled, 0: not one. */
static int whiteout(const char *path, const struct shift *sh)
{
	char dir[4096], target[4096];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dlen = slash ? (size_t)(slash - path) : 0;

	if (strncmp(base, ".wh.", 4) != 0)
		return 0;
	if (dlen >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	if (dlen == 0)
		strlcpy(dir, ".", sizeof(dir));
	if (strcmp(base, ".wh..wh..opq") == 0) {
		struct gdn_err *err = NULL;
		if (gdn_fs_mkdir_p(dir, 0755, &err) < 0) {
			gdn_err_free(err);
			return -EIO;
		}
		return setxattr(dir, "trusted.overlay.opaque", "y", 1, 0) < 0 ? -errno : 1;
	}
	if (snprintf(target, sizeof(target), "%s/%s", dir, base + 4) >= (int)sizeof(target))
		return -ENAMETOOLONG;
	struct gdn_err *err = NULL;
	if (gdn_fs_rm_rf(target, &err) < 0) {
		gdn_err_free(err);
		return -EIO;
	}
	if (gdn_fs_mkdir_p(dir, 0755, &err) < 0) {
		gdn_err_free(err);
		return -EIO;
	}
	if (mknod(target, S_IFCHR | 0, makedev(0, 0)) < 0)
		return -errno;
	if (sh->on && lchown(target, sh->maxid, sh->maxid) < 0)
		return -errno;
	return 1;
}

static int copy_data(struct archive *in, struct archive *out)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;

	while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK)
		if (archive_write_data_block(out, buf, size, offset) != ARCHIVE_OK)
			return ARCHIVE_FATAL;
	return r == ARCHIVE_EOF ? ARCHIVE_OK : r;
}

static int parse_shift(const char *s, struct shift *sh)
{
	unsigned long v[5];
	char *end;

	for (int i = 0; i < 5; i++) {
		errno = 0;
		v[i] = strtoul(s, &end, 10);
		if (errno || end == s || v[i] > UINT32_MAX || (i < 4 ? *end != ':' : *end != '\0'))
			return -EINVAL;
		s = end + 1;
	}
	*sh = (struct shift){true,	     (uint32_t)v[0], (uint32_t)v[1],
			     (uint32_t)v[2], (uint32_t)v[3], (uint32_t)v[4]};
	return 0;
}

static int extract(struct archive *tar, struct archive *disk, const struct shift *sh)
{
	struct archive_entry *e;
	int r;

	while ((r = archive_read_next_header(tar, &e)) == ARCHIVE_OK) {
		const char *path = relative(archive_entry_pathname(e));
		if (!path)
			path = ".";
		int w = whiteout(path, sh);
		if (w < 0)
			return fail(path, strerror(-w));
		if (w > 0)
			continue;
		mode_t type = archive_entry_filetype(e);
		if (sh->on && (type == AE_IFCHR || type == AE_IFBLK))
			continue;
		archive_entry_set_pathname(e, path);
		const char *link = archive_entry_hardlink(e);
		if (link) {
			const char *rel = relative(link);
			if (!rel)
				return fail(path, "a hard link to the layer's root");
			archive_entry_set_hardlink(e, rel);
		}
		if (sh->on) {
			archive_entry_set_uid(e, gd_idmap_host(sh->maxid, sh->ustart, sh->ulen,
							       (uint32_t)archive_entry_uid(e)));
			archive_entry_set_gid(e, gd_idmap_host(sh->maxid, sh->gstart, sh->glen,
							       (uint32_t)archive_entry_gid(e)));
		}
		if (archive_write_header(disk, e) < ARCHIVE_WARN)
			return fail(path, archive_error_string(disk));
		if (archive_entry_size(e) > 0 && copy_data(tar, disk) < ARCHIVE_WARN)
			return fail(path, archive_error_string(disk));
		if (archive_write_finish_entry(disk) < ARCHIVE_WARN)
			return fail(path, archive_error_string(disk));
	}
	if (r != ARCHIVE_EOF)
		return fail("read the layer", archive_error_string(tar));
	return 0;
}

int gd_unpack_main(int argc, char **argv)
{
	const char *member = NULL;
	struct shift sh = {0};
	_cleanup_(archive_freep) struct archive *outer = NULL;
	_cleanup_(archive_freep) struct archive *raw = NULL;
	_cleanup_(archive_freep) struct archive *tar = NULL;
	_cleanup_(writer_freep) struct archive *disk = NULL;
	static struct source src = {.fd = STDIN_FILENO};
	static struct plain plain;
	struct archive_entry *e;
	uint8_t digest[SHA256_DIGEST_LENGTH];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--member") == 0 && i + 1 < argc)
			member = argv[++i];
		else if (strcmp(argv[i], "--shift") == 0 && i + 1 < argc) {
			if (parse_shift(argv[++i], &sh) < 0)
				return fail("--shift", "want MAXID:USTART:ULEN:GSTART:GLEN");
		} else
			return fail(argv[i], "unknown argument");
	}
	/* Everything from here on happens inside the directory being filled. */
	if (chroot(".") < 0 || chdir("/") < 0)
		return fail("chroot into the layer directory", strerror(errno));
	umask(0);

	if (member) {
		outer = archive_read_new();
		if (!outer || open_member(outer, STDIN_FILENO, member) != 0)
			return 1;
		src.outer = outer;
	}
	raw = archive_read_new();
	tar = archive_read_new();
	disk = archive_write_disk_new();
	if (!raw || !tar || !disk)
		return fail("unpack", strerror(ENOMEM));
	archive_read_support_filter_all(raw);
	archive_read_support_format_raw(raw);
	if (archive_read_open(raw, &src, NULL, source_read, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(raw, &e) != ARCHIVE_OK)
		return fail("open the layer", archive_error_string(raw));
	plain.raw = raw;
	SHA256Init(&plain.sha);
	archive_read_support_format_tar(tar);
	if (archive_read_open(tar, &plain, NULL, plain_read, NULL) != ARCHIVE_OK)
		return fail("open the layer's tar", archive_error_string(tar));
	archive_write_disk_set_options(
	    disk, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
		      ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		      ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (extract(tar, disk, &sh) != 0)
		return 1;
	if (archive_write_close(disk) != ARCHIVE_OK)
		return fail("finish the layer", archive_error_string(disk));
	/* the diff_id covers the whole stream, the padding after the tar's end included */
	for (;;) {
		la_ssize_t n = archive_read_data(raw, plain.buf, sizeof(plain.buf));
		if (n < 0)
			return fail("read the layer", archive_error_string(raw));
		if (n == 0)
			break;
		SHA256Update(&plain.sha, (const uint8_t *)plain.buf, (size_t)n);
	}
	SHA256Final(digest, &plain.sha);
	printf("sha256:");
	for (size_t i = 0; i < sizeof(digest); i++)
		printf("%02x", digest[i]);
	printf("\n");
	return fflush(stdout) == 0 ? 0 : 1;
}
