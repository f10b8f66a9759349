/*
 * ngx_http_cometchat_variables.c
 */


#ifndef _NGX_HTTP_COMETCHAT_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_VARIABLES_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


ngx_int_t ngx_http_cometchat_variables_add(ngx_conf_t *cf);


#endif /* _NGX_HTTP_COMETCHAT_VARIABLES_H_INCLUDED_ */
