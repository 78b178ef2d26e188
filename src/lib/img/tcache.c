/* A small LRU cache of metadata tables shared by the qcow2 and vmdk readers. */
#include <stdlib.h>

#include "img-internal.h"

void *img_tcache_get(struct img_tcache *c, uint64_t key, size_t bytes, struct img_tslot **victim)
{
	struct img_tslot *v = &c->slot[0];

	for (int i = 0; i < IMG_TCACHE_SLOTS; i++) {
		if (c->slot[i].key == key) {
			c->slot[i].used = ++c->tick;
			*victim = NULL;
			return c->slot[i].t;
		}
		if (c->slot[i].used < v->used)
			v = &c->slot[i];
	}
	/* Emptied first: a table that fails validation is never found later. */
	v->key = 0;
	if (v->t == NULL && (v->t = img_calloc(1, bytes)) == NULL)
		v = NULL;
	*victim = v;
	return NULL;
}

void img_tcache_put(struct img_tcache *c, struct img_tslot *s, uint64_t key)
{
	s->key = key;
	s->used = ++c->tick;
}

void img_tcache_free(struct img_tcache *c)
{
	for (int i = 0; i < IMG_TCACHE_SLOTS; i++) {
		free(c->slot[i].t);
		c->slot[i].t = NULL;
	}
}
