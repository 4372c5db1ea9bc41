/*
 * vmem.c - the virtual range allocator (see svmm/vmem.h and docs/vmem.md).
 *
 * Public functions take the lock, validate their arguments, find what they will
 * change, reserve every pool unit the change may need, and only then modify the trees.
 * Internal helpers below assume the lock is held.
 */
#include <svmm/vmem.h>

#define VMEM_LIVE 0x766d656du   /* "vmem" */

/*
 * One node of a free tree: key is the region's size in the size tree and its address
 * in the address tree; pair points to the region's node in the other tree (32 bytes).
 */
struct vmem_fnode {
	uint64_t key;
	struct vmem_fnode *pair;
	struct rb_node rb;
};

/*
 * A pool unit: a free region's two nodes side by side in one cache line, or, while the
 * unit is unused, its links in the pool's free list.
 */
struct vmem_unit {
	union {
		struct {
			struct vmem_fnode sz;   /* in the size tree */
			struct vmem_fnode ad;   /* in the address tree */
		} r;
		struct {
			struct vmem_unit *next, *prev;
		} f;
	};
};

/* The first unit of every page from the page source describes the page. */
struct vmem_pool_page {
	struct vmem_pool_page *next, *prev;
	uint64_t used;   /* units of this page holding a free region */
	uint64_t pad[5];
};

#define UNITS_PER_PAGE (VMEM_POOL_PAGE / VMEM_UNIT_SIZE - 1)

_Static_assert(sizeof(struct vmem_fnode) == 32, "free node must be 32 bytes");
_Static_assert(sizeof(struct vmem_unit) == VMEM_UNIT_SIZE, "unit must be one line");
_Static_assert(sizeof(struct vmem_pool_page) == VMEM_UNIT_SIZE, "page header: one unit");
_Static_assert(sizeof(struct vmem_region) <= 32, "allocated region at most 32 bytes");

#define FNODE(n)  SVMM_CONTAINER_OF(n, struct vmem_fnode, rb)
#define REGION(n) SVMM_CONTAINER_OF(n, struct vmem_region, node)
#define UNIT_OF_SZ(f) SVMM_CONTAINER_OF(f, struct vmem_unit, r.sz)

/*
 * Record node n and direction d at index i of a path under construction and return
 * i + 1. The search loops keep the depth in a local variable: through the path it
 * would be reloaded after every byte store to dir[].
 */
static inline unsigned path_put(struct rb_path *p, unsigned i, struct rb_node *n, unsigned d)
{
	if (i >= RB_PATH_MAX - 1)
		port_panic("vmem: search deeper than any red-black tree can be");
	p->node[i] = n;
	p->dir[i] = (unsigned char)d;
	return i + 1;
}

/* ---------------------------------------------------------------- the unit pool */

static struct vmem_unit *boot_units(struct vmem *vm)
{
	uintptr_t p = (uintptr_t)vm->boot;

	return (struct vmem_unit *)((p + VMEM_UNIT_SIZE - 1) & ~(uintptr_t)(VMEM_UNIT_SIZE - 1));
}

static bool unit_is_boot(struct vmem *vm, const struct vmem_unit *u)
{
	const struct vmem_unit *b = boot_units(vm);

	return u >= b && u < b + VMEM_BOOT_UNITS;
}

static struct vmem_pool_page *page_of(const struct vmem_unit *u)
{
	return (struct vmem_pool_page *)((uintptr_t)u & ~(uintptr_t)(VMEM_POOL_PAGE - 1));
}

static void unit_push(struct vmem *vm, struct vmem_unit *u)
{
	u->f.prev = NULL;
	u->f.next = vm->units_free;
	if (vm->units_free)
		vm->units_free->f.prev = u;
	vm->units_free = u;
	vm->nunits_free++;
}

static void unit_unlink(struct vmem *vm, struct vmem_unit *u)
{
	if (u->f.prev)
		u->f.prev->f.next = u->f.next;
	else
		vm->units_free = u->f.next;
	if (u->f.next)
		u->f.next->f.prev = u->f.prev;
	vm->nunits_free--;
}

/*
 * Make sure n units are free, taking pages from the source as needed. Touches no tree,
 * so a failure leaves the arena's regions unchanged; pages already taken stay in the
 * pool (they are counted, and given back when wholly unused or at destroy).
 */
static int pool_reserve(struct vmem *vm, uint64_t n)
{
	while (vm->nunits_free < n) {
		void *mem = NULL;
		struct vmem_pool_page *pg;
		struct vmem_unit *u;

		if (!vm->has_src || vm->src.alloc(vm->src.ctx, &mem) != 0 || mem == NULL)
			return SVMM_ENOMEM;
		if (((uintptr_t)mem & (VMEM_POOL_PAGE - 1)) != 0) {
			/* page_of() depends on alignment: refuse the page, not the contract. */
			vm->src.free(vm->src.ctx, mem);
			return SVMM_ENOMEM;
		}
		pg = mem;
		pg->used = 0;
		pg->prev = NULL;
		pg->next = vm->pages;
		if (vm->pages)
			vm->pages->prev = pg;
		vm->pages = pg;
		vm->npages++;
		vm->nunits += UNITS_PER_PAGE;
		/* Push in reverse so that the page is used from its start. */
		u = (struct vmem_unit *)mem;
		for (unsigned i = UNITS_PER_PAGE; i >= 1; i--)
			unit_push(vm, &u[i]);
	}
	return 0;
}

/* Take a reserved unit. The caller has called pool_reserve; running dry is a bug. */
static struct vmem_unit *unit_get(struct vmem *vm)
{
	struct vmem_unit *u = vm->units_free;

	if (u == NULL)
		port_panic("vmem: unit pool empty after reservation");
	unit_unlink(vm, u);
	if (!unit_is_boot(vm, u))
		page_of(u)->used++;
	return u;
}

static void page_release(struct vmem *vm, struct vmem_pool_page *pg)
{
	struct vmem_unit *u = (struct vmem_unit *)(void *)pg;

	for (unsigned i = 1; i <= UNITS_PER_PAGE; i++)
		unit_unlink(vm, &u[i]);
	if (pg->prev)
		pg->prev->next = pg->next;
	else
		vm->pages = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
	vm->npages--;
	vm->nunits -= UNITS_PER_PAGE;
	vm->src.free(vm->src.ctx, pg);
}

