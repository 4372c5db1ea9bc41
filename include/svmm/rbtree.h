/*
 * svmm/rbtree.h - intrusive red-black trees without parent pointers.
 *
 * A node is two words: the left link with the node's colour in its low bit, and the
 * right link. A structure that embeds a node and two 8-byte words of payload is 32
 * bytes. Without parent pointers, every operation that changes the tree works along a
 * path: the array of nodes from the root down to where the change happens, which the
 * caller records while it searches. As in Linux's rbtree, the caller writes the search
 * (it knows its own keys and can compare them without an indirect call), and the
 * library only links and rebalances. As in OpenBSD's RBT, the algorithm exists once, in
 * core/rbtree.c; the helpers that take a comparison function are thin wrappers for
 * code that does not need the speed.
 *
 * The rules (cited by number in core/rbtree.c):
 *   1. Every node is red or black; a null link counts as black.
 *   2. The root is black.
 *   3. A red node has no red child.
 *   4. Every path from a node down to a null link meets the same number of black
 *      nodes (the node's black height).
 * Rules 3 and 4 bound the height by 2 * log2(n + 1), so with fewer than 2^64 nodes a
 * path never holds more than 128 nodes; RB_PATH_MAX leaves room for rebalancing.
 *
 * A search that records a path pushes each node it visits with the direction it takes
 * from it (rb_path_push). For rb_insert the search ends at the null link where the new
 * node belongs; for rb_erase the last node pushed is the node to remove. Nothing here
 * allocates or locks: the caller owns the nodes and serialises access.
 */
#ifndef SVMM_RBTREE_H
#define SVMM_RBTREE_H

#include <svmm/port.h>
#include <svmm/types.h>

/*
 * rb_link[RB_LEFT] is the left child pointer with the node's colour in bit 0 (set =
 * red); rb_link[RB_RIGHT] is the right child pointer. Indexing the links by direction
 * lets a search step to either child without a branch: the direction taken at each
 * level is unpredictable, and a mispredicted branch per level costs more than the
 * comparison itself.
 */
struct rb_node {
	uintptr_t rb_link[2];
};

struct rb_root {
	struct rb_node *rb_node;
};

#define RB_ROOT_INIT { NULL }
#define RB_LEFT  0u
#define RB_RIGHT 1u
#define RB_RED   ((uintptr_t)1)

/* 128 nodes for the deepest legal tree, plus one for erase's rebalancing step. */
#define RB_PATH_MAX 130

struct rb_path {
	unsigned depth;                       /* entries in use */
	unsigned char dir[RB_PATH_MAX];       /* direction taken from node[i] */
	struct rb_node *node[RB_PATH_MAX];
};

/* The child of n in direction dir (RB_LEFT or RB_RIGHT), or NULL. */
static inline struct rb_node *rb_child(const struct rb_node *n, unsigned dir)
{
	return (struct rb_node *)(n->rb_link[dir] & ~RB_RED);
}

/* The left child of n (its colour bit masked off), or NULL. */
static inline struct rb_node *rb_left(const struct rb_node *n)
{
	return rb_child(n, RB_LEFT);
}

/* The right child of n, or NULL. */
static inline struct rb_node *rb_right(const struct rb_node *n)
{
	return rb_child(n, RB_RIGHT);
}

/* Null links are black (rule 1). */
static inline bool rb_is_red(const struct rb_node *n)
{
	return n != NULL && (n->rb_link[RB_LEFT] & RB_RED) != 0;
}

/* Empty a path before a search records into it. */
static inline void rb_path_init(struct rb_path *p)
{
	p->depth = 0;
}

/* Record that the search visited n and goes on in direction dir. */
static inline void rb_path_push(struct rb_path *p, struct rb_node *n, unsigned dir)
{
	if (p->depth >= RB_PATH_MAX - 1)
		port_panic("rbtree: path deeper than any red-black tree can be");
	p->node[p->depth] = n;
	p->dir[p->depth] = (unsigned char)dir;
	p->depth++;
}

/* The node a path ends at, or NULL for an empty path. */
static inline struct rb_node *rb_path_top(const struct rb_path *p)
{
	return p->depth ? p->node[p->depth - 1] : NULL;
}

