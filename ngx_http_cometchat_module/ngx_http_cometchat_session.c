
/*
 * ngx_http_cometchat_module: the access handler.
 *
 * Learns who the user is from the application's session endpoint with a
 * subrequest (as auth_request does), then asks the token cache for the
 * user's CometChat token.  The module identifies, it never denies: the
 * handler always ends with NGX_DECLINED.  Its directives are read in
 * ngx_http_cometchat_session_conf.c.
 */


#include "ngx_http_cometchat_escape.h"
#include "ngx_http_cometchat_json.h"
#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_token.h"
#include "ngx_http_cometchat_uid.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_session.h"


/* how much of an offending value goes into a log line */
#define NGX_HTTP_COMETCHAT_LOG_VALUE_MAX  128


typedef struct {
    ngx_uint_t                  done;       /* post-subrequest handler ran */
    ngx_uint_t                  failed;     /* subrequest ended in error */
    ngx_int_t                   rc;         /* last rc it finished with */
    ngx_uint_t                  looked_up;  /* token lookup started */
    ngx_uint_t                  finished;   /* its result counted */
    unsigned                    sendfile:1; /* the connection's, before */
} ngx_http_cometchat_session_t;


static ngx_uint_t ngx_http_cometchat_session_wanted(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf);
static ngx_int_t ngx_http_cometchat_session_start(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_ctx_t *ctx);
static ngx_int_t ngx_http_cometchat_session_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_cometchat_session_result(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_ctx_t *ctx,
    ngx_http_cometchat_session_t *st);
static ngx_int_t ngx_http_cometchat_session_identify(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_ctx_t *ctx);
static ngx_int_t ngx_http_cometchat_session_get_field(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_source_t *src,
    ngx_str_t *out, const char **why);
static void ngx_http_cometchat_session_log_ignored(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, const char *what,
    ngx_http_cometchat_source_t *src, const char *why);
static ngx_uint_t ngx_http_cometchat_session_needs_body(
    ngx_http_cometchat_loc_conf_t *lcf);
static void ngx_http_cometchat_session_escape_value(ngx_http_request_t *r,
    ngx_str_t *value, ngx_str_t *out);
static ngx_int_t ngx_http_cometchat_session_lookup(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx, ngx_http_cometchat_session_t *st);
static void ngx_http_cometchat_session_finish(ngx_http_cometchat_ctx_t *ctx,
    ngx_http_cometchat_session_t *st);
static void ngx_http_cometchat_session_error(ngx_http_cometchat_ctx_t *ctx);
static ngx_int_t ngx_http_cometchat_session_no_body(ngx_http_request_t *sr);


ngx_int_t
ngx_http_cometchat_session_access_handler(ngx_http_request_t *r)
{
    ngx_http_cometchat_ctx_t       *ctx;
    ngx_http_cometchat_session_t   *st;
    ngx_http_cometchat_loc_conf_t  *lcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cometchat_module);

    if (!lcf->enable && !lcf->token_endpoint) {
        return NGX_DECLINED;
    }

    /* the endpoint answers other methods with 405: no session, no mint */

    if (lcf->token_endpoint && !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_DECLINED;
    }

    if (lcf->session_uri.len == 0) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_cometchat_get_ctx(r);

    if (ctx == NULL) {
        if (!ngx_http_cometchat_session_wanted(r, lcf)) {
            return NGX_DECLINED;
        }

        ctx = ngx_http_cometchat_create_ctx(r);
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_REQUESTS);

        return ngx_http_cometchat_session_start(r, lcf, ctx);
    }

    st = NULL;

    if (ctx->subrequest && ctx->subrequest->post_subrequest) {
        st = ctx->subrequest->post_subrequest->data;
    }

    if (ctx->done) {
        /*
         * back from an asynchronous token lookup, or after an internal
         * redirect, which reuses the first result
         */

        if (st) {
            ngx_http_cometchat_session_finish(ctx, st);
        }

        return NGX_DECLINED;
    }

    if (ctx->waiter) {
        return NGX_AGAIN;
    }

    if (st == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "pipeline state lost before the session check");
        ngx_http_cometchat_session_error(ctx);
        return NGX_DECLINED;
    }

    if (!st->done || !ctx->subrequest->done) {
        return NGX_AGAIN;
    }

    if (st->looked_up) {
        /* token.c let the request go without a result */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "token lookup for \"%V\" ended without a result",
                      &ctx->uid);
        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
        ctx->done = 1;
        ngx_http_cometchat_session_finish(ctx, st);
        return NGX_DECLINED;
    }

    return ngx_http_cometchat_session_result(r, lcf, ctx, st);
}