/*
 * Return a unit. A page whose units are all unused goes back to the source, but only
 * while another page's worth of units stays free, so that an arena hovering at a page
 * boundary does not take and return the same page on every call.
 */
static void unit_put(struct vmem *vm, struct vmem_unit *u)
{
	unit_push(vm, u);
	if (!unit_is_boot(vm, u)) {
		struct vmem_pool_page *pg = page_of(u);

		if (--pg->used == 0 && vm->nunits_free >= 2 * UNITS_PER_PAGE)
			page_release(vm, pg);
	}
}

/* ---------------------------------------------------------------- the free trees */

/*
 * The address of the region a size node describes. sz->pair leads there, but the pair
 * always shares one unit, so the hot searches reach it by position: a load that does
 * not wait for another load. vmem_check verifies that pair and position agree.
 */
static inline uint64_t sz_addr(const struct vmem_fnode *sz)
{
	return SVMM_CONTAINER_OF(sz, const struct vmem_unit, r.sz)->r.ad.key;
}

/* Does the size node (s, a) order before node n of the size tree? */
static inline bool sz_before(uint64_t s, uint64_t a, const struct rb_node *n)
{
	const struct vmem_fnode *f = FNODE(n);

	/* Evaluated without branches: the outcome is a coin toss at every level. */
	return (s < f->key) | ((s == f->key) & (a < sz_addr(f)));
}

static void sz_insert(struct vmem *vm, struct vmem_fnode *sz)
{
	struct rb_path p;
	struct rb_node *n = vm->size_tree.rb_node;
	uint64_t s = sz->key, a = sz_addr(sz);
	unsigned i = 0;

	while (n != NULL) {
		unsigned d = !sz_before(s, a, n);

		i = path_put(&p, i, n, d);
		n = rb_child(n, d);
	}
	p.depth = i;
	rb_insert(&vm->size_tree, &p, &sz->rb);
}

static void sz_path(struct vmem *vm, struct vmem_fnode *sz, struct rb_path *p)
{
	struct rb_node *n = vm->size_tree.rb_node;
	uint64_t s = sz->key, a = sz_addr(sz);
	unsigned i = 0;

	while (n != &sz->rb) {
		unsigned d;

		if (n == NULL)
			port_panic("vmem: free region missing from the size tree");
		d = !sz_before(s, a, n);
		i = path_put(p, i, n, d);
		n = rb_child(n, d);
	}
	p->depth = path_put(p, i, n, RB_LEFT);
}

/*
 * The in-order neighbour (dir RB_LEFT: predecessor) of the node a path ends at. Found
 * from the path alone when the node has no child on that side.
 */
static struct rb_node *path_neighbour(const struct rb_path *p, unsigned dir)
{
	struct rb_node *n = p->node[p->depth - 1];
	struct rb_node *c = rb_child(n, dir);

	if (c != NULL) {
		struct rb_node *g;

		while ((g = rb_child(c, !dir)) != NULL)
			c = g;
		return c;
	}
	for (unsigned i = p->depth - 1; i-- > 0;)
		if (p->dir[i] == !dir)
			return p->node[i];
	return NULL;
}

/*
 * Give the size node sz (path p leads to it) the key (size, its address after the
 * caller's change). A region that shrinks or grows usually moves in the size tree;
 * when its neighbour on the side it moves towards still orders before (after) it, the
 * key changes in place and the tree is left alone.
 */
static bool sz_rekey_in_place(struct vmem_fnode *sz, const struct rb_path *p, uint64_t size)
{
	bool grows = size > sz->key;
	struct rb_node *nb = path_neighbour(p, grows ? RB_RIGHT : RB_LEFT);
	uint64_t a = sz_addr(sz);

	if (nb == NULL || (grows ? sz_before(size, a, nb) : !sz_before(size, a, nb))) {
		sz->key = size;
		return true;
	}
	return false;
}

static void sz_rekey(struct vmem *vm, struct vmem_fnode *sz, struct rb_path *p, uint64_t size)
{
	if (sz_rekey_in_place(sz, p, size))
		return;
	rb_erase(&vm->size_tree, p);
	sz->key = size;
	sz_insert(vm, sz);
}

static void ad_path(struct vmem *vm, struct vmem_fnode *ad, struct rb_path *p)
{
	struct rb_node *n = vm->addr_tree.rb_node;
	svmm_va_t a = ad->key;
	unsigned i = 0;

	while (n != &ad->rb) {
		unsigned d;

		if (n == NULL)
			port_panic("vmem: free region missing from the address tree");
		d = a >= FNODE(n)->key;
		i = path_put(p, i, n, d);
		n = rb_child(n, d);
	}
	p->depth = path_put(p, i, n, RB_LEFT);
}

/*
 * The free regions around addr (which lies in no free region): *prev gets the one
 * ending at or before addr, *next the one starting after it (NULL when none), and p the
 * path to the null link where a region starting at addr would be inserted.
 */
static void ad_neighbours(struct vmem *vm, svmm_va_t addr, struct vmem_fnode **prev,
			  struct vmem_fnode **next, struct rb_path *p)
{
	struct rb_node *n = vm->addr_tree.rb_node;
	struct vmem_fnode *pv = NULL, *nx = NULL;
	unsigned i = 0;

	while (n != NULL) {
		struct vmem_fnode *f = FNODE(n);
		unsigned d = addr >= f->key;   /* RB_RIGHT when f lies before addr */

		nx = d ? nx : f;
		pv = d ? f : pv;
		i = path_put(p, i, n, d);
		n = rb_child(n, d);
	}
	p->depth = i;
	*prev = pv;
	*next = nx;
}

/* The free region with the greatest address <= addr (its address node), or NULL. */
static struct vmem_fnode *ad_floor(struct vmem *vm, svmm_va_t addr)
{
	struct rb_node *n = vm->addr_tree.rb_node;
	struct vmem_fnode *best = NULL;

