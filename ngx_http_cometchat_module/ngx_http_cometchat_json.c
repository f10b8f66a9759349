
/*
 * yajl helpers: one field by dot path out of a JSON document.  Writing
 * JSON strings is ngx_http_cometchat_escape.c's job.
 *
 * The callback parser is used rather than the tree API: it never builds
 * the document, keeps no recursion (a body of 64 KiB of "[" cannot blow
 * the stack) and still validates the whole body.
 */


#include "ngx_http_cometchat_json.h"

#include <yajl/yajl_parse.h>


typedef struct {
    ngx_pool_t                 *pool;
    ngx_str_t                  *path;
    ngx_uint_t                  npath;
    ngx_uint_t                  flags;

    ngx_uint_t                  depth;      /* open containers */
    ngx_uint_t                  matched;    /* path components entered */
    unsigned                    key_hit:1;  /* next value is path[matched] */
    unsigned                    done:1;     /* found, or cannot be found */
    unsigned                    found:1;
    unsigned                    bad_type:1;
    unsigned                    oom:1;

    const char                 *type;       /* of a wrong-typed value */
    u_char                     *value;
    size_t                      len;
} ngx_http_cometchat_json_ctx_t;


static ngx_int_t ngx_http_cometchat_json_scalar(
    ngx_http_cometchat_json_ctx_t *ctx, const char *type, const u_char *data,
    size_t len);
static int ngx_http_cometchat_json_null(void *data);
static int ngx_http_cometchat_json_boolean(void *data, int b);
static int ngx_http_cometchat_json_number(void *data, const char *s,
    size_t len);
static int ngx_http_cometchat_json_string(void *data, const unsigned char *s,
    size_t len);
static int ngx_http_cometchat_json_start_map(void *data);
static int ngx_http_cometchat_json_map_key(void *data,
    const unsigned char *key, size_t len);
static int ngx_http_cometchat_json_start_array(void *data);
static int ngx_http_cometchat_json_end(void *data);
static void ngx_http_cometchat_json_path_text(ngx_array_t *path, u_char *buf,
    size_t size, ngx_str_t *out);
static void *ngx_http_cometchat_json_malloc(void *pool, size_t size);
static void *ngx_http_cometchat_json_realloc(void *pool, void *ptr,
    size_t size);
static void ngx_http_cometchat_json_free(void *pool, void *ptr);


static yajl_callbacks  ngx_http_cometchat_json_callbacks = {
    ngx_http_cometchat_json_null,
    ngx_http_cometchat_json_boolean,
    NULL,                                   /* integer: yajl_number wins */
    NULL,                                   /* double */
    ngx_http_cometchat_json_number,
    ngx_http_cometchat_json_string,
    ngx_http_cometchat_json_start_map,
    ngx_http_cometchat_json_map_key,
    ngx_http_cometchat_json_end,
    ngx_http_cometchat_json_start_array,
    ngx_http_cometchat_json_end
};


/*
 * The string or number at a dot path, copied into pool and NUL-terminated:
 * NGX_OK; NGX_DECLINED when absent or null; NGX_ERROR for a body that is
 * not JSON or a value of another type, described in err (err->data: a
 * buffer of err->len bytes; err->len: the text's length on return), which
 * names the path but never quotes the body.  NGX_HTTP_COMETCHAT_JSON_STRING
 * in flags refuses numbers.
 */