/*
 * Only a page a browser navigates to can show the widget: a script, a
 * style sheet, an image or a fetch() answer never gets the snippet, so it
 * must not pay for the session subrequest and the token lookup.  The
 * browser says what it loads in Sec-Fetch-Dest; older browsers only in
 * Accept.  A client that says neither, with no Accept or only the bare
 * wildcard one of curl, wget and probes, keeps the pipeline, as before
 * cometchat_documents_only existed.  A form POST is
 * a navigation too; other methods never are.  The token endpoint is
 * always answered.
 */

static ngx_uint_t
ngx_http_cometchat_session_wanted(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf)
{
    ngx_str_t         value;
    ngx_uint_t        i, accept, page;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *dest;

    if (lcf->token_endpoint) {
        return 1;
    }

    if (lcf->documents_only) {

        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST))) {
            return 0;
        }

        dest = NULL;
        accept = 0;
        page = 0;

        /*
         * every request of a "cometchat on" location comes here, assets
         * too: one pass for both headers, comparing the lower-case keys
         * the request parser made, rather than two walks of
         * ngx_http_cometchat_header_next() (+600 instructions a request)
         */

        part = &r->headers_in.headers.part;
        h = part->elts;

        for (i = 0; /* void */; i++) {

            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                h = part->elts;
                i = 0;
            }

            if (h[i].hash == 0) {
                continue;
            }

            if (h[i].key.len == sizeof("Sec-Fetch-Dest") - 1
                && dest == NULL
                && ngx_strncmp(h[i].lowcase_key, "sec-fetch-dest",
                               sizeof("sec-fetch-dest") - 1)
                   == 0)
            {
                dest = &h[i];

            } else if (h[i].key.len == sizeof("Accept") - 1
                       && ngx_strncmp(h[i].lowcase_key, "accept",
                                      sizeof("accept") - 1)
                          == 0)
            {
                accept = 1;

                if ((h[i].value.len == sizeof("*/*") - 1
                     && ngx_strncmp(h[i].value.data, "*/*",
                                    sizeof("*/*") - 1)
                        == 0)
                    || ngx_strlcasestrn(h[i].value.data,
                                        h[i].value.data + h[i].value.len,
                                        (u_char *) "text/html",
                                        sizeof("text/html") - 2)
                       != NULL)
                {
                    page = 1;
                }
            }
        }

        if (dest) {
            value = dest->value;

            if (!((value.len == sizeof("document") - 1
                   && ngx_strncasecmp(value.data, (u_char *) "document",
                                      value.len)
                      == 0)
                  || (value.len == sizeof("iframe") - 1
                      && ngx_strncasecmp(value.data, (u_char *) "iframe",
                                         value.len)
                         == 0)
                  || (value.len == sizeof("frame") - 1
                      && ngx_strncasecmp(value.data, (u_char *) "frame",
                                         value.len)
                         == 0)))
            {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "cometchat skipped: Sec-Fetch-Dest \"%V\"",
                               &value);
                return 0;
            }

        } else if (accept && !page) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "cometchat skipped: Accept without text/html");
            return 0;
        }
    }

    if (lcf->when) {
        if (ngx_http_complex_value(r, lcf->when, &value) != NGX_OK) {
            /* no memory: the page is served without the widget */
            return 0;
        }

        if (value.len == 0 || (value.len == 1 && value.data[0] == '0')) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "cometchat skipped: cometchat_when");
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_cometchat_session_start(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_ctx_t *ctx)
{
    u_char                        *q;
    ngx_str_t                      uri, args, *argsp;
    ngx_uint_t                     flags;
    ngx_http_request_t            *sr;
    ngx_http_post_subrequest_t    *ps;
    ngx_http_cometchat_session_t  *st;

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_cometchat_session_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_cometchat_session_done;
    ps->data = st;

    st->sendfile = r->connection->sendfile;

    /*
     * only a json: source needs the body; an in-memory subrequest fails
     * on bodies over subrequest_output_buffer_size, which a header-only
     * session must not care about
     */

    flags = NGX_HTTP_SUBREQUEST_WAITED;

    if (ngx_http_cometchat_session_needs_body(lcf)) {
        flags |= NGX_HTTP_SUBREQUEST_IN_MEMORY;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cometchat session subrequest \"%V\" in memory:%d",
                   &lcf->session_uri,
                   (flags & NGX_HTTP_SUBREQUEST_IN_MEMORY) != 0);

    /* "cometchat_session /_whoami?full=1" */

    uri = lcf->session_uri;
    argsp = NULL;

    q = ngx_strlchr(uri.data, uri.data + uri.len, '?');

    if (q) {
        args.data = q + 1;
        args.len = uri.data + uri.len - args.data;
        uri.len = q - uri.data;
        argsp = &args;
    }

    if (ngx_http_subrequest(r, &uri, argsp, &sr, ps, flags) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "session check failed: cannot create subrequest "
                      "\"%V\"", &lcf->session_uri);
        ngx_http_cometchat_session_error(ctx);
        return NGX_DECLINED;
    }

    /*
     * a fake request body, as auth_request does: the subrequest must not
     * try to read the client's body, nor close a body file already read
     */

    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_cometchat_session_no_body(sr) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!(flags & NGX_HTTP_SUBREQUEST_IN_MEMORY)) {
        sr->header_only = 1;
    }

    ctx->subrequest = sr;
    ctx->session_started = 1;

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_cometchat_session_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc)
{
    ngx_http_cometchat_session_t *st = data;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cometchat session done s:%ui rc:%i",
                   r->headers_out.status, rc);

    /*
     * this handler may run more than once for one subrequest (an error
     * status, then its special response): keep the first failure
     */

    st->done = 1;
    st->rc = rc;

    if (rc == NGX_HTTP_REQUEST_TIME_OUT
        || rc == NGX_HTTP_CLIENT_CLOSED_REQUEST)
    {
        /* the client went away */
        return rc;
    }

    if (rc != NGX_ERROR && !r->connection->error) {
        return rc;
    }

    st->failed = 1;

    if (r->subrequest_in_memory) {

        /*
         * ngx_http_output_filter() marks the client connection failed when
         * any filter fails, e.g. with "too big subrequest response", though
         * an in-memory subrequest sends nothing to the client: the flag is
         * ours to clear, or the page would be lost with the session
         */

        r->connection->error = 0;
    }

    if (r->connection->error) {
        return rc;
    }

    /* NGX_ERROR would terminate the client's request */

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_session_result(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_ctx_t *ctx,
    ngx_http_cometchat_session_t *st)
{
    ngx_uint_t                 status;
    ngx_http_request_t        *sr;
    ngx_http_core_loc_conf_t  *clcf;

    sr = ctx->subrequest;

    /*
     * the subrequest's location set the connection's sendfile flag and
     * log for itself; the page is the main request's: a session location
     * without sendfile would make nginx read every static page into
     * memory, and its error_log would get the page's lines
     */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    ngx_set_connection_log(r->connection, clcf->error_log);
    r->connection->sendfile = st->sendfile;

    status = sr->headers_out.status;

    if (status == 0 && st->rc >= NGX_HTTP_OK && st->rc < 1000) {
        status = st->rc;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cometchat session result s:%ui rc:%i failed:%ui",
                   status, st->rc, st->failed);

    /* the status line decides an anonymous user, whatever the body did */

    if (status == NGX_HTTP_UNAUTHORIZED || status == NGX_HTTP_FORBIDDEN) {
        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ANONYMOUS;
        ctx->done = 1;
        ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_ANONYMOUS);
        return NGX_DECLINED;
    }

    if (st->failed || status < NGX_HTTP_OK
        || status >= NGX_HTTP_SPECIAL_RESPONSE)
    {
        if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_SESSION)) {
            if (st->failed) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              NGX_HTTP_COMETCHAT_LOG_PREFIX
                              "session check failed: subrequest to \"%V\" "
                              "did not complete (status %ui)",
                              &lcf->session_uri, status);

            } else {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              NGX_HTTP_COMETCHAT_LOG_PREFIX
                              "session check failed: status %ui from \"%V\"",
                              status, &lcf->session_uri);
            }
        }

        ngx_http_cometchat_session_error(ctx);
        return NGX_DECLINED;
    }

    switch (ngx_http_cometchat_session_identify(r, lcf, ctx)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        ngx_http_cometchat_session_error(ctx);
        return NGX_DECLINED;

    default: /* NGX_ERROR */
        return NGX_ERROR;
    }

    return ngx_http_cometchat_session_lookup(r, ctx, st);
}