	while (n != NULL) {
		struct vmem_fnode *f = FNODE(n);

		if (addr < f->key) {
			n = rb_left(n);
		} else {
			best = f;
			if (addr == f->key)
				break;
			n = rb_right(n);
		}
	}
	return best;
}

/* The size of the region an address node describes (by position, as sz_addr). */
static inline uint64_t ad_size(const struct vmem_fnode *ad)
{
	return SVMM_CONTAINER_OF(ad, const struct vmem_unit, r.ad)->r.sz.key;
}

/*
 * Create a free region. Its address path p ends at the null link for addr; sp, if not
 * NULL, is a path to the null link for (size, addr) in the size tree.
 */
static void region_new(struct vmem *vm, svmm_va_t addr, uint64_t size, struct rb_path *p,
		       struct rb_path *sp)
{
	struct vmem_unit *u = unit_get(vm);

	u->r.sz.key = size;
	u->r.sz.pair = &u->r.ad;
	u->r.ad.key = addr;
	u->r.ad.pair = &u->r.sz;
	rb_insert(&vm->addr_tree, p, &u->r.ad.rb);
	if (sp != NULL)
		rb_insert(&vm->size_tree, sp, &u->r.sz.rb);
	else
		sz_insert(vm, &u->r.sz);
	vm->nfree++;
}

/* Delete a free region whose size node is already out of the size tree. */
static void region_drop(struct vmem *vm, struct vmem_fnode *sz)
{
	struct rb_path p;

	ad_path(vm, sz->pair, &p);
	rb_erase(&vm->addr_tree, &p);
	vm->nfree--;
	unit_put(vm, UNIT_OF_SZ(sz));
}

/*
 * Take [x, x + s) out of the free region whose size node is sz. szp, if not NULL, is
 * the path to sz in the size tree. The caller has reserved one unit if the range lies
 * strictly inside the region (the remainder is then two regions).
 */
static void carve(struct vmem *vm, struct vmem_fnode *sz, struct rb_path *szp, svmm_va_t x,
		  uint64_t s)
{
	struct vmem_fnode *ad = sz->pair;
	uint64_t a = ad->key, size = sz->key;
	uint64_t front = x - a, back = a + size - (x + s);
	struct rb_path p;

	if (szp == NULL) {
		sz_path(vm, sz, &p);
		szp = &p;
	}
	vm->free_bytes -= s;
	if (front == 0 && back == 0) {
		rb_erase(&vm->size_tree, szp);
		region_drop(vm, sz);
		return;
	}
	if (front == 0) {
		/* Nothing lies between a and x + s, so the address node keeps its place. */
		ad->key = x + s;
		sz_rekey(vm, sz, szp, back);
		return;
	}
	sz_rekey(vm, sz, szp, front);
	if (back != 0) {
		struct vmem_fnode *prev, *next;

		ad_neighbours(vm, x + s, &prev, &next, &p);
		region_new(vm, x + s, back, &p, NULL);
	}
}

/*
 * Put [addr, addr + size), which lies in no region, back as free space, merging with
 * free neighbours. Step one (plan) finds the neighbours and says whether a unit is
 * needed; step two (commit) changes the trees. The address tree must not change in
 * between.
 */
struct release_plan {
	svmm_va_t addr;
	uint64_t size;
	struct vmem_fnode *prev, *next;   /* address nodes of free neighbours that touch */
	struct rb_path path;
	struct rb_path *size_path;   /* for (size, addr) in the size tree, or NULL */
	/*
	 * When exactly one neighbour merges: the path to its size node, if the caller
	 * already found it (nb_sz names the node the path ends at), else nb_sz is NULL.
	 */
	struct vmem_fnode *nb_sz;
	struct rb_path *nb_path;
};

/* Complete a plan whose path and neighbours (from ad_neighbours) are already known. */
static uint64_t release_plan_with(struct release_plan *pl, svmm_va_t addr, uint64_t size,
				  struct vmem_fnode *prev, struct vmem_fnode *next)
{
	pl->addr = addr;
	pl->size = size;
	pl->size_path = NULL;
	pl->nb_sz = NULL;
	pl->prev = (prev && prev->key + ad_size(prev) == addr) ? prev : NULL;
	pl->next = (next && addr + size == next->key) ? next : NULL;
	return (pl->prev || pl->next) ? 0 : 1;   /* units needed */
}

static uint64_t release_plan(struct vmem *vm, svmm_va_t addr, uint64_t size, struct release_plan *pl)
{
	struct vmem_fnode *prev, *next;

	ad_neighbours(vm, addr, &prev, &next, &pl->path);
	return release_plan_with(pl, addr, size, prev, next);
}

static void release_commit(struct vmem *vm, struct release_plan *pl)
{
	struct rb_path p;

	vm->free_bytes += pl->size;
	if (pl->prev == NULL && pl->next == NULL) {
		region_new(vm, pl->addr, pl->size, &pl->path, pl->size_path);
		return;
	}
	if (pl->prev != NULL && pl->next != NULL) {
		/* Both touch: the next region is absorbed into the previous one. */
		struct vmem_fnode *nsz = pl->next->pair;
		uint64_t nsize = nsz->key;

		sz_path(vm, nsz, &p);
		rb_erase(&vm->size_tree, &p);
		region_drop(vm, nsz);
		pl->size += nsize;
	}
	if (pl->prev != NULL) {
		struct vmem_fnode *sz = pl->prev->pair;
		struct rb_path *sp = &p;

		if (pl->nb_sz == sz && pl->next == NULL)
			sp = pl->nb_path;
		else
			sz_path(vm, sz, &p);
		sz_rekey(vm, sz, sp, sz->key + pl->size);
	} else {
		/*
		 * Growing downwards: no free region lies between addr and next, so the
		 * address node keeps its place. The size node's path is found with its old
		 * address, before the change.
		 */
		struct vmem_fnode *sz = pl->next->pair;
		struct rb_path *sp = &p;

		if (pl->nb_sz == sz)
			sp = pl->nb_path;
		else
			sz_path(vm, sz, &p);
		pl->next->key = pl->addr;
		sz_rekey(vm, sz, sp, sz->key + pl->size);
	}
}

/* ---------------------------------------------------------------- the used tree */

