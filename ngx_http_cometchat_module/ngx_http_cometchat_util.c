
/*
 * Helpers every file may call: the per-request context, the rate limit
 * on error logs, uid checks, reading files named by directives and
 * remembering where directives stand.  The bottom layer: it calls no
 * other file of the module.
 */


#include "ngx_http_cometchat_util.h"


static void ngx_http_cometchat_util_ctx_cleanup(void *data);


static time_t  ngx_http_cometchat_logged[NGX_HTTP_COMETCHAT_LOG_KINDS];


void
ngx_http_cometchat_util_init_process(ngx_cycle_t *cycle)
{
    ngx_memzero(ngx_http_cometchat_logged, sizeof(ngx_http_cometchat_logged));
}


/*
 * Where the directive being read stands, for an error found later, when
 * merging.  The name of an included file lives only while that file is
 * read (a glob's names go with the glob): a copy outlives the merge.
 */

ngx_int_t
ngx_http_cometchat_conf_where(ngx_conf_t *cf,
    ngx_http_cometchat_conf_where_t *where)
{
    where->file.data = ngx_pstrdup(cf->pool, &cf->conf_file->file.name);
    if (where->file.data == NULL) {
        return NGX_ERROR;
    }

    where->file.len = cf->conf_file->file.name.len;
    where->line = cf->conf_file->line;

    return NGX_OK;
}


/*
 * Reads a file named by a directive when the configuration is loaded:
 * path becomes its full name, text its content (at most max bytes, not
 * empty) from pool.  Errors name the directive.
 */

char *
ngx_http_cometchat_read_conf_file(ngx_conf_t *cf, char *directive,
    ngx_str_t *path, size_t max, ngx_pool_t *pool, ngx_str_t *text)
{
    u_char           *p;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    if (ngx_conf_full_name(cf->cycle, path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%s\": cannot open \"%V\"", directive, path);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > (off_t) max)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\": \"%V\" is not a file of at most %uz "
                           "bytes", directive, path, max);
        (void) ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(pool, max);
    if (p == NULL) {
        (void) ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_fd(fd, p, max);

    (void) ngx_close_file(fd);

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%s\": cannot read \"%V\"", directive, path);
        return NGX_CONF_ERROR;
    }

    if (n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\": \"%V\" is empty", directive, path);
        return NGX_CONF_ERROR;
    }

    text->data = p;
    text->len = n;

    return NGX_CONF_OK;
}


ngx_http_cometchat_ctx_t *
ngx_http_cometchat_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_cometchat_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cometchat_module);

    /* subrequests share the main request's pool, not its pipeline */

    if (ctx != NULL || !r->internal || r != r->main) {
        return ctx;
    }

    /*
     * an internal redirect zeroed r->ctx, but the pipeline's result must
     * outlive it: one session check and one token per request
     */

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_cometchat_util_ctx_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_cometchat_module);
            return ctx;
        }
    }

    return NULL;
}


ngx_http_cometchat_ctx_t *
ngx_http_cometchat_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_cometchat_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cometchat_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_cometchat_util_ctx_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_cometchat_module);

    return ctx;
}


static void
ngx_http_cometchat_util_ctx_cleanup(void *data)
{
    /*
     * nothing to do: the handler only marks the context for
     * ngx_http_cometchat_get_ctx(); a token lookup still in flight has a
     * cleanup of its own (ngx_http_cometchat_token.c)
     */
}


ngx_int_t
ngx_http_cometchat_valid_uid(ngx_str_t *uid)
{
    u_char  *p;

    if (uid->len == 0 || uid->len > NGX_HTTP_COMETCHAT_UID_MAX) {
        return NGX_ERROR;
    }

    for (p = uid->data; p < uid->data + uid->len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
            || *p == '_' || *p == '-')
        {
            continue;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_cometchat_log_allowed(ngx_uint_t kind)
{
    time_t  now;

    if (kind >= NGX_HTTP_COMETCHAT_LOG_KINDS) {
        return 1;
    }

    now = ngx_time();

    if (ngx_http_cometchat_logged[kind]
        && now - ngx_http_cometchat_logged[kind]
           < NGX_HTTP_COMETCHAT_LOG_INTERVAL)
    {
        return 0;
    }

    ngx_http_cometchat_logged[kind] = now;

    return 1;
}


/*
 * The next header of the list after the one at (*part, *i), or the first
 * if *part is NULL, that is not deleted (hash 0) and is called name, or
 * any if name is NULL.  NULL at the end of the list, whatever its parts.
 */

ngx_table_elt_t *
ngx_http_cometchat_header_next(ngx_list_t *list, ngx_list_part_t **part,
    ngx_uint_t *i, ngx_str_t *name)
{
    ngx_table_elt_t  *h;

    if (*part == NULL) {
        *part = &list->part;
        *i = 0;

    } else {
        (*i)++;
    }

    for ( ;; ) {

        if (*i >= (*part)->nelts) {
            if ((*part)->next == NULL) {
                return NULL;
            }

            *part = (*part)->next;
            *i = 0;
            continue;
        }

        h = (ngx_table_elt_t *) (*part)->elts + *i;

        if (h->hash
            && (name == NULL || ngx_http_cometchat_header_is(h, name)))
        {
            return h;
        }

        (*i)++;
    }
}


/* whether the header is called name, in any case */

ngx_uint_t
ngx_http_cometchat_header_is(ngx_table_elt_t *h, ngx_str_t *name)
{
    return h->key.len == name->len
           && ngx_strncasecmp(h->key.data, name->data, name->len) == 0;
}
