/* Entering the container. A running one: setns(2) on a pidfd of its init joins its mount
 * namespace (and user namespace, if it has one), which makes the container's root our "/" and
 * cwd; the kernel then resolves every path, every symlink and every ".." inside the container.
 * A container whose init is gone: a private mount namespace of our own, its volume mounted there
 * again (gd_volume_mount) and pivot_root'ed into, then, for an unprivileged container, a user
 * namespace with the container's id mappings, made by a helper child whose maps we write from
 * the host side. Either way we end as the container's root (uid 0 in its user namespace). */
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "lib/fs.h"
#include "lib/path.h"
#include "cmd/guardian/volumizer.h"
#include "cmd/nstar/nstar.h"

#define ID_FILE_MAX (1024 * 1024)

static int become_root(struct gdn_err **err)
{
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		return gdn_err_set(err, errno, "setgroups");
	if (setresgid(0, 0, 0) < 0)
		return gdn_err_set(err, errno, "setgid");
	if (setresuid(0, 0, 0) < 0)
		return gdn_err_set(err, errno, "setuid");
	return 0;
}

static int enter_running(const struct nst_args *a, struct gdn_err **err)
{
	int flags = CLONE_NEWNS | (a->userns ? CLONE_NEWUSER : 0);

	if (setns(a->pidfd, flags) < 0)
		return gdn_err_set(err, errno, "cannot join the container's namespaces");
	(void)close(a->pidfd);
	return a->userns ? become_root(err) : 0;
}

static int write_map(pid_t pid, const char *file, const struct nst_idmap *m, size_t n,
		     struct gdn_err **err)
{
	char path[64], text[NST_MAX_MAPS * 40];
	size_t len = 0;
	_cleanup_close_ int fd = -1;

	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%u %u %u\n", m[i].inside,
					m[i].outside, m[i].count);
	(void)snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || gdn_fd_write_all(fd, text, len) < 0)
		return gdn_err_set(err, errno, "cannot write %s", path);
	return 0;
}

/* A user namespace with the container's mappings: a child unshares one and waits to be killed;
 * we write its maps and keep a handle on the namespace. Done before our root changes (it needs
 * the host's /proc). */
static int make_userns(const struct nst_args *a, struct gdn_err **err)
{
	_cleanup_close_ int ready_r = -1, ready_w = -1, ns = -1;
	int fds[2], status = 0;
	char path[64], c = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return gdn_err_set(err, errno, "pipe2");
	ready_r = fds[0];
	ready_w = fds[1];
	pid = fork();
	if (pid < 0)
		return gdn_err_set(err, errno, "fork");
	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		c = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
		(void)!write(ready_w, &c, 1);
		for (;;)
			(void)pause();
	}
	(void)close(ready_w);
	ready_w = -1;
	int r = 0;
	if (read(ready_r, &c, 1) != 1 || c != 'y')
		r = gdn_err_set(err, EPERM, "cannot make a user namespace");
	if (r == 0)
		r = write_map(pid, "uid_map", a->uid_maps, a->n_uid_maps, err);
	if (r == 0)
		r = write_map(pid, "gid_map", a->gid_maps, a->n_gid_maps, err);
	if (r == 0) {
		(void)snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		ns = open(path, O_RDONLY | O_CLOEXEC);
		if (ns < 0)
			r = gdn_err_set(err, errno, "open %s", path);
	}
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return r < 0 ? r : gdn_steal_fd(&ns);
}