static void used_insert(struct vmem *vm, struct vmem_region *r, svmm_va_t addr, uint64_t size)
{
	struct rb_path p;
	struct rb_node *n = vm->used_tree.rb_node;

	unsigned i = 0;

	r->addr = addr;
	r->size = size;
	while (n != NULL) {
		unsigned d = addr >= REGION(n)->addr;

		i = path_put(&p, i, n, d);
		n = rb_child(n, d);
	}
	p.depth = i;
	rb_insert(&vm->used_tree, &p, &r->node);
	vm->nused++;
	vm->used_bytes += size;
}

/* The allocated region with the greatest address <= addr, or NULL. */
static struct vmem_region *used_floor(struct vmem *vm, svmm_va_t addr)
{
	struct rb_node *n = vm->used_tree.rb_node;
	struct vmem_region *best = NULL;

	while (n != NULL) {
		struct vmem_region *r = REGION(n);
		unsigned d = addr >= r->addr;   /* RB_RIGHT: r is a candidate */

		best = d ? r : best;
		if (addr == r->addr)
			break;
		n = rb_child(n, d);
	}
	return best;
}

/*
 * What vmem_free needs, found in one pass: the allocated region starting at addr (with
 * its path in up, or NULL), and the free regions around addr (as ad_neighbours, path in
 * fp). When the caller gave the size, also the place (path sp) where a free region
 * (size, addr) would go in the size tree, which is where the freed range goes when it
 * merges with nothing. The searches are independent, so they run interleaved: their
 * cache misses overlap instead of adding up.
 *
 * The address search is the shortest (there are fewer free regions than allocated
 * ones, and its nodes are denser in cache), so it usually ends while the used-tree
 * search still waits on memory. If by then exactly one free neighbour is seen to touch
 * the freed range, the freed range will merge into it, sp is not needed, and the
 * search in the size tree turns to that neighbour's size node: *nb_sz gets the node and
 * np the path to it (as sz_path would find), otherwise *nb_sz is NULL. Without the
 * caller's size only a touching predecessor can be recognised this early.
 */
static struct vmem_region *free_search(struct vmem *vm, svmm_va_t addr, uint64_t size,
				       struct rb_path *up, struct rb_path *fp,
				       struct rb_path *sp, struct vmem_fnode **prev,
				       struct vmem_fnode **next, struct rb_path *np,
				       struct vmem_fnode **nb_sz)
{
	struct rb_node *u = vm->used_tree.rb_node, *f = vm->addr_tree.rb_node;
	struct rb_node *t = size != 0 ? vm->size_tree.rb_node : NULL, *m = NULL;
	struct vmem_region *found = NULL;
	struct vmem_fnode *pv = NULL, *nx = NULL, *target = NULL;
	uint64_t ts = 0, ta = 0;
	unsigned ui = 0, fi = 0, ti = 0, mi = 0;

	while (u != NULL || f != NULL || t != NULL || m != NULL) {
		if (t != NULL) {
			unsigned d = !sz_before(size, addr, t);

			ti = path_put(sp, ti, t, d);
			t = rb_child(t, d);
		}
		if (m != NULL) {
			unsigned d;

			if (m == &target->rb) {
				mi = path_put(np, mi, m, RB_LEFT);
				m = NULL;
			} else {
				d = !sz_before(ts, ta, m);
				mi = path_put(np, mi, m, d);
				m = rb_child(m, d);
				if (m == NULL)
					port_panic("vmem: free region missing from the size tree");
			}
		}
		if (u != NULL) {
			struct vmem_region *r = REGION(u);
			unsigned d = addr >= r->addr;

			ui = path_put(up, ui, u, d);
			if (addr == r->addr) {
				found = r;
				u = NULL;
			} else {
				u = rb_child(u, d);
			}
		}
		if (f != NULL) {
			struct vmem_fnode *a = FNODE(f);
			unsigned d = addr >= a->key;

			nx = d ? nx : a;
			pv = d ? a : pv;
			fi = path_put(fp, fi, f, d);
			f = rb_child(f, d);
			if (f == NULL && u != NULL) {
				bool pt = pv != NULL && pv->key + ad_size(pv) == addr;
				bool nt = size != 0 && nx != NULL && addr + size == nx->key;

				if (pt != nt) {
					target = (pt ? pv : nx)->pair;
					ts = target->key;
					ta = sz_addr(target);
					m = vm->size_tree.rb_node;
					t = NULL;   /* the freed range merges: sp is not needed */
				}
			}
		}
	}
	up->depth = ui;
	fp->depth = fi;
	sp->depth = ti;
	np->depth = mi;
	*prev = pv;
	*next = nx;
	*nb_sz = target;
	return found;
}

/*
 * The common allocation: [x, x + s) from the start of the free region of size node sz
 * (path szp), recorded in r. It is carve() followed by used_insert(), except that the
 * searches the two need in different trees (the address tree or the size tree, and the
 * used tree) run interleaved, so that their cache misses overlap.
 */
static void alloc_front(struct vmem *vm, struct vmem_fnode *sz, struct rb_path *szp,
			uint64_t s, struct vmem_region *r)
{
	struct vmem_fnode *ad = sz->pair;
	svmm_va_t x = ad->key;
	uint64_t back = sz->key - s;
	struct rb_path up, tp;
	struct rb_node *u = vm->used_tree.rb_node, *t, *stop;
	unsigned ui = 0, ti = 0;
	bool exact = back == 0;

	vm->free_bytes -= s;
	if (!exact) {
		/* Nothing lies between x and x + s: the address node keeps its place. */
		ad->key = x + s;
		if (sz_rekey_in_place(sz, szp, back)) {
			used_insert(vm, r, x, s);
			return;
		}
		rb_erase(&vm->size_tree, szp);
		sz->key = back;
		t = vm->size_tree.rb_node;   /* search for the new place of sz */
		stop = NULL;
	} else {
		t = vm->addr_tree.rb_node;   /* search for ad, to erase it */
		stop = &ad->rb;
	}
	while (t != stop || u != NULL) {
		if (t != stop) {
			unsigned d;

			if (t == NULL)
				port_panic("vmem: free region missing from the address tree");
			d = exact ? x >= FNODE(t)->key : !sz_before(back, x + s, t);
			ti = path_put(&tp, ti, t, d);
			t = rb_child(t, d);
		}
		if (u != NULL) {
			unsigned d = x >= REGION(u)->addr;

			ui = path_put(&up, ui, u, d);
			u = rb_child(u, d);
		}
	}
	if (exact) {
		tp.depth = path_put(&tp, ti, t, RB_LEFT);
		rb_erase(&vm->size_tree, szp);
		rb_erase(&vm->addr_tree, &tp);
		vm->nfree--;
		unit_put(vm, UNIT_OF_SZ(sz));
	} else {
		tp.depth = ti;
		rb_insert(&vm->size_tree, &tp, &sz->rb);
	}
	up.depth = ui;
	r->addr = x;
	r->size = s;
	rb_insert(&vm->used_tree, &up, &r->node);
	vm->nused++;
	vm->used_bytes += s;
}

