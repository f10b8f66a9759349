
/*
 * ngx_http_cometchat_module: the response headers of a page the snippet
 * goes into.
 *
 * The header filter (ngx_http_cometchat_filter.c) asks here whether the
 * response is encoded and which CSP nonce the snippet must carry; once it
 * injects, the headers here make the page private, give it a validator
 * of its own, and answer a matching If-None-Match with a 304.  Every walk
 * over the header list goes through ngx_http_cometchat_header_next().
 */


#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_headers.h"


#define NGX_HTTP_COMETCHAT_NONCE_MAX    256

/* a year: as long-lived as the SDK's storage it stands for, or close */
#define NGX_HTTP_COMETCHAT_CHAT_COOKIE_AGE  "31536000"


static ngx_uint_t ngx_http_cometchat_headers_policy_nonce(u_char *p,
    u_char *last, ngx_str_t *nonce);
static ngx_uint_t ngx_http_cometchat_headers_cdn(ngx_table_elt_t *h);
static ngx_int_t ngx_http_cometchat_headers_cache_control(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_cometchat_headers_cc_next(u_char **pos,
    u_char *last, ngx_str_t *dir, size_t *name_len);
static ngx_int_t ngx_http_cometchat_headers_etag(ngx_http_request_t *r,
    uint32_t snippet_id);
static ngx_uint_t ngx_http_cometchat_headers_if_none_match(
    ngx_http_request_t *r);


/*
 * A Content-Encoding set by add_header (or a module) is in the list only,
 * not in r->headers_out.content_encoding
 */

ngx_uint_t
ngx_http_cometchat_headers_encoded(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    static ngx_str_t  name = ngx_string("Content-Encoding");

    part = NULL;

    for ( ;; ) {
        h = ngx_http_cometchat_header_next(&r->headers_out.headers, &part,
                                           &i, &name);
        if (h == NULL) {
            return 0;
        }

        if (h->value.len
            && !(h->value.len == 8
                 && ngx_strncasecmp(h->value.data, (u_char *) "identity", 8)
                    == 0))
        {
            return 1;
        }
    }
}


/*
 * The nonce of the policy that governs <script> elements: script-src-elem,
 * else script-src, else default-src.  Enforced policies first, then
 * report-only ones (a nonce there keeps reports quiet).
 */

void
ngx_http_cometchat_headers_nonce(ngx_http_request_t *r, ngx_str_t *nonce)
{
    ngx_uint_t        i, pass;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    static ngx_str_t  names[] = {
        ngx_string("Content-Security-Policy"),
        ngx_string("Content-Security-Policy-Report-Only")
    };

    nonce->len = 0;
    nonce->data = NULL;

    for (pass = 0; pass < 2; pass++) {
        part = NULL;

        for ( ;; ) {
            h = ngx_http_cometchat_header_next(&r->headers_out.headers,
                                               &part, &i, &names[pass]);
            if (h == NULL) {
                break;
            }

            if (ngx_http_cometchat_headers_policy_nonce(h->value.data,
                                                        h->value.data
                                                        + h->value.len,
                                                        nonce))
            {
                return;
            }
        }
    }
}


/*
 * The page now holds a token and differs from what the application sent:
 * no length, ranges or modification time of the original (as sub_filter
 * does), revalidated before any reuse, and a validator of its own.
 */

ngx_int_t
ngx_http_cometchat_headers_inject(ngx_http_request_t *r, uint32_t snippet_id)
{
    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);

    if (ngx_http_cometchat_headers_cache_control(r) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_cometchat_headers_etag(r, snippet_id);
}


/*
 * After ngx_http_cometchat_headers_inject(): if the browser has this very
 * page, snippet included, the response becomes a 304 and 1 is returned.
 */

ngx_uint_t
ngx_http_cometchat_headers_not_modified(ngx_http_request_t *r)
{
    if (!ngx_http_cometchat_headers_if_none_match(r)) {
        return 0;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cometchat inject: not modified");

    r->headers_out.status = NGX_HTTP_NOT_MODIFIED;
    r->headers_out.status_line.len = 0;
    r->headers_out.content_type.len = 0;

    return 1;
}


/*
 * Whether the request carries the marker cookie: the browser was given a
 * widget, so it may hold a CometChat session.  An empty value, as an
 * expired cookie may still be sent once, does not count.
 */

ngx_uint_t
ngx_http_cometchat_headers_chat_cookie(ngx_http_request_t *r)
{
    ngx_str_t  name, value;

    ngx_str_set(&name, NGX_HTTP_COMETCHAT_CHAT_COOKIE);

#if (nginx_version >= 1023000)
    if (ngx_http_parse_multi_header_lines(r, r->headers_in.cookie, &name,
                                          &value)
        == NULL)
    {
        return 0;
    }
#else
    if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies, &name,
                                          &value)
        == NGX_DECLINED)
    {
        return 0;
    }
#endif

    return value.len != 0;
}


