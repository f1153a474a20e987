/* The Garden route table (protocol §3) and the handlers behind it. */
#pragma once

#include "cmd/guardian/server.h"

struct gd_params {
	char *handle; /* :handle, query-unescaped */
	char *second; /* :key or :pid */
	char *third;  /* :streamid */
};

typedef void (*gd_handler_fn)(struct gd_server *s, struct gd_conn *c, struct gd_params *p);

/* handlers_containers.c */
void gd_h_create(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_destroy(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_stop(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_net_in(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_net_out(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_bulk_net_out(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_list(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_info(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_bulk_info(struct gd_server *s, struct gd_conn *c, struct gd_params *p);

/* handlers_processes.c */
void gd_h_run(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_attach(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_stdout(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_stderr(struct gd_server *s, struct gd_conn *c, struct gd_params *p);

/* handlers_files.c */
void gd_h_stream_in(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_stream_out(struct gd_server *s, struct gd_conn *c, struct gd_params *p);

/* handlers_misc.c */
void gd_h_ping(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_capacity(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_properties(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_property_get(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_property_set(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_property_remove(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_grace_time(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_limits_memory(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_limits_cpu(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_limits_empty(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_metrics(struct gd_server *s, struct gd_conn *c, struct gd_params *p);
void gd_h_bulk_metrics(struct gd_server *s, struct gd_conn *c, struct gd_params *p);

/* Looks up a registered container for a per-handle route, pausing its grace timer until the
 * response is written. Answers ContainerNotFoundError itself and returns NULL if unknown. */
struct gd_ctr *gd_lookup(struct gd_server *s, struct gd_conn *c, const char *handle);
/* gd_lookup of a container that is neither being created nor destroyed (else 500 "container
 * '<h>' is being created|destroyed" is answered and NULL returned). */
struct gd_ctr *gd_lookup_active(struct gd_server *s, struct gd_conn *c, const char *handle);

/* A copy of a JSON object with its keys in order (Go encodes maps so). */
json_t *gd_props_sorted(json_t *props);
/* The Info object of a container (protocol §4.7). */
json_t *gd_info_json(struct gd_server *s, struct gd_ctr *ctr);
/* The five-key Garden error object. */
json_t *gd_error_json(const struct gdn_err *e);