/* ---------------------------------------------------------------- validation and fit */

static int check_range(const struct vmem *vm, svmm_va_t addr, uint64_t size)
{
	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(addr, vm->quantum) || !SVMM_IS_ALIGNED(size, vm->quantum))
		return SVMM_EUNALIGNED;
	if (addr + size < addr || addr + size == 0)
		return SVMM_EOVERFLOW;
	return 0;
}

/* Normalised constraints: align >= quantum, maxaddr 0 = the top of the address space. */
struct xc {
	uint64_t align, phase, nocross;
	svmm_va_t minaddr, maxaddr;
	bool ranged;
};

/* Smallest x >= lo with x % align == phase; false if that wraps past 2^64 - 1. */
static bool align_phase(uint64_t lo, uint64_t align, uint64_t phase, uint64_t *xp)
{
	uint64_t base = lo & ~(align - 1);
	uint64_t x = base + phase;

	if (x < base)
		return false;
	if (x < lo) {
		if (x + align < x)
			return false;
		x += align;
	}
	*xp = x;
	return true;
}

static bool crosses(uint64_t x, uint64_t s, uint64_t nocross)
{
	return nocross != 0 && ((x ^ (x + s - 1)) & ~(nocross - 1)) != 0;
}

/* The lowest start in the free region [a, a + size) that meets every constraint. */
static bool fit(uint64_t a, uint64_t size, uint64_t s, const struct xc *c, svmm_va_t *xp)
{
	uint64_t lo = a, hi = a + size;   /* no wrap: spans end below 2^64 */
	uint64_t x;

	if (lo < c->minaddr)
		lo = c->minaddr;
	if (hi > c->maxaddr)
		hi = c->maxaddr;
	if (lo >= hi || hi - lo < s)
		return false;
	if (!align_phase(lo, c->align, c->phase, &x))
		return false;
	if (crosses(x, s, c->nocross)) {
		/*
		 * Restart at the next boundary. The offset of the first aligned start past a
		 * boundary is the smallest any window allows, so if that start crosses too,
		 * every later one does.
		 */
		uint64_t b = (x | (c->nocross - 1)) + 1;

		if (b == 0 || !align_phase(b, c->align, c->phase, &x) || crosses(x, s, c->nocross))
			return false;
	}
	if (x > hi - s)
		return false;
	*xp = x;
	return true;
}

static int make_xc(const struct vmem *vm, uint64_t size, const struct vmem_constraint *c,
		   struct xc *xc)
{
	uint64_t q = vm->quantum;

	xc->align = q;
	xc->phase = 0;
	xc->nocross = 0;
	xc->minaddr = 0;
	xc->maxaddr = ~(uint64_t)0;
	xc->ranged = false;
	if (c == NULL)
		return 0;
	if (c->align != 0) {
		if (!SVMM_IS_POW2(c->align) || c->align < q)
			return SVMM_EALIGN;
		xc->align = c->align;
	}
	if (c->nocross != 0 && (!SVMM_IS_POW2(c->nocross) || c->nocross < q))
		return SVMM_EALIGN;
	if (!SVMM_IS_ALIGNED(c->phase, q) || !SVMM_IS_ALIGNED(c->minaddr, q) ||
	    !SVMM_IS_ALIGNED(c->maxaddr, q))
		return SVMM_EUNALIGNED;
	if (c->phase >= xc->align)
		return SVMM_EINVAL;
	if (c->nocross != 0 && size > c->nocross)
		return SVMM_EINVAL;   /* can never be met */
	if (c->maxaddr != 0 && c->maxaddr <= c->minaddr)
		return SVMM_EINVAL;
	xc->phase = c->phase;
	xc->nocross = c->nocross;
	xc->minaddr = c->minaddr;
	if (c->maxaddr != 0)
		xc->maxaddr = c->maxaddr;
	xc->ranged = c->minaddr != 0 || c->maxaddr != 0;
	return 0;
}

/* The first size node of size >= s, with the path to it; NULL if none. */
static struct rb_node *sz_lower_bound(struct vmem *vm, uint64_t s, struct rb_path *p)
{
	struct rb_node *n = vm->size_tree.rb_node, *best = NULL;
	unsigned best_depth = 0, i = 0;

	while (n != NULL) {
		unsigned d = FNODE(n)->key < s;   /* RB_LEFT: n is a candidate */

		i = path_put(p, i, n, d);
		best = d ? best : n;
		best_depth = d ? best_depth : i;
		n = rb_child(n, d);
	}
	p->depth = best_depth;
	return best;
}

/* Candidates tried in size order before jumping to a size that must fit. */
#define XALLOC_SCAN 16

/*
 * Find a free region and start for an allocation. On success *szp is the region's size
 * node, *xp the start, and path (if *have_path) leads to *szp in the size tree.
 */
