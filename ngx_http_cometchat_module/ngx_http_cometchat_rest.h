/*
 * ngx_http_cometchat_rest.c
 */


#ifndef _NGX_HTTP_COMETCHAT_REST_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_REST_H_INCLUDED_


#include "ngx_http_cometchat_common.h"
#include "ngx_http_cometchat_egress.h"


typedef struct ngx_http_cometchat_rest_call_s  ngx_http_cometchat_rest_call_t;

typedef struct {
    ngx_uint_t                  status;     /* HTTP status, 0 on transport
                                               error */
    ngx_str_t                   body;
    time_t                      retry_after;    /* seconds, 0 if none */
    const char                 *error;      /* transport error text */
} ngx_http_cometchat_rest_reply_t;

typedef void (*ngx_http_cometchat_rest_handler_pt)(void *data,
    ngx_http_cometchat_rest_reply_t *reply);

ngx_int_t ngx_http_cometchat_rest_init_process(ngx_cycle_t *cycle);
void ngx_http_cometchat_rest_exit_process(ngx_cycle_t *cycle);
ngx_http_cometchat_rest_call_t *ngx_http_cometchat_rest_start(
    ngx_str_t *method, ngx_str_t *url, ngx_str_t *api_key, ngx_str_t *body,
    ngx_msec_t timeout, ngx_http_cometchat_egress_t *egress,
    ngx_http_cometchat_rest_handler_pt handler, void *data, ngx_log_t *log);
void ngx_http_cometchat_rest_cancel(ngx_http_cometchat_rest_call_t *call);


#endif /* _NGX_HTTP_COMETCHAT_REST_H_INCLUDED_ */
