/*
 * ngx_http_cometchat_cache.c
 */


#ifndef _NGX_HTTP_COMETCHAT_CACHE_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_CACHE_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


#define NGX_HTTP_COMETCHAT_TOKEN_MAX         1024

/* what ngx_http_cometchat_cache_lookup() found */
#define NGX_HTTP_COMETCHAT_CACHE_NONE        0
#define NGX_HTTP_COMETCHAT_CACHE_TOKEN       1
#define NGX_HTTP_COMETCHAT_CACHE_RETRY       2   /* a 429 still runs */
#define NGX_HTTP_COMETCHAT_CACHE_BUSY        3   /* another worker mints */
#define NGX_HTTP_COMETCHAT_CACHE_LOCKED      4   /* the marker is ours */
#define NGX_HTTP_COMETCHAT_CACHE_FRESH       5   /* answers without Redis */
#define NGX_HTTP_COMETCHAT_CACHE_SAME        6   /* that profile was sent */

/* a profile fingerprint: two halves of 16 hex digits (profile.c) */
#define NGX_HTTP_COMETCHAT_PROFILE_LEN       32


ngx_int_t ngx_http_cometchat_cache_init_zone(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf);
ngx_uint_t ngx_http_cometchat_cache_lookup(ngx_str_t *key, ngx_str_t *token,
    time_t *expire, ngx_msec_t lock, ngx_uint_t own);
void ngx_http_cometchat_cache_store(ngx_str_t *key, ngx_str_t *token,
    time_t expire, time_t retry, time_t local, ngx_uint_t in_redis);
void ngx_http_cometchat_cache_copy(ngx_str_t *key, ngx_str_t *token,
    time_t local);
time_t ngx_http_cometchat_cache_until(ngx_http_cometchat_loc_conf_t *lcf,
    time_t now);
void ngx_http_cometchat_cache_unlock(ngx_str_t *key);
void ngx_http_cometchat_cache_profile(ngx_str_t *key, ngx_str_t *fp);
ngx_uint_t ngx_http_cometchat_cache_profile_lock(ngx_str_t *key,
    ngx_str_t *fp, ngx_msec_t lock);
void ngx_http_cometchat_cache_profile_store(ngx_str_t *key, ngx_str_t *fp,
    time_t retry);


#endif /* _NGX_HTTP_COMETCHAT_CACHE_H_INCLUDED_ */
