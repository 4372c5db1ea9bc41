/*
 * test_rbtree.c - the red-black tree against a reference model.
 *
 * Keys are small integers so that a bitmap is an exact reference. rb_check runs after
 * every operation. The seed is printed and can be replayed with SVMM_SEED=.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <svmm/rbtree.h>
#include "test_rand.h"

struct item {
	struct rb_node rb;
	uint64_t key;
	uint64_t payload;
};

#define ITEM(n) SVMM_CONTAINER_OF(n, struct item, rb)

static int item_cmp(const struct rb_node *a, const struct rb_node *b)
{
	uint64_t x = ITEM(a)->key, y = ITEM(b)->key;
	return x < y ? -1 : x > y;
}

static int key_cmp(const void *key, const struct rb_node *n)
{
	uint64_t x = *(const uint64_t *)key, y = ITEM(n)->key;
	return x < y ? -1 : x > y;
}

static uint64_t seed_from_env(void)
{
	const char *s = getenv("SVMM_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 0x5eed1234abcdull;
	if (seed == 0)
		seed = 1;
	printf("test_rbtree: seed %llu (replay with SVMM_SEED=%llu)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

static void test_node_is_three_words(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct rb_node), 3 * sizeof(void *));
	assert_int_equal(sizeof(struct item), 40);
}

static void test_empty(void **state)
{
	(void)state;
	struct rb_root root = RB_ROOT_INIT;
	uint64_t k = 5;

	assert_null(rb_first(&root));
	assert_null(rb_last(&root));
	assert_null(rb_lower_bound(&root, &k, key_cmp));
	assert_null(rb_upper_bound(&root, &k, key_cmp));
	assert_null(rb_find(&root, &k, key_cmp));
	assert_int_equal(rb_check(&root, item_cmp, 0), RB_OK);
	assert_int_equal(rb_check(&root, item_cmp, 1), RB_BAD_COUNT);
	assert_int_equal(rb_count(&root), 0);
}

/* The checker must catch each broken rule, or the property test proves nothing. */
static void test_checker_catches_violations(void **state)
{
	(void)state;
	struct item it[3];
	struct rb_root root = RB_ROOT_INIT;

	for (int i = 0; i < 3; i++) {
		it[i].key = (uint64_t)i * 10;
		rb_add(&root, &it[i].rb, item_cmp);
	}
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_OK);
	assert_int_equal(rb_check(&root, item_cmp, 4), RB_BAD_COUNT);
	assert_int_equal(rb_check(&root, item_cmp, 2), RB_BAD_COUNT);
	/* root is it[1], black, with two red children */
	assert_ptr_equal(root.rb_node, &it[1].rb);
	assert_true(rb_is_red(&it[0].rb) && rb_is_red(&it[2].rb));
	it[1].rb.rb_parent |= RB_RED;
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_BAD_ROOT_RED);
	it[1].rb.rb_parent &= ~RB_RED;
	it[0].key = 15;
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_BAD_ORDER);
	it[0].key = 0;
	it[0].rb.rb_parent = (uintptr_t)&it[2].rb | RB_RED;   /* a wrong parent link */
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_BAD_PARENT);
	it[0].rb.rb_parent = (uintptr_t)&it[1].rb | RB_RED;
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_OK);
	/* it[0] has no left child: its link there is a thread to nothing (the first node) */
	it[0].rb.rb_link[RB_LEFT] = (uintptr_t)&it[2].rb | RB_THREAD;
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_BAD_THREAD);
	it[0].rb.rb_link[RB_LEFT] = 0;   /* untagged: rb_step would take it for a child */
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_BAD_THREAD);
	it[0].rb.rb_link[RB_LEFT] = RB_THREAD;
	it[2].rb.rb_link[RB_RIGHT] = 0;  /* the last node's, likewise */
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_BAD_THREAD);
	it[2].rb.rb_link[RB_RIGHT] = RB_THREAD;
	it[2].rb.rb_link[RB_LEFT] = (uintptr_t)&it[0].rb | RB_THREAD;   /* it[2]'s is it[1] */
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_BAD_THREAD);
	it[2].rb.rb_link[RB_LEFT] = (uintptr_t)&it[1].rb | RB_THREAD;
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_OK);
	{
		struct item extra = { .key = 25 };

		extra.rb.rb_parent = (uintptr_t)&it[2].rb | RB_RED;
		extra.rb.rb_link[RB_LEFT] = (uintptr_t)&it[2].rb | RB_THREAD;
		extra.rb.rb_link[RB_RIGHT] = RB_THREAD;
		it[2].rb.rb_link[RB_RIGHT] = (uintptr_t)&extra.rb;   /* red under red */
		assert_int_equal(rb_check(&root, item_cmp, 4), RB_BAD_RED_RED);
		/* a black node on the right only: black heights differ */
		it[2].rb.rb_parent &= ~RB_RED;
		extra.rb.rb_parent &= ~RB_RED;
		it[0].rb.rb_parent &= ~RB_RED;
		assert_int_equal(rb_check(&root, item_cmp, 4), RB_BAD_BLACK_HEIGHT);
	}
	for (int r = RB_OK; r <= RB_BAD_THREAD; r++)
		assert_non_null(rb_check_what(r));
}

