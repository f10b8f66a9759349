/*
 * The session directives: cometchat_session and where uid, name and
 * avatar are read from the session's response (cometchat_session_uid,
 * _name, _avatar: "header:NAME" or "json:a.b.c").
 */


#include "ngx_http_cometchat_session_conf.h"


static ngx_int_t ngx_http_cometchat_session_conf_parse(ngx_conf_t *cf,
    ngx_str_t *value, ngx_http_cometchat_source_t *src);


char *
ngx_http_cometchat_session_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
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
ngx_http_cometchat_session_conf_parse(ngx_conf_t *cf, ngx_str_t *value,
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


char *
ngx_http_cometchat_session_conf_source(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t                    *value;
    ngx_http_cometchat_source_t  *src;

    src = (ngx_http_cometchat_source_t *) (p + cmd->offset);

    if (src->type != NGX_HTTP_COMETCHAT_SRC_NONE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_cometchat_session_conf_parse(cf, &value[1], src) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" takes \"header:NAME\" or \"json:PATH\" "
                           "(dot path, e.g. \"json:user.id\"), not \"%V\"",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


void
ngx_http_cometchat_session_conf_merge(ngx_http_cometchat_source_t *conf,
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