static ngx_int_t
ngx_http_cometchat_session_lookup(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx, ngx_http_cometchat_session_t *st)
{
    ngx_int_t  rc;

    st->looked_up = 1;

    rc = ngx_http_cometchat_token_lookup(r, ctx);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cometchat token lookup \"%V\": %i done:%ui",
                   &ctx->uid, rc, ctx->done);

    if (rc == NGX_AGAIN && !ctx->done) {

        if (ctx->waiter) {
            return NGX_AGAIN;
        }

        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "token lookup for \"%V\" is pending without a waiter",
                      &ctx->uid);
        rc = NGX_ERROR;
    }

    if (rc == NGX_ERROR) {
        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
        ctx->waiter = NULL;
    }

    ctx->done = 1;

    ngx_http_cometchat_session_finish(ctx, st);

    return NGX_DECLINED;
}


static void
ngx_http_cometchat_session_finish(ngx_http_cometchat_ctx_t *ctx,
    ngx_http_cometchat_session_t *st)
{
    if (!st->looked_up || st->finished) {
        return;
    }

    st->finished = 1;

    if (ctx->token_status == NGX_HTTP_COMETCHAT_TOKEN_ERROR) {
        ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_PIPELINE_ERRORS);
    }
}


static ngx_int_t
ngx_http_cometchat_session_identify(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_ctx_t *ctx)
{
    ngx_int_t    rc;
    ngx_str_t    id, name, avatar, uid, esc;
    const char  *why;

    rc = ngx_http_cometchat_session_get_field(r, lcf, &lcf->uid_src, &id,
                                              &why);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_SESSION)) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "session check failed: no user id (%s:%V) in the "
                          "response from \"%V\": %s",
                          lcf->uid_src.type == NGX_HTTP_COMETCHAT_SRC_JSON
                          ? "json" : "header",
                          &lcf->uid_src.name, &lcf->session_uri, why);
        }

        return NGX_DECLINED;
    }

    rc = ngx_http_cometchat_uid_map(r->pool, lcf->uid_map, &lcf->uid_prefix,
                                    &id, &uid, &why);

    if (rc != NGX_OK) {

        /*
         * not a signed-out user: the application said who it is, and the
         * module cannot tell CometChat; the value may be hostile, so the
         * log holds it escaped and cut
         */

        if (rc == NGX_DECLINED) {
            ctx->uid_refused = 1;
        }

        if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_LOG_CONFIG)) {
            ngx_http_cometchat_session_escape_value(r, &id, &esc);

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "session check failed: %s user id \"%V%s\" "
                          "(%s:%V) from \"%V\": %s",
                          rc == NGX_DECLINED ? "invalid" : "cannot map",
                          &esc,
                          id.len > NGX_HTTP_COMETCHAT_LOG_VALUE_MAX
                          ? "..." : "",
                          lcf->uid_src.type == NGX_HTTP_COMETCHAT_SRC_JSON
                          ? "json" : "header",
                          &lcf->uid_src.name, &lcf->session_uri, why);
        }

        return NGX_DECLINED;
    }

    /* name and avatar are optional: a bad one is dropped, not fatal */

    rc = ngx_http_cometchat_session_get_field(r, lcf, &lcf->name_src, &name,
                                              &why);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        /* the mint trims it and falls back to the uid; only bound it here */
        name.len = ngx_http_cometchat_escape_utf8_cut(name.data, name.len,
                                                  NGX_HTTP_COMETCHAT_NAME_MAX);

    } else {
        if (rc == NGX_ABORT) {
            ngx_http_cometchat_session_log_ignored(r, lcf, "name",
                                                   &lcf->name_src, why);
        }

        ngx_str_null(&name);
    }

    rc = ngx_http_cometchat_session_get_field(r, lcf, &lcf->avatar_src, &avatar,
                                              &why);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK && avatar.len > NGX_HTTP_COMETCHAT_URL_MAX) {
        why = "longer than 3000 bytes";
        rc = NGX_ABORT;
    }

    if (rc != NGX_OK) {
        if (rc == NGX_ABORT) {
            ngx_http_cometchat_session_log_ignored(r, lcf, "avatar",
                                                   &lcf->avatar_src, why);
        }

        ngx_str_null(&avatar);
    }

    ctx->uid = uid;
    ctx->name = name;
    ctx->avatar = avatar;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cometchat identity uid:\"%V\" name:\"%V\" avatar:\"%V\"",
                   &uid, &name, &avatar);

    return NGX_OK;
}


