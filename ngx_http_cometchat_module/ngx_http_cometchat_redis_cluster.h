
/*
 * ngx_http_cometchat_redis_cluster.c
 */


#ifndef _NGX_HTTP_COMETCHAT_REDIS_CLUSTER_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_REDIS_CLUSTER_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


typedef struct ngx_http_cometchat_redis_cluster_cmd_s
    ngx_http_cometchat_redis_cluster_cmd_t;

/* as ngx_http_cometchat_redis_handler_pt (ngx_http_cometchat_redis.h) */
typedef void (*ngx_http_cometchat_redis_cluster_handler_pt)(void *data,
    ngx_int_t rc, ngx_str_t *value);


ngx_int_t ngx_http_cometchat_redis_cluster_init(ngx_cycle_t *cycle,
    ngx_http_cometchat_main_conf_t *cmcf);
void ngx_http_cometchat_redis_cluster_exit(void);
ngx_flag_t ngx_http_cometchat_redis_cluster_ready(void);
ngx_http_cometchat_redis_cluster_cmd_t *
    ngx_http_cometchat_redis_cluster_command(
    ngx_http_cometchat_redis_cluster_handler_pt handler, void *data,
    ngx_log_t *log, int argc, const char **argv, const size_t *argvlen);
void ngx_http_cometchat_redis_cluster_cancel(
    ngx_http_cometchat_redis_cluster_cmd_t *cmd);


#endif /* _NGX_HTTP_COMETCHAT_REDIS_CLUSTER_H_INCLUDED_ */
