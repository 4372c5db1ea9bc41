/*
 * svmm/rbtree.h - intrusive red-black trees with parent links.
 *
 * A node is three words: the parent pointer with the node's colour in bit 0 and one bit
 * for the caller in bit 1 (as Linux keeps parent and colour in one word), and the two
 * links. The tree is threaded: a link with no child holds the node's in-order neighbour
 * on that side instead (tagged RB_THREAD; NULL | RB_THREAD at either end), so a node
 * without a child on one side reaches its neighbour there in one load, with no climb.
 * Parent links let every change work from the node itself: erase, in-order neighbours
 * and insertion beside a known node need no search and no recorded path, and every
 * operation runs in constant stack. As in Linux's rbtree, the caller writes the search
 * (it knows its own keys and compares them without an indirect call) and the library
 * links and rebalances. As in OpenBSD's RBT, the algorithm exists once, in
 * core/rbtree.c; the helpers that take a comparison function are thin wrappers for
 * code that does not need the speed.
 *
 * The rules (cited by number in core/rbtree.c):
 *   1. Every node is red or black; a null link counts as black.
 *   2. The root is black.
 *   3. A red node has no red child.
 *   4. Every path from a node down to a null link meets the same number of black
 *      nodes (the node's black height).
 * Rules 3 and 4 bound the height by 2 * log2(n + 1).
 *
 * Nothing here allocates or locks: the caller owns the nodes and serialises access.
 */
#ifndef SVMM_RBTREE_H
#define SVMM_RBTREE_H

#include <svmm/port.h>
#include <svmm/types.h>

/*
 * rb_link[RB_LEFT] and rb_link[RB_RIGHT] are the links. Indexing them by direction lets
 * a search step to either side without a branch: the direction taken at each level is
 * unpredictable, and a mispredicted branch per level costs more than the comparison
 * itself. A link is a child's address, or, with RB_THREAD set, the in-order neighbour
 * on that side (its address, or 0 at the end of the order). rb_parent holds the parent,
 * RB_RED and RB_FLAG.
 */
struct rb_node {
	uintptr_t rb_parent;
	uintptr_t rb_link[2];
};

struct rb_root {
	struct rb_node *rb_node;
};

#define RB_ROOT_INIT { NULL }
#define RB_LEFT  0u
#define RB_RIGHT 1u
#define RB_RED   ((uintptr_t)1)   /* bit 0 of rb_parent: set = red */
#define RB_FLAG  ((uintptr_t)2)   /* bit 1 of rb_parent: the caller's, kept by every change */
#define RB_BITS  ((uintptr_t)3)
#define RB_THREAD ((uintptr_t)1)  /* bit 0 of a link: no child, the neighbour instead */

/* Is link l a thread (no child on its side)? */
static inline bool rb_is_thread(uintptr_t l)
{
	return (l & RB_THREAD) != 0;
}

/* The node a link leads to: the child, or the neighbour of a thread (NULL at an end). */
static inline struct rb_node *rb_link_node(uintptr_t l)
{
	return (struct rb_node *)(l & ~RB_THREAD);
}

/* The child of n in direction dir (RB_LEFT or RB_RIGHT), or NULL; without a branch. */
static inline struct rb_node *rb_child(const struct rb_node *n, unsigned dir)
{
	uintptr_t l = n->rb_link[dir];

	return (struct rb_node *)(l & ((l & RB_THREAD) - 1));
}

/* The left child of n, or NULL. */
static inline struct rb_node *rb_left(const struct rb_node *n)
{
	return rb_child(n, RB_LEFT);
}

/* The right child of n, or NULL. */
static inline struct rb_node *rb_right(const struct rb_node *n)
{
	return rb_child(n, RB_RIGHT);
}

/* The parent of n, or NULL for the root. */
static inline struct rb_node *rb_parent(const struct rb_node *n)
{
	return (struct rb_node *)(n->rb_parent & ~RB_BITS);
}

