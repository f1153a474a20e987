/* kawasaki serve: one loop, one SEQPACKET socket, one request per packet (the netns of `up`
 * rides along as SCM_RIGHTS). Requests are served one at a time: each is a few netlink
 * messages and at most two table commits, and serialising them is what keeps the pools, the
 * records and the tables in step without locks. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "lib/fs.h"
#include "lib/ipc.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/kawasaki/kawasaki.h"

struct kw_conn {
	struct gdn_watch w;
	struct gdn_defer defer;
	struct kw_daemon *d;
};

typedef int (*op_fn)(struct kw_daemon *, const json_t *, json_t *, struct gdn_err **);

static int op_ping(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err)
{
	(void)d;
	(void)req;
	(void)reply;
	(void)err;
	return 0;
}

static const struct {
	const char *name;
	op_fn fn;
} ops[] = {
    {"ping", op_ping},		{"prepare", kw_op_prepare},
    {"down", kw_op_down},	{"net-in", kw_op_net_in},
    {"net-out", kw_op_net_out}, {"bulk-net-out", kw_op_bulk_net_out},
    {"list", kw_op_list},	{"rules", kw_op_rules},
    {"cleanup", kw_op_cleanup}, {"capacity", kw_op_capacity},
};

static void conn_release(struct gdn_defer *df)
{
	free((struct kw_conn *)((char *)df - offsetof(struct kw_conn, defer)));
}

static void conn_close(struct kw_conn *c)
{
	gdn_loop_close(&c->d->loop, &c->w);
	gdn_loop_defer_free(&c->d->loop, &c->defer);
}

static int dispatch(struct kw_daemon *d, const json_t *req, int fd, json_t *reply,
		    struct gdn_err **err)
{
	const char *op;
	int v;
	int r = gdn_ipc_request_parse(req, &op, &v, err);

	if (r < 0)
		return r;
	if (v > KW_PROTOCOL_VERSION)
		return gdn_err_set(err, EPROTO,
				   "request version %d is newer than this kawasaki's (%d)", v,
				   KW_PROTOCOL_VERSION);
	if (strcmp(op, "up") == 0)
		return kw_op_up(d, req, fd, reply, err);
	for (size_t i = 0; i < GDN_ARRAY_SIZE(ops); i++)
		if (strcmp(op, ops[i].name) == 0)
			return ops[i].fn(d, req, reply, err);
	return gdn_err_set(err, EOPNOTSUPP, "unknown request '%s'", op);
}

static void on_conn(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct kw_conn *c = w->data;
	struct kw_daemon *d = c->d;
	_cleanup_err_ struct gdn_err *e = NULL;
	json_auto_t *req = NULL;
	json_auto_t *reply = json_object();
	int fds[GDN_IPC_MAX_FDS];
	size_t nfds = 0;

	(void)l;
	(void)events;
	int r = gdn_ipc_recv(w->fd, &req, fds, &nfds, &e);
	if (r == -EBADMSG) {
		/* not one JSON object per packet: say so, and stay ready for the next one */
		_cleanup_err_ struct gdn_err *se = NULL;
		gdn_log_error(d->log, "request.invalid", e, NULL);
		if (gdn_ipc_reply(w->fd, KW_PROTOCOL_VERSION, NULL, e, &se) < 0)
			conn_close(c);
		return;
	}
	if (r <= 0) {
		if (r < 0)
			gdn_log_error(d->log, "request.receive-failed", e, NULL);
		conn_close(c);
		return;
	}
	const char *op = json_string_value(json_object_get(req, "op"));
	const char *handle = json_string_value(json_object_get(req, "handle"));
	gdn_log_debug(d->log, "request", "op", op ? op : "", "handle", handle ? handle : "", NULL);
	r = reply ? dispatch(d, req, nfds ? fds[0] : -1, reply, &e)
		  : gdn_err_set(&e, ENOMEM, "reply");
	for (size_t i = 0; i < nfds; i++)
		(void)close(fds[i]);
	if (r < 0)
		gdn_log_error(d->log, "request.failed", e, "op", op ? op : "", "handle",
			      handle ? handle : "", NULL);
	_cleanup_err_ struct gdn_err *se = NULL;
	if (gdn_ipc_reply(w->fd, KW_PROTOCOL_VERSION, r < 0 ? NULL : reply, r < 0 ? e : NULL, &se) <
	    0)
		conn_close(c);
	/* A request reads and rebuilds whole tables (hundreds of kB with many containers) and
	 * frees them: hand the pages back, so the daemon's RSS is what it holds between
	 * requests, not the peak of the largest table it ever committed. */
	(void)malloc_trim(0);
}

static void on_accept(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct kw_daemon *d = w->data;
	_cleanup_err_ struct gdn_err *e = NULL;

	(void)events;
	for (;;) {
		int fd = gdn_ipc_accept(w->fd, GDN_IPC_NONBLOCK, &e);
		if (fd < 0) {
			if (fd != -EAGAIN && e)
				gdn_log_error(d->log, "accept-failed", e, NULL);
			return;
		}
		struct kw_conn *c = calloc(1, sizeof(*c));
		if (!c) {
			(void)close(fd);
			return;
		}
		c->d = d;
		c->defer.release = conn_release;
		gdn_watch_init(&c->w, fd, on_conn, c);
		if (gdn_loop_watch(l, &c->w, EPOLLIN) < 0) {
			(void)close(fd);
			free(c);
		}
	}
}

