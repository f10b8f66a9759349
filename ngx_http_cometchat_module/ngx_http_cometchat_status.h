/*
 * ngx_http_cometchat_status.c
 */


#ifndef _NGX_HTTP_COMETCHAT_STATUS_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_STATUS_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


ngx_int_t ngx_http_cometchat_status_init_zone(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf);
void ngx_http_cometchat_status_add(ngx_http_cometchat_stat_e stat,
    ngx_atomic_int_t n);
void ngx_http_cometchat_status_redis_up(ngx_uint_t up);
void ngx_http_cometchat_status_redis_master(uint32_t id);
#define ngx_http_cometchat_status_inc(stat)                                    \
    ngx_http_cometchat_status_add(stat, 1)
char *ngx_http_cometchat_status_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_cometchat_status_init_module(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_COMETCHAT_STATUS_H_INCLUDED_ */
