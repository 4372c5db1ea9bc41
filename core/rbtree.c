/*
 * rbtree.c - red-black tree rebalancing along a recorded path.
 *
 * The rules numbered in svmm/rbtree.h are cited below by number. Nodes carry no parent
 * pointer: each function receives the path from the root (node[0]) down to the place
 * of change, where dir[i] says which child of node[i] is node[i + 1]. Fix-ups walk
 * that path upwards instead of following parent links, and rotations relink the
 * rotated subtree into the node above it on the path.
 */
#include <svmm/rbtree.h>

/* Keeps the colour bit, which only the left link carries. */
static inline void set_child(struct rb_node *n, unsigned dir, struct rb_node *c)
{
	n->rb_link[dir] = (uintptr_t)c | (n->rb_link[dir] & RB_RED);
}

static inline void set_red(struct rb_node *n)
{
	n->rb_link[RB_LEFT] |= RB_RED;
}

static inline void set_black(struct rb_node *n)
{
	n->rb_link[RB_LEFT] &= ~RB_RED;
}

/* Make n the child that node[k] had: the root when k == 0, else node[k-1]'s child. */
static inline void relink(struct rb_root *root, const struct rb_path *p, unsigned k,
			  struct rb_node *n)
{
	if (k == 0)
		root->rb_node = n;
	else
		set_child(p->node[k - 1], p->dir[k - 1], n);
}

/*
 * Rotate the subtree at x so that x moves down on side dir and its child on the other
 * side rises. Returns the new subtree root; the caller links it to x's old parent.
 */
static inline struct rb_node *rotate(struct rb_node *x, unsigned dir)
{
	struct rb_node *y = rb_child(x, !dir);

	set_child(x, !dir, rb_child(y, dir));
	set_child(y, dir, x);
	return y;
}

void rb_insert(struct rb_root *root, struct rb_path *p, struct rb_node *z)
{
	unsigned i = p->depth;   /* z's index on the path */

	z->rb_link[RB_LEFT] = RB_RED;  /* a new node is red: rule 4 keeps holding */
	z->rb_link[RB_RIGHT] = 0;
	relink(root, p, i, z);

	/* Only rule 3 can be broken, between z and its parent. */
	while (i >= 2) {
		struct rb_node *par = p->node[i - 1];
		struct rb_node *g, *uncle;
		unsigned pd;

		if (!rb_is_red(par))
			return;
		/* par is red, so it is not the root (rule 2): a grandparent exists. */
		g = p->node[i - 2];
		pd = p->dir[i - 2];
		uncle = rb_child(g, !pd);
		if (rb_is_red(uncle)) {
			/*
			 * Red uncle: push g's blackness down to both children. Black
			 * heights are unchanged (rule 4); g may now break rule 3 with its
			 * own parent, so continue from g.
			 */
			set_black(par);
			set_black(uncle);
			set_red(g);
			z = g;
			i -= 2;
			continue;
		}
		if (p->dir[i - 1] != pd) {
			/* z is the inner grandchild: rotate it into par's place first. */
			rotate(par, pd);
			set_child(g, pd, z);
			par = z;
		}
		/*
		 * Black uncle, red outer grandchild: rotating g towards the uncle makes par
		 * the subtree root; recolouring par black and g red restores rule 3 and
		 * keeps every black height (rule 4).
		 */
		rotate(g, !pd);
		set_black(par);
		set_red(g);
		relink(root, p, i - 2, par);
		return;
	}
	/* i is 0 (z or a recoloured grandparent is the root) or z's parent is the root. */
	set_black(root->rb_node);   /* rule 2 */
}

/*
 * Restore rule 4 after a black node was removed from the position that is the child
 * dir[i-1] of node[i-1]: the subtree there is one black short.
 */
