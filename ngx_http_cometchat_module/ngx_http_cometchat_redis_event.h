/*
 * ngx_http_cometchat_redis_event.c
 */


#ifndef _NGX_HTTP_COMETCHAT_REDIS_EVENT_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_REDIS_EVENT_H_INCLUDED_


#include "ngx_http_cometchat_common.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


typedef struct {
    /* the fd is being closed: hiredis frees ac right after */
    void  (*gone)(redisAsyncContext *ac);
    /* the worker is closing every connection (worker_shutdown_timeout) */
    void  (*closing)(redisAsyncContext *ac);
    /* an event could not be registered: called inside hiredis */
    void  (*broken)(redisAsyncContext *ac);
} ngx_http_cometchat_redis_event_handlers_t;


void ngx_http_cometchat_redis_event_init(
    ngx_http_cometchat_redis_event_handlers_t *handlers);
ngx_int_t ngx_http_cometchat_redis_event_attach(redisAsyncContext *ac,
    ngx_log_t *log);
const char *ngx_http_cometchat_redis_event_errstr(const redisAsyncContext *ac);
ngx_int_t ngx_http_cometchat_redis_event_value(redisReply *reply,
    u_char *integer, ngx_str_t *array, size_t n, ngx_str_t **value);


#endif /* _NGX_HTTP_COMETCHAT_REDIS_EVENT_H_INCLUDED_ */
