/*
 * ngx_http_cometchat_headers.c
 */


#ifndef _NGX_HTTP_COMETCHAT_HEADERS_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_HEADERS_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


/*
 * Marks a browser that was given a widget (docs/directives.md, "Sign-out
 * and user switch" in docs/operations.md)
 */
#define NGX_HTTP_COMETCHAT_CHAT_COOKIE  "cometchat_chat"


ngx_uint_t ngx_http_cometchat_headers_encoded(ngx_http_request_t *r);
void ngx_http_cometchat_headers_nonce(ngx_http_request_t *r,
    ngx_str_t *nonce);
ngx_int_t ngx_http_cometchat_headers_inject(ngx_http_request_t *r,
    uint32_t snippet_id);
ngx_uint_t ngx_http_cometchat_headers_not_modified(ngx_http_request_t *r);
ngx_uint_t ngx_http_cometchat_headers_chat_cookie(ngx_http_request_t *r);
ngx_int_t ngx_http_cometchat_headers_set_chat_cookie(ngx_http_request_t *r,
    ngx_uint_t on);


#endif /* _NGX_HTTP_COMETCHAT_HEADERS_H_INCLUDED_ */
