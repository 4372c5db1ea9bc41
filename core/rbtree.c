/*
 * rbtree.c - the red-black tree algorithm (rules 1-4 in svmm/rbtree.h).
 *
 * Each node knows its parent, so the fix-ups climb from the changed node instead of
 * walking a recorded path, and every function uses a fixed, small amount of stack.
 * The cases below are the textbook ones, written once for both sides: "dir" is the side
 * the interesting child hangs on, and the mirror case is the same code with !dir.
 */
#include <svmm/rbtree.h>

static inline void set_parent(struct rb_node *n, struct rb_node *p)
{
	n->rb_parent = (uintptr_t)p | (n->rb_parent & RB_BITS);
}

static inline void set_red(struct rb_node *n)
{
	n->rb_parent |= RB_RED;
}

static inline void set_black(struct rb_node *n)
{
	n->rb_parent &= ~RB_RED;
}

/* Give n the colour of m (n keeps its caller bit). */
static inline void copy_colour(struct rb_node *n, const struct rb_node *m)
{
	n->rb_parent = (n->rb_parent & ~RB_RED) | (m->rb_parent & RB_RED);
}

/*
 * Which side of p the child c hangs on. A null c is taken to be the left link when that
 * is null: the callers only ask about a null child where p has one null link or the
 * null child is the left one.
 */
static inline unsigned side_of(const struct rb_node *p, const struct rb_node *c)
{
	return p->rb_child[RB_LEFT] != c;
}

/* Make new_child (may be NULL) take old's place under p, or at the root. */
static inline void change_child(struct rb_root *root, struct rb_node *p,
				const struct rb_node *old, struct rb_node *new_child)
{
	if (p == NULL)
		root->rb_node = new_child;
	else
		p->rb_child[side_of(p, old)] = new_child;
}

/*
 * Rotate x towards dir: its child on the other side, y, takes x's place and x becomes
 * y's dir child; y's former dir subtree moves under x. Order is unchanged, and the
 * callers fix the colours.
 */
static void rotate(struct rb_root *root, struct rb_node *x, unsigned dir)
{
	struct rb_node *y = x->rb_child[!dir];
	struct rb_node *b = y->rb_child[dir];
	struct rb_node *p = rb_parent(x);

	x->rb_child[!dir] = b;
	if (b != NULL)
		set_parent(b, x);
	y->rb_child[dir] = x;
	set_parent(y, p);
	set_parent(x, y);
	change_child(root, p, x, y);
}

void rb_insert(struct rb_root *root, struct rb_node *parent, unsigned dir, struct rb_node *n)
{
	/* A new node is red, which keeps rule 4; only rules 2 and 3 can break. */
	n->rb_parent = (uintptr_t)parent | RB_RED;
	n->rb_child[RB_LEFT] = n->rb_child[RB_RIGHT] = NULL;
	if (parent == NULL)
		root->rb_node = n;
	else
		parent->rb_child[dir] = n;

	for (;;) {
		struct rb_node *p = rb_parent(n), *g, *u;
		unsigned d;

		if (p == NULL) {
			set_black(n);   /* rule 2 */
			return;
		}
		if (!rb_is_red(p))
			return;         /* rule 3 holds */
		g = rb_parent(p);       /* p is red, so not the root (rule 2): g exists */
		d = side_of(g, p);
		u = g->rb_child[!d];
		if (rb_is_red(u)) {
			/*
			 * Case 1, red uncle: push g's blackness down to p and u. Black heights
			 * stay (rule 4); g may now break rule 3 with its parent, so go on there.
			 */
			set_black(p);
			set_black(u);
			set_red(g);
			n = g;
			continue;
		}
		if (p->rb_child[!d] == n) {
			/* Case 2, n is the inner grandchild: rotate it outwards to become case 3. */
			rotate(root, p, d);
			n = p;
			p = rb_parent(n);
		}
		/*
		 * Case 3, n is the outer grandchild and the uncle is black: rotate g away from
		 * p and swap their colours. p, now black, takes g's place: rules 3 and 4 hold.
		 */
		rotate(root, g, !d);
		set_black(p);
		set_red(g);
		return;
	}
}

void rb_insert_beside(struct rb_root *root, struct rb_node *pos, unsigned dir,
		      struct rb_node *node)
{
	struct rb_node *c = pos->rb_child[dir];

	if (c == NULL) {
		rb_insert(root, pos, dir, node);
		return;
	}
	/* The neighbour of pos on that side is the extreme node of its subtree there. */
	while (c->rb_child[!dir] != NULL)
		c = c->rb_child[!dir];
	rb_insert(root, c, !dir, node);
}

