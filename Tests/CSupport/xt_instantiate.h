/*
 * xt_instantiate.h -- includes XT_TYPED_FILE twice, with XT_REAL = float (suffix _f32) and double (suffix _f64):
 * the element-type-specific tests and helpers are written once. XT_FN(name) appends the suffix; XT_TOL is the
 * relative tolerance of the type: |got - ref| <= tol * max(1, |ref|), 1e-6 for float, 1e-13 for double (NaN must
 * match NaN, an infinity must match exactly).
 */
#define XT_CAT2(a, b) a##b
#define XT_CAT(a, b) XT_CAT2(a, b)
#define XT_FN(name) XT_CAT(name, XT_SUFFIX)

#define XT_REAL float
#define XT_SUFFIX _f32
#define XT_TOL 1e-6
#define XT_TYPE_NAME "f32"
#include XT_TYPED_FILE
#undef XT_REAL
#undef XT_SUFFIX
#undef XT_TOL
#undef XT_TYPE_NAME

#define XT_REAL double
#define XT_SUFFIX _f64
#define XT_TOL 1e-13
#define XT_TYPE_NAME "f64"
#include XT_TYPED_FILE
#undef XT_REAL
#undef XT_SUFFIX
#undef XT_TOL
#undef XT_TYPE_NAME

#undef XT_FN
#undef XT_CAT
#undef XT_CAT2
#undef XT_TYPED_FILE