static void erase_fixup(struct rb_root *root, struct rb_path *p, unsigned i)
{
	while (i > 0) {
		struct rb_node *par = p->node[i - 1];
		unsigned d = p->dir[i - 1];
		struct rb_node *x = rb_child(par, d);
		struct rb_node *s;

		if (rb_is_red(x)) {
			/* A red node takes the missing black: done (rules 3 and 4). */
			set_black(x);
			return;
		}
		/* x's side is one black short, so the sibling's side has a black: s exists. */
		s = rb_child(par, !d);
		if (rb_is_red(s)) {
			/*
			 * Case 1, red sibling: rotate par towards x so that x gets a black
			 * sibling (s's child), then continue with par one level lower.
			 */
			rotate(par, d);
			set_black(s);
			set_red(par);
			relink(root, p, i - 1, s);
			p->node[i - 1] = s;
			p->dir[i - 1] = (unsigned char)d;
			p->node[i] = par;
			p->dir[i] = (unsigned char)d;
			i++;
			s = rb_child(par, !d);
		}
		if (!rb_is_red(rb_left(s)) && !rb_is_red(rb_right(s))) {
			/*
			 * Case 2, black sibling with black children: make s red so both sides
			 * of par are one short, and move the deficit up to par.
			 */
			set_red(s);
			i--;
			continue;
		}
		if (!rb_is_red(rb_child(s, !d))) {
			/*
			 * Case 3, the sibling's far child is black and its near child red:
			 * rotate s away from x so that the far child becomes red (case 4).
			 */
			struct rb_node *n = rotate(s, !d);

			set_black(n);
			set_red(s);
			set_child(par, !d, n);
			s = n;
		}
		/*
		 * Case 4, the sibling's far child is red: rotate par towards x; s takes
		 * par's colour, par and the far child turn black, which gives x's side the
		 * black it lacked without changing the other side (rule 4).
		 */
		rotate(par, d);
		if (rb_is_red(par))
			set_red(s);
		else
			set_black(s);
		set_black(par);
		set_black(rb_child(s, !d));
		relink(root, p, i - 1, s);
		return;
	}
	if (root->rb_node)
		set_black(root->rb_node);   /* rule 2 */
}

void rb_erase(struct rb_root *root, struct rb_path *p)
{
	unsigned k = p->depth - 1;
	struct rb_node *z = p->node[k];
	struct rb_node *x;
	unsigned hole;
	bool removed_red;

	if (rb_left(z) != NULL && rb_right(z) != NULL) {
		/*
		 * Two children: the in-order successor y (leftmost of the right subtree)
		 * has no left child. Unlink y from its place and put it where z was, with
		 * z's links and colour; the tree lost a node of y's colour at y's place.
		 */
		struct rb_node *y = rb_right(z);
		unsigned j;

		p->dir[k] = RB_RIGHT;
		rb_path_push(p, y, RB_LEFT);
		while (rb_left(y) != NULL) {
			y = rb_left(y);
			rb_path_push(p, y, RB_LEFT);
		}
		j = p->depth - 1;
		x = rb_right(y);
		removed_red = rb_is_red(y);
		set_child(p->node[j - 1], p->dir[j - 1], x);
		y->rb_link[RB_LEFT] = z->rb_link[RB_LEFT];
		y->rb_link[RB_RIGHT] = z->rb_link[RB_RIGHT];
		relink(root, p, k, y);
		p->node[k] = y;
		hole = j;
	} else {
		x = rb_left(z) != NULL ? rb_left(z) : rb_right(z);
		removed_red = rb_is_red(z);
		relink(root, p, k, x);
		hole = k;
	}
	if (removed_red)
		return;   /* removing a red node changes no black height (rule 4) */
	erase_fixup(root, p, hole);
}

void rb_replace(struct rb_root *root, const struct rb_path *p, struct rb_node *new_node)
{
	const struct rb_node *old = p->node[p->depth - 1];

	new_node->rb_link[RB_LEFT] = old->rb_link[RB_LEFT];
	new_node->rb_link[RB_RIGHT] = old->rb_link[RB_RIGHT];
	relink(root, p, p->depth - 1, new_node);
}

/* Descend from n always in direction dir, recording the path. */
static struct rb_node *descend(struct rb_node *n, unsigned dir, struct rb_path *p)
{
	struct rb_node *c;

	if (n == NULL)
		return NULL;
	while ((c = rb_child(n, dir)) != NULL) {
		if (p)
			rb_path_push(p, n, dir);
		n = c;
	}
	if (p)
		rb_path_push(p, n, dir);
	return n;
}

struct rb_node *rb_first(const struct rb_root *root, struct rb_path *p)
{
	if (p)
		rb_path_init(p);
	return descend(root->rb_node, RB_LEFT, p);
}

struct rb_node *rb_last(const struct rb_root *root, struct rb_path *p)
{
	if (p)
		rb_path_init(p);
	return descend(root->rb_node, RB_RIGHT, p);
}

/* Move to the in-order neighbour on side dir (RB_RIGHT = next). */
static struct rb_node *step(struct rb_path *p, unsigned dir)
{
	struct rb_node *n;
	struct rb_node *c;

	if (p->depth == 0)
		return NULL;
	n = p->node[p->depth - 1];
	c = rb_child(n, dir);
	if (c != NULL) {
		p->dir[p->depth - 1] = (unsigned char)dir;
		return descend(c, !dir, p);
	}
	/* Climb until we leave a subtree that lay on the !dir side of its parent. */
	while (--p->depth > 0) {
		if (p->dir[p->depth - 1] == !dir)
			return p->node[p->depth - 1];
	}
	return NULL;
}

struct rb_node *rb_next(struct rb_path *p)
{
	return step(p, RB_RIGHT);
}

struct rb_node *rb_prev(struct rb_path *p)
{
	return step(p, RB_LEFT);
}

