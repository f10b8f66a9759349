/*
 * ngx_http_cometchat_endpoint.c
 */


#ifndef _NGX_HTTP_COMETCHAT_ENDPOINT_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_ENDPOINT_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


ngx_int_t ngx_http_cometchat_endpoint_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COMETCHAT_ENDPOINT_H_INCLUDED_ */
