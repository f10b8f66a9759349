/*
 * ngx_http_cometchat_util.c
 */


#ifndef _NGX_HTTP_COMETCHAT_UTIL_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_UTIL_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


void ngx_http_cometchat_util_init_process(ngx_cycle_t *cycle);
ngx_http_cometchat_ctx_t *ngx_http_cometchat_get_ctx(ngx_http_request_t *r);
ngx_http_cometchat_ctx_t *ngx_http_cometchat_create_ctx(ngx_http_request_t *r);
ngx_int_t ngx_http_cometchat_valid_uid(ngx_str_t *uid);
ngx_int_t ngx_http_cometchat_conf_where(ngx_conf_t *cf,
    ngx_http_cometchat_conf_where_t *where);
char *ngx_http_cometchat_read_conf_file(ngx_conf_t *cf, char *directive,
    ngx_str_t *path, size_t max, ngx_pool_t *pool, ngx_str_t *text);

/*
 * Error logs are rate-limited per kind and worker: at most one line per
 * NGX_HTTP_COMETCHAT_LOG_INTERVAL seconds.  Kinds are the PART_* values
 * above and the ones below.
 */
#define NGX_HTTP_COMETCHAT_LOG_INTERVAL     10
#define NGX_HTTP_COMETCHAT_LOG_CONFIG       4   /* bad api key, bad uid */
#define NGX_HTTP_COMETCHAT_LOG_RATE_LIMIT   5
#define NGX_HTTP_COMETCHAT_LOG_API_KEY      6   /* key rejected */
#define NGX_HTTP_COMETCHAT_LOG_NO_REDIS     7   /* a flight without Redis */
#define NGX_HTTP_COMETCHAT_LOG_NAMELESS     8   /* user named after uid */
#define NGX_HTTP_COMETCHAT_LOG_PROFILE      9   /* profile update failed */
#define NGX_HTTP_COMETCHAT_LOG_KINDS        16
ngx_uint_t ngx_http_cometchat_log_allowed(ngx_uint_t kind);
ngx_table_elt_t *ngx_http_cometchat_header_next(ngx_list_t *list,
    ngx_list_part_t **part, ngx_uint_t *i, ngx_str_t *name);
ngx_uint_t ngx_http_cometchat_header_is(ngx_table_elt_t *h, ngx_str_t *name);


#endif /* _NGX_HTTP_COMETCHAT_UTIL_H_INCLUDED_ */
