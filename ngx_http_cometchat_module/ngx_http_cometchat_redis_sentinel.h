/*
 * ngx_http_cometchat_redis_sentinel.c
 */


#ifndef _NGX_HTTP_COMETCHAT_REDIS_SENTINEL_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_REDIS_SENTINEL_H_INCLUDED_


#include "ngx_http_cometchat_common.h"

#include <hiredis/hiredis.h>


/* a Redis to connect to: numeric host (or unix path when port is 0) */
typedef struct {
    char                        host[NGX_SOCKADDR_STRLEN + 1];
    int                         port;
} ngx_http_cometchat_redis_peer_t;


const char *ngx_http_cometchat_redis_sentinel_master(redisReply *reply,
    ngx_http_cometchat_redis_peer_t *peer);
const char *ngx_http_cometchat_redis_sentinel_role(redisReply *reply,
    u_char *buf, size_t size);


#endif /* _NGX_HTTP_COMETCHAT_REDIS_SENTINEL_H_INCLUDED_ */