static bool find_fit(struct vmem *vm, uint64_t s, const struct xc *c, struct vmem_fnode **szp,
		     svmm_va_t *xp, struct rb_path *path, bool *have_path)
{
	struct rb_node *n;
	unsigned tried = 0;
	uint64_t sure = s + c->align - vm->quantum;   /* any region this big fits */
	bool can_jump = !c->ranged && c->nocross == 0 && sure >= s;

	*have_path = true;
	if (c->ranged) {
		/*
		 * An address window: walk the free regions that meet it and keep the best
		 * (smallest, then lowest). Cost is the number of regions in the window.
		 */
		struct vmem_fnode *best = NULL;
		svmm_va_t bestx = 0;
		struct rb_path p;
		struct vmem_fnode *f = ad_floor(vm, c->minaddr);

		if (f == NULL || f->key + ad_size(f) <= c->minaddr) {
			struct vmem_fnode *dummy;

			ad_neighbours(vm, c->minaddr, &dummy, &f, &p);
		}
		if (f == NULL)
			return false;
		ad_path(vm, f, &p);
		for (n = &f->rb; n != NULL && FNODE(n)->key < c->maxaddr; n = rb_next(&p)) {
			struct vmem_fnode *ad = FNODE(n);
			svmm_va_t x;

			if (fit(ad->key, ad_size(ad), s, c, &x) &&
			    (best == NULL || ad_size(ad) < ad_size(best))) {
				best = ad;
				bestx = x;
			}
		}
		if (best == NULL)
			return false;
		*szp = best->pair;
		*xp = bestx;
		*have_path = false;
		return true;
	}

	/* Best fit: the first region in (size, address) order that can hold the request. */
	n = sz_lower_bound(vm, s, path);
	while (n != NULL) {
		struct vmem_fnode *sz = FNODE(n);

		if (fit(sz_addr(sz), sz->key, s, c, xp)) {
			*szp = sz;
			return true;
		}
		if (++tried == XALLOC_SCAN && can_jump && sz->key < sure) {
			/*
			 * Alignment keeps failing on regions barely large enough: jump to the
			 * smallest region that fits whatever its address. If there is none,
			 * keep scanning the rest one by one, so a fit is never missed.
			 */
			struct rb_path jp;
			struct rb_node *m = sz_lower_bound(vm, sure, &jp);

			if (m != NULL) {
				*path = jp;
				n = m;
				continue;
			}
		}
		n = rb_next(path);
	}
	return false;
}

/* ---------------------------------------------------------------- public interface */

int vmem_init(struct vmem *vm, svmm_va_t base, uint64_t size, uint64_t quantum,
	      const struct vmem_page_source *src)
{
	struct vmem_unit *b;

	if (!SVMM_IS_POW2(quantum))
		return SVMM_EALIGN;
	if (!SVMM_IS_ALIGNED(base, quantum) || !SVMM_IS_ALIGNED(size, quantum))
		return SVMM_EUNALIGNED;
	if (size != 0 && (base + size < base || base + size == 0))
		return SVMM_EOVERFLOW;
	if (src != NULL && (src->alloc == NULL || src->free == NULL))
		return SVMM_EINVAL;
	__builtin_memset(vm, 0, sizeof(*vm));
	vm->quantum = quantum;
	if (src != NULL) {
		vm->src = *src;
		vm->has_src = true;
	}
	b = boot_units(vm);
	for (unsigned i = VMEM_BOOT_UNITS; i > 0; i--)
		unit_push(vm, &b[i - 1]);
	vm->nunits = VMEM_BOOT_UNITS;
	vm->live = VMEM_LIVE;
	if (size != 0) {
		struct release_plan pl;

		(void)release_plan(vm, base, size, &pl);
		release_commit(vm, &pl);
		vm->nspans = 1;
		vm->span_bytes = size;
	}
	return 0;
}

/* Does any region, free or allocated, meet [addr, addr + size)? */
static bool overlaps_any(struct vmem *vm, svmm_va_t addr, uint64_t size)
{
	svmm_va_t last = addr + size - 1;
	struct vmem_fnode *f = ad_floor(vm, last);
	struct vmem_region *r;

	if (f != NULL && f->key + ad_size(f) > addr)
		return true;
	r = used_floor(vm, last);
	return r != NULL && r->addr + r->size > addr;
}

int vmem_add(struct vmem *vm, svmm_va_t base, uint64_t size)
{
	struct release_plan pl;
	int err = check_range(vm, base, size);

	if (err)
		return err;
	port_lock(&vm->lock);
	if (overlaps_any(vm, base, size)) {
		err = SVMM_EOVERLAP;
	} else {
		err = pool_reserve(vm, release_plan(vm, base, size, &pl));
		if (!err) {
			release_commit(vm, &pl);
			vm->nspans++;
			vm->span_bytes += size;
		}
	}
	port_unlock(&vm->lock);
	return err;
}

int vmem_xalloc(struct vmem *vm, uint64_t size, const struct vmem_constraint *c,
		struct vmem_region *r, svmm_va_t *addrp)
{
	struct xc xc;
	struct rb_path path;
	struct vmem_fnode *sz;
	bool have_path;
	svmm_va_t x;
	int err;

	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(size, vm->quantum))
		return SVMM_EUNALIGNED;
	err = make_xc(vm, size, c, &xc);
	if (err)
		return err;
	port_lock(&vm->lock);
	if (!find_fit(vm, size, &xc, &sz, &x, &path, &have_path)) {
		err = SVMM_ENOSPC;
	} else {
		/* A cut strictly inside the region leaves two: one more unit. */
		bool inside = x != sz_addr(sz) && x + size != sz_addr(sz) + sz->key;

		err = pool_reserve(vm, inside ? 1 : 0);
		if (!err) {
			if (have_path && x == sz_addr(sz)) {
				alloc_front(vm, sz, &path, size, r);
			} else {
				carve(vm, sz, have_path ? &path : NULL, x, size);
				used_insert(vm, r, x, size);
			}
			if (addrp)
				*addrp = x;
		}
	}
	port_unlock(&vm->lock);
	return err;
}

int vmem_alloc(struct vmem *vm, uint64_t size, struct vmem_region *r, svmm_va_t *addrp)
{
	return vmem_xalloc(vm, size, NULL, r, addrp);
}

