
/* PLACEHOLDER: the owner of this file replaces it. */


#include "ngx_http_cometchat.h"


ngx_int_t
ngx_http_cometchat_token_init_zone(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf)
{
    return NGX_OK;
}


ngx_int_t
ngx_http_cometchat_token_lookup(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx)
{
    return NGX_ERROR;
}


void
ngx_http_cometchat_token_cancel(ngx_http_cometchat_ctx_t *ctx)
{
}


void
ngx_http_cometchat_token_exit_process(ngx_cycle_t *cycle)
{
}