/*
 * Restore rule 4 after a black node was removed above x (x may be NULL, p its parent):
 * every path through x is one black short.
 */
static void erase_fixup(struct rb_root *root, struct rb_node *x, struct rb_node *p)
{
	while (p != NULL && !rb_is_red(x)) {
		unsigned d = side_of(p, x);
		struct rb_node *w = p->rb_child[!d];   /* exists: its side is one black taller */

		if (rb_is_red(w)) {
			/* Case 1, red sibling: rotate it over p to get a black sibling. */
			set_black(w);
			set_red(p);
			rotate(root, p, d);
			w = p->rb_child[!d];
		}
		if (!rb_is_red(w->rb_child[RB_LEFT]) && !rb_is_red(w->rb_child[RB_RIGHT])) {
			/*
			 * Case 2, black sibling with black children: make w red, so p's two sides
			 * are equal again and p's whole subtree is one short; continue at p.
			 */
			set_red(w);
			x = p;
			p = rb_parent(x);
			continue;
		}
		if (!rb_is_red(w->rb_child[!d])) {
			/* Case 3, only the near nephew is red: rotate it up to become case 4. */
			set_black(w->rb_child[d]);
			set_red(w);
			rotate(root, w, !d);
			w = p->rb_child[!d];
		}
		/*
		 * Case 4, the far nephew is red: rotate p towards x. w takes p's colour, p and
		 * the far nephew become black: x's side gains the black it lacked (rule 4).
		 */
		copy_colour(w, p);
		set_black(p);
		set_black(w->rb_child[!d]);
		rotate(root, p, d);
		x = root->rb_node;
		break;
	}
	if (x != NULL)
		set_black(x);   /* a red x absorbs the missing black; the root is black (rule 2) */
}

/* Put v (may be NULL) where u hangs, under u's parent. */
static void transplant(struct rb_root *root, struct rb_node *u, struct rb_node *v)
{
	struct rb_node *p = rb_parent(u);

	change_child(root, p, u, v);
	if (v != NULL)
		set_parent(v, p);
}

void rb_erase(struct rb_root *root, struct rb_node *z)
{
	struct rb_node *x, *p;
	bool removed_black;

	if (z->rb_child[RB_LEFT] == NULL || z->rb_child[RB_RIGHT] == NULL) {
		/* At most one child: it takes z's place. */
		x = z->rb_child[z->rb_child[RB_LEFT] == NULL];
		p = rb_parent(z);
		removed_black = !rb_is_red(z);
		transplant(root, z, x);
	} else {
		/*
		 * Two children: z's successor y (leftmost of the right subtree, no left
		 * child) takes z's place and colour; what is lost is y's old colour at y's
		 * old place, where its right child x moves up.
		 */
		struct rb_node *y = z->rb_child[RB_RIGHT];

		while (y->rb_child[RB_LEFT] != NULL)
			y = y->rb_child[RB_LEFT];
		removed_black = !rb_is_red(y);
		x = y->rb_child[RB_RIGHT];
		if (rb_parent(y) == z) {
			p = y;
		} else {
			p = rb_parent(y);
			transplant(root, y, x);
			y->rb_child[RB_RIGHT] = z->rb_child[RB_RIGHT];
			set_parent(y->rb_child[RB_RIGHT], y);
		}
		transplant(root, z, y);
		y->rb_child[RB_LEFT] = z->rb_child[RB_LEFT];
		set_parent(y->rb_child[RB_LEFT], y);
		copy_colour(y, z);
	}
	if (removed_black)
		erase_fixup(root, x, p);
	rb_clear(z);
}

/* The extreme node of the subtree at n in direction dir. */
static struct rb_node *extreme(struct rb_node *n, unsigned dir)
{
	if (n != NULL)
		while (n->rb_child[dir] != NULL)
			n = n->rb_child[dir];
	return n;
}

struct rb_node *rb_first(const struct rb_root *root)
{
	return extreme(root->rb_node, RB_LEFT);
}

struct rb_node *rb_last(const struct rb_root *root)
{
	return extreme(root->rb_node, RB_RIGHT);
}

struct rb_node *rb_next(const struct rb_node *n)
{
	return rb_step(n, RB_RIGHT);
}

struct rb_node *rb_prev(const struct rb_node *n)
{
	return rb_step(n, RB_LEFT);
}

