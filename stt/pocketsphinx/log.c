// PocketSphinx logs through a process-wide variadic callback; Go cannot
// receive C varargs, so this shim formats the message and hands Go a string.
#include <stdarg.h>
#include <stdio.h>
#include <sphinxbase/err.h>
#include "_cgo_export.h"

static void earshot_log_cb(void *user, err_lvl_t lvl, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    (void)user;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    earshotLog((int)lvl, buf);
}

void earshot_install_log(void)
{
    // The configuration dump at ps_init writes to the log file handle
    // directly, bypassing the callback: disable the handle.
    err_set_logfp(NULL);
    err_set_callback(earshot_log_cb, NULL);
}
