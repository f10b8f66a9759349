/*
 * ngx_http_cometchat_json.c
 */


#ifndef _NGX_HTTP_COMETCHAT_JSON_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_JSON_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


#define NGX_HTTP_COMETCHAT_JSON_MAX     65536   /* bytes of JSON parsed */

#define NGX_HTTP_COMETCHAT_JSON_ERR_LEN 256     /* json_find() err buffer */

#define NGX_HTTP_COMETCHAT_JSON_STRING  1       /* json_find(): no numbers */

/* a string or number by dot path; an error is described in err, not
 * logged, so that callers can rate-limit it */
ngx_int_t ngx_http_cometchat_json_find(ngx_pool_t *pool, ngx_str_t *json,
    ngx_array_t *path, ngx_uint_t flags, ngx_str_t *out, ngx_str_t *err);


#endif /* _NGX_HTTP_COMETCHAT_JSON_H_INCLUDED_ */
