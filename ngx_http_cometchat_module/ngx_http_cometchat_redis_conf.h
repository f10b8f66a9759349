
/*
 * ngx_http_cometchat_redis_conf.c
 */


#ifndef _NGX_HTTP_COMETCHAT_REDIS_CONF_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_REDIS_CONF_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


char *ngx_http_cometchat_redis_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_COMETCHAT_REDIS_CONF_H_INCLUDED_ */
