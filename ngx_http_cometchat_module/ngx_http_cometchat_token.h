/*
 * ngx_http_cometchat_token.c
 */


#ifndef _NGX_HTTP_COMETCHAT_TOKEN_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_TOKEN_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


ngx_int_t ngx_http_cometchat_token_lookup(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx);
void ngx_http_cometchat_token_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_COMETCHAT_TOKEN_H_INCLUDED_ */