/* Null links are black (rule 1). */
static inline bool rb_is_red(const struct rb_node *n)
{
	return n != NULL && (n->rb_parent & RB_RED) != 0;
}

/* The caller's bit of n (vmem's segment tree marked free segments with it). */
static inline bool rb_flag(const struct rb_node *n)
{
	return (n->rb_parent & RB_FLAG) != 0;
}

/* Set or clear the caller's bit of n; the tree never changes it. */
static inline void rb_set_flag(struct rb_node *n, bool on)
{
	n->rb_parent = (n->rb_parent & ~RB_FLAG) | (on ? RB_FLAG : 0);
}

/*
 * Mark n as in no tree (its parent word points to itself, which no linked node's can),
 * so that rb_linked can tell. rb_erase does this to the node it removes.
 */
static inline void rb_clear(struct rb_node *n)
{
	n->rb_parent = (uintptr_t)n;
}

/* False for a node marked by rb_clear. */
static inline bool rb_linked(const struct rb_node *n)
{
	return (n->rb_parent & ~RB_BITS) != (uintptr_t)n;
}

/*
 * Link node as the dir child of parent, which must have none (parent NULL: the root of
 * an empty tree), and rebalance. The caller's search found the place and keeps
 * its order. The node's caller bit is cleared.
 */
void rb_insert(struct rb_root *root, struct rb_node *parent, unsigned dir, struct rb_node *node);

/*
 * Link node right after pos in order (dir RB_RIGHT) or right before it (RB_LEFT), with
 * no search: for a caller that knows its neighbour. O(1) amortised plus rebalancing.
 */
void rb_insert_beside(struct rb_root *root, struct rb_node *pos, unsigned dir,
		      struct rb_node *node);

/* Remove node from the tree and rebalance; the node is left marked by rb_clear. */
void rb_erase(struct rb_root *root, struct rb_node *node);

/*
 * rb_erase for a caller that has node's in-order neighbours (NULL at an end), as
 * rb_neighbours gives them: they are the nodes an erase would otherwise descend to
 * (the successor that takes node's place, the threads that lead to node).
 */
void rb_erase_known(struct rb_root *root, struct rb_node *node, struct rb_node *pred,
		    struct rb_node *succ);

/*
 * The last node of n's subtree in direction dir (n itself if it has no child there).
 */
static inline struct rb_node *rb_extreme(struct rb_node *n, unsigned dir)
{
	while (!rb_is_thread(n->rb_link[dir]))
		n = (struct rb_node *)n->rb_link[dir];
	return n;
}

/*
 * Iteration: rb_first/rb_last give the smallest/largest node (NULL when empty),
 * rb_next/rb_prev the in-order neighbour of a linked node (NULL at the end). A step
 * is O(1) amortised.
 */
struct rb_node *rb_first(const struct rb_root *root);
struct rb_node *rb_last(const struct rb_root *root);
struct rb_node *rb_next(const struct rb_node *node);
struct rb_node *rb_prev(const struct rb_node *node);

/*
 * The in-order neighbour of n in direction dir (RB_RIGHT: rb_next, RB_LEFT: rb_prev),
 * inline for hot paths that step to a node's neighbours on every call: a thread gives
 * it at once, else it is the extreme node of the child's subtree.
 */
static inline struct rb_node *rb_step(const struct rb_node *n, unsigned dir)
{
	uintptr_t l = n->rb_link[dir];

	if (rb_is_thread(l))
		return rb_link_node(l);
	return rb_extreme((struct rb_node *)l, !dir);
}

/*
 * What rb_near finds out about a node n: the ends of the two descents to its in-order
 * neighbours, and where a change that takes n's place must write. A stop node, the
 * caller's, stands in for a missing child (its links are threads, so a descent from it
 * goes nowhere) and takes the writes that would go to a child or a thread that does
 * not exist, so that the hot paths choose no store target by a branch. It is apart
 * from this struct so that the compiler can keep the struct in registers.
 */
