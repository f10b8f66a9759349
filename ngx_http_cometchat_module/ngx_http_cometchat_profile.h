/*
 * ngx_http_cometchat_profile.c
 */


#ifndef _NGX_HTTP_COMETCHAT_PROFILE_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_PROFILE_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


/*
 * key is the flight's "APP_ID:UID"; name and avatar are what the session
 * reported.  stored: the fingerprint Redis returned with the token (data
 * NULL: Redis has none), or NULL to compare with the per-host zone.
 * Returns at once; an update, when one is due, runs on its own.
 */
void ngx_http_cometchat_profile_check(ngx_http_cometchat_loc_conf_t *lcf,
    ngx_str_t *key, ngx_str_t *name, ngx_str_t *avatar, ngx_str_t *stored);

/* the module created the user with this name and avatar */
void ngx_http_cometchat_profile_created(ngx_http_cometchat_loc_conf_t *lcf,
    ngx_str_t *key, ngx_str_t *name, ngx_str_t *avatar);

void ngx_http_cometchat_profile_exit_process(void);


#endif /* _NGX_HTTP_COMETCHAT_PROFILE_H_INCLUDED_ */