/* Sequential inserts and deletes exercise every rotation case repeatedly. */
static void test_sequential(void **state)
{
	(void)state;
	enum { N = 2000 };
	static struct item it[N];
	struct rb_root root = RB_ROOT_INIT;
	size_t i;

	for (i = 0; i < N; i++) {
		it[i].key = i;
		rb_add(&root, &it[i].rb, item_cmp);
		assert_int_equal(rb_check(&root, item_cmp, i + 1), RB_OK);
	}
	/* in-order walk both ways */
	i = 0;
	for (struct rb_node *n = rb_first(&root); n; n = rb_next(n))
		assert_int_equal(ITEM(n)->key, i++);
	assert_int_equal(i, N);
	for (struct rb_node *n = rb_last(&root); n; n = rb_prev(n))
		assert_int_equal(ITEM(n)->key, --i);
	assert_int_equal(i, 0);
	/* rb_neighbours and rb_step agree with the keys on either side, ends included */
	for (i = 0; i < N; i++) {
		struct rb_node *pv, *nx;

		rb_neighbours(&it[i].rb, &pv, &nx);
		assert_ptr_equal(pv, i > 0 ? &it[i - 1].rb : NULL);
		assert_ptr_equal(nx, i + 1 < N ? &it[i + 1].rb : NULL);
		assert_ptr_equal(rb_step(&it[i].rb, RB_LEFT), pv);
		assert_ptr_equal(rb_step(&it[i].rb, RB_RIGHT), nx);
	}
	/* erase every other one from the front, then the rest from the back */
	for (i = 0; i < N; i += 2) {
		assert_true(rb_linked(&it[i].rb));
		rb_erase(&root, &it[i].rb);
		assert_false(rb_linked(&it[i].rb));
		assert_int_equal(rb_check(&root, item_cmp, N - i / 2 - 1), RB_OK);
	}
	for (i = N - 1; i < N; i -= 2) {
		rb_erase(&root, &it[i].rb);
		assert_int_equal(rb_check(&root, item_cmp, i / 2), RB_OK);
		if (i < 2)
			break;
	}
	assert_null(root.rb_node);
}

static void test_replace(void **state)
{
	(void)state;
	struct item it[10], repl;
	struct rb_root root = RB_ROOT_INIT;
	uint64_t k = 5;

	for (int i = 0; i < 10; i++) {
		it[i].key = (uint64_t)i;
		rb_add(&root, &it[i].rb, item_cmp);
	}
	assert_ptr_equal(rb_find(&root, &k, key_cmp), &it[5].rb);
	repl.key = 5;
	repl.rb.rb_parent = RB_FLAG;   /* the replacement keeps its own caller bit */
	rb_set_flag(&it[5].rb, false);
	rb_replace(&root, &it[5].rb, &repl.rb);
	assert_true(rb_flag(&repl.rb));
	assert_false(rb_linked(&it[5].rb));
	assert_int_equal(rb_check(&root, item_cmp, 10), RB_OK);
	assert_ptr_equal(rb_find(&root, &k, key_cmp), &repl.rb);
	/* replacing the root */
	k = ITEM(root.rb_node)->key;
	{
		struct item r2 = { .key = k };
		struct rb_node *old = root.rb_node;

		rb_replace(&root, old, &r2.rb);
		assert_ptr_equal(root.rb_node, &r2.rb);
		assert_int_equal(rb_check(&root, item_cmp, 10), RB_OK);
		rb_replace(&root, &r2.rb, old);
	}
	assert_int_equal(rb_check(&root, item_cmp, 10), RB_OK);
}

