/*
 * ngx_http_cometchat_widget.c
 */


#ifndef _NGX_HTTP_COMETCHAT_WIDGET_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_WIDGET_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


char *ngx_http_cometchat_widget(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* parameters not set at this level are inherited one by one */
void ngx_http_cometchat_widget_merge(ngx_http_cometchat_loc_conf_t *prev,
    ngx_http_cometchat_loc_conf_t *conf);
/* the built-in snippet, a template with its configured values escaped */
ngx_int_t ngx_http_cometchat_widget_builtin(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *conf, ngx_str_t *text);

/* the sign-out snippet after "<script", built once per app ID */
ngx_int_t ngx_http_cometchat_widget_signout(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *prev, ngx_http_cometchat_loc_conf_t *conf);
/* NGX_DECLINED: no sign-out snippet here */
ngx_int_t ngx_http_cometchat_widget_signout_render(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_str_t *nonce, ngx_str_t *out,
    uint32_t *id);


#endif /* _NGX_HTTP_COMETCHAT_WIDGET_H_INCLUDED_ */