/*
 * Sets the marker cookie (on) or expires it.  Only the browser needs it:
 * HttpOnly; Lax, so that a top-level navigation from elsewhere still
 * shows a signed-out page its sign-out snippet; Secure over TLS.
 */

ngx_int_t
ngx_http_cometchat_headers_set_chat_cookie(ngx_http_request_t *r,
    ngx_uint_t on)
{
    u_char           *p;
    size_t            len;
    ngx_uint_t        secure;
    ngx_table_elt_t  *h;

    static u_char  set[] = NGX_HTTP_COMETCHAT_CHAT_COOKIE "=1; Max-Age="
                           NGX_HTTP_COMETCHAT_CHAT_COOKIE_AGE;
    static u_char  expire[] = NGX_HTTP_COMETCHAT_CHAT_COOKIE "=; Max-Age=0";
    static u_char  attrs[] = "; Path=/; HttpOnly; SameSite=Lax";
    static u_char  tls[] = "; Secure";

    secure = 0;

#if (NGX_HTTP_SSL)
    secure = (r->connection->ssl != NULL);
#endif

    len = (on ? sizeof(set) : sizeof(expire)) - 1 + sizeof(attrs) - 1
          + (secure ? sizeof(tls) - 1 : 0);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Set-Cookie");
    h->lowcase_key = (u_char *) "set-cookie";
    h->value.data = p;

    p = on ? ngx_cpymem(p, set, sizeof(set) - 1)
           : ngx_cpymem(p, expire, sizeof(expire) - 1);
    p = ngx_cpymem(p, attrs, sizeof(attrs) - 1);

    if (secure) {
        p = ngx_cpymem(p, tls, sizeof(tls) - 1);
    }

    h->value.len = p - h->value.data;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_cometchat_headers_policy_nonce(u_char *p, u_char *last,
    ngx_str_t *nonce)
{
    u_char      *policy, *end, *d, *dend, *t, *tend, *v;
    size_t       len;
    ngx_uint_t   i, rank, best;
    u_char      *best_d, *best_end;

    static ngx_str_t  dirs[] = {
        ngx_string("default-src"),
        ngx_string("script-src"),
        ngx_string("script-src-elem")
    };

    /* policies are separated by ",", directives by ";" */

    for (policy = p; policy < last; policy = end + 1) {

        end = ngx_strlchr(policy, last, ',');
        if (end == NULL) {
            end = last;
        }

        best = 0;
        best_d = NULL;
        best_end = NULL;

        for (d = policy; d < end; d = dend + 1) {

            dend = ngx_strlchr(d, end, ';');
            if (dend == NULL) {
                dend = end;
            }

            while (d < dend && (*d == ' ' || *d == '\t')) {
                d++;
            }

            for (t = d; t < dend && *t != ' ' && *t != '\t'; t++) {
                /* void */
            }

            for (i = 0; i < 3; i++) {
                rank = i + 1;

                if ((size_t) (t - d) == dirs[i].len
                    && ngx_strncasecmp(d, dirs[i].data, dirs[i].len) == 0
                    && rank > best)
                {
                    best = rank;
                    best_d = t;
                    best_end = dend;
                }
            }
        }

        if (best_d == NULL) {
            continue;
        }

        /* the sources: look for 'nonce-BASE64' */

        for (t = best_d; t < best_end; t = tend) {

            while (t < best_end && (*t == ' ' || *t == '\t')) {
                t++;
            }

            for (tend = t; tend < best_end && *tend != ' ' && *tend != '\t';
                 tend++)
            {
                /* void */
            }

            len = tend - t;

            if (len < sizeof("'nonce-'")
                || ngx_strncasecmp(t, (u_char *) "'nonce-", 7) != 0
                || tend[-1] != '\'')
            {
                continue;
            }

            for (v = t + 7; v < tend - 1; v++) {
                if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z')
                      || (*v >= '0' && *v <= '9') || *v == '+' || *v == '/'
                      || *v == '=' || *v == '-' || *v == '_'))
                {
                    break;
                }
            }

            if (v != tend - 1 || len - 8 > NGX_HTTP_COMETCHAT_NONCE_MAX) {
                continue;
            }

            nonce->data = t + 7;
            nonce->len = len - 8;

            return 1;
        }

        if (end == last) {
            break;
        }
    }

    return 0;
}




