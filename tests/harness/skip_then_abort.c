/*
 * A cmocka binary that passes one test, skips the next and then aborts, as
 * an AddressSanitizer report does after a skip: its TAP holds 'ok' and
 * 'not ok # SKIP' lines only, and tests/run.py must still count it failed
 * (tests/harness/test_tap.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

static void passes(void **state)
{
	assert_int_equal(1, 1);
}

static void skips(void **state)
{
	printf("skip: nothing to test here\n");
	skip();
}

static void aborts(void **state)
{
	fflush(stdout);
	abort();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(passes),
		cmocka_unit_test(skips),
		cmocka_unit_test(aborts),
	};

	return cmocka_run_group_tests_name("skip_then_abort", tests, NULL, NULL);
}