int vmem_alloc_fixed(struct vmem *vm, svmm_va_t addr, uint64_t size, struct vmem_region *r)
{
	struct vmem_fnode *f;
	int err = check_range(vm, addr, size);

	if (err)
		return err;
	port_lock(&vm->lock);
	f = ad_floor(vm, addr);
	if (f != NULL && addr + size <= f->key + ad_size(f)) {
		bool inside = addr != f->key && addr + size != f->key + ad_size(f);

		err = pool_reserve(vm, inside ? 1 : 0);
		if (!err) {
			carve(vm, f->pair, NULL, addr, size);
			used_insert(vm, r, addr, size);
		}
	} else {
		/*
		 * Free regions never touch, so a range not inside one free region either
		 * meets an allocation or leaves the spans.
		 */
		struct vmem_region *u = used_floor(vm, addr + size - 1);

		err = (u != NULL && u->addr + u->size > addr) ? SVMM_EBUSY : SVMM_ERANGE;
	}
	port_unlock(&vm->lock);
	return err;
}

int vmem_free(struct vmem *vm, svmm_va_t addr, uint64_t size, struct vmem_region **rp)
{
	struct rb_path up, sp, np;
	struct release_plan pl;
	struct vmem_region *r;
	struct vmem_fnode *prev, *next, *nb_sz;
	int err = 0;

	if (!SVMM_IS_ALIGNED(addr, vm->quantum) || !SVMM_IS_ALIGNED(size, vm->quantum))
		return SVMM_EUNALIGNED;
	port_lock(&vm->lock);
	r = free_search(vm, addr, size, &up, &pl.path, &sp, &prev, &next, &np, &nb_sz);
	if (r == NULL) {
		/* prev is the free region at or below addr, if any */
		err = (prev != NULL && addr - prev->key < ad_size(prev)) ? SVMM_EDOUBLEFREE
									  : SVMM_ENOENT;
	} else if (size != 0 && size != r->size) {
		err = SVMM_ESIZE;
	} else {
		err = pool_reserve(vm, release_plan_with(&pl, addr, r->size, prev, next));
		if (size != 0)
			pl.size_path = &sp;   /* used only if nothing merges */
		pl.nb_sz = nb_sz;
		pl.nb_path = &np;
		if (!err) {
			rb_erase(&vm->used_tree, &up);
			vm->nused--;
			vm->used_bytes -= r->size;
			release_commit(vm, &pl);
			if (rp)
				*rp = r;
		}
	}
	port_unlock(&vm->lock);
	return err;
}

struct vmem_region *vmem_lookup(struct vmem *vm, svmm_va_t addr)
{
	struct vmem_region *r;

	port_lock(&vm->lock);
	r = used_floor(vm, addr);
	if (r != NULL && addr - r->addr >= r->size)
		r = NULL;
	port_unlock(&vm->lock);
	return r;
}

/* Both address-ordered trees side by side, in address order. */
static void walk_locked(struct vmem *vm, void (*fn)(void *ctx, svmm_va_t addr, uint64_t size, bool used),
			void *ctx)
{
	struct rb_path fp, up;
	struct rb_node *f = rb_first(&vm->addr_tree, &fp);
	struct rb_node *u = rb_first(&vm->used_tree, &up);

	while (f != NULL || u != NULL) {
		if (u == NULL || (f != NULL && FNODE(f)->key < REGION(u)->addr)) {
			fn(ctx, FNODE(f)->key, ad_size(FNODE(f)), false);
			f = rb_next(&fp);
		} else {
			fn(ctx, REGION(u)->addr, REGION(u)->size, true);
			u = rb_next(&up);
		}
	}
}

void vmem_walk(struct vmem *vm, void (*fn)(void *ctx, svmm_va_t addr, uint64_t size, bool used),
	       void *ctx)
{
	port_lock(&vm->lock);
	walk_locked(vm, fn, ctx);
	port_unlock(&vm->lock);
}

static void stats_locked(struct vmem *vm, struct vmem_stats *st)
{
	struct rb_node *last = rb_last(&vm->size_tree, NULL);

	st->free_bytes = vm->free_bytes;
	st->used_bytes = vm->used_bytes;
	st->free_regions = vm->nfree;
	st->used_regions = vm->nused;
	st->largest_free = last ? FNODE(last)->key : 0;
	st->span_bytes = vm->span_bytes;
	st->spans = vm->nspans;
	st->pool_pages = vm->npages;
	st->pool_units = vm->nunits;
	st->pool_units_free = vm->nunits_free;
}

void vmem_stats(struct vmem *vm, struct vmem_stats *st)
{
	port_lock(&vm->lock);
	stats_locked(vm, st);
	port_unlock(&vm->lock);
}

struct dump_ctx {
	svmm_print_fn out;
	void *ctx;
};

static void dump_region(void *ctx, svmm_va_t addr, uint64_t size, bool used)
{
	struct dump_ctx *d = ctx;
	char sz[24];

	svmm_fmt_size(sz, sizeof(sz), size);
	svmm_printline(d->out, d->ctx, "  [0x%016llx, 0x%016llx) %6s %s",
		       (unsigned long long)addr, (unsigned long long)(addr + size), sz,
		       used ? "used" : "free");
}

void vmem_dump(struct vmem *vm, bool regions, svmm_print_fn out, void *ctx)
{
	struct vmem_stats st;
	struct dump_ctx d = { out, ctx };

	port_lock(&vm->lock);
	stats_locked(vm, &st);
	svmm_printline(out, ctx,
		       "vmem: %llu span(s), %llu bytes; used %llu bytes in %llu region(s); "
		       "free %llu bytes in %llu region(s), largest %llu",
		       (unsigned long long)st.spans, (unsigned long long)st.span_bytes,
		       (unsigned long long)st.used_bytes, (unsigned long long)st.used_regions,
		       (unsigned long long)st.free_bytes, (unsigned long long)st.free_regions,
		       (unsigned long long)st.largest_free);
	svmm_printline(out, ctx, "vmem: pool %llu unit(s), %llu free, %llu page(s) from the source",
		       (unsigned long long)st.pool_units, (unsigned long long)st.pool_units_free,
		       (unsigned long long)st.pool_pages);
	if (regions)
		walk_locked(vm, dump_region, &d);
	port_unlock(&vm->lock);
}

/* ---------------------------------------------------------------- consistency */

