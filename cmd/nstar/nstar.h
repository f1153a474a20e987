/* nstar: streams a tar archive into or out of a container (nstar(8)). guardian runs one per
 * StreamIn/StreamOut with the archive on a pipe; nstar enters the container (its namespaces, or
 * for a container whose init is gone a private mount of its volume), resolves the user from the
 * container's /etc/passwd, drops to that user and unpacks or packs with libarchive. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/users.h"

#define NST_MAX_MAPS 8
/* tar's exit statuses: 1 before anything was streamed (set-up), 2 for archive errors */
#define NST_EXIT_SETUP 1
#define NST_EXIT_ARCHIVE 2
/* Garden's nstar inherits gdn's umask; ours is fixed at the usual 022 */
#define NST_UMASK 022

struct nst_idmap {
	uint32_t inside, outside, count;
};

struct nst_args {
	bool in;	  /* stream-in (else stream-out) */
	const char *user; /* "" or NULL: root */
	const char *path; /* stream-in: the destination; stream-out: the source */
	/* a running container: a pidfd of its init (joined with setns) */
	int pidfd;
	bool userns; /* the init has a user namespace of its own (unprivileged container) */
	/* a container whose init is gone: its depot dir (volume mounted privately), and the id
	 * mappings of its user namespace (none: privileged) */
	const char *volume;
	struct nst_idmap uid_maps[NST_MAX_MAPS], gid_maps[NST_MAX_MAPS];
	size_t n_uid_maps, n_gid_maps;
	bool privileged; /* device nodes may be made (by root only) */
};

/* "C:H:N" -> map; -EINVAL with *err otherwise. */
int nst_idmap_parse(const char *s, struct nst_idmap *ret, struct gdn_err **err);

/* Go's path/filepath Clean, Dir and Base (Garden splits a StreamOut source with them); results
 * are malloc'd, NULL on ENOMEM. */
char *nst_path_clean(const char *path);
char *nst_path_dir(const char *path);
char *nst_path_base(const char *path);
/* StreamOut's split as Garden does it: "/a/b" -> dir "/a", member "b"; "/a/b/" -> dir "/a/b",
 * member ".". 0 or -ENOMEM. */
int nst_split_source(const char *source, char **ret_dir, char **ret_member);

/* enter.c: makes the container's root our "/" and its root user (uid 0 there) our identity. */
int nst_enter(const struct nst_args *a, struct gdn_log *log, struct gdn_err **err);
/* Resolves the user in the container's /etc/passwd and /etc/group (after nst_enter). */
int nst_user_resolve(const char *user, struct gd_user *ret, struct gdn_err **err);
/* mkdir -p as the container's root, new directories 0755 and owned by uid:gid (Garden's
 * mkdir_p_as); existing ones are left alone. A relative path is from the cwd. *ret_created (may
 * be NULL) gets the first directory it made (malloc'd), or NULL if it made none: the ones made
 * are that one and those below it on the path. */
int nst_mkdir_p_as(const char *path, uid_t uid, gid_t gid, char **ret_created,
		   struct gdn_err **err);
/* Undoes what nst_mkdir_p_as made of `path` (rmdir up to `created`), as far as it can. */
void nst_mkdir_undo(const char *path, const char *created);
/* Becomes the user: groups, gid, uid; not dumpable, no new privileges, and again killed when
 * `parent` (guardian's worker) dies (a change of uid clears that). */
int nst_drop_to(const struct gd_user *u, pid_t parent, struct gdn_err **err);

/* libarchive's last message, with the system's reason as tar gives it ("...: Permission
 * denied"); a static buffer. */
struct archive;
const char *nst_why(struct archive *a);

/* in.c / out.c: the archive work, in the cwd, as the dropped user. Return 0, or the exit status
 * (NST_EXIT_ARCHIVE) with *err saying what went wrong. */
int nst_unpack(int in_fd, bool may_mknod, bool *ret_wrote, struct gdn_log *log,
	       struct gdn_err **err);
int nst_pack(int out_fd, const char *member, struct gdn_log *log, struct gdn_err **err);
