/* Stream-in: the tar archive on in_fd unpacked into the cwd with libarchive, as GNU tar
 * --no-same-owner --no-same-permissions --xattrs does it for Garden: everything owned by the
 * (dropped) user, permission bits from the archive less the umask, no set-id or sticky bits,
 * mtimes and extended attributes restored. On top of the namespace confinement libarchive
 * refuses members with absolute names or "..", and any that would be written through a symlink
 * (one on disk or one the archive made), hard links included. Device nodes are made only where
 * root of the container could make them itself: as root of a privileged container. A member
 * that fails is reported and skipped, the rest goes on, and the status is then 2 (tar's); a
 * broken archive stops at once, and the member it broke off is removed.
 *
 * A directory member that names an existing directory (the "./" of most archives) gets its mode
 * and mtime as GNU tar gives them, which libarchive would leave alone: the archive's permission
 * bits less the umask, keeping the directory's own set-id and sticky bits, once everything is
 * in; a user who does not own it cannot, and that fails as it does with tar. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/buf.h"
#include "cmd/nstar/nstar.h"

#define READ_BLOCK (256 * 1024)
#define EXTRACT_FLAGS                                                                              \
	(ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |          \
	 ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

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

/* Keeps the first failures' messages (tar prints each; we return them joined). */
struct failures {
	struct gdn_buf text;
	size_t n;
};

static void failed(struct failures *f, struct gdn_log *log, const char *name, const char *what)
{
	_cleanup_free_ char *msg = NULL;

	if (asprintf(&msg, "%s: %s", name, what) < 0)
		return;
	/* not an error line: the final one (nstar.*.failed) carries them all to guardian */
	gdn_log_info(log, "member-failed", "reason", msg, NULL);
	if (f->n++ < 8)
		(void)gdn_buf_printf(&f->text, "%s%s", f->text.len ? "\n" : "", msg);
}

/* EILSEQ is libarchive's "file format" errno: its message says enough */
const char *nst_why(struct archive *a)
{
	static char buf[1024];
	const char *s = archive_error_string(a);
	int e = archive_errno(a);

	if (!s)
		s = "unknown error";
	if (e <= 0 || e == EILSEQ || strstr(s, strerror(e)))
		return s;
	(void)snprintf(buf, sizeof(buf), "%s: %s", s, strerror(e));
	return buf;
}

struct old_dir {
	char *name;
	mode_t perm;
	struct timespec mtime;
};

struct old_dirs {
	struct old_dir *v;
	size_t n, cap;
};

