
/*
 * What the harnesses other than fuzz_match need of an nginx process: a
 * cycle with a log, the cached time and a pool per input.  The core files
 * themselves (ngx_palloc.c, ngx_string.c, ...) are compiled in by
 * tools/fuzz/run; fuzz_ngx.c stubs the rest of the core they call.
 *
 * Pools are built with NGX_DEBUG_PALLOC, so that every allocation is a
 * malloc() of its own, which ASan bounds-checks and LeakSanitizer sees.
 */


#ifndef _FUZZ_NGX_H_INCLUDED_
#define _FUZZ_NGX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* once per process: the cycle, its log, the time */
void fuzz_ngx_init(void);

/* a finding: the message and the input's hex dump go to stderr */
#define fuzz_fail(...)                                                      \
    do {                                                                    \
        fprintf(stderr, "FUZZ ORACLE FAILED at %s:%d: ", __FILE__,          \
                __LINE__);                                                  \
        fprintf(stderr, __VA_ARGS__);                                       \
        fprintf(stderr, "\n");                                              \
        abort();                                                            \
    } while (0)

/* error-level lines logged while an input ran (a harness may assert) */
extern ngx_uint_t  fuzz_ngx_logged;


#endif /* _FUZZ_NGX_H_INCLUDED_ */
