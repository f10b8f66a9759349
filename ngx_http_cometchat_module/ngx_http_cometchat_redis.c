
/* PLACEHOLDER: the owner of this file replaces it. */


#include "ngx_http_cometchat.h"


ngx_int_t
ngx_http_cometchat_redis_init_process(ngx_cycle_t *cycle)
{
    return NGX_OK;
}


void
ngx_http_cometchat_redis_exit_process(ngx_cycle_t *cycle)
{
}


ngx_flag_t
ngx_http_cometchat_redis_configured(void)
{
    return 0;
}


ngx_flag_t
ngx_http_cometchat_redis_ready(void)
{
    return 0;
}


ngx_http_cometchat_redis_cmd_t *
ngx_http_cometchat_redis_command(ngx_http_cometchat_redis_handler_pt handler,
    void *data, ngx_log_t *log, int argc, const char **argv,
    const size_t *argvlen)
{
    return NULL;
}


void
ngx_http_cometchat_redis_cancel(ngx_http_cometchat_redis_cmd_t *cmd)
{
}