/*
 * A page that carries a token is not reused without asking the server:
 * shared caches must not keep it, and the browser revalidates it, which
 * the weak ETag and ngx_http_cometchat_headers_not_modified() keep cheap.
 * A Cache-Control with "no-store", stricter, is left alone.  Otherwise
 * "private, no-cache" goes first and the app's other directives follow,
 * merged into one header, less those that say less or the opposite:
 * "public", "s-maxage" and "proxy-revalidate" (shared caches), "private"
 * and "no-cache" in any form (the bare ones are there), "immutable",
 * "stale-while-revalidate" and "stale-if-error" (reuse without asking
 * first).  "max-age" stays: with "no-cache" no cache may serve the page
 * unvalidated, however fresh (RFC 9111, 5.2.2.4).  A directive with an
 * unclosed quote goes too.  No Cache-Control at
 * all becomes "private, no-cache".  CDN-Cache-Control,
 * *-CDN-Cache-Control and Surrogate-Control, which CDNs obey over
 * Cache-Control, are removed.
 */

static ngx_int_t
ngx_http_cometchat_headers_cache_control(ngx_http_request_t *r)
{
    u_char           *p, *pos, *last, *out, *t;
    size_t            len, name_len;
    ngx_str_t        *d, dir;
    ngx_uint_t        i, q, strict;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *first;

    static ngx_str_t  drop[] = {
        ngx_string("public"),
        ngx_string("private"),
        ngx_string("no-cache"),
        ngx_string("s-maxage"),
        ngx_string("proxy-revalidate"),
        ngx_string("immutable"),
        ngx_string("stale-while-revalidate"),
        ngx_string("stale-if-error"),
        ngx_null_string
    };

    static u_char     value[] = "private, no-cache";
    static ngx_str_t  name = ngx_string("Cache-Control");

    strict = 0;
    first = NULL;
    len = sizeof(value) - 1;

    part = NULL;

    for ( ;; ) {
        h = ngx_http_cometchat_header_next(&r->headers_out.headers, &part,
                                           &i, NULL);
        if (h == NULL) {
            break;
        }

        if (ngx_http_cometchat_headers_cdn(h)) {
            h->hash = 0;
            continue;
        }

        if (!ngx_http_cometchat_header_is(h, &name)) {
            continue;
        }

        if (first == NULL) {
            first = h;
        }

        /* each directive may gain ", ": "a,b" becomes "..., a, b" */
        len += 2 * h->value.len + 2;

        pos = h->value.data;
        last = pos + h->value.len;

        while (ngx_http_cometchat_headers_cc_next(&pos, last, &dir, &name_len)
               == NGX_OK)
        {
            if (dir.len == 8
                && ngx_strncasecmp(dir.data, (u_char *) "no-store", 8) == 0)
            {
                strict = 1;
            }
        }
    }

    if (strict) {
        return NGX_OK;
    }

    if (first == NULL) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
        ngx_str_set(&h->key, "Cache-Control");
        h->value.len = sizeof(value) - 1;
        h->value.data = value;
        h->lowcase_key = (u_char *) "cache-control";

        return NGX_OK;
    }

    out = ngx_pnalloc(r->pool, len);
    if (out == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(out, value, sizeof(value) - 1);

    part = NULL;

    for ( ;; ) {
        h = ngx_http_cometchat_header_next(&r->headers_out.headers, &part,
                                           &i, &name);
        if (h == NULL) {
            break;
        }

        pos = h->value.data;
        last = pos + h->value.len;

        while (ngx_http_cometchat_headers_cc_next(&pos, last, &dir, &name_len)
               == NGX_OK)
        {
            if (name_len == 0) {
                continue;
            }

            for (d = drop; d->len; d++) {
                if (name_len == d->len
                    && ngx_strncasecmp(dir.data, d->data, d->len) == 0)
                {
                    break;
                }
            }

            if (d->len) {
                continue;
            }

            /*
             * a directive with an unclosed quote: merged into one header,
             * its quote would swallow the commas of the directives after
             * it, or let out a "public" the app had quoted in another
             * header; a cache reading the result must see only what is
             * kept here
             */

            for (q = 0, t = dir.data; t < dir.data + dir.len; t++) {
                q ^= (*t == '"');
            }

            if (q) {
                continue;
            }

            *p++ = ',';
            *p++ = ' ';
            p = ngx_cpymem(p, dir.data, dir.len);
        }

        if (h != first) {
            h->hash = 0;
        }
    }

    first->value.data = out;
    first->value.len = p - out;

    return NGX_OK;
}


