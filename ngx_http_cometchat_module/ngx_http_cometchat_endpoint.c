
/*
 * ngx_http_cometchat_module: the token endpoint.
 *
 * The access handler has run the pipeline by the time this content
 * handler runs; it only reports the result as JSON.  The answer holds the
 * user's token, so no cache may keep it.
 */


#include "ngx_http_cometchat_escape.h"
#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_endpoint.h"


static ngx_int_t ngx_http_cometchat_endpoint_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_cometchat_endpoint_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *body);
static ngx_int_t ngx_http_cometchat_endpoint_token(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx, ngx_str_t *body);
static u_char *ngx_http_cometchat_endpoint_field(u_char *p, char *name,
    ngx_str_t *value);


static ngx_str_t  ngx_http_cometchat_not_allowed =
    ngx_string("{\"error\":\"method not allowed\"}");

static ngx_str_t  ngx_http_cometchat_anonymous =
    ngx_string("{\"error\":\"not signed in\"}");

/* indexed by NGX_HTTP_COMETCHAT_PART_*; no secret, no detail */
static ngx_str_t  ngx_http_cometchat_unavailable[] = {
    ngx_string("{\"error\":\"token unavailable\"}"),
    ngx_string("{\"error\":\"session unavailable\"}"),
    ngx_string("{\"error\":\"redis unavailable\"}"),
    ngx_string("{\"error\":\"cometchat unavailable\"}")
};

/* the session answered with an id that has no CometChat uid */
static ngx_str_t  ngx_http_cometchat_invalid_uid =
    ngx_string("{\"error\":\"session unavailable: invalid user id\"}");


static ngx_int_t
ngx_http_cometchat_endpoint_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_str_t                       body, *msg;
    ngx_uint_t                      part;
    ngx_table_elt_t                *h;
    ngx_http_cometchat_ctx_t       *ctx;
    ngx_http_cometchat_loc_conf_t  *lcf;

    ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_ENDPOINT);

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "GET, HEAD");

        msg = &ngx_http_cometchat_not_allowed;

        return ngx_http_cometchat_endpoint_send(r, NGX_HTTP_NOT_ALLOWED, msg);
    }

    ctx = ngx_http_cometchat_get_ctx(r->main);

    if (ctx == NULL || !ctx->done) {

        /*
         * e.g. the endpoint reached as a subrequest of a page that did
         * not run the pipeline: there is no session result to report
         */

        if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_LOG_CONFIG)) {
            lcf = ngx_http_get_module_loc_conf(r, ngx_http_cometchat_module);

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "token endpoint \"%V\": the session check did not "
                          "run (session \"%V\")", &r->uri,
                          &lcf->session_uri);
        }

        part = NGX_HTTP_COMETCHAT_PART_SESSION;

    } else {

        switch (ctx->token_status) {

        case NGX_HTTP_COMETCHAT_TOKEN_HIT:
        case NGX_HTTP_COMETCHAT_TOKEN_MINTED:

            if (ctx->token.len && ctx->uid.len) {
                if (ngx_http_cometchat_endpoint_token(r, ctx, &body)
                    != NGX_OK)
                {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                return ngx_http_cometchat_endpoint_send(r, NGX_HTTP_OK,
                                                        &body);
            }

            part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;
            break;

        case NGX_HTTP_COMETCHAT_TOKEN_ANONYMOUS:
            msg = &ngx_http_cometchat_anonymous;
            return ngx_http_cometchat_endpoint_send(r, NGX_HTTP_UNAUTHORIZED,
                                                    msg);

        default:
            part = ctx->error_part;
            break;
        }
    }

    if (part > NGX_HTTP_COMETCHAT_PART_COMETCHAT) {
        part = NGX_HTTP_COMETCHAT_PART_NONE;
    }

    msg = &ngx_http_cometchat_unavailable[part];

    if (ctx && ctx->done && ctx->uid_refused) {
        msg = &ngx_http_cometchat_invalid_uid;
    }

    return ngx_http_cometchat_endpoint_send(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            msg);
}


static ngx_int_t
ngx_http_cometchat_endpoint_token(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx, ngx_str_t *body)
{
    size_t                          len;
    u_char                         *p;
    ngx_http_cometchat_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cometchat_module);

    len = sizeof("{\"uid\":\"\",\"authToken\":\"\",\"appId\":\"\","
                 "\"region\":\"\"}") - 1
          + ngx_http_cometchat_escape_json(NULL, ctx->uid.data, ctx->uid.len)
          + ngx_http_cometchat_escape_json(NULL, ctx->token.data,
                                           ctx->token.len)
          + ngx_http_cometchat_escape_json(NULL, lcf->app_id.data,
                                           lcf->app_id.len)
          + ngx_http_cometchat_escape_json(NULL, lcf->region.data,
                                           lcf->region.len);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    *p++ = '{';
    p = ngx_http_cometchat_endpoint_field(p, "uid", &ctx->uid);
    *p++ = ',';
    p = ngx_http_cometchat_endpoint_field(p, "authToken", &ctx->token);
    *p++ = ',';
    p = ngx_http_cometchat_endpoint_field(p, "appId", &lcf->app_id);
    *p++ = ',';
    p = ngx_http_cometchat_endpoint_field(p, "region", &lcf->region);
    *p++ = '}';

    body->len = p - body->data;

    return NGX_OK;
}


static u_char *
ngx_http_cometchat_endpoint_field(u_char *p, char *name, ngx_str_t *value)
{
    *p++ = '"';
    p = ngx_cpymem(p, name, ngx_strlen(name));
    *p++ = '"';
    *p++ = ':';
    *p++ = '"';
    p += ngx_http_cometchat_escape_json(p, value->data, value->len);
    *p++ = '"';

    return p;
}


static ngx_int_t
ngx_http_cometchat_endpoint_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;
    ngx_table_elt_t  *cc;

    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);
    ngx_http_clear_accept_ranges(r);

    /* the token is the user's credential: nobody may store it */

    cc = ngx_list_push(&r->headers_out.headers);
    if (cc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cc->hash = 1;
#if (nginx_version >= 1023000)
    cc->next = NULL;
#endif
    ngx_str_set(&cc->key, "Cache-Control");
    ngx_str_set(&cc->value, "no-store");

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


char *
ngx_http_cometchat_endpoint_conf(ngx_conf_t *cf, ngx_command_t *cmd,
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