/*
 * NGX_OK: out set (a copy in r->pool, or yajl's copy there);
 * NGX_DECLINED: not in the response; NGX_ABORT: unusable, *why says how;
 * NGX_ERROR: no memory
 */

static ngx_int_t
ngx_http_cometchat_session_get_field(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_source_t *src,
    ngx_str_t *out, const char **why)
{
    u_char                     buf[NGX_HTTP_COMETCHAT_JSON_ERR_LEN], *p;
    ngx_int_t                  rc;
    ngx_str_t                  body, value, err, *found;
    ngx_uint_t                 i;
    ngx_list_part_t           *part;
    ngx_table_elt_t           *h, *ce;
    ngx_http_request_t        *sr;
    ngx_http_cometchat_ctx_t  *ctx;

    *why = "missing";

    ctx = ngx_http_cometchat_get_ctx(r);
    sr = ctx->subrequest;

    if (src->type == NGX_HTTP_COMETCHAT_SRC_HEADER) {

        part = NULL;
        h = ngx_http_cometchat_header_next(&sr->headers_out.headers, &part,
                                           &i, &src->name);
        if (h == NULL) {
            return NGX_DECLINED;
        }

        found = &h->value;

        if (found->len == 0) {
            *why = "empty";
            return NGX_DECLINED;
        }

        out->len = found->len;
        out->data = ngx_pstrdup(r->pool, found);
        if (out->data == NULL) {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (src->type != NGX_HTTP_COMETCHAT_SRC_JSON) {
        return NGX_DECLINED;
    }

    ce = sr->headers_out.content_encoding;

    if (ce && ce->hash && ce->value.len
        && !(ce->value.len == 8
             && ngx_strncasecmp(ce->value.data, (u_char *) "identity", 8)
                == 0))
    {
        *why = "the body is compressed; set "
               "\"proxy_set_header Accept-Encoding \"\";\" in the session "
               "location";
        return NGX_ABORT;
    }

    body.len = 0;

    if (sr->out && sr->out->buf) {
        body.data = sr->out->buf->pos;
        body.len = sr->out->buf->last - sr->out->buf->pos;
    }

    if (body.len == 0) {
        *why = "empty body";
        return NGX_ABORT;
    }

    err.data = buf;
    err.len = sizeof(buf) - 1;

    rc = ngx_http_cometchat_json_find(r->pool, &body, src->path, 0, &value,
                                      &err);

    if (rc == NGX_OK) {
        if (value.len == 0) {
            *why = "empty";
            return NGX_DECLINED;
        }

        *out = value;
        return NGX_OK;
    }

    if (rc == NGX_DECLINED) {
        return NGX_DECLINED;
    }

    /*
     * told in the caller's rate-limited line: an application that answers
     * every request with a bad body must not flood the log
     */

    p = ngx_pnalloc(r->pool, err.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(p, err.data, err.len) = '\0';
    *why = (const char *) p;

    return NGX_ABORT;
}


static void
ngx_http_cometchat_session_log_ignored(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, const char *what,
    ngx_http_cometchat_source_t *src, const char *why)
{
    if (!ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_LOG_CONFIG)) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  NGX_HTTP_COMETCHAT_LOG_PREFIX
                  "user %s (%s:%V) from \"%V\" ignored: %s", what,
                  src->type == NGX_HTTP_COMETCHAT_SRC_JSON
                  ? "json" : "header",
                  &src->name, &lcf->session_uri, why);
}


static ngx_uint_t
ngx_http_cometchat_session_needs_body(ngx_http_cometchat_loc_conf_t *lcf)
{
    return lcf->uid_src.type == NGX_HTTP_COMETCHAT_SRC_JSON
           || lcf->name_src.type == NGX_HTTP_COMETCHAT_SRC_JSON
           || lcf->avatar_src.type == NGX_HTTP_COMETCHAT_SRC_JSON;
}


static void
ngx_http_cometchat_session_escape_value(ngx_http_request_t *r, ngx_str_t *value,
    ngx_str_t *out)
{
    size_t   len;
    u_char  *p;

    len = ngx_min(value->len, NGX_HTTP_COMETCHAT_LOG_VALUE_MAX);

    p = ngx_pnalloc(r->pool,
                    len + 2 * ngx_escape_uri(NULL, value->data, len,
                                             NGX_ESCAPE_URI_COMPONENT));
    if (p == NULL) {
        ngx_str_set(out, "(no memory)");
        return;
    }

    out->data = p;
    out->len = (u_char *) ngx_escape_uri(p, value->data, len,
                                         NGX_ESCAPE_URI_COMPONENT)
               - p;
}


static void
ngx_http_cometchat_session_error(ngx_http_cometchat_ctx_t *ctx)
{
    ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
    ctx->error_part = NGX_HTTP_COMETCHAT_PART_SESSION;
    ctx->done = 1;

    ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_SESSION_ERRORS);
    ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_PIPELINE_ERRORS);
}


