/*
 * test_rbtree.c - the path-based red-black tree against a reference model.
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

static void test_node_is_two_words(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct rb_node), 2 * sizeof(void *));
	assert_int_equal(sizeof(struct item), 32);
}

static void test_empty(void **state)
{
	(void)state;
	struct rb_root root = RB_ROOT_INIT;
	struct rb_path p;
	uint64_t k = 5;

	assert_null(rb_first(&root, &p));
	assert_null(rb_last(&root, NULL));
	assert_null(rb_lower_bound(&root, &k, key_cmp, &p));
	assert_null(rb_upper_bound(&root, &k, key_cmp, NULL));
	assert_null(rb_find(&root, &k, key_cmp, NULL));
	assert_int_equal(rb_check(&root, item_cmp, 0), RB_OK);
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
	/* root is it[1], black, with two red children */
	assert_ptr_equal(root.rb_node, &it[1].rb);
	it[1].rb.rb_link[RB_LEFT] |= RB_RED;
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_BAD_ROOT_RED);
	it[1].rb.rb_link[RB_LEFT] &= ~RB_RED;
	it[0].key = 15;
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_BAD_ORDER);
	it[0].key = 0;
	it[0].rb.rb_link[RB_LEFT] &= ~RB_RED;   /* left black, right red: heights differ */
	it[2].rb.rb_link[RB_LEFT] &= ~RB_RED;
	assert_int_equal(rb_check(&root, item_cmp, 3), RB_OK);
	it[2].rb.rb_link[RB_LEFT] |= RB_RED;
	it[0].rb.rb_link[RB_LEFT] &= ~RB_RED;
	{
		struct item extra = { .key = 25 };
		extra.rb.rb_link[RB_LEFT] = RB_RED;
		extra.rb.rb_link[RB_RIGHT] = 0;
		it[2].rb.rb_link[RB_RIGHT] = (uintptr_t)&extra.rb;   /* red under red */
		assert_int_equal(rb_check(&root, item_cmp, 4), RB_BAD_RED_RED);
		it[2].rb.rb_link[RB_LEFT] &= ~RB_RED;
		/* now the right side has two blacks below the root, the left one */
		extra.rb.rb_link[RB_LEFT] &= ~RB_RED;
		assert_int_equal(rb_check(&root, item_cmp, 4), RB_BAD_BLACK_HEIGHT);
	}
}

/* Sequential inserts and deletes exercise every rotation case repeatedly. */
static void test_sequential(void **state)
{
	(void)state;
	enum { N = 2000 };
	static struct item it[N];
	struct rb_root root = RB_ROOT_INIT;
	struct rb_path p;
	size_t i;

	for (i = 0; i < N; i++) {
		it[i].key = i;
		rb_add(&root, &it[i].rb, item_cmp);
		assert_int_equal(rb_check(&root, item_cmp, i + 1), RB_OK);
	}
	/* in-order walk both ways */
	i = 0;
	for (struct rb_node *n = rb_first(&root, &p); n; n = rb_next(&p))
		assert_int_equal(ITEM(n)->key, i++);
	assert_int_equal(i, N);
	for (struct rb_node *n = rb_last(&root, &p); n; n = rb_prev(&p))
		assert_int_equal(ITEM(n)->key, --i);
	assert_int_equal(i, 0);
	/* erase every other one from the front, then the rest from the back */
	for (i = 0; i < N; i += 2) {
		assert_int_equal(rb_remove(&root, &it[i].rb, item_cmp), 0);
		assert_int_equal(rb_check(&root, item_cmp, N - i / 2 - 1), RB_OK);
	}
	assert_int_equal(rb_remove(&root, &it[0].rb, item_cmp), SVMM_ENOENT);
	for (i = N - 1; i < N; i -= 2) {
		assert_int_equal(rb_remove(&root, &it[i].rb, item_cmp), 0);
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
	struct rb_path p;
	uint64_t k = 5;

	for (int i = 0; i < 10; i++) {
		it[i].key = (uint64_t)i;
		rb_add(&root, &it[i].rb, item_cmp);
	}
	assert_ptr_equal(rb_find(&root, &k, key_cmp, &p), &it[5].rb);
	repl.key = 5;
	rb_replace(&root, &p, &repl.rb);
	assert_int_equal(rb_check(&root, item_cmp, 10), RB_OK);
	assert_ptr_equal(rb_find(&root, &k, key_cmp, NULL), &repl.rb);
}

/* Random operations against a bitmap; every result and the tree shape are checked. */
static void test_random_against_model(void **state)
{
	(void)state;
	enum { KEYS = 4096, OPS = 60000 };
	static struct item it[KEYS];
	static unsigned char in[KEYS];
	struct rb_root root = RB_ROOT_INIT;
	struct rb_path p;
	size_t count = 0;

	memset(in, 0, sizeof(in));
	rng = seed_from_env();
	for (uint64_t i = 0; i < KEYS; i++)
		it[i].key = i * 2;   /* even keys, so odd probes fall between nodes */
	for (int op = 0; op < OPS; op++) {
		uint64_t k = rnd() % KEYS;
		unsigned what = (unsigned)(rnd() % 8);

		if (what < 3 && !in[k]) {
			struct rb_node *n = root.rb_node;
			rb_path_init(&p);
			while (n) {   /* the caller's own search, as documented */
				unsigned d = it[k].key < ITEM(n)->key ? RB_LEFT : RB_RIGHT;
				rb_path_push(&p, n, d);
				n = rb_child(n, d);
			}
			rb_insert(&root, &p, &it[k].rb);
			in[k] = 1;
			count++;
		} else if (what < 6 && in[k]) {
			uint64_t key = it[k].key;
			assert_ptr_equal(rb_find(&root, &key, key_cmp, &p), &it[k].rb);
			rb_erase(&root, &p);
			in[k] = 0;
			count--;
		} else {
			/* bounds for an odd or even probe, then one step each way */
			uint64_t probe = rnd() % (2 * KEYS + 2);
			struct rb_node *lb = rb_lower_bound(&root, &probe, key_cmp, &p);
			uint64_t j = (probe + 1) / 2;   /* first index with key >= probe */
			while (j < KEYS && !in[j])
				j++;
			if (j >= KEYS) {
				assert_null(lb);
			} else {
				assert_ptr_equal(lb, &it[j].rb);
				struct rb_node *nx = rb_next(&p);
				uint64_t m = j + 1;
				while (m < KEYS && !in[m])
					m++;
				if (m == KEYS)
					assert_null(nx);
				else
					assert_ptr_equal(nx, &it[m].rb);
			}
			struct rb_node *ub = rb_upper_bound(&root, &probe, key_cmp, &p);
			j = probe / 2 + 1;   /* first index with key > probe */
			while (j < KEYS && !in[j])
				j++;
			if (j >= KEYS) {
				assert_null(ub);
			} else {
				assert_ptr_equal(ub, &it[j].rb);
				struct rb_node *pv = rb_prev(&p);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_is_two_words),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_checker_catches_violations),
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