/* The first node with cmp(key, node) <= 0 (strict: < 0). */
static struct rb_node *bound(const struct rb_root *root, const void *key, rb_key_cmp cmp,
			     bool strict)
{
	struct rb_node *n = root->rb_node, *best = NULL;

	while (n != NULL) {
		int c = cmp(key, n);

		if (c < 0 || (!strict && c == 0)) {
			best = n;
			n = n->rb_child[RB_LEFT];
		} else {
			n = n->rb_child[RB_RIGHT];
		}
	}
	return best;
}

struct rb_node *rb_lower_bound(const struct rb_root *root, const void *key, rb_key_cmp cmp)
{
	return bound(root, key, cmp, false);
}

struct rb_node *rb_upper_bound(const struct rb_root *root, const void *key, rb_key_cmp cmp)
{
	return bound(root, key, cmp, true);
}

struct rb_node *rb_find(const struct rb_root *root, const void *key, rb_key_cmp cmp)
{
	struct rb_node *n = root->rb_node;

	while (n != NULL) {
		int c = cmp(key, n);

		if (c == 0)
			return n;
		n = n->rb_child[c > 0];
	}
	return NULL;
}

void rb_add(struct rb_root *root, struct rb_node *node, rb_node_cmp cmp)
{
	struct rb_node *n = root->rb_node, *p = NULL;
	unsigned d = RB_LEFT;

	while (n != NULL) {
		p = n;
		d = cmp(node, n) >= 0;
		n = n->rb_child[d];
	}
	rb_insert(root, p, d, node);
}

/* Black nodes from n up to the root, n included (n not NULL). */
static size_t black_depth(const struct rb_node *n)
{
	size_t b = 0;

	for (; n != NULL; n = rb_parent(n))
		b += !rb_is_red(n);
	return b;
}

int rb_check(const struct rb_root *root, rb_node_cmp cmp, size_t count)
{
	const struct rb_node *n = root->rb_node, *prev = NULL;
	size_t seen = 0, height = 0;
	bool have_height = false;

	if (n == NULL)
		return (count == RB_CHECK_ANY_COUNT || count == 0) ? RB_OK : RB_BAD_COUNT;
	if (rb_parent(n) != NULL)
		return RB_BAD_PARENT;
	if (rb_is_red(n))
		return RB_BAD_ROOT_RED;
	/*
	 * In order, without recursion. Rule 4 is checked where a path ends: every node with
	 * a null link must have the same number of black nodes up to the root. The walk
	 * stops after count + 1 nodes, so a corrupted tree with a cycle cannot hang it.
	 */
	for (n = rb_first(root); n != NULL; n = rb_next(n)) {
		const struct rb_node *p = rb_parent(n);

		if (++seen > count && count != RB_CHECK_ANY_COUNT)
			return RB_BAD_COUNT;
		/* Both ways: the next step climbs through n's parent link. */
		if (p == NULL ? root->rb_node != n
			      : p->rb_child[RB_LEFT] != n && p->rb_child[RB_RIGHT] != n)
			return RB_BAD_PARENT;
		for (unsigned d = 0; d < 2; d++) {
			const struct rb_node *c = n->rb_child[d];

			if (c != NULL && rb_parent(c) != n)
				return RB_BAD_PARENT;
			if (c != NULL && rb_is_red(n) && rb_is_red(c))
				return RB_BAD_RED_RED;
		}
		if (n->rb_child[RB_LEFT] == NULL || n->rb_child[RB_RIGHT] == NULL) {
			size_t b = black_depth(n);

			if (have_height && b != height)
				return RB_BAD_BLACK_HEIGHT;
			height = b;
			have_height = true;
		}
		if (cmp != NULL && prev != NULL && cmp(prev, n) >= 0)
			return RB_BAD_ORDER;
		prev = n;
	}
	if (count != RB_CHECK_ANY_COUNT && seen != count)
		return RB_BAD_COUNT;
	return RB_OK;
}

const char *rb_check_what(int result)
{
	switch (result) {
	case RB_OK: return "ok";
	case RB_BAD_ROOT_RED: return "the root is red (rule 2)";
	case RB_BAD_RED_RED: return "a red node has a red child (rule 3)";
	case RB_BAD_BLACK_HEIGHT: return "paths meet different numbers of black nodes (rule 4)";
	case RB_BAD_ORDER: return "nodes out of order";
	case RB_BAD_COUNT: return "node count differs";
	case RB_BAD_PARENT: return "a parent link does not lead back";
	default: return "unknown result";
	}
}

size_t rb_count(const struct rb_root *root)
{
	size_t n = 0;

	for (const struct rb_node *x = rb_first(root); x != NULL; x = rb_next(x))
		n++;
	return n;
}
