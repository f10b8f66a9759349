/*
 * ngx_http_cometchat_template.c
 */


#ifndef _NGX_HTTP_COMETCHAT_TEMPLATE_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_TEMPLATE_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


char *ngx_http_cometchat_snippet_merge(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *prev, ngx_http_cometchat_loc_conf_t *conf);
ngx_int_t ngx_http_cometchat_snippet_render(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_ctx_t *ctx,
    ngx_str_t *nonce, ngx_str_t *out, uint32_t *id);


#endif /* _NGX_HTTP_COMETCHAT_TEMPLATE_H_INCLUDED_ */
