/*
 * xt_call.h -- one entry point for the four cross-entropy functions (hard or soft targets x plain or _ex) of each
 * element type, shared by the C tests and the adversarial suite: XT_FN(xt_ce_call) holds every argument,
 * XT_FN(xt_ce_run) makes the call. Valid C99 and C++17.
 */
#ifndef XT_CALL_H
#define XT_CALL_H

#include <stddef.h>
#include <stdint.h>

#include <xent.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The call type of the current XT_REAL (as a return type). */
#define XT_CE_CALL XT_FN(xt_ce_call)

#define XT_TYPED_FILE "xt_call_decl.h"
#include "xt_instantiate.h"

#ifdef __cplusplus
}
#endif

#endif /* XT_CALL_H */
