
/* PLACEHOLDER: the owner of this file replaces it. */


#include "ngx_http_cometchat.h"


char *
ngx_http_cometchat_widget(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return NGX_CONF_OK;
}


char *
ngx_http_cometchat_snippet_merge(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *prev, ngx_http_cometchat_loc_conf_t *conf)
{
    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_cometchat_snippet_render(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_ctx_t *ctx,
    ngx_str_t *nonce, ngx_str_t *out)
{
    return NGX_ERROR;
}
