/*
 * ngx_http_cometchat_session.c
 */


#ifndef _NGX_HTTP_COMETCHAT_SESSION_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_SESSION_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


ngx_int_t ngx_http_cometchat_session_access_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COMETCHAT_SESSION_H_INCLUDED_ */
