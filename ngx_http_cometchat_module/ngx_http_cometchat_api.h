/*
 * ngx_http_cometchat_api.c
 */


#ifndef _NGX_HTTP_COMETCHAT_API_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_API_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


typedef struct ngx_http_cometchat_mint_s  ngx_http_cometchat_mint_t;

typedef struct {
    ngx_int_t                   rc;         /* NGX_OK: token set */
    ngx_str_t                   token;
    ngx_uint_t                  user_created;
    time_t                      retry_after;    /* 429: no call before */
    ngx_str_t                   error;      /* for the log, no secrets */
    ngx_uint_t                  logged;     /* error logged already */
} ngx_http_cometchat_mint_result_t;

typedef void (*ngx_http_cometchat_mint_handler_pt)(void *data,
    ngx_http_cometchat_mint_result_t *result);

ngx_http_cometchat_mint_t *ngx_http_cometchat_api_mint_start(
    ngx_http_cometchat_loc_conf_t *lcf, ngx_str_t *uid, ngx_str_t *name,
    ngx_str_t *avatar, ngx_http_cometchat_mint_handler_pt handler,
    void *data, ngx_log_t *log);
void ngx_http_cometchat_api_mint_cancel(ngx_http_cometchat_mint_t *mint);

/* update user: result.rc NGX_OK on success, no token; cancelled alike */
ngx_http_cometchat_mint_t *ngx_http_cometchat_api_update_start(
    ngx_http_cometchat_loc_conf_t *lcf, ngx_str_t *uid, ngx_str_t *name,
    ngx_str_t *avatar, ngx_http_cometchat_mint_handler_pt handler,
    void *data, ngx_log_t *log);

void ngx_http_cometchat_api_user_name(ngx_str_t *name, ngx_str_t *out);
void ngx_http_cometchat_api_user_avatar(ngx_str_t *avatar, ngx_str_t *out);


#endif /* _NGX_HTTP_COMETCHAT_API_H_INCLUDED_ */
