/*
 * ngx_http_cometchat_session_conf.c
 */


#ifndef _NGX_HTTP_COMETCHAT_SESSION_CONF_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_SESSION_CONF_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


char *ngx_http_cometchat_session_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cometchat_session_conf_source(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
void ngx_http_cometchat_session_conf_merge(ngx_http_cometchat_source_t *conf,
    ngx_http_cometchat_source_t *prev, char *header);


#endif /* _NGX_HTTP_COMETCHAT_SESSION_CONF_H_INCLUDED_ */