struct rb_near {
	uintptr_t link[2];          /* n's links */
	struct rb_node *child[2];   /* n's child on each side, or &stop */
	struct rb_node *last[2];    /* the far end of each descent: the neighbour, or &stop */
};

/*
 * Find both in-order neighbours of n at once: a thread is the neighbour; a child leads
 * to the rightmost node of the left subtree and the leftmost of the right one. The two
 * descents run in one loop whose cursors are nodes: each moves to its child on the
 * inward side while there is one, and a side without a child starts at stop and stays.
 * The moves are masks (all ones for a child), so that the only branch is the loop's
 * exit: whether a child exists is a coin toss on the allocator's hot paths. A stopped
 * cursor stays where it is, so the loop takes its first two steps without looking:
 * most descents are over by then and the exit test, rarely passed, is then predicted
 * well. The exit leaves the cursors as the step before set them, so what follows does
 * not wait for the last loads. n must be linked; stop is overwritten, and nr may
 * point to it, so it must outlive every use of nr.
 */
static inline void rb_near(const struct rb_node *n, struct rb_near *nr, struct rb_node *stop)
{
	uintptr_t s = (uintptr_t)stop;
	uintptr_t la = n->rb_link[RB_LEFT], lb = n->rb_link[RB_RIGHT];
	uintptr_t ma = (la & RB_THREAD) - 1, mb = (lb & RB_THREAD) - 1;   /* all ones: a child */
	uintptr_t a = (la & ma) | (s & ~ma), b = (lb & mb) | (s & ~mb);   /* node cursors */

	stop->rb_parent = 0;
	stop->rb_link[RB_LEFT] = stop->rb_link[RB_RIGHT] = RB_THREAD;
	nr->link[RB_LEFT] = la;
	nr->link[RB_RIGHT] = lb;
	nr->child[RB_LEFT] = (struct rb_node *)a;
	nr->child[RB_RIGHT] = (struct rb_node *)b;
	for (unsigned i = 0;; i++) {
		uintptr_t an = ((const struct rb_node *)a)->rb_link[RB_RIGHT];
		uintptr_t bn = ((const struct rb_node *)b)->rb_link[RB_LEFT];
		uintptr_t ka = (an & RB_THREAD) - 1, kb = (bn & RB_THREAD) - 1;

		if (i > 0 && (ka | kb) == 0)
			break;
		a ^= (a ^ an) & ka;
		b ^= (b ^ bn) & kb;
	}
	nr->last[RB_LEFT] = (struct rb_node *)a;
	nr->last[RB_RIGHT] = (struct rb_node *)b;
}

/* The in-order neighbour on side dir that rb_near found (NULL at an end). */
static inline struct rb_node *rb_near_node(const struct rb_near *nr, unsigned dir)
{
	uintptr_t l = nr->link[dir], m = (l & RB_THREAD) - 1;

	return (struct rb_node *)(((uintptr_t)nr->last[dir] & m) | (l & ~m & ~RB_THREAD));
}

/* Both in-order neighbours of n (NULL at either end), as rb_near finds them. */
static inline void rb_neighbours(const struct rb_node *n, struct rb_node **predp,
				 struct rb_node **succp)
{
	struct rb_near nr;
	struct rb_node stop;

	rb_near(n, &nr, &stop);
	*predp = rb_near_node(&nr, RB_LEFT);
	*succp = rb_near_node(&nr, RB_RIGHT);
}

/*
 * Put new_node in old's place, with old's links and colour (new_node keeps its caller
 * bit): for a key of new_node that orders exactly where old's did. old is left cleared.
 * nr is what rb_near found for old, with nothing changed since: a child's parent word
 * and the thread that leads back to old (the far end of the descent into that child's
 * subtree) exist only where old has a child, and the writes meant for them otherwise
 * go to the stop node rb_near was given, which must still exist. Inline and without
 * branches on the children: the allocator's hot paths replace a node on about every
 * other call, and whether a child exists is a coin toss there.
 */
