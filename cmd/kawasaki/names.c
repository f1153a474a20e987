/* Names of chains and links (internals §11.2): the interface prefix w<tag>, the chain prefix
 * w-<tag>-, and 11-character instance ids in base 32 (0-9a-v) from a 55-bit counter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/kawasaki/kawasaki.h"

void kw_names_init(struct kw_names *n, const char *tag)
{
	(void)snprintf(n->input, sizeof(n->input), "w-%s-input", tag);
	(void)snprintf(n->forward, sizeof(n->forward), "w-%s-forward", tag);
	(void)snprintf(n->dflt, sizeof(n->dflt), "w-%s-default", tag);
	(void)snprintf(n->prerouting, sizeof(n->prerouting), "w-%s-prerouting", tag);
	(void)snprintf(n->postrouting, sizeof(n->postrouting), "w-%s-postrouting", tag);
	(void)snprintf(n->instance_prefix, sizeof(n->instance_prefix), "w-%s-instance-", tag);
	(void)snprintf(n->if_prefix, sizeof(n->if_prefix), "w%s", tag);
}

void kw_instance_id(uint64_t counter, char out[KW_INSTANCE_ID_LEN + 1])
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";

	for (unsigned i = 0; i < KW_INSTANCE_ID_LEN; i++)
		out[i] = digits[(counter >> (55 - (i + 1) * 5)) & 31];
	out[KW_INSTANCE_ID_LEN] = '\0';
}

void kw_instance_chain(const struct kw_names *n, const char *id, char out[32])
{
	(void)snprintf(out, 32, "%s%.11s", n->instance_prefix, id);
}

void kw_log_chain(const struct kw_names *n, const char *id, char out[32])
{
	(void)snprintf(out, 32, "%s%.11s-log", n->instance_prefix, id);
}

void kw_alloc_names(const struct kw_names *n, struct kw_alloc *a, const char *id)
{
	uint32_t net = a->subnet.network;

	/* at most 1 + 1 + 11 + 2 characters: --tag is one character at most */
	(void)snprintf(a->id, sizeof(a->id), "%.11s", id);
	(void)snprintf(a->host_if, sizeof(a->host_if), "%.2s%.11s-0", n->if_prefix, id);
	(void)snprintf(a->container_if, sizeof(a->container_if), "%.2s%.11s-1", n->if_prefix, id);
	(void)snprintf(a->bridge, sizeof(a->bridge), "%.2sbrdg-%08x", n->if_prefix, net);
}

bool kw_link_is_ours(const struct kw_names *n, const char *name, bool *is_bridge)
{
	size_t p = strlen(n->if_prefix);
	const char *rest = name + p;

	if (strncmp(name, n->if_prefix, p) != 0)
		return false;
	if (strncmp(rest, "brdg-", 5) == 0 && strlen(rest + 5) == 8 &&
	    strspn(rest + 5, "0123456789abcdef") == 8) {
		*is_bridge = true;
		return true;
	}
	*is_bridge = false;
	return strlen(rest) == KW_INSTANCE_ID_LEN + 2 &&
	       strspn(rest, "0123456789abcdefghijklmnopqrstuv") == KW_INSTANCE_ID_LEN &&
	       strcmp(rest + KW_INSTANCE_ID_LEN, "-0") == 0;
}

void kw_name_list_add(struct kw_name_list *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		char(*p)[32] = reallocarray(l->names, cap, sizeof(*p));
		if (!p) {
			l->oom = true;
			return;
		}
		l->names = p;
		l->cap = cap;
	}
	(void)snprintf(l->names[l->n++], 32, "%s", name);
}

void kw_name_list_free(struct kw_name_list *l)
{
	free(l->names);
	*l = (struct kw_name_list){0};
}
