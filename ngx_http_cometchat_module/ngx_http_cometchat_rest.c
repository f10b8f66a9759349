
/* PLACEHOLDER: the owner of this file replaces it. */


#include "ngx_http_cometchat.h"


ngx_int_t
ngx_http_cometchat_rest_init_process(ngx_cycle_t *cycle)
{
    return NGX_OK;
}


void
ngx_http_cometchat_rest_exit_process(ngx_cycle_t *cycle)
{
}


ngx_http_cometchat_rest_call_t *
ngx_http_cometchat_rest_start(ngx_str_t *method, ngx_str_t *url,
    ngx_str_t *api_key, ngx_str_t *body, ngx_msec_t timeout,
    ngx_http_cometchat_rest_handler_pt handler, void *data, ngx_log_t *log)
{
    return NULL;
}


void
ngx_http_cometchat_rest_cancel(ngx_http_cometchat_rest_call_t *call)
{
}
