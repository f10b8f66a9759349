
/*
 * The part of an nginx process the harnesses run in (fuzz_ngx.h).
 */


#include "fuzz_ngx.h"


ngx_uint_t               fuzz_ngx_logged;

static ngx_log_t         fuzz_log;
static ngx_open_file_t   fuzz_log_file;
static ngx_cycle_t       fuzz_cycle;

volatile ngx_cycle_t    *ngx_cycle;
volatile ngx_msec_t      ngx_current_msec;
volatile ngx_time_t     *ngx_cached_time;
volatile ngx_str_t       ngx_cached_err_log_time;
volatile ngx_str_t       ngx_cached_http_time;
volatile ngx_str_t       ngx_cached_http_log_time;
volatile ngx_str_t       ngx_cached_http_log_iso8601;
volatile ngx_str_t       ngx_cached_syslog_time;

static ngx_time_t        fuzz_time;

ngx_queue_t              ngx_posted_events;
ngx_uint_t               ngx_use_accept_mutex;
ngx_pid_t                ngx_pid;
ngx_module_t             ngx_http_core_module;


void
fuzz_ngx_init(void)
{
    if (ngx_cycle != NULL) {
        return;
    }

    ngx_pagesize = 4096;
    ngx_cacheline_size = 64;

    fuzz_time.sec = 1700000000;
    fuzz_time.msec = 0;
    ngx_cached_time = &fuzz_time;
    ngx_current_msec = 1700000000000;

    fuzz_log_file.fd = ngx_stderr;
    fuzz_log.file = &fuzz_log_file;
    fuzz_log.log_level = getenv("FUZZ_LOG") ? NGX_LOG_DEBUG_ALL
                                            : NGX_LOG_EMERG;

    fuzz_cycle.log = &fuzz_log;
    ngx_cycle = &fuzz_cycle;

    ngx_queue_init(&ngx_posted_events);

    ngx_crc32_table_init();
}


void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   buf[NGX_MAX_ERROR_STR], *p;
    va_list  args;

    /* formatted always: a bad argument list is a finding too */

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    if (level <= NGX_LOG_ERR) {
        fuzz_ngx_logged++;
    }

    if (getenv("FUZZ_LOG")) {
        fprintf(stderr, "log %d: %.*s\n", (int) level, (int) (p - buf), buf);
    }
}


void
ngx_log_abort(ngx_err_t err, const char *fmt, ...)
{
    abort();
}


u_char *
ngx_strerror(ngx_err_t err, u_char *errstr, size_t size)
{
    return ngx_cpymem(errstr, "error", ngx_min(size, 5));
}
