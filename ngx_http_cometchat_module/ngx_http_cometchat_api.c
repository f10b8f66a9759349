
/* PLACEHOLDER: the owner of this file replaces it. */


#include "ngx_http_cometchat.h"


ngx_http_cometchat_mint_t *
ngx_http_cometchat_mint_start(ngx_http_cometchat_loc_conf_t *lcf,
    ngx_str_t *uid, ngx_str_t *name, ngx_str_t *avatar,
    ngx_http_cometchat_mint_handler_pt handler, void *data, ngx_log_t *log)
{
    return NULL;
}


void
ngx_http_cometchat_mint_cancel(ngx_http_cometchat_mint_t *mint)
{
}