/* Remembers a directory member whose directory exists already. */
static void old_dir_note(struct old_dirs *d, struct archive_entry *e)
{
	struct stat st;
	const char *name = archive_entry_pathname(e);

	if (archive_entry_filetype(e) != AE_IFDIR || lstat(name, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct old_dir *v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n] = (struct old_dir){
	    .name = strdup(name),
	    .perm = (archive_entry_perm(e) & 0777 & ~(mode_t)NST_UMASK) | (st.st_mode & 07000),
	    .mtime = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
	};
	if (d->v[d->n].name)
		d->n++;
}

static void old_dirs_apply(struct old_dirs *d, struct failures *f, struct gdn_log *log);

/* Copies the member's data blocks (sparse ones at their offsets: holes stay holes). 0, -1 when
 * the archive broke (*broken set), -2 when writing failed. */
static int copy_data(struct archive *in, struct archive *out, const char **broken)
{
	const void *buf;
	size_t len;
	la_int64_t off;

	for (;;) {
		int r = archive_read_data_block(in, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN) {
			*broken = nst_why(in);
			return -1;
		}
		if (archive_write_data_block(out, buf, len, off) < ARCHIVE_WARN)
			return -2;
	}
}

static void old_dirs_apply(struct old_dirs *d, struct failures *f, struct gdn_log *log)
{
	for (size_t i = d->n; i-- > 0;) {
		struct old_dir *o = &d->v[i];
		struct timespec times[2] = {{0, UTIME_OMIT}, o->mtime};
		char what[128];

		if (utimensat(AT_FDCWD, o->name, times, AT_SYMLINK_NOFOLLOW) < 0) {
			(void)snprintf(what, sizeof(what), "Cannot utime: %s", strerror(errno));
			failed(f, log, o->name, what);
		}
		if (chmod(o->name, o->perm) < 0) {
			(void)snprintf(what, sizeof(what), "Cannot change mode to %04o: %s",
				       (unsigned)o->perm, strerror(errno));
			failed(f, log, o->name, what);
		}
		free(o->name);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}

int nst_unpack(int in_fd, bool may_mknod, bool *ret_wrote, struct gdn_log *log,
	       struct gdn_err **err)
{
	__attribute__((cleanup(free_read))) struct archive *in = archive_read_new();
	__attribute__((cleanup(free_write))) struct archive *out = archive_write_disk_new();
	struct failures f = {0};
	struct old_dirs dirs = {0};
	struct archive_entry *e;
	const char *broken = NULL;
	int r;

	*ret_wrote = false;
	if (!in || !out)
		return gdn_err_set(err, ENOMEM, "libarchive");
	/* tar only (ustar, pax, GNU, with their sparse forms), uncompressed, as GNU tar reads a
	 * pipe; libarchive's external-program filters would run binaries of the container */
	(void)archive_read_support_format_tar(in);
	(void)archive_read_support_filter_none(in);
	(void)archive_write_disk_set_options(out, EXTRACT_FLAGS);
	if (archive_read_open_fd(in, in_fd, READ_BLOCK) != ARCHIVE_OK) {
		(void)gdn_err_set(err, 0, "cannot read the archive: %s", nst_why(in));
		return NST_EXIT_ARCHIVE;
	}
	for (;;) {
		r = archive_read_next_header(in, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			broken = nst_why(in);
			break;
		}
		const char *name = archive_entry_pathname(e);
		mode_t type = archive_entry_filetype(e);
		if ((type == AE_IFCHR || type == AE_IFBLK) && !(may_mknod && geteuid() == 0)) {
			failed(&f, log, name, "Cannot mknod: Operation not permitted");
			continue;
		}
		archive_entry_set_perm(e, archive_entry_perm(e) & 0777);
		old_dir_note(&dirs, e);
		r = archive_write_header(out, e);
		*ret_wrote = true;
		if (r < ARCHIVE_WARN) {
			failed(&f, log, name, nst_why(out));
			if (r == ARCHIVE_FATAL)
				break;
			continue;
		}
		if (r == ARCHIVE_WARN)
			gdn_log_info(log, "member-warning", "member", name, "warning", nst_why(out),
				     NULL);
		int c = archive_entry_size(e) > 0 ? copy_data(in, out, &broken) : 0;
		if (c == -2)
			failed(&f, log, name, nst_why(out));
		if (archive_write_finish_entry(out) < ARCHIVE_WARN && c == 0)
			failed(&f, log, name, nst_why(out));
		if (c == -1) {
			/* no half file: the archive ended (or broke) inside this member */
			if (type == AE_IFREG && !archive_entry_hardlink(e))
				(void)unlink(name);
			break;
		}
	}
	/* sets the modes and times of the directories, deferred until their contents are in */
	if (archive_write_close(out) < ARCHIVE_WARN)
		failed(&f, log, "archive", nst_why(out));
	old_dirs_apply(&dirs, &f, log);
	if (broken) {
		r = gdn_err_set(err, 0, "%s%s%s", f.text.len ? f.text.data : "",
				f.text.len ? "\n" : "", broken);
	} else if (f.n > 0) {
		r = gdn_err_set(err, 0, "%s", f.text.data);
	} else {
		r = 0;
	}
	gdn_buf_free(&f.text);
	return r < 0 ? NST_EXIT_ARCHIVE : 0;
}