static inline void rb_replace_near(struct rb_root *root, struct rb_node *old,
				   struct rb_node *new_node, struct rb_near *nr)
{
	struct rb_node *p = rb_parent(old);

	new_node->rb_parent = (old->rb_parent & ~RB_FLAG) | (new_node->rb_parent & RB_FLAG);
	for (unsigned d = 0; d < 2; d++) {
		struct rb_node *c = nr->child[d];

		new_node->rb_link[d] = nr->link[d];
		c->rb_parent = (uintptr_t)new_node | (c->rb_parent & RB_BITS);
		nr->last[d]->rb_link[!d] = (uintptr_t)new_node | RB_THREAD;
	}
	if (p != NULL)
		p->rb_link[p->rb_link[RB_LEFT] != (uintptr_t)old] = (uintptr_t)new_node;
	else
		root->rb_node = new_node;
	rb_clear(old);
}

/*
 * rb_replace_near for a caller that has not looked at old's neighbours: rb_near first
 * (no search: a thread or a descent into old's subtree on each side).
 */
static inline void rb_replace(struct rb_root *root, struct rb_node *old, struct rb_node *new_node)
{
	struct rb_near nr;
	struct rb_node stop;

	rb_near(old, &nr, &stop);
	rb_replace_near(root, old, new_node, &nr);
}

/* Compare a search key with a node: <0 if key orders before node, 0 equal, >0 after. */
typedef int (*rb_key_cmp)(const void *key, const struct rb_node *node);
/* Compare two nodes of one tree: the tree's total order. */
typedef int (*rb_node_cmp)(const struct rb_node *a, const struct rb_node *b);

/*
 * rb_lower_bound: the first node not ordered before key (node >= key);
 * rb_upper_bound: the first node ordered after key (node > key); NULL if none.
 * rb_find: the node equal to key, or NULL.
 */
struct rb_node *rb_lower_bound(const struct rb_root *root, const void *key, rb_key_cmp cmp);
struct rb_node *rb_upper_bound(const struct rb_root *root, const void *key, rb_key_cmp cmp);
struct rb_node *rb_find(const struct rb_root *root, const void *key, rb_key_cmp cmp);

/* Insert node at its place under cmp (after any equal nodes). */
void rb_add(struct rb_root *root, struct rb_node *node, rb_node_cmp cmp);

/* What rb_check finds: RB_OK or the first broken rule. */
enum rb_check_result {
	RB_OK = 0,
	RB_BAD_ROOT_RED = 2,      /* rule 2 */
	RB_BAD_RED_RED = 3,       /* rule 3 */
	RB_BAD_BLACK_HEIGHT = 4,  /* rule 4 */
	RB_BAD_ORDER = 5,
	RB_BAD_COUNT = 6,
	RB_BAD_PARENT = 7,        /* a child's parent link does not lead back */
	RB_BAD_THREAD = 8,        /* a missing child's link is not the in-order neighbour */
};
#define RB_CHECK_ANY_COUNT ((size_t)-1)

/*
 * Verify rules 1-4, the parent links, the threads, strict increase under cmp (keys must be
 * distinct; cmp may be NULL to skip), and that the tree holds exactly count nodes (pass
 * RB_CHECK_ANY_COUNT to skip). Returns RB_OK or the first violation found. Iterative
 * (constant stack); never modifies the tree. Rule 1 holds by construction.
 */
int rb_check(const struct rb_root *root, rb_node_cmp cmp, size_t count);

/* A sentence naming what an enum rb_check_result says is broken. */
const char *rb_check_what(int result);

/* Nodes in the tree (O(n)). */
size_t rb_count(const struct rb_root *root);

#endif /* SVMM_RBTREE_H */