static int size_cmp(const struct rb_node *a, const struct rb_node *b)
{
	const struct vmem_fnode *x = FNODE(a), *y = FNODE(b);

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return sz_addr(x) < sz_addr(y) ? -1 : sz_addr(x) > sz_addr(y);
}

static int addr_cmp(const struct rb_node *a, const struct rb_node *b)
{
	svmm_va_t x = FNODE(a)->key, y = FNODE(b)->key;

	return x < y ? -1 : x > y;
}

static int used_cmp(const struct rb_node *a, const struct rb_node *b)
{
	svmm_va_t x = REGION(a)->addr, y = REGION(b)->addr;

	return x < y ? -1 : x > y;
}

#define CHECK(cond, msg)                 \
	do {                             \
		if (!(cond)) {           \
			*why = (msg);    \
			return SVMM_EINVAL; \
		}                        \
	} while (0)

static int check_locked(struct vmem *vm, const char **why)
{
	struct rb_path fp, up;
	struct rb_node *f, *u;
	uint64_t free_bytes = 0, used_bytes = 0, nfree = 0, nused = 0, on_list = 0;
	uint64_t page_used = 0, boot_used = 0;
	bool have_prev = false;
	uint64_t prev_end = 0;
	bool prev_free = false;

	CHECK(vm->live == VMEM_LIVE, "arena not initialised or destroyed");
	CHECK(rb_check(&vm->size_tree, size_cmp, vm->nfree) == RB_OK, "size tree: rb rules/order/count");
	CHECK(rb_check(&vm->addr_tree, addr_cmp, vm->nfree) == RB_OK, "address tree: rb rules/order/count");
	CHECK(rb_check(&vm->used_tree, used_cmp, vm->nused) == RB_OK, "used tree: rb rules/order/count");

	/* Every size node sits in a unit with its address node, each the other's pair. */
	for (struct rb_node *n = rb_first(&vm->size_tree, &fp); n != NULL; n = rb_next(&fp)) {
		struct vmem_fnode *sz = FNODE(n);

		CHECK(sz->pair == &UNIT_OF_SZ(sz)->r.ad && sz->pair->pair == sz, "size node pairing");
	}

	/* Every region in address order: sizes, pairing, no overlap, no free neighbours. */
	f = rb_first(&vm->addr_tree, &fp);
	u = rb_first(&vm->used_tree, &up);
	while (f != NULL || u != NULL) {
		svmm_va_t a;
		uint64_t s;
		bool is_free = u == NULL || (f != NULL && FNODE(f)->key < REGION(u)->addr);

		if (is_free) {
			struct vmem_fnode *ad = FNODE(f);
			struct vmem_unit *unit = SVMM_CONTAINER_OF(ad, struct vmem_unit, r.ad);

			CHECK(ad->pair == &unit->r.sz && ad->pair->pair == ad, "free node pairing");
			a = ad->key;
			s = ad_size(ad);
			if (unit_is_boot(vm, unit))
				boot_used++;
			else
				page_used++;
			free_bytes += s;
			nfree++;
			f = rb_next(&fp);
		} else {
			a = REGION(u)->addr;
			s = REGION(u)->size;
			used_bytes += s;
			nused++;
			u = rb_next(&up);
		}
		CHECK(s != 0, "empty region");
		CHECK(SVMM_IS_ALIGNED(a, vm->quantum) && SVMM_IS_ALIGNED(s, vm->quantum),
		      "region not quantum-aligned");
		CHECK(a + s > a, "region wraps");
		if (have_prev) {
			CHECK(prev_end <= a, "regions overlap");
			CHECK(!(prev_free && is_free && prev_end == a), "two adjacent free regions");
		}
		have_prev = true;
		prev_end = a + s;
		prev_free = is_free;
	}
	CHECK(nfree == vm->nfree && nused == vm->nused, "region counters");
	CHECK(free_bytes == vm->free_bytes && used_bytes == vm->used_bytes, "byte counters");
	CHECK(free_bytes + used_bytes == vm->span_bytes, "regions do not cover the spans");

	/* The pool: list length, units in use = free regions, page counts. */
	for (struct vmem_unit *it = vm->units_free; it != NULL; it = it->f.next) {
		CHECK(it->f.next == NULL || it->f.next->f.prev == it, "pool list links");
		CHECK(++on_list <= vm->nunits, "pool list longer than the pool");
	}
	CHECK(on_list == vm->nunits_free, "pool free count");
	CHECK(vm->nunits == VMEM_BOOT_UNITS + vm->npages * UNITS_PER_PAGE, "pool unit count");
	CHECK(vm->nunits - vm->nunits_free == vm->nfree, "pool units in use != free regions");
	{
		uint64_t pages = 0, counted = 0;

		for (struct vmem_pool_page *pg = vm->pages; pg != NULL; pg = pg->next) {
			CHECK(++pages <= vm->npages, "pool page list longer than its count");
			counted += pg->used;
		}
		CHECK(pages == vm->npages, "pool page count");
		CHECK(counted == page_used, "pool page use counts");
	}
	(void)boot_used;
	return 0;
}

int vmem_check_why(struct vmem *vm, const char **why)
{
	const char *dummy;
	int err;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	port_lock(&vm->lock);
	err = check_locked(vm, why);
	port_unlock(&vm->lock);
	return err;
}

int vmem_check(struct vmem *vm)
{
	return vmem_check_why(vm, NULL);
}

int vmem_destroy(struct vmem *vm)
{
	port_lock(&vm->lock);
	if (vm->nused != 0) {
		port_unlock(&vm->lock);
		return SVMM_ELIVE;
	}
	/* Free regions need no unlinking: their units die with the pool. */
	while (vm->pages != NULL) {
		struct vmem_pool_page *pg = vm->pages;

		vm->pages = pg->next;
		vm->src.free(vm->src.ctx, pg);
	}
	vm->npages = 0;
	vm->size_tree.rb_node = vm->addr_tree.rb_node = NULL;
	vm->units_free = NULL;
	vm->nunits = vm->nunits_free = vm->nfree = 0;
	vm->free_bytes = vm->span_bytes = vm->nspans = 0;
	vm->live = 0;
	port_unlock(&vm->lock);
	return 0;
}
