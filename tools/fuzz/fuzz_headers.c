
/*
 * libFuzzer harness for the response header handling of an injected page
 * (ngx_http_cometchat_headers.c): Cache-Control rewriting, CDN header
 * removal, the CSP nonce, the ETag and If-None-Match.
 *
 * A minimal request is built on a pool: headers_out.headers is a real
 * ngx_list_t of 2 elements a part (so lists span parts), filled from the
 * input's lines "Name: value"; a line starting with "-" is a deleted
 * header (hash 0); "ETag" also sets headers_out.etag; "If-None-Match"
 * goes to headers_in.  The first byte picks the snippet.
 *
 * Oracles, each from the documented rule, written here independently:
 * - Cache-Control: with a "no-store" directive, every Cache-Control is
 *   left as it was; otherwise exactly one remains, "private, no-cache"
 *   followed by the app's directives in order less public, private,
 *   no-cache, s-maxage, proxy-revalidate, immutable, stale-while-
 *   revalidate and stale-if-error (by name) and those with an unclosed
 *   quote (which would change how the merged header splits); and split
 *   again, the result holds none of those; none at all becomes
 *   "private, no-cache".  No CDN-Cache-Control, *-CDN-Cache-Control or
 *   Surrogate-Control survives.
 * - nonce: the first 'nonce-' source of the highest of script-src-elem,
 *   script-src, default-src of the first policy that has one, enforced
 *   policies before report-only ones; base64(url) characters only, at
 *   most 256 of them.
 * - ETag: W/"<opaque>-cc<8 hex>" of a well-formed one, none otherwise;
 *   an If-None-Match listing the new tag is a 304, the old one never.
 *
 * Built and run by tools/fuzz/run.
 */


#include "fuzz_ngx.h"
#include "ngx_http_cometchat_headers.h"


#define MAX_HEADERS  32
#define MAX_DIRS     8192    /* > max_len: one per comma */


typedef struct {
    u_char  *data;
    size_t   len;
    size_t   name_len;
} dir_t;


#if (nginx_version >= 1023000)

ngx_table_elt_t *
ngx_http_parse_multi_header_lines(ngx_http_request_t *r,
    ngx_table_elt_t *headers, ngx_str_t *name, ngx_str_t *value)
{
    return NULL;
}

#else

ngx_int_t
ngx_http_parse_multi_header_lines(ngx_array_t *headers, ngx_str_t *name,
    ngx_str_t *value)
{
    return NGX_DECLINED;
}

#endif


/*
 * ngx_http_cometchat_util.c is linked for its header list walk; its
 * configuration helpers need these, and are never called here
 */

ngx_module_t  ngx_http_cometchat_module;


ngx_int_t
ngx_conf_full_name(ngx_cycle_t *cycle, ngx_str_t *name,
    ngx_uint_t conf_prefix)
{
    abort();
}


void ngx_cdecl
ngx_conf_log_error(ngx_uint_t level, ngx_conf_t *cf, ngx_err_t err,
    const char *fmt, ...)
{
    abort();
}


static int
ci_eq(u_char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp((char *) a, b, alen) == 0;
}


static int
is_cdn(ngx_table_elt_t *h)
{
    size_t  n = sizeof("CDN-Cache-Control") - 1;

    if (ci_eq(h->key.data, h->key.len, "Surrogate-Control")) {
        return 1;
    }

    if (h->key.len < n) {
        return 0;
    }

    return ci_eq(h->key.data + h->key.len - n, n, "CDN-Cache-Control")
           && (h->key.len == n || h->key.data[h->key.len - n - 1] == '-');
}


/* directives of a Cache-Control value: commas outside quotes split */

static ngx_uint_t
split_cc(u_char *p, size_t len, dir_t *dirs, ngx_uint_t n)
{
    size_t   i, start, s, e, k;
    ngx_uint_t  q;

    q = 0;
    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && p[i] == '"') {
            q = !q;
        }

        if (i < len && (p[i] != ',' || q)) {
            continue;
        }

        s = start;
        e = i;
        while (s < e && (p[s] == ' ' || p[s] == '\t')) s++;
        while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t')) e--;
        for (k = s; k < e && p[k] != '=' && p[k] != ' ' && p[k] != '\t'; k++)
        {
            /* void */
        }

        if (n == MAX_DIRS) {
            fuzz_fail("too many directives for the harness");
        }

        dirs[n].data = p + s;
        dirs[n].len = e - s;
        dirs[n].name_len = k - s;
        n++;

        start = i + 1;
    }

    return n;
}