/*
 * The subrequest is a GET without a body, so it must not say it has one:
 * proxy_pass would send the client's Content-Length (its default
 * "Content-Length: $proxy_internal_body_length" reads headers_in) with no
 * body after it, and the keep-alive connection to the session upstream
 * would take the next request for that body.  The subrequest has a copy
 * of the headers_in structure but shares its list of headers: the list is
 * copied without Content-Length and Transfer-Encoding, as
 * ngx.location.capture does, so that nothing passing the client's headers
 * on (fastcgi's HTTP_*, a proxy_pass_request_headers) sees them either.
 */

static ngx_int_t
ngx_http_cometchat_session_no_body(ngx_http_request_t *sr)
{
    ngx_uint_t        i;
    ngx_list_t        parent;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *nh;

    if (sr->headers_in.content_length == NULL
        && sr->headers_in.transfer_encoding == NULL
        && !sr->headers_in.chunked
        && sr->headers_in.content_length_n <= 0)
    {
        return NGX_OK;
    }

    /* the list's "last" points into the structure: built in place */

    parent = sr->headers_in.headers;

    if (ngx_list_init(&sr->headers_in.headers, sr->pool, 20,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    part = &parent.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (&h[i] == sr->headers_in.content_length
            || &h[i] == sr->headers_in.transfer_encoding
            || (h[i].key.len == sizeof("Content-Length") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "Content-Length",
                                   h[i].key.len)
                   == 0)
            || (h[i].key.len == sizeof("Transfer-Encoding") - 1
                && ngx_strncasecmp(h[i].key.data,
                                   (u_char *) "Transfer-Encoding",
                                   h[i].key.len)
                   == 0))
        {
            continue;
        }

        nh = ngx_list_push(&sr->headers_in.headers);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        *nh = h[i];
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "cometchat session subrequest: request body headers "
                   "removed");

    sr->headers_in.content_length = NULL;
    sr->headers_in.transfer_encoding = NULL;
    sr->headers_in.content_length_n = -1;
    sr->headers_in.chunked = 0;

    return NGX_OK;
}
