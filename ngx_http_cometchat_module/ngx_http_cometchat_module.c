
/*
 * ngx_http_cometchat_module: the directive table, configuration (create,
 * merge, the checks that need a whole location), and the hooks nginx
 * calls (phase handler, filters, process start and exit).  A directive
 * that configures one feature has its handler in that feature's file.
 */


#include "ngx_http_cometchat_cache.h"
#include "ngx_http_cometchat_egress.h"
#include "ngx_http_cometchat_endpoint.h"
#include "ngx_http_cometchat_filter.h"
#include "ngx_http_cometchat_quota.h"
#include "ngx_http_cometchat_redis.h"
#include "ngx_http_cometchat_redis_conf.h"
#include "ngx_http_cometchat_rest.h"
#include "ngx_http_cometchat_session.h"
#include "ngx_http_cometchat_session_conf.h"
#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_template.h"
#include "ngx_http_cometchat_token.h"
#include "ngx_http_cometchat_uid.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_variables.h"
#include "ngx_http_cometchat_widget.h"


static char *ngx_http_cometchat_conf_enable(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cometchat_conf_check_name(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_cometchat_conf_check_timeout(ngx_conf_t *cf,
    void *post, void *data);
static char *ngx_http_cometchat_conf_requires(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *conf, const char *what);

static void *ngx_http_cometchat_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_cometchat_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_cometchat_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_cometchat_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_cometchat_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_cometchat_init_process(ngx_cycle_t *cycle);
static void ngx_http_cometchat_exit_process(ngx_cycle_t *cycle);



static ngx_conf_post_handler_pt  ngx_http_cometchat_check_name_p =
    ngx_http_cometchat_conf_check_name;

static ngx_conf_post_handler_pt  ngx_http_cometchat_check_timeout_p =
    ngx_http_cometchat_conf_check_timeout;


static ngx_str_t  ngx_http_cometchat_default_types[] = {
    ngx_string("text/html"),
    ngx_null_string
};


static ngx_conf_enum_t  ngx_http_cometchat_uid_maps[] = {
    { ngx_string("escape"), NGX_HTTP_COMETCHAT_UID_MAP_ESCAPE },
    { ngx_string("lowercase"), NGX_HTTP_COMETCHAT_UID_MAP_LOWERCASE },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_cometchat_api_max_concurrent_bounds = {
    ngx_conf_check_num_bounds, 1, 65535
};


static ngx_command_t  ngx_http_cometchat_commands[] = {

    { ngx_string("cometchat"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_cometchat_conf_enable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, enable),
      NULL },

    { ngx_string("cometchat_app_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, app_id),
      &ngx_http_cometchat_check_name_p },

    { ngx_string("cometchat_region"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, region),
      &ngx_http_cometchat_check_name_p },

    { ngx_string("cometchat_api_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_egress_conf_api_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_api_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_egress_conf_api_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_api_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_egress_conf_api_url,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_api_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, api_timeout),
      &ngx_http_cometchat_check_timeout_p },

    { ngx_string("cometchat_api_ssl_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_egress_conf_trusted,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_api_ssl_verify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_egress_conf_verify,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_api_proxy"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_egress_conf_proxy,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_session"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_session_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_session_uid"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_session_conf_source,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, uid_src),
      NULL },

    { ngx_string("cometchat_session_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_session_conf_source,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, name_src),
      NULL },

    { ngx_string("cometchat_session_avatar"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_session_conf_source,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, avatar_src),
      NULL },

    { ngx_string("cometchat_uid_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_uid_conf_prefix,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_uid_map"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, uid_map),
      &ngx_http_cometchat_uid_maps },

    { ngx_string("cometchat_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_cometchat_redis_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_api_max_concurrent"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cometchat_main_conf_t, api_max_concurrent),
      &ngx_http_cometchat_api_max_concurrent_bounds },

    { ngx_string("cometchat_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cometchat_main_conf_t, redis_timeout),
      NULL },

    { ngx_string("cometchat_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, token_ttl),
      NULL },

    { ngx_string("cometchat_token_local_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, token_local_ttl),
      NULL },

    { ngx_string("cometchat_profile_sync"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, profile_sync),
      NULL },

    { ngx_string("cometchat_inject"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, inject),
      NULL },

    { ngx_string("cometchat_documents_only"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, documents_only),
      NULL },

    { ngx_string("cometchat_when"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, when),
      NULL },

    { ngx_string("cometchat_inject_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_types_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, types_keys),
      &ngx_http_cometchat_default_types[0] },

    { ngx_string("cometchat_widget"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_cometchat_widget,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_snippet_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, snippet_file),
      NULL },

    { ngx_string("cometchat_token_endpoint"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cometchat_endpoint_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cometchat_status_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_cometchat_module_ctx = {
    ngx_http_cometchat_variables_add,      /* preconfiguration */
    ngx_http_cometchat_init,               /* postconfiguration */

    ngx_http_cometchat_create_main_conf,   /* create main configuration */
    ngx_http_cometchat_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_cometchat_create_loc_conf,    /* create location configuration */
    ngx_http_cometchat_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_cometchat_module = {
    NGX_MODULE_V1,
    &ngx_http_cometchat_module_ctx,        /* module context */
    ngx_http_cometchat_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_cometchat_status_init_module, /* init module */
    ngx_http_cometchat_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_cometchat_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static char *
ngx_http_cometchat_conf_enable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    char  *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ngx_http_cometchat_conf_where(cf, &cclcf->enable_where) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_cometchat_conf_check_timeout(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *ms = data;

    /* curl takes 0 as no limit: a stalled CometChat would hold requests */

    if (*ms == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_timeout\" must be greater "
                           "than 0");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_cometchat_conf_check_name(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *value = data;

    u_char  *p;

    /* app id and region end up in a host name and in the page */

    if (value->len == 0 || value->len > 64) {
        return "has an invalid length";
    }

    for (p = value->data; p < value->data + value->len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')
        {
            continue;
        }

        return "may contain only letters, digits, \"-\" and \"_\"";
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_cometchat_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_cometchat_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cometchat_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     cmcf->redis_name = { 0, NULL };
     *     cmcf->redis_addr = NULL;
     *     cmcf->redis_db = 0;
     *     cmcf->redis_password = { 0, NULL };
     *     cmcf->shm_zone = NULL;
     *     cmcf->enabled = 0;
     */

    cmcf->redis_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->api_max_concurrent = NGX_CONF_UNSET_UINT;

    return cmcf;
}


static char *
ngx_http_cometchat_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_cometchat_main_conf_t *cmcf = conf;

    ngx_conf_init_msec_value(cmcf->redis_timeout, 1000);
    ngx_conf_init_uint_value(cmcf->api_max_concurrent,
                             NGX_HTTP_COMETCHAT_QUOTA_CONCURRENT);

    /* hiredis has no timeouts of its own: without ours a stalled Redis
     * would hold requests forever */

    if (cmcf->redis_timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_redis_timeout\" must be greater "
                           "than 0");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_cometchat_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_cometchat_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cometchat_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->app_id = { 0, NULL };
     *     conf->region = { 0, NULL };
     *     conf->api_key = { 0, NULL };
     *     conf->api_key_file = { 0, NULL };
     *     conf->api_url = { 0, NULL };
     *     conf->egress = NULL;
     *     conf->session_uri = { 0, NULL };
     *     conf->uid_src = { NGX_HTTP_COMETCHAT_SRC_NONE, ... };
     *     conf->name_src = { NGX_HTTP_COMETCHAT_SRC_NONE, ... };
     *     conf->avatar_src = { NGX_HTTP_COMETCHAT_SRC_NONE, ... };
     *     conf->uid_prefix = { 0, NULL };
     *     conf->types = { NULL };
     *     conf->types_keys = NULL;
     *     conf->widget = NULL;
     *     conf->snippet_file = { 0, NULL };
     *     conf->snippet = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->inject = NGX_CONF_UNSET;
    conf->token_endpoint = NGX_CONF_UNSET;
    conf->documents_only = NGX_CONF_UNSET;
    conf->when = NGX_CONF_UNSET_PTR;
    conf->api_timeout = NGX_CONF_UNSET_MSEC;
    conf->token_ttl = NGX_CONF_UNSET;
    conf->token_local_ttl = NGX_CONF_UNSET;
    conf->uid_map = NGX_CONF_UNSET_UINT;
    conf->profile_sync = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_cometchat_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_cometchat_loc_conf_t *prev = parent;
    ngx_http_cometchat_loc_conf_t *conf = child;

    u_char                          *p;
    char                            *rv;
    const char                      *what;
    ngx_http_cometchat_main_conf_t  *cmcf;

    if (conf->enable == NGX_CONF_UNSET) {
        conf->enable_where = prev->enable_where;
    }

    if (conf->token_endpoint == NGX_CONF_UNSET) {
        conf->endpoint_where = prev->endpoint_where;
    }

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_value(conf->inject, prev->inject, 1);
    ngx_conf_merge_value(conf->token_endpoint, prev->token_endpoint, 0);
    ngx_conf_merge_value(conf->documents_only, prev->documents_only, 1);
    ngx_conf_merge_ptr_value(conf->when, prev->when, NULL);

    ngx_conf_merge_str_value(conf->app_id, prev->app_id, "");
    ngx_conf_merge_str_value(conf->region, prev->region, "");

    if (conf->api_key.data == NULL) {
        conf->api_key = prev->api_key;
        conf->api_key_file = prev->api_key_file;
    }

    ngx_conf_merge_msec_value(conf->api_timeout, prev->api_timeout, 5000);

    ngx_conf_merge_str_value(conf->session_uri, prev->session_uri, "");

    ngx_http_cometchat_session_conf_merge(&conf->uid_src, &prev->uid_src,
                                          "X-User-Id");
    ngx_http_cometchat_session_conf_merge(&conf->name_src, &prev->name_src,
                                          "X-User-Name");
    ngx_http_cometchat_session_conf_merge(&conf->avatar_src,
                                          &prev->avatar_src,
                                          "X-User-Avatar");

    ngx_conf_merge_str_value(conf->uid_prefix, prev->uid_prefix, "");
    ngx_conf_merge_uint_value(conf->uid_map, prev->uid_map,
                              NGX_HTTP_COMETCHAT_UID_MAP_ESCAPE);
    ngx_conf_merge_sec_value(conf->token_ttl, prev->token_ttl, 86400);
    ngx_conf_merge_sec_value(conf->token_local_ttl, prev->token_local_ttl,
                             10);
    ngx_conf_merge_value(conf->profile_sync, prev->profile_sync, 1);

    if (ngx_http_merge_types(cf, &conf->types_keys, &conf->types,
                             &prev->types_keys, &prev->types,
                             ngx_http_cometchat_default_types)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->api_url.data == NULL) {
        if (prev->api_url.data != NULL) {
            conf->api_url = prev->api_url;

        } else if (conf->app_id.len && conf->region.len) {
            conf->api_url.len = sizeof("https://.api-.cometchat.io/v3") - 1
                                + conf->app_id.len + conf->region.len;
            conf->api_url.data = ngx_pnalloc(cf->pool, conf->api_url.len);
            if (conf->api_url.data == NULL) {
                return NGX_CONF_ERROR;
            }

            p = ngx_sprintf(conf->api_url.data,
                            "https://%V.api-%V.cometchat.io/v3",
                            &conf->app_id, &conf->region);
            conf->api_url.len = p - conf->api_url.data;
        }
    }

    rv = ngx_http_cometchat_egress_merge(cf, prev, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    rv = ngx_http_cometchat_snippet_merge(cf, prev, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (!conf->enable && !conf->token_endpoint) {
        return NGX_CONF_OK;
    }

    if (conf->app_id.len == 0) {
        what = "\"cometchat_app_id\"";

    } else if (conf->region.len == 0) {
        what = "\"cometchat_region\"";

    } else if (conf->api_key.len == 0) {
        what = "\"cometchat_api_key\" or \"cometchat_api_key_file\"";

    } else if (conf->session_uri.len == 0) {
        what = "\"cometchat_session\"";

    } else {
        what = NULL;
    }

    if (what) {
        return ngx_http_cometchat_conf_requires(cf, conf, what);
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cometchat_module);
    cmcf->enabled = 1;

    return NGX_CONF_OK;
}


/*
 * Merging runs at the end of the http block: cf points there, so the
 * message names where the enabling directive stands instead, as
 * ngx_conf_log_error() would have.
 */

static char *
ngx_http_cometchat_conf_requires(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *conf, const char *what)
{
    const char                       *directive;
    ngx_http_cometchat_conf_where_t  *where;

    if (conf->token_endpoint) {
        directive = "cometchat_token_endpoint";
        where = &conf->endpoint_where;

    } else {
        directive = "cometchat on";
        where = &conf->enable_where;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"%s\" requires %s in %V:%ui",
                  directive, what, &where->file, where->line);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_cometchat_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt             *h;
    ngx_http_core_main_conf_t       *cmcf;
    ngx_http_cometchat_main_conf_t  *ccmcf;

    ccmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cometchat_module);

    if (ngx_http_cometchat_status_init_zone(cf, ccmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_cometchat_cache_init_zone(cf, ccmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_cometchat_quota_init_zone(cf, ccmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_cometchat_session_access_handler;

    return ngx_http_cometchat_filter_init(cf);
}


static ngx_int_t
ngx_http_cometchat_init_process(ngx_cycle_t *cycle)
{
    ngx_http_cometchat_util_init_process(cycle);
    ngx_http_cometchat_quota_init_process(cycle);

    if (ngx_http_cometchat_rest_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_cometchat_redis_init_process(cycle);
}


static void
ngx_http_cometchat_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_cometchat_token_exit_process(cycle);
    ngx_http_cometchat_redis_exit_process(cycle);
    ngx_http_cometchat_rest_exit_process(cycle);
    ngx_http_cometchat_quota_exit_process(cycle);
}
