
/*
 * $cometchat_uid, $cometchat_auth_token and $cometchat_token_status: they
 * read the per-request context, following it across internal redirects.
 */


#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_variables.h"


static ngx_int_t ngx_http_cometchat_variables_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_cometchat_variables_status(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_cometchat_vars[] = {

    { ngx_string("cometchat_uid"), NULL,
      ngx_http_cometchat_variables_str,
      offsetof(ngx_http_cometchat_ctx_t, uid),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("cometchat_auth_token"), NULL,
      ngx_http_cometchat_variables_str,
      offsetof(ngx_http_cometchat_ctx_t, token),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("cometchat_token_status"), NULL,
      ngx_http_cometchat_variables_status, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_cometchat_variables_statuses[] = {
    ngx_null_string,
    ngx_string("hit"),
    ngx_string("minted"),
    ngx_string("anonymous"),
    ngx_string("error")
};


ngx_int_t
ngx_http_cometchat_variables_add(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_cometchat_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_variables_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 *s;
    ngx_http_cometchat_ctx_t  *ctx;

    ctx = ngx_http_cometchat_get_ctx(r->main);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_variables_status(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 *s;
    ngx_http_cometchat_ctx_t  *ctx;

    ctx = ngx_http_cometchat_get_ctx(r->main);

    if (ctx == NULL || !ctx->done) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = &ngx_http_cometchat_variables_statuses[ctx->token_status];

    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
