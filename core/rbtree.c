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

/* Which side of p the child c (a real child, not NULL) hangs on. */
static inline unsigned side_of(const struct rb_node *p, const struct rb_node *c)
{
	return p->rb_link[RB_LEFT] != (uintptr_t)c;
}

/* Make new_child take old's place under p, or at the root. */
static inline void change_child(struct rb_root *root, struct rb_node *p,
				const struct rb_node *old, struct rb_node *new_child)
{
	if (p == NULL)
		root->rb_node = new_child;
	else
		p->rb_link[side_of(p, old)] = (uintptr_t)new_child;
}

static inline uintptr_t thread_to(const struct rb_node *n)
{
	return (uintptr_t)n | RB_THREAD;
}

/*
 * Rotate x towards dir: its child on the other side, y, takes x's place and x becomes
 * y's dir child; y's former dir subtree moves under x. Order is unchanged, and the
 * callers fix the colours. If y had no dir subtree, its thread there led to x, and x's
 * link on the other side becomes a thread to y.
 */
static void rotate(struct rb_root *root, struct rb_node *x, unsigned dir)
{
	struct rb_node *y = (struct rb_node *)x->rb_link[!dir];
	uintptr_t b = y->rb_link[dir];
	struct rb_node *p = rb_parent(x);

	if (rb_is_thread(b)) {
		x->rb_link[!dir] = thread_to(y);
	} else {
		x->rb_link[!dir] = b;
		set_parent((struct rb_node *)b, x);
	}
	y->rb_link[dir] = (uintptr_t)x;
	set_parent(y, p);
	set_parent(x, y);
	change_child(root, p, x, y);
}

