/* xent_last_error_message(): one fixed buffer per thread, the only mutable global state of libxent. */
#include "xent.h"
#include "xent_abi_internal.h"

#include <string.h>

static _Thread_local char last_error[512];

void xentabi_set_last_error(const char *message) {
  size_t n = strlen(message);
  if (n > sizeof last_error - 1) n = sizeof last_error - 1;
  memcpy(last_error, message, n);
  last_error[n] = '\0';
}

void xentabi_clear_last_error(void) { last_error[0] = '\0'; }

const char *xent_last_error_message(void) { return last_error; }
