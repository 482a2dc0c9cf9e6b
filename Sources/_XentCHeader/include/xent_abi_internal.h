/* Internal to libxent: the per-thread last-error message behind xent_last_error_message().
   Not installed; the xentabi_ prefix keeps these out of the export list (xent_* only). */
#ifndef XENT_ABI_INTERNAL_H
#define XENT_ABI_INTERNAL_H

/* Copies `message` (truncated to 511 bytes) as this thread's last error. */
void xentabi_set_last_error(const char *message);
/* Clears this thread's last error (a successful call). */
void xentabi_clear_last_error(void);

#endif