/* Insertion beside a known node, with no search: the caller's neighbour shortcut. */
static void test_insert_beside(void **state)
{
	(void)state;
	enum { N = 3000 };
	static struct item it[N];
	struct rb_root root = RB_ROOT_INIT;
	size_t count = 1;

	rng = seed_from_env();
	it[0].key = (uint64_t)N * 1000;
	rb_add(&root, &it[0].rb, item_cmp);
	for (size_t i = 1; i < N; i++) {
		/* put a new key right before or after a random existing one */
		struct item *pos = &it[rnd() % i];
		unsigned dir = (unsigned)(rnd() & 1);
		struct rb_node *nb = dir ? rb_next(&pos->rb) : rb_prev(&pos->rb);
		uint64_t lo = dir ? pos->key : (nb ? ITEM(nb)->key : 0);
		uint64_t hi = dir ? (nb ? ITEM(nb)->key : pos->key + 1000000) : pos->key;

		if (hi - lo < 2) {
			i--;
			continue;
		}
		it[i].key = lo + (hi - lo) / 2;
		rb_insert_beside(&root, &pos->rb, dir, &it[i].rb);
		count++;
		assert_ptr_equal(dir ? rb_next(&pos->rb) : rb_prev(&pos->rb), &it[i].rb);
		assert_int_equal(rb_check(&root, item_cmp, count), RB_OK);
	}
}

/* The caller's bit survives every rotation, insert and erase around it. */
static void test_flag_survives_rebalancing(void **state)
{
	(void)state;
	enum { N = 1000 };
	static struct item it[N];
	struct rb_root root = RB_ROOT_INIT;

	for (size_t i = 0; i < N; i++) {
		it[i].key = i;
		rb_add(&root, &it[i].rb, item_cmp);
		rb_set_flag(&it[i].rb, i % 3 == 0);
	}
	for (size_t i = 1; i < N; i += 2)
		rb_erase(&root, &it[i].rb);
	assert_int_equal(rb_check(&root, item_cmp, N / 2), RB_OK);
	for (size_t i = 0; i < N; i += 2)
		assert_int_equal(rb_flag(&it[i].rb), i % 3 == 0);
}

/* Random operations against a bitmap; every result and the tree shape are checked. */
static void test_random_against_model(void **state)
{
	(void)state;
	enum { KEYS = 4096, OPS = 60000 };
	static struct item it[KEYS];
	static unsigned char in[KEYS];
	struct rb_root root = RB_ROOT_INIT;
	size_t count = 0;

	memset(in, 0, sizeof(in));
	rng = seed_from_env();
	for (uint64_t i = 0; i < KEYS; i++)
		it[i].key = i * 2;   /* even keys, so odd probes fall between nodes */
	for (int op = 0; op < OPS; op++) {
		uint64_t k = rnd() % KEYS;
		unsigned what = (unsigned)(rnd() % 8);

		if (what < 3 && !in[k]) {
			struct rb_node *n = root.rb_node, *parent = NULL;
			unsigned d = RB_LEFT;

			while (n) {   /* the caller's own search, as documented */
				parent = n;
				d = it[k].key < ITEM(n)->key ? RB_LEFT : RB_RIGHT;
				n = rb_child(n, d);
			}
			rb_insert(&root, parent, d, &it[k].rb);
			in[k] = 1;
			count++;
		} else if (what < 6 && in[k]) {
			uint64_t key = it[k].key;

			assert_ptr_equal(rb_find(&root, &key, key_cmp), &it[k].rb);
			rb_erase(&root, &it[k].rb);
			in[k] = 0;
			count--;
		} else {
			/* bounds for an odd or even probe, then one step each way */
			uint64_t probe = rnd() % (2 * KEYS + 2);
			struct rb_node *lb = rb_lower_bound(&root, &probe, key_cmp);
			uint64_t j = (probe + 1) / 2;   /* first index with key >= probe */

			while (j < KEYS && !in[j])
				j++;
			if (j >= KEYS) {
				assert_null(lb);
			} else {
				assert_ptr_equal(lb, &it[j].rb);
				struct rb_node *nx = rb_next(lb);
				uint64_t m = j + 1;

				while (m < KEYS && !in[m])
					m++;
				if (m == KEYS)
					assert_null(nx);
				else
					assert_ptr_equal(nx, &it[m].rb);
			}
			struct rb_node *ub = rb_upper_bound(&root, &probe, key_cmp);

			j = probe / 2 + 1;   /* first index with key > probe */
			while (j < KEYS && !in[j])
				j++;
			if (j >= KEYS) {
				assert_null(ub);
			} else {
				assert_ptr_equal(ub, &it[j].rb);
				struct rb_node *pv = rb_prev(ub);
				int64_t m = (int64_t)j - 1;

				while (m >= 0 && !in[m])
					m--;
				if (m < 0)
					assert_null(pv);
				else
					assert_ptr_equal(pv, &it[m].rb);
			}
		}
		assert_int_equal(rb_check(&root, item_cmp, count), RB_OK);
	}
}