/* CDN-Cache-Control, *-CDN-Cache-Control and Surrogate-Control */

static ngx_uint_t
ngx_http_cometchat_headers_cdn(ngx_table_elt_t *h)
{
    size_t   len;
    u_char  *name;

    static char       cdn[] = "CDN-Cache-Control";
    static ngx_str_t  surrogate = ngx_string("Surrogate-Control");

    if (ngx_http_cometchat_header_is(h, &surrogate)) {
        return 1;
    }

    len = h->key.len;

    if (len < sizeof(cdn) - 1) {
        return 0;
    }

    name = h->key.data + len - (sizeof(cdn) - 1);

    return ngx_strncasecmp(name, (u_char *) cdn, sizeof(cdn) - 1) == 0
           && (len == sizeof(cdn) - 1 || name[-1] == '-');
}


/*
 * The next directive of a Cache-Control value, from *pos up to the next
 * comma outside a quoted string: in dir without surrounding blanks, with
 * the length of its name (before "=" or a blank) in name_len.  *pos is
 * NULL once the last directive was returned.
 */

static ngx_int_t
ngx_http_cometchat_headers_cc_next(u_char **pos, u_char *last,
    ngx_str_t *dir, size_t *name_len)
{
    u_char      *p, *d, *end, *n;
    ngx_uint_t   quoted;

    p = *pos;

    if (p == NULL) {
        return NGX_DONE;
    }

    quoted = 0;

    for (d = p; d < last; d++) {
        if (*d == '"') {
            quoted = !quoted;

        } else if (*d == ',' && !quoted) {
            break;
        }
    }

    *pos = (d < last) ? d + 1 : NULL;

    while (p < d && (*p == ' ' || *p == '\t')) {
        p++;
    }

    for (end = d; end > p && (end[-1] == ' ' || end[-1] == '\t'); end--) {
        /* void */
    }

    for (n = p; n < end && *n != '=' && *n != ' ' && *n != '\t'; n++) {
        /* void */
    }

    dir->data = p;
    dir->len = end - p;
    *name_len = n - p;

    return NGX_OK;
}


/*
 * The page now depends on the snippet, which depends on the user, the
 * token and the nonce: W/"original-ccID", with the snippet's identity
 * (a CRC-32 of its template and the values put into it, from the
 * renderer: hashing the whole rendered snippet was the costliest part
 * of injecting).  A browser that sends it back in If-None-Match has this
 * very page; the original validator no longer matches it, so one user's
 * page is never confirmed to another.
 */

static ngx_int_t
ngx_http_cometchat_headers_etag(ngx_http_request_t *r, uint32_t snippet_id)
{
    u_char           *p;
    ngx_str_t         v;
    ngx_table_elt_t  *etag;

    etag = r->headers_out.etag;

    if (etag == NULL || etag->hash == 0) {
        return NGX_OK;
    }

    v = etag->value;

    if (v.len > 2 && v.data[0] == 'W' && v.data[1] == '/') {
        v.data += 2;
        v.len -= 2;
    }

    if (v.len < 2 || v.data[0] != '"' || v.data[v.len - 1] != '"') {
        ngx_http_clear_etag(r);
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, v.len + sizeof("W/-cc12345678") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    etag->value.data = p;
    etag->value.len = ngx_sprintf(p, "W/%*s-cc%08xD\"", v.len - 1, v.data,
                                  snippet_id)
                      - p;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_cometchat_headers_if_none_match(ngx_http_request_t *r)
{
    u_char     *p, *last;
    ngx_str_t   etag;

    if (r->headers_in.if_none_match == NULL || r->headers_out.etag == NULL
        || r->headers_out.etag->hash == 0)
    {
        return 0;
    }

    etag = r->headers_out.etag->value;
    etag.data += 2;
    etag.len -= 2;

    p = r->headers_in.if_none_match->value.data;
    last = p + r->headers_in.if_none_match->value.len;

    while (p < last) {

        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        if (last - p > 2 && p[0] == 'W' && p[1] == '/') {
            p += 2;
        }

        if ((size_t) (last - p) >= etag.len
            && ngx_strncmp(p, etag.data, etag.len) == 0
            && (p + etag.len == last || p[etag.len] == ','
                || p[etag.len] == ' ' || p[etag.len] == '\t'))
        {
            return 1;
        }

        while (p < last && *p != ',') {
            p++;
        }
    }

    return 0;
}