ngx_int_t
ngx_http_cometchat_json_find(ngx_pool_t *pool, ngx_str_t *json,
    ngx_array_t *path, ngx_uint_t flags, ngx_str_t *out, ngx_str_t *err)
{
    u_char                         *msg, *last, buf[256];
    size_t                          n;
    ngx_str_t                       where;
    yajl_handle                     h;
    yajl_status                     st;
    yajl_alloc_funcs                af;
    ngx_http_cometchat_json_ctx_t   ctx;

    last = err->data + err->len;
    err->len = 0;

    ngx_http_cometchat_json_path_text(path, buf, sizeof(buf), &where);

    if (json->len > NGX_HTTP_COMETCHAT_JSON_MAX) {
        err->len = ngx_slprintf(err->data, last,
                                "JSON body of %uz bytes is over the %uz "
                                "bytes limit, cannot read \"%V\"",
                                json->len,
                                (size_t) NGX_HTTP_COMETCHAT_JSON_MAX, &where)
                   - err->data;
        return NGX_ERROR;
    }

    ngx_memzero(&ctx, sizeof(ngx_http_cometchat_json_ctx_t));

    ctx.pool = pool;
    ctx.path = path->elts;
    ctx.npath = path->nelts;
    ctx.flags = flags;

    af.malloc = ngx_http_cometchat_json_malloc;
    af.realloc = ngx_http_cometchat_json_realloc;
    af.free = ngx_http_cometchat_json_free;
    af.ctx = pool;

    h = yajl_alloc(&ngx_http_cometchat_json_callbacks, &af, &ctx);
    if (h == NULL) {
        err->len = ngx_slprintf(err->data, last, "yajl_alloc() failed")
                   - err->data;
        return NGX_ERROR;
    }

    st = yajl_parse(h, json->data, json->len);

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    if (st != yajl_status_ok && ctx.oom) {
        yajl_free(h);
        err->len = ngx_slprintf(err->data, last, "out of memory reading \"%V\"",
                                &where)
                   - err->data;
        return NGX_ERROR;
    }

    if (st != yajl_status_ok) {
        msg = yajl_get_error(h, 0, json->data, json->len);

        n = msg ? ngx_strlen(msg) : 0;

        /* yajl ends its message with a newline */
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
            n--;
        }

        err->len = ngx_slprintf(err->data, last,
                                "cannot read \"%V\": invalid JSON: %*s",
                                &where, n,
                                msg ? msg : (u_char *) "unknown error")
                   - err->data;

        if (msg) {
            yajl_free_error(h, msg);
        }

        yajl_free(h);

        return NGX_ERROR;
    }

    yajl_free(h);

    if (ctx.bad_type) {
        err->len = ngx_slprintf(err->data, last,
                                "JSON field \"%V\" is %s, not a string%s",
                                &where, ctx.type,
                                (flags & NGX_HTTP_COMETCHAT_JSON_STRING)
                                ? "" : " or number")
                   - err->data;
        return NGX_ERROR;
    }

    if (!ctx.found) {
        return NGX_DECLINED;
    }

    out->len = ctx.len;
    out->data = ctx.value;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_json_scalar(ngx_http_cometchat_json_ctx_t *ctx,
    const char *type, const u_char *data, size_t len)
{
    /*
     * a scalar value; it is the one asked for when it follows the last
     * path component's key; after an earlier component the path runs
     * through a scalar and does not exist
     */

    if (!ctx->key_hit) {
        if (ctx->depth == 0) {
            ctx->done = 1;      /* the document is not an object */
        }

        return NGX_OK;
    }

    ctx->key_hit = 0;
    ctx->done = 1;

    if (ctx->matched + 1 < ctx->npath) {
        return NGX_OK;
    }

    if (type) {
        ctx->bad_type = 1;
        ctx->type = type;
        return NGX_OK;
    }

    if (data == NULL) {
        /* null: treated as absent */
        return NGX_OK;
    }

    /* NUL-terminated for callers that need a C string */

    ctx->value = ngx_pnalloc(ctx->pool, len + 1);
    if (ctx->value == NULL) {
        ctx->oom = 1;
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->value, data, len);
    ctx->value[len] = '\0';
    ctx->len = len;
    ctx->found = 1;

    return NGX_OK;
}


static int
ngx_http_cometchat_json_null(void *data)
{
    return ngx_http_cometchat_json_scalar(data, NULL, NULL, 0) == NGX_OK;
}


static int
ngx_http_cometchat_json_boolean(void *data, int b)
{
    return ngx_http_cometchat_json_scalar(data, "a boolean", NULL, 0)
           == NGX_OK;
}


