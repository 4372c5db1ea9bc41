/*
 * test_port.c - the port layer's contract as the host port implements it: the port
 * supplies the lock type (SVMM_PORT_CONFIG, port/host/svmm_host_config.h), a
 * zero-filled lock is unlocked, SVMM_LOCK_INIT builds one statically, a lock taken
 * twice or released without being held stops the program, and the core leaves no
 * lock held on any path, failing or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <svmm/pt.h>
#include "hostsim.h"

#define RAM_BASE 0x80000000ull

static struct svmm_lock static_lock = SVMM_LOCK_INIT;

static int setup(void **state)
{
	(void)state;
	return hostsim_ram_init(RAM_BASE, 64 * SVMM_MiB);
}

static int teardown(void **state)
{
	(void)state;
	hostsim_ram_fini();
	return 0;
}

static void test_lock_type_is_the_ports(void **state)
{
	(void)state;
	/* The core's struct svmm_lock wraps the type the configuration names. */
	struct svmm_lock l;
	_Static_assert(sizeof(l.impl) == sizeof(struct hostsim_lock), "port's lock type");
	memset(&l, 0, sizeof(l));
	assert_false(hostsim_lock_held(&l));
	port_lock(&l);
	assert_true(hostsim_lock_held(&l));
	port_unlock(&l);
	assert_false(hostsim_lock_held(&l));

	assert_false(hostsim_lock_held(&static_lock));
	port_lock(&static_lock);
	port_unlock(&static_lock);
}

/* Run fn in a child process; it must die of SIGABRT (port_panic). */
static void expect_panic(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Keep the expected panic line out of the test's output. */
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(3);
		fn();
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void lock_twice(void)
{
	struct svmm_lock l = SVMM_LOCK_INIT;
	port_lock(&l);
	port_lock(&l);
}

static void unlock_unheld(void)
{
	struct svmm_lock l = SVMM_LOCK_INIT;
	port_unlock(&l);
}

static void test_lock_misuse_panics(void **state)
{
	(void)state;
	expect_panic(lock_twice);
	expect_panic(unlock_unheld);
}

/* Every pt call, succeeding, failing on bad input or out of memory, unlocks. */
static void test_pt_paths_unlock(void **state)
{
	(void)state;
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV39, 1), 0);
	assert_false(hostsim_lock_held(&pt.lock));
	assert_int_equal(pt_map(&pt, 0x10000, RAM_BASE, 0x4000, PT_R | PT_W), 0);
	assert_false(hostsim_lock_held(&pt.lock));
	assert_int_equal(pt_map(&pt, 0x10000, RAM_BASE, 0x1000, PT_R), SVMM_EEXIST);
	assert_false(hostsim_lock_held(&pt.lock));
	hostsim_fail_after(1);
	assert_int_equal(pt_map(&pt, 0x40000000, RAM_BASE, 0x1000, PT_R), SVMM_ENOMEM);
	hostsim_fail_after(0);
	assert_false(hostsim_lock_held(&pt.lock));
	assert_int_equal(pt_unmap(&pt, 0x80000000, 0x1000, 0), SVMM_ENOENT);
	assert_false(hostsim_lock_held(&pt.lock));
	assert_int_equal(pt_unmap(&pt, 0x10000, 0x1000, 0), 0);
	assert_false(hostsim_lock_held(&pt.lock));
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	pt_destroy(&pt, pt_leaf_ignore, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_type_is_the_ports),
		cmocka_unit_test(test_lock_misuse_panics),
		cmocka_unit_test_setup_teardown(test_pt_paths_unlock, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
