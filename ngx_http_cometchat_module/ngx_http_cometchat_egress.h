/*
 * ngx_http_cometchat_egress.c
 */


#ifndef _NGX_HTTP_COMETCHAT_EGRESS_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_EGRESS_H_INCLUDED_


#include "ngx_http_cometchat_common.h"

#include <curl/curl.h>


/* the loc conf's "egress": how REST calls leave this host */
typedef struct {
    ngx_flag_t                  verify;         /* cometchat_api_ssl_verify */
    ngx_str_t                   trusted;        /* CA bundle, full path;
                                                   empty: the system's */
    ngx_str_t                   proxy;          /* as curl takes it, with
                                                   credentials; empty:
                                                   none */
    ngx_str_t                   proxy_shown;    /* credentials masked */
} ngx_http_cometchat_egress_t;


char *ngx_http_cometchat_egress_conf_api_key(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_cometchat_egress_conf_api_key_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_cometchat_egress_conf_api_url(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_cometchat_egress_conf_trusted(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_cometchat_egress_conf_verify(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_cometchat_egress_conf_proxy(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_cometchat_egress_merge(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *prev, ngx_http_cometchat_loc_conf_t *conf);

ngx_int_t ngx_http_cometchat_egress_init_process(ngx_cycle_t *cycle);
void ngx_http_cometchat_egress_exit_process(void);
ngx_int_t ngx_http_cometchat_egress_setopt(CURL *easy,
    ngx_http_cometchat_egress_t *eg, ngx_log_t *log);
const char *ngx_http_cometchat_egress_error(CURL *easy, CURLcode rc,
    ngx_http_cometchat_egress_t *eg, const char *reason, u_char *buf,
    size_t size);


#endif /* _NGX_HTTP_COMETCHAT_EGRESS_H_INCLUDED_ */