static int
dropped(dir_t *d)
{
    static const char  *names[] = {
        "public", "private", "no-cache", "s-maxage", "proxy-revalidate",
        "immutable", "stale-while-revalidate", "stale-if-error", NULL
    };
    const char  **n;

    for (n = names; *n; n++) {
        if (ci_eq(d->data, d->name_len, *n)) {
            return 1;
        }
    }

    return 0;
}


static int
unbalanced(dir_t *d)
{
    size_t      i;
    ngx_uint_t  n = 0;

    for (i = 0; i < d->len; i++) {
        n += (d->data[i] == '"');
    }

    return n % 2;
}


static int
b64(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='
           || c == '-' || c == '_';
}


/* the nonce of one policy header value, as the rule reads it */

static int
ref_policy_nonce(u_char *v, size_t len, ngx_str_t *nonce)
{
    u_char      *pol, *pend, *d, *dend, *s, *send, *best, *best_end, *t;
    ngx_uint_t   rank, best_rank;

    for (pol = v; pol <= v + len; pol = pend + 1) {
        pend = memchr(pol, ',', v + len - pol);
        if (pend == NULL) {
            pend = v + len;
        }

        best = NULL;
        best_end = NULL;
        best_rank = 0;

        for (d = pol; d <= pend; d = dend + 1) {
            dend = memchr(d, ';', pend - d);
            if (dend == NULL) {
                dend = pend;
            }

            while (d < dend && (*d == ' ' || *d == '\t')) d++;
            for (s = d; s < dend && *s != ' ' && *s != '\t'; s++) { }

            rank = ci_eq(d, s - d, "script-src-elem") ? 3
                   : ci_eq(d, s - d, "script-src") ? 2
                   : ci_eq(d, s - d, "default-src") ? 1 : 0;

            if (rank > best_rank) {
                best_rank = rank;
                best = s;
                best_end = dend;
            }

            if (dend == pend) {
                break;
            }
        }

        for (s = best; best && s < best_end; s = send) {
            while (s < best_end && (*s == ' ' || *s == '\t')) s++;
            for (send = s; send < best_end && *send != ' ' && *send != '\t';
                 send++)
            { }

            if (send - s < 9 || strncasecmp((char *) s, "'nonce-", 7) != 0
                || send[-1] != '\'' || send - s - 8 > 256)
            {
                continue;
            }

            for (t = s + 7; t < send - 1 && b64(*t); t++) { }

            if (t == send - 1) {
                nonce->data = s + 7;
                nonce->len = send - s - 8;
                return 1;
            }
        }

        if (pend == v + len) {
            break;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char               *copy, *p, *last, *nl, *colon, *v, *etag_inner,
                         *expect;
    size_t                etag_inner_len, i, k;
    ngx_str_t             snippet, nonce, ref_nonce, etag_before;
    ngx_uint_t            n, ncc_in, ncc_out, ndir_in, ndir_out, strict,
                          pass, found, encoded;
    ngx_pool_t           *pool;
    ngx_list_part_t      *part;
    ngx_table_elt_t      *h, *hs[MAX_HEADERS], *cc_out, *inm;
    ngx_connection_t      c;
    ngx_http_request_t    r;
    static dir_t          dirs_in[MAX_DIRS], dirs_out[MAX_DIRS];
    static ngx_str_t      cc_before[MAX_HEADERS];
    static const char    *csp[] = { "Content-Security-Policy",
                                    "Content-Security-Policy-Report-Only" };

    fuzz_ngx_init();

    if (size < 1) {
        return 0;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);

    /* the header bytes live in the pool, as a request's do */
    copy = ngx_pnalloc(pool, size);
    ngx_memcpy(copy, data, size);

    ngx_memzero(&r, sizeof(r));
    ngx_memzero(&c, sizeof(c));
    c.log = ngx_cycle->log;
    r.connection = &c;
    r.pool = pool;
    r.headers_out.status = NGX_HTTP_OK;
    r.headers_out.content_length_n = 1000;

    if (ngx_list_init(&r.headers_out.headers, pool, 2,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        abort();
    }

    snippet.data = copy;
    snippet.len = 1;

    inm = NULL;
    n = 0;
    p = copy + 1;
    last = copy + size;

    while (p < last && n < MAX_HEADERS) {
        nl = memchr(p, '\n', last - p);
        if (nl == NULL) {
            nl = last;
        }

        colon = memchr(p, ':', nl - p);

        if (colon != NULL) {
            v = colon + 1;
            while (v < nl && *v == ' ') v++;

            if (ci_eq(p, colon - p, "If-None-Match")) {
                inm = ngx_pcalloc(pool, sizeof(ngx_table_elt_t));
                inm->hash = 1;
                inm->key.data = p;
                inm->key.len = colon - p;
                inm->value.data = v;
                inm->value.len = nl - v;
                r.headers_in.if_none_match = inm;

            } else {
                h = ngx_list_push(&r.headers_out.headers);
                h->hash = 1;
                if (*p == '-') {
                    h->hash = 0;
                    p++;
                }
                h->key.data = p;
                h->key.len = colon - p;
                h->value.data = v;
                h->value.len = nl - v;
                h->lowcase_key = p;
#if (nginx_version >= 1023000)
                h->next = NULL;
#endif
                hs[n++] = h;

                if (h->hash && ci_eq(h->key.data, h->key.len, "ETag")) {
                    r.headers_out.etag = h;
                }
            }
        }

        p = nl + 1;
    }

    /* what the rules are checked against, read before the module runs */

    encoded = 0;
    ncc_in = 0;
    ndir_in = 0;
    strict = 0;

    for (i = 0; i < n; i++) {
        h = hs[i];

        if (!h->hash) {
            continue;
        }

        if (ci_eq(h->key.data, h->key.len, "Content-Encoding")
            && h->value.len && !ci_eq(h->value.data, h->value.len, "identity"))
        {
            encoded = 1;
        }

        if (ci_eq(h->key.data, h->key.len, "Cache-Control") && !is_cdn(h)) {
            cc_before[ncc_in++] = h->value;
            ndir_in = split_cc(h->value.data, h->value.len, dirs_in, ndir_in);
        }
    }

    for (k = 0; k < ndir_in; k++) {
        if (ci_eq(dirs_in[k].data, dirs_in[k].len, "no-store")) {
            strict = 1;
        }
    }

    found = 0;
    ngx_str_null(&ref_nonce);

    for (pass = 0; pass < 2 && !found; pass++) {
        for (i = 0; i < n && !found; i++) {
            h = hs[i];
            if (h->hash && ci_eq(h->key.data, h->key.len, csp[pass])) {
                found = ref_policy_nonce(h->value.data, h->value.len,
                                         &ref_nonce);
            }
        }
    }

    etag_inner = NULL;
    etag_inner_len = 0;
    ngx_str_null(&etag_before);

    if (r.headers_out.etag) {
        etag_before = r.headers_out.etag->value;
        v = etag_before.data;
        k = etag_before.len;

        if (k > 2 && v[0] == 'W' && v[1] == '/') {
            v += 2;
            k -= 2;
        }

        if (k >= 2 && v[0] == '"' && v[k - 1] == '"') {
            etag_inner = v + 1;
            etag_inner_len = k - 2;
        }
    }

    /* the module */

    if (ngx_http_cometchat_headers_encoded(&r) != encoded) {
        fuzz_fail("Content-Encoding: module says %d", !encoded);
    }

    ngx_http_cometchat_headers_nonce(&r, &nonce);

    if (nonce.len != ref_nonce.len
        || (nonce.len && memcmp(nonce.data, ref_nonce.data, nonce.len)))
    {
        fuzz_fail("nonce \"%.*s\", rule says \"%.*s\"", (int) nonce.len,
                  nonce.data, (int) ref_nonce.len, ref_nonce.data);
    }

    for (k = 0; k < nonce.len; k++) {
        if (!b64(nonce.data[k])) {
            fuzz_fail("nonce character 0x%02x", nonce.data[k]);
        }
    }

    if (ngx_http_cometchat_headers_inject(&r,
                                          ngx_crc32_long(snippet.data,
                                                         snippet.len))
        != NGX_OK)
    {
        fuzz_fail("inject failed");
    }

    if (r.headers_out.content_length_n != -1) {
        fuzz_fail("content length kept");
    }

    /* Cache-Control */

    ncc_out = 0;
    cc_out = NULL;

    for (part = &r.headers_out.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (!h[i].hash) {
                continue;
            }

            if (is_cdn(&h[i])) {
                fuzz_fail("CDN header \"%.*s\" kept", (int) h[i].key.len,
                          h[i].key.data);
            }

            if (ci_eq(h[i].key.data, h[i].key.len, "Cache-Control")) {
                if (strict) {
                    if (ncc_out >= ncc_in
                        || h[i].value.len != cc_before[ncc_out].len
                        || memcmp(h[i].value.data, cc_before[ncc_out].data,
                                  h[i].value.len))
                    {
                        fuzz_fail("no-store, but Cache-Control changed");
                    }
                }

                cc_out = &h[i];
                ncc_out++;
            }
        }
    }

    if (strict && ncc_out != ncc_in) {
        fuzz_fail("no-store, but %lu Cache-Control of %lu",
                  (unsigned long) ncc_out, (unsigned long) ncc_in);
    }

    if (!strict) {
        if (ncc_out != 1) {
            fuzz_fail("%lu Cache-Control headers", (unsigned long) ncc_out);
        }

        ndir_out = split_cc(cc_out->value.data, cc_out->value.len, dirs_out,
                            0);

        if (ndir_out < 2 || !ci_eq(dirs_out[0].data, dirs_out[0].len,
                                   "private")
            || !ci_eq(dirs_out[1].data, dirs_out[1].len, "no-cache"))
        {
            fuzz_fail("Cache-Control \"%.*s\"", (int) cc_out->value.len,
                      cc_out->value.data);
        }

        /* the app's directives in order, less the dropped ones, as they
         * were: compared as text, since an unbalanced quote in a dropped
         * directive may make the result split differently */

        expect = ngx_pnalloc(pool, sizeof("private, no-cache") - 1
                                   + 2 * size + 2);
        v = ngx_cpymem(expect, "private, no-cache",
                       sizeof("private, no-cache") - 1);

        for (i = 0; i < ndir_in; i++) {
            if (dirs_in[i].name_len == 0 || dropped(&dirs_in[i])
                || unbalanced(&dirs_in[i]))
            {
                continue;
            }

            *v++ = ',';
            *v++ = ' ';
            v = ngx_cpymem(v, dirs_in[i].data, dirs_in[i].len);
        }

        if ((size_t) (v - expect) != cc_out->value.len
            || memcmp(expect, cc_out->value.data, cc_out->value.len) != 0)
        {
            fuzz_fail("Cache-Control \"%.*s\", rule says \"%.*s\"",
                      (int) cc_out->value.len, cc_out->value.data,
                      (int) (v - expect), expect);
        }

        for (k = 2; k < ndir_out; k++) {
            if (dropped(&dirs_out[k])) {
                fuzz_fail("Cache-Control \"%.*s\" says \"%.*s\" again",
                          (int) cc_out->value.len, cc_out->value.data,
                          (int) dirs_out[k].len, dirs_out[k].data);
            }
        }
    }

    /* ETag, If-None-Match */

    if (etag_inner == NULL) {
        if (r.headers_out.etag != NULL) {
            fuzz_fail("malformed ETag kept");
        }

    } else {
        h = r.headers_out.etag;

        if (h == NULL || h->value.len != etag_inner_len + 15
            || ngx_strncmp(h->value.data, "W/\"", 3) != 0
            || memcmp(h->value.data + 3, etag_inner, etag_inner_len) != 0
            || ngx_strncmp(h->value.data + 3 + etag_inner_len, "-cc", 3) != 0
            || h->value.data[h->value.len - 1] != '"')
        {
            fuzz_fail("ETag rewritten as \"%.*s\"",
                      h ? (int) h->value.len : 0, h ? h->value.data : NULL);
        }

        for (k = etag_inner_len + 6; k < h->value.len - 1; k++) {
            if (!isxdigit(h->value.data[k])) {
                fuzz_fail("ETag hash \"%.*s\"", (int) h->value.len,
                          h->value.data);
            }
        }
    }

    if (ngx_http_cometchat_headers_not_modified(&r)) {

        /* a 304 only for a list that holds the new tag */
        if (inm == NULL || r.headers_out.etag == NULL
            || ngx_strlcasestrn(inm->value.data,
                                inm->value.data + inm->value.len,
                                r.headers_out.etag->value.data + 2,
                                r.headers_out.etag->value.len - 3)
               == NULL)
        {
            fuzz_fail("304 without the new ETag in If-None-Match");
        }

        if (r.headers_out.status != NGX_HTTP_NOT_MODIFIED) {
            fuzz_fail("not modified, status %lu",
                      (unsigned long) r.headers_out.status);
        }

    } else if (inm && r.headers_out.etag) {

        /* an exact entry of the new tag is a 304 */
        v = r.headers_out.etag->value.data;
        k = r.headers_out.etag->value.len;

        if (inm->value.len == k && memcmp(inm->value.data, v, k) == 0) {
            fuzz_fail("If-None-Match \"%.*s\" equals the ETag, no 304",
                      (int) k, v);
        }
    }

    ngx_destroy_pool(pool);

    return 0;
}
