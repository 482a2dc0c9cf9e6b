/*
 * adversarial.h -- the adversarial suite of the public C ABI (issue 5): hostile arguments and values, one file a
 * theme, each written once for float and double (xt_instantiate.h):
 *
 *   adversarial.c   library information, the reference of one row, main
 *   adv_invalid.c   every invalid argument of every function: status, outputs and inputs untouched, the message
 *   adv_huge.c      shapes near SIZE_MAX, rows x stride overflow, extents above PTRDIFF_MAX (in child processes)
 *   adv_numeric.c   cols = 1; all -inf rows; +inf; NaN in one row only; a -inf at the label; smoothing 0 and 1
 *   adv_layouts.c   every row ignored, rows == 0, the gradient in place, offset pointers, 1 000 003 classes
 *
 * Checks go through Tests/CSupport/xt_check.h, the reference is Tests/CSupport/xt_ref.h. Prints one line per
 * failed check and "N passed, N failed"; exits 1 when anything failed. C99, -Wall -Wextra -Werror -pedantic.
 */
#ifndef XENT_ADVERSARIAL_H
#define XENT_ADVERSARIAL_H

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xent.h>

#include "xt_call.h"
#include "xt_check.h"
#include "xt_isolate.h"
#include "xt_ref.h"

enum { CE = 0, CE_EX = 1, SOFT = 2, SOFT_EX = 3 };
enum { LSE = 0, SOFTMAX = 1, LOG_SOFTMAX = 2 };
extern const char *const adv_ce_kind_name[4];
extern const char *const adv_row_kind_name[3];
/* The fixture of the invalid-argument tests: AR x AC logits with row stride AS; AEXT elements span them. */
enum { AR = 4, AC = 5, AS = 7, AEXT = (AR - 1) * AS + AC };
/* Options as a caller compiled against a later header passes them: fields this header does not know follow. */
typedef struct {
    xent_options v1;
    unsigned char later[32];
} adv_later_options;

/* The header's error bound of the element type. */
#define ADV_BOUND (sizeof(XT_REAL) == sizeof(float) ? 2e-7 : 1e-14)

/* Cross-entropy of one row with label `label` (or soft targets y when y != NULL), smoothing eps, from the shared
   reference; writes the unscaled gradient sum(t)*p - t to g when g != NULL and the lse to *lse_out. */
long double adv_ref_ce_d(const double *x, size_t n, int64_t label, const double *y, double eps, long double *lse_out,
                         long double *g);

#define XT_TYPED_FILE "adversarial_decl.h"
#include "xt_instantiate.h"

#endif /* XENT_ADVERSARIAL_H */