/* Shared by lower and upper bound: strict selects "node > key". */
static struct rb_node *bound(const struct rb_root *root, const void *key, rb_key_cmp cmp,
			     struct rb_path *p, bool strict)
{
	struct rb_node *n = root->rb_node;
	struct rb_node *best = NULL;
	unsigned best_depth = 0;

	if (p)
		rb_path_init(p);
	while (n != NULL) {
		int c = cmp(key, n);
		bool go_left = strict ? c < 0 : c <= 0;

		if (p)
			rb_path_push(p, n, go_left ? RB_LEFT : RB_RIGHT);
		if (go_left) {
			best = n;
			if (p)
				best_depth = p->depth;
			n = rb_left(n);
		} else {
			n = rb_right(n);
		}
	}
	if (p)
		p->depth = best ? best_depth : 0;
	return best;
}

struct rb_node *rb_lower_bound(const struct rb_root *root, const void *key, rb_key_cmp cmp,
			       struct rb_path *p)
{
	return bound(root, key, cmp, p, false);
}

struct rb_node *rb_upper_bound(const struct rb_root *root, const void *key, rb_key_cmp cmp,
			       struct rb_path *p)
{
	return bound(root, key, cmp, p, true);
}

struct rb_node *rb_find(const struct rb_root *root, const void *key, rb_key_cmp cmp,
			struct rb_path *p)
{
	struct rb_node *n = root->rb_node;

	if (p)
		rb_path_init(p);
	while (n != NULL) {
		int c = cmp(key, n);

		if (p)
			rb_path_push(p, n, c < 0 ? RB_LEFT : RB_RIGHT);
		if (c == 0)
			return n;
		n = rb_child(n, c < 0 ? RB_LEFT : RB_RIGHT);
	}
	return NULL;
}

void rb_add(struct rb_root *root, struct rb_node *node, rb_node_cmp cmp)
{
	struct rb_path p;
	struct rb_node *n = root->rb_node;

	rb_path_init(&p);
	while (n != NULL) {
		unsigned d = cmp(node, n) < 0 ? RB_LEFT : RB_RIGHT;

		rb_path_push(&p, n, d);
		n = rb_child(n, d);
	}
	rb_insert(root, &p, node);
}

int rb_remove(struct rb_root *root, struct rb_node *node, rb_node_cmp cmp)
{
	struct rb_path p;
	struct rb_node *n = root->rb_node;

	rb_path_init(&p);
	while (n != NULL && n != node) {
		unsigned d = cmp(node, n) < 0 ? RB_LEFT : RB_RIGHT;

		rb_path_push(&p, n, d);
		n = rb_child(n, d);
	}
	if (n == NULL)
		return SVMM_ENOENT;
	rb_path_push(&p, n, RB_LEFT);
	rb_erase(root, &p);
	return 0;
}

struct check_state {
	rb_node_cmp cmp;
	const struct rb_node *prev;
	size_t count;
	int err;
};

/* Black height of the subtree at n (null links count 1), or -1 after an error. */
static int check_subtree(const struct rb_node *n, unsigned depth, struct check_state *st)
{
	int lh, rh;

	if (n == NULL)
		return 1;
	if (depth >= RB_PATH_MAX - 2) {
		st->err = RB_BAD_DEPTH;
		return -1;
	}
	if (rb_is_red(n) && (rb_is_red(rb_left(n)) || rb_is_red(rb_right(n)))) {
		st->err = RB_BAD_RED_RED;
		return -1;
	}
	lh = check_subtree(rb_left(n), depth + 1, st);
	if (lh < 0)
		return -1;
	if (st->prev != NULL && st->cmp != NULL && st->cmp(st->prev, n) >= 0) {
		st->err = RB_BAD_ORDER;
		return -1;
	}
	st->prev = n;
	st->count++;
	rh = check_subtree(rb_right(n), depth + 1, st);
	if (rh < 0)
		return -1;
	if (lh != rh) {
		st->err = RB_BAD_BLACK_HEIGHT;
		return -1;
	}
	return lh + (rb_is_red(n) ? 0 : 1);
}

int rb_check(const struct rb_root *root, rb_node_cmp cmp, size_t count)
{
	struct check_state st = { cmp, NULL, 0, RB_OK };

	if (rb_is_red(root->rb_node))
		return RB_BAD_ROOT_RED;
	if (check_subtree(root->rb_node, 0, &st) < 0)
		return st.err;
	if (count != RB_CHECK_ANY_COUNT && st.count != count)
		return RB_BAD_COUNT;
	return RB_OK;
}

size_t rb_count(const struct rb_root *root)
{
	struct rb_path p;
	size_t n = 0;

	for (struct rb_node *it = rb_first(root, &p); it != NULL; it = rb_next(&p))
		n++;
	return n;
}