/*
 * Link node at the null link the path ends at (the child dir[depth-1] of the last node
 * pushed, or the root of an empty tree when the path is empty) and rebalance. The path
 * is consumed (its contents are undefined afterwards). The caller keeps its order.
 */
void rb_insert(struct rb_root *root, struct rb_path *path, struct rb_node *node);

/*
 * Remove the node the path ends at and rebalance. The path must lead from the root to
 * that node; it is consumed. The node's links are left undefined.
 */
void rb_erase(struct rb_root *root, struct rb_path *path);

/*
 * Replace old by new in place, keeping old's links and colour: for a caller whose key
 * of new orders exactly where old's did. The path must end at old.
 */
void rb_replace(struct rb_root *root, const struct rb_path *path, struct rb_node *new_node);

/*
 * Iteration. rb_first/rb_last return the smallest/largest node (NULL when empty) and,
 * if path is not NULL, record the path to it. rb_next/rb_prev move a path to the
 * in-order neighbour of the node it ends at and return it, or NULL (path emptied) at
 * the end. Each step is O(1) amortised.
 */
struct rb_node *rb_first(const struct rb_root *root, struct rb_path *path);
struct rb_node *rb_last(const struct rb_root *root, struct rb_path *path);
struct rb_node *rb_next(struct rb_path *path);
struct rb_node *rb_prev(struct rb_path *path);

/* Compare a search key with a node: <0 if key orders before node, 0 equal, >0 after. */
typedef int (*rb_key_cmp)(const void *key, const struct rb_node *node);
/* Compare two nodes of one tree: the tree's total order. */
typedef int (*rb_node_cmp)(const struct rb_node *a, const struct rb_node *b);

/*
 * rb_lower_bound: the first node not ordered before key (node >= key);
 * rb_upper_bound: the first node ordered after key (node > key). NULL if none. With a
 * path, the path to the result is recorded so that rb_next/rb_prev continue from it.
 */
struct rb_node *rb_lower_bound(const struct rb_root *root, const void *key, rb_key_cmp cmp,
			       struct rb_path *path);
struct rb_node *rb_upper_bound(const struct rb_root *root, const void *key, rb_key_cmp cmp,
			       struct rb_path *path);
/* The node equal to key, or NULL; with a path, recorded as for rb_erase. */
struct rb_node *rb_find(const struct rb_root *root, const void *key, rb_key_cmp cmp,
			struct rb_path *path);

/* Convenience wrappers: search by node order, then rb_insert / rb_erase. */
void rb_add(struct rb_root *root, struct rb_node *node, rb_node_cmp cmp);
/* Returns 0, or SVMM_ENOENT if node is not in the tree (the tree is unchanged). */
int rb_remove(struct rb_root *root, struct rb_node *node, rb_node_cmp cmp);

/*
 * Verify rules 1-4, strict increase under cmp (keys must be distinct), and that the
 * tree holds exactly count nodes (pass RB_CHECK_ANY_COUNT to skip). Returns 0 or the
 * first violation found: RB_BAD_ROOT_RED (rule 2), RB_BAD_RED_RED (rule 3),
 * RB_BAD_BLACK_HEIGHT (rule 4), RB_BAD_ORDER, RB_BAD_COUNT, RB_BAD_DEPTH. Never
 * modifies the tree. Rule 1 holds by construction: the colour is one bit.
 */
enum rb_check_result {
	RB_OK = 0,
	RB_BAD_ROOT_RED = 2,
	RB_BAD_RED_RED = 3,
	RB_BAD_BLACK_HEIGHT = 4,
	RB_BAD_ORDER = 5,
	RB_BAD_COUNT = 6,
	RB_BAD_DEPTH = 7,
};
#define RB_CHECK_ANY_COUNT ((size_t)-1)
/* Check root against the rules above; returns RB_OK or an enum rb_check_result. */
int rb_check(const struct rb_root *root, rb_node_cmp cmp, size_t count);

/* Nodes in the tree (O(n)). */
size_t rb_count(const struct rb_root *root);

#endif /* SVMM_RBTREE_H */
