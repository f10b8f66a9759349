/*
 * ngx_http_cometchat_quota.c
 */


#ifndef _NGX_HTTP_COMETCHAT_QUOTA_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_QUOTA_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


#define NGX_HTTP_COMETCHAT_QUOTA_CONCURRENT  32


ngx_int_t ngx_http_cometchat_quota_init_zone(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf);
void ngx_http_cometchat_quota_init_process(ngx_cycle_t *cycle);
void ngx_http_cometchat_quota_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_cometchat_quota_enter(ngx_str_t *app_id, time_t *until,
    ngx_uint_t take);
void ngx_http_cometchat_quota_leave(void);
void ngx_http_cometchat_quota_pause(ngx_str_t *app_id, time_t until);
ngx_uint_t ngx_http_cometchat_quota_skip(ngx_str_t *app_id,
    ngx_str_t *shared, ngx_log_t *log);
size_t ngx_http_cometchat_quota_metrics(u_char *p);


#endif /* _NGX_HTTP_COMETCHAT_QUOTA_H_INCLUDED_ */
