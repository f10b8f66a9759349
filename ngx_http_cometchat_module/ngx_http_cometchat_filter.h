/*
 * ngx_http_cometchat_filter.c
 */


#ifndef _NGX_HTTP_COMETCHAT_FILTER_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_FILTER_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


ngx_int_t ngx_http_cometchat_filter_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_COMETCHAT_FILTER_H_INCLUDED_ */
