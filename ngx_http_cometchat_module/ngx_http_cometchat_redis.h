/*
 * ngx_http_cometchat_redis.c
 */


#ifndef _NGX_HTTP_COMETCHAT_REDIS_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_REDIS_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


typedef struct ngx_http_cometchat_redis_cmd_s  ngx_http_cometchat_redis_cmd_t;

/*
 * rc: NGX_OK with a string/status reply in value; NGX_DECLINED for nil;
 * NGX_ERROR for an error reply, a timeout or a lost connection.
 * An array of up to NGX_HTTP_COMETCHAT_REDIS_ARRAY strings and nils (MGET)
 * is NGX_OK with value pointing at that many ngx_str_t, a nil (and an
 * element the reply does not have) with data NULL.
 * value points into hiredis memory valid only during the call.
 */

#define NGX_HTTP_COMETCHAT_REDIS_ARRAY  4

typedef void (*ngx_http_cometchat_redis_handler_pt)(void *data, ngx_int_t rc,
    ngx_str_t *value);

ngx_int_t ngx_http_cometchat_redis_init_process(ngx_cycle_t *cycle);
void ngx_http_cometchat_redis_exit_process(ngx_cycle_t *cycle);
ngx_flag_t ngx_http_cometchat_redis_configured(void);
ngx_flag_t ngx_http_cometchat_redis_ready(void);
ngx_http_cometchat_redis_cmd_t *ngx_http_cometchat_redis_command(
    ngx_http_cometchat_redis_handler_pt handler, void *data, ngx_log_t *log,
    int argc, const char **argv, const size_t *argvlen);
void ngx_http_cometchat_redis_cancel(ngx_http_cometchat_redis_cmd_t *cmd);
/* key: "cometchat:APP_ID:KIND:UID" at p (an app-wide one for uid NULL) */
u_char *ngx_http_cometchat_redis_key(u_char *p, ngx_str_t *app_id,
    const char *kind, ngx_str_t *uid, ngx_str_t *key);
/* Redis Cluster: a command may only touch keys of one hash slot */
ngx_flag_t ngx_http_cometchat_redis_one_slot(void);


#endif /* _NGX_HTTP_COMETCHAT_REDIS_H_INCLUDED_ */