/*
 * rb_near's record and rb_replace_near, on every node of every tree size up to N,
 * built in three orders (ascending, descending, shuffled), so that each position is
 * met: the root, a leaf, either end of the order, a node with one child on either side
 * (its neighbour there a descendant or an ancestor) and with two. The record must say
 * what its contract says, and a replacement through it must leave a valid tree whose
 * threads lead to the new node, with the stop node taking every write that had no
 * target. The one-node tree is the size-1 case: no child, no neighbour, the root.
 */
static void test_near_every_node(void **state)
{
	(void)state;
	enum { N = 40 };
	static struct item it[N], repl;

	rng = seed_from_env();
	for (unsigned order = 0; order < 3; order++) {
		for (size_t n = 1; n <= N; n++) {
			struct rb_root root = RB_ROOT_INIT;
			size_t perm[N];

			for (size_t i = 0; i < n; i++)
				perm[i] = order == 1 ? n - 1 - i : i;
			for (size_t i = n; order == 2 && i > 1; i--) {
				size_t j = (size_t)(rnd() % i), t = perm[i - 1];

				perm[i - 1] = perm[j];
				perm[j] = t;
			}
			for (size_t i = 0; i < n; i++) {
				it[perm[i]].key = perm[i] * 2;
				rb_add(&root, &it[perm[i]].rb, item_cmp);
			}
			assert_int_equal(rb_check(&root, item_cmp, n), RB_OK);
			for (size_t i = 0; i < n; i++) {
				struct rb_node *old = &it[i].rb, stop, *pv, *nx;
				struct rb_near nr;
				bool red = rb_is_red(old), flag = (i & 1) != 0;

				memset(&stop, 0xa5, sizeof(stop));   /* rb_near sets it up itself */
				rb_near(old, &nr, &stop);
				pv = i > 0 ? &it[i - 1].rb : NULL;
				nx = i + 1 < n ? &it[i + 1].rb : NULL;
				assert_ptr_equal(rb_near_node(&nr, RB_LEFT), pv);
				assert_ptr_equal(rb_near_node(&nr, RB_RIGHT), nx);
				for (unsigned d = 0; d < 2; d++) {
					struct rb_node *c = rb_child(old, d);

					assert_true(nr.link[d] == old->rb_link[d]);
					assert_ptr_equal(nr.child[d], c != NULL ? c : &stop);
					assert_ptr_equal(nr.last[d], c != NULL ? (d ? nx : pv) : &stop);
				}
				repl.key = it[i].key;
				repl.rb.rb_parent = flag ? RB_FLAG | RB_RED : 0;   /* only the flag counts */
				repl.rb.rb_link[0] = repl.rb.rb_link[1] = 0;
				rb_replace_near(&root, old, &repl.rb, &nr);
				assert_false(rb_linked(old));
				assert_true(rb_linked(&repl.rb));
				assert_int_equal(rb_flag(&repl.rb), flag);
				assert_int_equal(rb_is_red(&repl.rb), red);
				assert_int_equal(rb_check(&root, item_cmp, n), RB_OK);
				assert_ptr_equal(rb_step(&repl.rb, RB_LEFT), pv);
				assert_ptr_equal(rb_step(&repl.rb, RB_RIGHT), nx);
				if (pv != NULL)
					assert_ptr_equal(rb_step(pv, RB_RIGHT), &repl.rb);
				if (nx != NULL)
					assert_ptr_equal(rb_step(nx, RB_LEFT), &repl.rb);
				if (n == 1)
					assert_ptr_equal(root.rb_node, &repl.rb);
				/* and back, through rb_replace, keeping old's own flag */
				old->rb_parent = 0;
				rb_replace(&root, &repl.rb, old);
				assert_int_equal(rb_check(&root, item_cmp, n), RB_OK);
				assert_int_equal(rb_is_red(old), red);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_is_three_words),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_checker_catches_violations),
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_near_every_node),
		cmocka_unit_test(test_insert_beside),
		cmocka_unit_test(test_flag_survives_rebalancing),
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