void rb_insert(struct rb_root *root, struct rb_node *parent, unsigned dir, struct rb_node *n)
{
	/* A new node is red, which keeps rule 4; only rules 2 and 3 can break. */
	n->rb_parent = (uintptr_t)parent | RB_RED;
	if (parent == NULL) {
		n->rb_link[RB_LEFT] = n->rb_link[RB_RIGHT] = thread_to(NULL);
		root->rb_node = n;
	} else {
		/* n falls between parent and parent's former neighbour on that side. */
		n->rb_link[dir] = parent->rb_link[dir];
		n->rb_link[!dir] = thread_to(parent);
		parent->rb_link[dir] = (uintptr_t)n;
	}

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
		u = rb_child(g, !d);
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
		if (p->rb_link[!d] == (uintptr_t)n) {
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
	uintptr_t c = pos->rb_link[dir];

	if (rb_is_thread(c)) {
		rb_insert(root, pos, dir, node);
		return;
	}
	/* The neighbour of pos on that side is the extreme node of its subtree there. */
	rb_insert(root, rb_extreme((struct rb_node *)c, !dir), !dir, node);
}

/*
 * Restore rule 4 after a black node was removed above x (x may be NULL; p is its
 * parent and d the side of p it hangs on): every path through x is one black short.
 */
static void erase_fixup(struct rb_root *root, struct rb_node *x, struct rb_node *p, unsigned d)
{
	while (p != NULL && !rb_is_red(x)) {
		struct rb_node *w = rb_child(p, !d);   /* exists: its side is one black taller */

		if (rb_is_red(w)) {
			/* Case 1, red sibling: rotate it over p to get a black sibling. */
			set_black(w);
			set_red(p);
			rotate(root, p, d);
			w = rb_child(p, !d);
		}
		if (!rb_is_red(rb_child(w, RB_LEFT)) && !rb_is_red(rb_child(w, RB_RIGHT))) {
			/*
			 * Case 2, black sibling with black children: make w red, so p's two sides
			 * are equal again and p's whole subtree is one short; continue at p.
			 */
			set_red(w);
			x = p;
			p = rb_parent(x);
			if (p != NULL)
				d = side_of(p, x);
			continue;
		}
		if (!rb_is_red(rb_child(w, !d))) {
			/* Case 3, only the near nephew is red: rotate it up to become case 4. */
			set_black(rb_child(w, d));
			set_red(w);
			rotate(root, w, !d);
			w = rb_child(p, !d);
		}
		/*
		 * Case 4, the far nephew is red: rotate p towards x. w takes p's colour, p and
		 * the far nephew become black: x's side gains the black it lacked (rule 4).
		 */
		copy_colour(w, p);
		set_black(p);
		set_black(rb_child(w, !d));
		rotate(root, p, d);
		x = root->rb_node;
		break;
	}
	if (x != NULL)
		set_black(x);   /* a red x absorbs the missing black; the root is black (rule 2) */
}

void rb_erase_known(struct rb_root *root, struct rb_node *z, struct rb_node *pred,
		    struct rb_node *succ)
{
	uintptr_t zl = z->rb_link[RB_LEFT], zr = z->rb_link[RB_RIGHT];
	struct rb_node *x, *p = rb_parent(z);
	unsigned d = p != NULL ? side_of(p, z) : RB_LEFT;   /* x's side under p */
	bool removed_black;

	if (rb_is_thread(zl) && rb_is_thread(zr)) {
		/* A leaf: its parent's link on its side becomes its thread there. */
		x = NULL;
		removed_black = !rb_is_red(z);
		if (p != NULL)
			p->rb_link[d] = z->rb_link[d];
		else
			root->rb_node = NULL;
	} else if (rb_is_thread(zl) || rb_is_thread(zr)) {
		/*
		 * One child c, on side s: it takes z's place. The node of c's subtree next to
		 * z (a thread to z on its !s side) now leads to z's neighbour on that side.
		 */
		unsigned s = rb_is_thread(zl);
		struct rb_node *c = (struct rb_node *)z->rb_link[s];

		(s == RB_RIGHT ? succ : pred)->rb_link[!s] = z->rb_link[!s];
		x = c;
		removed_black = !rb_is_red(z);
		change_child(root, p, z, c);
		set_parent(c, p);
	} else {
		/*
		 * Two children: z's successor y (leftmost of the right subtree, no left
		 * child) takes z's place and colour; what is lost is y's old colour at y's
		 * old place, where its right child x moves up. z's predecessor (rightmost of
		 * the left subtree) threads to y now.
		 */
		struct rb_node *y = succ;
		uintptr_t yr = y->rb_link[RB_RIGHT];
		struct rb_node *zp = p;

		pred->rb_link[RB_RIGHT] = thread_to(y);
		removed_black = !rb_is_red(y);
		x = rb_is_thread(yr) ? NULL : (struct rb_node *)yr;
		if (rb_parent(y) == z) {
			p = y;
			d = RB_RIGHT;
		} else {
			p = rb_parent(y);
			d = RB_LEFT;
			/* y's old place: its child, or a thread to y (p's predecessor now). */
			p->rb_link[RB_LEFT] = x != NULL ? yr : thread_to(y);
			if (x != NULL)
				set_parent(x, p);
			y->rb_link[RB_RIGHT] = zr;
			set_parent((struct rb_node *)zr, y);
		}
		change_child(root, zp, z, y);
		set_parent(y, zp);
		y->rb_link[RB_LEFT] = zl;
		set_parent((struct rb_node *)zl, y);
		copy_colour(y, z);
	}
	if (removed_black)
		erase_fixup(root, x, p, d);
	rb_clear(z);
}

void rb_erase(struct rb_root *root, struct rb_node *z)
{
	struct rb_node *pred, *succ;

	rb_neighbours(z, &pred, &succ);
	rb_erase_known(root, z, pred, succ);
}

struct rb_node *rb_first(const struct rb_root *root)
{
	return root->rb_node != NULL ? rb_extreme(root->rb_node, RB_LEFT) : NULL;
}

struct rb_node *rb_last(const struct rb_root *root)
{
	return root->rb_node != NULL ? rb_extreme(root->rb_node, RB_RIGHT) : NULL;
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
			n = rb_child(n, RB_LEFT);
		} else {
			n = rb_child(n, RB_RIGHT);
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
		n = rb_child(n, c > 0);
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
		n = rb_child(n, d);
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

/*
 * The in-order neighbour of n found from the structure alone (children and parent
 * links), not from threads: what rb_check compares every thread with.
 */
static const struct rb_node *step_by_parents(const struct rb_node *n, unsigned dir)
{
	const struct rb_node *c = rb_child(n, dir), *p;

	if (c != NULL) {
		while (rb_child(c, !dir) != NULL)
			c = rb_child(c, !dir);
		return c;
	}
	while ((p = rb_parent(n)) != NULL && rb_child(p, dir) == n)
		n = p;
	return p;
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
	while (rb_child(n, RB_LEFT) != NULL)
		n = rb_child(n, RB_LEFT);
	/*
	 * In order, without recursion and without trusting the threads: each step uses the
	 * children and parent links, which are checked first. Rule 4 is checked where a path
	 * ends: every node with a missing child must have the same number of black nodes up
	 * to the root. The walk stops after count + 1 nodes, so a corrupted tree with a
	 * cycle cannot hang it.
	 */
	for (; n != NULL; n = step_by_parents(n, RB_RIGHT)) {
		const struct rb_node *p = rb_parent(n);

		if (++seen > count && count != RB_CHECK_ANY_COUNT)
			return RB_BAD_COUNT;
		/* Both ways: the next step climbs through n's parent link. */
		if (p == NULL ? root->rb_node != n
			      : rb_child(p, RB_LEFT) != n && rb_child(p, RB_RIGHT) != n)
			return RB_BAD_PARENT;
		for (unsigned d = 0; d < 2; d++) {
			const struct rb_node *c = rb_child(n, d);

			if (c != NULL && rb_parent(c) != n)
				return RB_BAD_PARENT;
			if (c != NULL && rb_is_red(n) && rb_is_red(c))
				return RB_BAD_RED_RED;
			/* The whole link, tag included: a bare 0 (the old "no child") would
			   read as a child to rb_step and rb_extreme. */
			if (c == NULL &&
			    n->rb_link[d] != ((uintptr_t)step_by_parents(n, d) | RB_THREAD))
				return RB_BAD_THREAD;
		}
		if (rb_child(n, RB_LEFT) == NULL || rb_child(n, RB_RIGHT) == NULL) {
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
	case RB_BAD_THREAD: return "a thread does not lead to the in-order neighbour";
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
