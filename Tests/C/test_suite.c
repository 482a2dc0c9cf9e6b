/*
 * test_suite.c -- the order the shared tests run in. The inputs come from one random stream (xt_rng, and rand()
 * after srand(7) for the 1.1.0 tests), so this order fixes them.
 */
#ifndef XT_REAL
#include "xt_tests.h"

#define XT_TYPED_FILE "test_suite.c"
#include "xt_instantiate.h"

int xt_run_all(const char *lang, void (*extra)(void))
{
    xt_begin(lang);
    xt_test_signatures();
    xt_test_info();
    xt_run_typed_f32();
    xt_run_typed_f64();
    xt_set_case("xent_options_init(NULL)");
    xent_options_init(NULL); /* documented as a no-op; a crash here is a failure too */
    xt_check(1, "unreachable");
    if (extra) extra();
    srand(7);
    xt_test_sharded();
    xt_test_options_v11();
    xt_test_bf16();
    xt_test_options_init();
    xt_test_linear();
    xt_test_linear_refusals();
    xt_test_linear_sharded();
    return xt_finish();
}

#else /* ---- typed part, instantiated for XT_REAL ---------------------------------------------------------- */

void XT_FN(xt_run_typed)(void)
{
    XT_FN(xt_test_primitives_sweep)();
    XT_FN(xt_test_ce_sweep)();
    XT_FN(xt_test_special)();
    XT_FN(xt_test_rows0)();
    XT_FN(xt_test_errors_ce)();
    XT_FN(xt_test_errors_primitives)();
    XT_FN(xt_test_options_future)();
    XT_FN(xt_test_threads)();
    XT_FN(xt_test_long_rows)();
}

#endif /* XT_REAL */
