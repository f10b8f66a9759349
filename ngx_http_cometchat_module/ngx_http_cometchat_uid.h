/*
 * ngx_http_cometchat_uid.c
 */


#ifndef _NGX_HTTP_COMETCHAT_UID_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_UID_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


/* cometchat_uid_map */
#define NGX_HTTP_COMETCHAT_UID_MAP_ESCAPE     0
#define NGX_HTTP_COMETCHAT_UID_MAP_LOWERCASE  1

/* the longest application id mapped; longer ones are refused */
#define NGX_HTTP_COMETCHAT_ID_MAX             1024

/* "_h" and the hex SHA-256 of the id, the form of an id too long to escape */
#define NGX_HTTP_COMETCHAT_UID_HASHED_LEN     (2 + 2 * 32)

/* so that every id has a uid of at most NGX_HTTP_COMETCHAT_UID_MAX */
#define NGX_HTTP_COMETCHAT_UID_PREFIX_MAX                                     \
    (NGX_HTTP_COMETCHAT_UID_MAX - NGX_HTTP_COMETCHAT_UID_HASHED_LEN)


ngx_int_t ngx_http_cometchat_uid_map(ngx_pool_t *pool, ngx_uint_t map,
    ngx_str_t *prefix, ngx_str_t *id, ngx_str_t *uid, const char **why);
char *ngx_http_cometchat_uid_conf_prefix(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_COMETCHAT_UID_H_INCLUDED_ */