static int
ngx_http_cometchat_json_number(void *data, const char *s, size_t len)
{
    ngx_http_cometchat_json_ctx_t *ctx = data;

    return ngx_http_cometchat_json_scalar(ctx,
                                  (ctx->flags & NGX_HTTP_COMETCHAT_JSON_STRING)
                                  ? "a number" : NULL,
                                  (u_char *) s, len)
           == NGX_OK;
}


static int
ngx_http_cometchat_json_string(void *data, const unsigned char *s, size_t len)
{
    /* an empty string is still a present value: "" */
    return ngx_http_cometchat_json_scalar(data, NULL,
                                         s ? (u_char *) s : (u_char *) "",
                                         len)
           == NGX_OK;
}


static int
ngx_http_cometchat_json_start_map(void *data)
{
    ngx_http_cometchat_json_ctx_t *ctx = data;

    if (ctx->key_hit) {
        ctx->key_hit = 0;

        if (ctx->matched + 1 < ctx->npath) {
            ctx->matched++;

        } else {
            ctx->done = 1;
            ctx->bad_type = 1;
            ctx->type = "an object";
        }
    }

    ctx->depth++;

    return 1;
}


static int
ngx_http_cometchat_json_map_key(void *data, const unsigned char *key,
    size_t len)
{
    ngx_http_cometchat_json_ctx_t *ctx = data;

    ngx_str_t  *want;

    if (ctx->done || ctx->depth != ctx->matched + 1) {
        return 1;
    }

    want = &ctx->path[ctx->matched];

    /* the first of duplicate keys wins */

    if (want->len == len && ngx_memcmp(want->data, key, len) == 0) {
        ctx->key_hit = 1;
    }

    return 1;
}


static int
ngx_http_cometchat_json_start_array(void *data)
{
    ngx_http_cometchat_json_ctx_t *ctx = data;

    if (ctx->key_hit) {
        ctx->key_hit = 0;
        ctx->done = 1;

        if (ctx->matched + 1 == ctx->npath) {
            ctx->bad_type = 1;
            ctx->type = "an array";
        }

    } else if (ctx->depth == 0) {
        ctx->done = 1;
    }

    ctx->depth++;

    return 1;
}


static int
ngx_http_cometchat_json_end(void *data)
{
    ngx_http_cometchat_json_ctx_t *ctx = data;

    ctx->depth--;

    /* left the object the next component was looked for in: not there */

    if (!ctx->done && ctx->depth < ctx->matched + 1) {
        ctx->done = 1;
    }

    return 1;
}


static void
ngx_http_cometchat_json_path_text(ngx_array_t *path, u_char *buf,
    size_t size, ngx_str_t *out)
{
    u_char      *p, *last;
    ngx_str_t   *part;
    ngx_uint_t   i;

    p = buf;
    last = buf + size;
    part = path->elts;

    for (i = 0; i < path->nelts; i++) {
        if (i && p < last) {
            *p++ = '.';
        }

        p = ngx_cpymem(p, part[i].data,
                       ngx_min(part[i].len, (size_t) (last - p)));
    }

    out->data = buf;
    out->len = p - buf;
}


/*
 * yajl's memory comes from the pool: a handful of small blocks per
 * document, which malloc() and free() cost more than the parse itself.
 * Each block starts with its size, for realloc(); free() gives back
 * only what the pool allocated on its own (ngx_pfree()), the rest goes
 * with the pool.
 */

static void *
ngx_http_cometchat_json_malloc(void *pool, size_t size)
{
    size_t  *p;

    p = ngx_palloc(pool, sizeof(size_t) + size);
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void *
ngx_http_cometchat_json_realloc(void *pool, void *ptr, size_t size)
{
    void    *p;
    size_t   old;

    if (ptr == NULL) {
        return ngx_http_cometchat_json_malloc(pool, size);
    }

    old = ((size_t *) ptr)[-1];

    if (size <= old) {
        return ptr;
    }

    p = ngx_http_cometchat_json_malloc(pool, size);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, ptr, old);
    ngx_http_cometchat_json_free(pool, ptr);

    return p;
}


static void
ngx_http_cometchat_json_free(void *pool, void *ptr)
{
    if (ptr) {
        (void) ngx_pfree(pool, (size_t *) ptr - 1);
    }
}