static void on_signal(struct gdn_loop *l, const struct signalfd_siginfo *si, void *data)
{
	struct kw_daemon *d = data;
	gdn_log_info(d->log, "stopping", "signal", strsignal((int)si->ssi_signo), NULL);
	gdn_loop_stop(l);
}

/* The external IP (--external-ip, else the default route's source address) and the MTU
 * (--mtu, else the MTU of the interface holding the external IP), at most 1500. */
static int probe_host(struct kw_daemon *d, struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	uint32_t src = 0;
	unsigned mtu = 0;

	int r = kw_default_route(d->nl, d->default_if, &src, &mtu, &e);
	if (r < 0) {
		d->default_if[0] = '\0';
		if (r != -ENOENT) {
			(void)gdn_err_wrap(&e, "find the default route");
			if (err && !*err) {
				*err = e;
				e = NULL;
			}
			return r;
		}
		gdn_log_info(d->log, "no-default-route", NULL);
	}
	d->external_ip = d->cfg->external_ip ? d->cfg->external_ip : src;
	if (!d->external_ip)
		return gdn_err_set(err, ENOENT,
				   "no default route to take the external IP from: give "
				   "--external-ip");
	if (d->cfg->external_ip && kw_mtu_of_address(d->nl, d->external_ip, &mtu, NULL) < 0)
		mtu = KW_MAX_MTU;
	d->mtu = d->cfg->mtu ? d->cfg->mtu : mtu;
	if (d->mtu == 0 || d->mtu > KW_MAX_MTU)
		d->mtu = KW_MAX_MTU;
	return 0;
}

static int start(struct kw_daemon *d, struct gdn_err **err)
{
	static const int signals[] = {SIGTERM, SIGINT};
	char ip[GDN_NET_IPV4_STRLEN], mtu[16];

	kw_names_init(&d->names, d->cfg->tag);
	d->next_id = gdn_now_real_ns();
	int r = kw_pool_new(&d->cfg->pool, d->cfg->port_start, d->cfg->port_size, &d->pool, err);
	if (r >= 0)
		r = kw_store_open(d, err);
	if (r >= 0)
		r = kw_nl_open(&d->nl, err);
	if (r >= 0)
		r = probe_host(d, err);
	if (r >= 0)
		r = kw_setup_host(d, err);
	if (r >= 0)
		r = gdn_loop_init(&d->loop, err);
	if (r >= 0)
		r = gdn_loop_signals(&d->loop, signals, GDN_ARRAY_SIZE(signals), on_signal, d, err);
	if (r < 0)
		return r;
	/* the socket comes last: whoever waits for it (guardian) may use kawasaki at once */
	_cleanup_free_ char *dir = strdup(d->cfg->socket);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash && slash != dir) {
		*slash = '\0';
		r = gdn_fs_mkdir_p(dir, 0755, err);
		if (r < 0)
			return r;
	}
	int fd = gdn_ipc_listen(d->cfg->socket, SOCK_SEQPACKET, d->cfg->socket_mode,
				GDN_IPC_NONBLOCK, err);
	if (fd < 0)
		return fd;
	gdn_watch_init(&d->listener, fd, on_accept, d);
	r = gdn_loop_watch(&d->loop, &d->listener, EPOLLIN);
	if (r < 0)
		return gdn_err_set(err, -r, "watch the socket");
	(void)snprintf(mtu, sizeof(mtu), "%u", d->mtu);
	gdn_log_info(d->log, "started", "socket", d->cfg->socket, "external_ip",
		     gdn_net_ipv4_str(d->external_ip, ip), "mtu", mtu, "default_interface",
		     d->default_if, NULL);
	return 0;
}

int kw_setup_only(const struct kw_config *cfg, struct gdn_err **err)
{
	struct kw_daemon d = {
	    .cfg = cfg, .lock_fd = -1, .loop = {.epfd = -1}, .listener = {.fd = -1}};

	d.log = gdn_log_root();
	kw_names_init(&d.names, cfg->tag);
	int r = kw_nl_open(&d.nl, err);
	if (r >= 0)
		r = probe_host(&d, err);
	if (r >= 0)
		r = kw_setup_host(&d, err);
	kw_nl_close(d.nl);
	return r;
}

int kw_serve(const struct kw_config *cfg, struct gdn_err **err)
{
	struct kw_daemon d = {
	    .cfg = cfg, .lock_fd = -1, .loop = {.epfd = -1}, .listener = {.fd = -1}};

	d.log = gdn_log_root();
	(void)signal(SIGPIPE, SIG_IGN);
	/* Fixed thresholds (glibc's adapt upwards after the first large free, which then keeps
	 * every later table snapshot on the heap): large blocks are mmapped, unmapped at free. */
	(void)mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	(void)mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	int r = start(&d, err);
	if (r >= 0)
		r = gdn_loop_run(&d.loop, err);
	if (d.listener.fd >= 0 && d.listener.events)
		gdn_loop_close(&d.loop, &d.listener);
	if (d.loop.epfd >= 0)
		gdn_loop_free(&d.loop);
	for (struct kw_alloc *a = d.allocs, *next; a; a = next) {
		next = a->next;
		kw_alloc_free(a);
	}
	kw_nl_close(d.nl);
	kw_pool_free(d.pool);
	if (d.lock_fd >= 0)
		(void)close(d.lock_fd);
	return r;
}