static int enter_stopped(const struct nst_args *a, struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *target = gdn_path_join(a->volume, "rootfs");
	_cleanup_close_ int userns = -1;
	int r;

	if (!target)
		return gdn_err_set(err, ENOMEM, "volume path");
	if (a->n_uid_maps > 0 && (userns = make_userns(a, err)) < 0)
		return userns;
	if (unshare(CLONE_NEWNS) < 0)
		return gdn_err_set(err, errno, "cannot make a mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return gdn_err_set(err, errno, "cannot make the mount namespace private");
	/* A volume still mounted in the host's namespace (its detach failed) is that same
	 * overlay, copied into ours: use it, never mount a second one over its upperdir. */
	if (!gdn_fs_is_mountpoint(target)) {
		if ((r = gd_volume_mount(a->volume, target, err)) < 0)
			return gdn_err_wrap(err, "cannot mount the container's volume");
		gdn_log_debug(log, "volume-mounted", "target", target, NULL);
	}
	if (chdir(target) < 0)
		return gdn_err_set(err, errno, "chdir %s", target);
	/* pivot_root, not chroot: no way back to the host's root from here */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return gdn_err_set(err, errno, "pivot_root %s", target);
	if (umount2(".", MNT_DETACH) < 0)
		return gdn_err_set(err, errno, "cannot detach the host's root");
	if (chdir("/") < 0)
		return gdn_err_set(err, errno, "chdir /");
	if (userns < 0)
		return 0;
	if (setns(userns, CLONE_NEWUSER) < 0)
		return gdn_err_set(err, errno, "cannot join the user namespace");
	return become_root(err);
}

int nst_enter(const struct nst_args *a, struct gdn_log *log, struct gdn_err **err)
{
	/* no core dumps or ptrace of a process that holds the container's files open */
	(void)prctl(PR_SET_DUMPABLE, 0);
	if (a->pidfd >= 0)
		return enter_running(a, err);
	return enter_stopped(a, log, err);
}

int nst_user_resolve(const char *user, struct gd_user *ret, struct gdn_err **err)
{
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	size_t len = 0;

	/* our root is the container's: these are its files */
	(void)gdn_fs_read_file("/etc/passwd", ID_FILE_MAX, &passwd, &len, NULL);
	(void)gdn_fs_read_file("/etc/group", ID_FILE_MAX, &group, &len, NULL);
	return gd_user_lookup(passwd, group, user, ret, err);
}

/* 1 if made, 0 if it existed, -errno */
static int mkdir_as(const char *dir, uid_t uid, gid_t gid, struct gdn_err **err)
{
	if (mkdir(dir, 0755) == 0) {
		if (lchown(dir, uid, gid) < 0)
			return gdn_err_set(err, errno, "chown %s", dir);
		return 1;
	}
	if (errno != EEXIST)
		return gdn_err_set(err, errno, "mkdir %s", dir);
	return 0;
}

int nst_mkdir_p_as(const char *path, uid_t uid, gid_t gid, char **ret_created, struct gdn_err **err)
{
	_cleanup_free_ char *tmp = strdup(path);
	char *first = NULL;
	size_t len;
	int r = 0;

	if (!tmp)
		return gdn_err_set(err, ENOMEM, "mkdir");
	len = strlen(tmp);
	while (len > 1 && tmp[len - 1] == '/')
		tmp[--len] = '\0';
	for (char *p = tmp + 1; len > 0; p++) {
		bool last = !*p;
		if (!last && *p != '/')
			continue;
		*p = '\0';
		r = mkdir_as(tmp, uid, gid, err);
		if (r == 1 && !first)
			first = strdup(tmp);
		if (!last)
			*p = '/';
		if (r < 0 || last)
			break;
	}
	if (ret_created)
		*ret_created = first;
	else
		free(first);
	return r < 0 ? r : 0;
}

void nst_mkdir_undo(const char *path, const char *created)
{
	_cleanup_free_ char *tmp = strdup(path);
	size_t len = tmp ? strlen(tmp) : 0;

	if (!tmp || !created)
		return;
	while (len > 1 && tmp[len - 1] == '/')
		tmp[--len] = '\0';
	for (;;) {
		if (rmdir(tmp) < 0 || strcmp(tmp, created) == 0)
			return;
		char *slash = strrchr(tmp, '/');
		if (!slash || slash == tmp)
			return;
		*slash = '\0';
	}
}

int nst_drop_to(const struct gd_user *u, pid_t parent, struct gdn_err **err)
{
	gid_t groups[GD_MAX_GROUPS + 1];
	size_t n = 0;

	groups[n++] = u->gid;
	for (size_t i = 0; i < u->n_groups; i++)
		groups[n++] = u->groups[i];
	/* a group the user namespace does not map cannot be held: keep the primary one */
	if (setgroups(n, groups) < 0 && (errno != EINVAL || setgroups(1, groups) < 0))
		return gdn_err_set(err, errno, "setgroups");
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return gdn_err_set(err, errno, "setgid %u", u->gid);
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return gdn_err_set(err, errno, "setuid %u", u->uid);
	(void)prctl(PR_SET_DUMPABLE, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return gdn_err_set(err, errno, "no_new_privs");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		return gdn_err_set(err, ESRCH, "the parent is gone");
	return 0;
}
