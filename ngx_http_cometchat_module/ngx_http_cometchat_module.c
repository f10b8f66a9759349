
/*
 * ngx_http_cometchat_module: directives, configuration, and the hooks
 * nginx calls (phase handler, filters, process start and exit).
 */


#include "ngx_http_cometchat_cache.h"
#include "ngx_http_cometchat_egress.h"
#include "ngx_http_cometchat_endpoint.h"
#include "ngx_http_cometchat_filter.h"
#include "ngx_http_cometchat_redis.h"
#include "ngx_http_cometchat_rest.h"
#include "ngx_http_cometchat_session.h"
#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_template.h"
#include "ngx_http_cometchat_token.h"
#include "ngx_http_cometchat_uid.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_variables.h"
#include "ngx_http_cometchat_widget.h"


static char *ngx_http_cometchat_conf_enable(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cometchat_conf_api_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cometchat_conf_api_key_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_cometchat_conf_api_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cometchat_conf_session(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cometchat_conf_source(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cometchat_conf_uid_prefix(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_cometchat_conf_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cometchat_conf_token_endpoint(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_cometchat_conf_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cometchat_conf_check_name(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_cometchat_conf_check_timeout(ngx_conf_t *cf,
    void *post, void *data);
static char *ngx_http_cometchat_conf_requires(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *conf, const char *what);
static ngx_int_t ngx_http_cometchat_conf_check_key(u_char *p, u_char *last);
static ngx_int_t ngx_http_cometchat_conf_parse_source(ngx_conf_t *cf,
    ngx_str_t *value, ngx_http_cometchat_source_t *src);

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
      ngx_http_cometchat_conf_api_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_api_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_conf_api_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_api_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_conf_api_url,
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
      ngx_http_cometchat_conf_session,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_session_uid"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_conf_source,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, uid_src),
      NULL },

    { ngx_string("cometchat_session_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_conf_source,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, name_src),
      NULL },

    { ngx_string("cometchat_session_avatar"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_conf_source,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cometchat_loc_conf_t, avatar_src),
      NULL },

    { ngx_string("cometchat_uid_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_cometchat_conf_uid_prefix,
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
      ngx_http_cometchat_conf_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

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
      ngx_http_cometchat_conf_token_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cometchat_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cometchat_conf_status,
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


static char *
ngx_http_cometchat_conf_api_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    ngx_str_t  *value;

    if (cclcf->api_key.data != NULL) {
        if (cclcf->api_key_file.data != NULL) {
            return "conflicts with \"cometchat_api_key_file\" "
                   "at the same level";
        }

        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "is empty";
    }

    if (ngx_http_cometchat_conf_check_key(value[1].data,
                                          value[1].data + value[1].len)
        != NGX_OK)
    {
        return "contains control characters";
    }

    cclcf->api_key = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_cometchat_conf_api_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    u_char     *p, *last;
    size_t      n;
    ngx_str_t  *value, path, text;

    if (cclcf->api_key.data != NULL) {
        if (cclcf->api_key_file.data == NULL) {
            return "conflicts with \"cometchat_api_key\" at the same level";
        }

        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_http_cometchat_read_conf_file(cf, "cometchat_api_key_file", &path,
                                          4096, cf->pool, &text)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = text.data;
    n = text.len;

    /* one line, surrounding whitespace trimmed */

    last = p + n;

    while (p < last && (*p == ' ' || *p == '\t' || *p == CR || *p == LF)) {
        p++;
    }

    while (last > p
           && (last[-1] == ' ' || last[-1] == '\t'
               || last[-1] == CR || last[-1] == LF))
    {
        last--;
    }

    if (p == last) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_key_file\": \"%V\" is empty",
                           &path);
        return NGX_CONF_ERROR;
    }

    if (ngx_strlchr(p, last, LF) || ngx_strlchr(p, last, CR)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_key_file\": \"%V\" must hold "
                           "one line", &path);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cometchat_conf_check_key(p, last) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_key_file\": \"%V\" contains "
                           "control characters", &path);
        return NGX_CONF_ERROR;
    }

    cclcf->api_key.data = p;
    cclcf->api_key.len = last - p;
    cclcf->api_key_file = path;

    return NGX_CONF_OK;
}


/* the key goes into an "apikey" request header line as it is */

static ngx_int_t
ngx_http_cometchat_conf_check_key(u_char *p, u_char *last)
{
    for ( /* void */ ; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static char *
ngx_http_cometchat_conf_api_url(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    ngx_str_t  *value, url;

    if (cclcf->api_url.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    url = value[1];

    if (!((url.len > 7 && ngx_strncasecmp(url.data, (u_char *) "http://", 7)
                          == 0)
          || (url.len > 8
              && ngx_strncasecmp(url.data, (u_char *) "https://", 8) == 0)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_url\" must begin with "
                           "\"http://\" or \"https://\": \"%V\"", &url);
        return NGX_CONF_ERROR;
    }

    while (url.len && url.data[url.len - 1] == '/') {
        url.len--;
    }

    cclcf->api_url = url;

    return NGX_CONF_OK;
}


static char *
ngx_http_cometchat_conf_session(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    ngx_str_t  *value;

    if (cclcf->session_uri.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(&cclcf->session_uri, "");
        return NGX_CONF_OK;
    }

    if (value[1].len == 0 || value[1].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_session\" takes a URI beginning "
                           "with \"/\" or \"off\", not \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    cclcf->session_uri = value[1];

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_cometchat_conf_parse_source(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_cometchat_source_t *src)
{
    u_char     *p, *last, *start;
    ngx_str_t  *part;

    if (value->len > 7 && ngx_strncmp(value->data, "header:", 7) == 0) {
        src->type = NGX_HTTP_COMETCHAT_SRC_HEADER;
        src->name.data = value->data + 7;
        src->name.len = value->len - 7;

        for (p = src->name.data; p < src->name.data + src->name.len; p++) {
            if (*p <= ' ' || *p == ':' || *p >= 0x7f) {
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }

    if (value->len <= 5 || ngx_strncmp(value->data, "json:", 5) != 0) {
        return NGX_ERROR;
    }

    src->type = NGX_HTTP_COMETCHAT_SRC_JSON;
    src->name.data = value->data + 5;
    src->name.len = value->len - 5;

    src->path = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (src->path == NULL) {
        return NGX_ERROR;
    }

    p = src->name.data;
    last = p + src->name.len;

    for ( ;; ) {
        start = p;

        while (p < last && *p != '.') {
            p++;
        }

        if (p == start) {
            /* "json:.a", "json:a..b" and "json:a." name no member */
            return NGX_ERROR;
        }

        part = ngx_array_push(src->path);
        if (part == NULL) {
            return NGX_ERROR;
        }

        part->data = start;
        part->len = p - start;

        if (p == last) {
            return NGX_OK;
        }

        p++;

        if (p == last) {
            return NGX_ERROR;
        }
    }
}


static char *
ngx_http_cometchat_conf_source(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                    *value;
    ngx_http_cometchat_source_t  *src;

    src = (ngx_http_cometchat_source_t *) (p + cmd->offset);

    if (src->type != NGX_HTTP_COMETCHAT_SRC_NONE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_cometchat_conf_parse_source(cf, &value[1], src) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" takes \"header:NAME\" or \"json:PATH\" "
                           "(dot path, e.g. \"json:user.id\"), not \"%V\"",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_cometchat_conf_uid_prefix(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    ngx_str_t  *value;

    if (cclcf->uid_prefix.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /*
     * the prefix is part of every uid: hold it to the uid rules now, and
     * leave room for the hashed form of a long id
     */

    ngx_strlow(value[1].data, value[1].data, value[1].len);

    if (value[1].len > NGX_HTTP_COMETCHAT_UID_PREFIX_MAX
        || (value[1].len && ngx_http_cometchat_valid_uid(&value[1]) != NGX_OK))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_uid_prefix\" may contain only "
                           "letters, digits, \"-\" and \"_\" and must be "
                           "shorter than %d characters: \"%V\"",
                           NGX_HTTP_COMETCHAT_UID_PREFIX_MAX + 1, &value[1]);
        return NGX_CONF_ERROR;
    }

    cclcf->uid_prefix = value[1];

    return NGX_CONF_OK;
}


/* the one Redis of "cometchat_redis ADDRESS": numeric text for hiredis */

static ngx_int_t
ngx_http_cometchat_conf_redis_addr(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf, ngx_url_t *u)
{
    u_char           *p;
    size_t            len;
    struct sockaddr  *sa;

    cmcf->redis_addr = &u->addrs[0];
    sa = u->addrs[0].sockaddr;

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + u->host.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cmcf->redis_host.data = p;

    if (sa->sa_family == AF_UNIX) {
        len = ngx_cpymem(p, u->host.data, u->host.len) - p;  /* port 0 */

    } else {
        len = ngx_sock_ntop(sa, u->addrs[0].socklen, p, NGX_SOCKADDR_STRLEN,
                            0);
        cmcf->redis_port = ngx_inet_get_port(sa);
    }

    p[len] = '\0';
    cmcf->redis_host.len = len;

    /* a name, not an address: re-resolved on reconnects with a resolver */

    if (sa->sa_family != AF_UNIX && u->host.data[0] != '['
        && ngx_inet_addr(u->host.data, u->host.len) == INADDR_NONE)
    {
        cmcf->redis_resolve = u->host;
    }

    return NGX_OK;
}


static char *
ngx_http_cometchat_conf_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cometchat_main_conf_t *cmcf = conf;

    u_char      *p;
    ngx_int_t    n;
    ngx_str_t   *value, *v;
    ngx_url_t    u;
    ngx_uint_t   i;
    ngx_addr_t  *addr;

    if (cmcf->redis_name.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    cmcf->redis_name = value[1];

    i = 1;

    if (ngx_strncmp(value[1].data, "sentinel=", 9) == 0 && value[1].len > 9) {
        cmcf->redis_master.data = value[1].data + 9;
        cmcf->redis_master.len = value[1].len - 9;

        cmcf->redis_sentinels = ngx_array_create(cf->pool, 3,
                                                 sizeof(ngx_addr_t));
        if (cmcf->redis_sentinels == NULL) {
            return NGX_CONF_ERROR;
        }

        i = 2;
    }

    for ( /* void */ ; i < cf->args->nelts; i++) {

        v = &value[i];

        if (ngx_strncmp(v->data, "db=", 3) == 0) {
            n = ngx_atoi(v->data + 3, v->len - 3);
            if (n == NGX_ERROR || n > 65535) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"cometchat_redis\": invalid db \"%V\"",
                                   v);
                return NGX_CONF_ERROR;
            }

            cmcf->redis_db = n;
            continue;
        }

        if (ngx_strncmp(v->data, "username=", 9) == 0 && v->len > 9) {
            cmcf->redis_username.data = v->data + 9;
            cmcf->redis_username.len = v->len - 9;
            continue;
        }

        if (ngx_strncmp(v->data, "password=", 9) == 0 && v->len > 9) {
            cmcf->redis_password.data = v->data + 9;
            cmcf->redis_password.len = v->len - 9;
            continue;
        }

        if (cmcf->redis_sentinels
            && ngx_strncmp(v->data, "sentinel_password=", 18) == 0
            && v->len > 18)
        {
            cmcf->redis_sentinel_password.data = v->data + 18;
            cmcf->redis_sentinel_password.len = v->len - 18;
            continue;
        }

        p = ngx_strlchr(v->data, v->data + v->len, '=');

        if (p == NULL
            && (cmcf->redis_sentinels != NULL || cmcf->redis_addr == NULL))
        {
            ngx_memzero(&u, sizeof(ngx_url_t));

            u.url = *v;
            u.default_port = cmcf->redis_sentinels ? 26379 : 6379;

            /* names are resolved here: hiredis would resolve them with a
             * blocking getaddrinfo() on the event loop */

            if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0
                || u.uri.len
                || (cmcf->redis_sentinels && u.family == AF_UNIX))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"cometchat_redis\": invalid address "
                                   "\"%V\"%s%s", v, u.err ? ": " : "",
                                   u.err ? u.err : "");
                return NGX_CONF_ERROR;
            }

            if (cmcf->redis_sentinels) {
                addr = ngx_array_push(cmcf->redis_sentinels);
                if (addr == NULL) {
                    return NGX_CONF_ERROR;
                }

                *addr = u.addrs[0];
                cmcf->redis_addr = addr;
                continue;
            }

            if (ngx_http_cometchat_conf_redis_addr(cf, cmcf, &u) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        /* a mistyped "password=" must not put the password in the log */

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_redis\": invalid parameter "
                           "\"%*s%s\"",
                           p ? (size_t) (p - v->data) : v->len,
                           v->data, p ? "=..." : "");
        return NGX_CONF_ERROR;
    }

    if (cmcf->redis_addr == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_redis\": no %s address",
                           cmcf->redis_sentinels ? "sentinel" : "Redis");
        return NGX_CONF_ERROR;
    }

    if (cmcf->redis_username.len && cmcf->redis_password.len == 0) {
        return "takes \"username=\" only with \"password=\"";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_cometchat_conf_token_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (cclcf->token_endpoint != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    cclcf->token_endpoint = 1;

    if (ngx_http_cometchat_conf_where(cf, &cclcf->endpoint_where) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_cometchat_endpoint_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_cometchat_conf_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_cometchat_status_handler;

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

    return cmcf;
}


static char *
ngx_http_cometchat_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_cometchat_main_conf_t *cmcf = conf;

    ngx_conf_init_msec_value(cmcf->redis_timeout, 1000);

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


static void
ngx_http_cometchat_conf_merge_source(ngx_http_cometchat_source_t *conf,
    ngx_http_cometchat_source_t *prev, char *header)
{
    if (conf->type != NGX_HTTP_COMETCHAT_SRC_NONE) {
        return;
    }

    if (prev->type != NGX_HTTP_COMETCHAT_SRC_NONE) {
        *conf = *prev;
        return;
    }

    conf->type = NGX_HTTP_COMETCHAT_SRC_HEADER;
    conf->name.data = (u_char *) header;
    conf->name.len = ngx_strlen(header);
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

    ngx_http_cometchat_conf_merge_source(&conf->uid_src, &prev->uid_src,
                                         "X-User-Id");
    ngx_http_cometchat_conf_merge_source(&conf->name_src, &prev->name_src,
                                         "X-User-Name");
    ngx_http_cometchat_conf_merge_source(&conf->avatar_src, &prev->avatar_src,
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
}
