
/*
 * libFuzzer harness for ngx_http_cometchat_json_find() (the session reply
 * and the REST replies go through it) against yajl's tree API.
 *
 * An input is "FLAGS PATH\nJSON": FLAGS one byte (bit 0: refuse numbers),
 * PATH dot-separated (at most 4 components, empty ones allowed).  The
 * reference parses JSON with yajl_tree_parse() and walks the path with
 * yajl_tree_get()'s rule (the first of duplicate keys wins), written here
 * independently of json.c's callback state machine.  Validity itself is
 * yajl's either way; the reference only decides it with the same parser
 * configuration (yajl_tree_parse() allows comments, json_find() does not).
 *
 * Built and run by tools/fuzz/run.
 */


#include "fuzz_ngx.h"
#include "ngx_http_cometchat_json.h"

#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>


#define PATH_MAX_PARTS  4


typedef enum {
    REF_INVALID,    /* not JSON */
    REF_ABSENT,     /* NGX_DECLINED */
    REF_BAD_TYPE,   /* NGX_ERROR, valid JSON */
    REF_VALUE,      /* NGX_OK */
    REF_UNKNOWN     /* valid, but beyond the reference */
} ref_kind_t;


static int
has_nul_escape(const uint8_t *p, size_t len)
{
    size_t  i;

    for (i = 0; i + 6 <= len; i++) {
        if (p[i] == '\\' && (p[i + 1] | 0x20) == 'u' && p[i + 2] == '0'
            && p[i + 3] == '0' && p[i + 4] == '0' && p[i + 5] == '0')
        {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ref_valid(const uint8_t *json, size_t len)
{
    yajl_handle  h;
    yajl_status  st;

    h = yajl_alloc(NULL, NULL, NULL);
    if (h == NULL) {
        abort();
    }

    st = yajl_parse(h, json, len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    yajl_free(h);

    return st == yajl_status_ok;
}


static ref_kind_t
ref_find(const uint8_t *json, size_t len, ngx_str_t *path, ngx_uint_t npath,
    ngx_uint_t flags, const char **value, size_t *vlen)
{
    char        *text, errbuf[128];
    size_t       i, k;
    yajl_val     root, v, next;
    ref_kind_t   kind;

    if (!ref_valid(json, len)) {
        return REF_INVALID;
    }

    /*
     * the tree's keys and strings are C strings: a \u0000 cuts them, and
     * the reference cannot say what a key with one matches
     */
    if (has_nul_escape(json, len)) {
        return REF_UNKNOWN;
    }

    text = malloc(len + 1);
    memcpy(text, json, len);
    text[len] = '\0';

    root = yajl_tree_parse(text, errbuf, sizeof(errbuf));
    free(text);

    if (root == NULL) {
        fuzz_fail("yajl_tree_parse() refused a document yajl_parse() "
                  "accepts: %s", errbuf);
    }

    v = root;

    for (i = 0; i < npath; i++) {
        next = NULL;

        if (YAJL_IS_OBJECT(v)) {
            for (k = 0; k < v->u.object.len; k++) {
                if (strlen(v->u.object.keys[k]) == path[i].len
                    && memcmp(v->u.object.keys[k], path[i].data,
                              path[i].len) == 0)
                {
                    next = v->u.object.values[k];
                    break;
                }
            }
        }

        if (next == NULL) {
            kind = REF_ABSENT;
            goto done;
        }

        v = next;
    }

    if (YAJL_IS_NULL(v)) {
        kind = REF_ABSENT;

    } else if (YAJL_IS_STRING(v)) {
        kind = REF_VALUE;
        *value = strdup(v->u.string);
        *vlen = strlen(v->u.string);

    } else if (YAJL_IS_NUMBER(v) && !(flags & NGX_HTTP_COMETCHAT_JSON_STRING))
    {
        kind = REF_VALUE;
        *value = strdup(v->u.number.r);
        *vlen = strlen(v->u.number.r);

    } else {
        kind = REF_BAD_TYPE;
    }

done:

    yajl_tree_free(root);

    return kind;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char          errbuf[NGX_HTTP_COMETCHAT_JSON_ERR_LEN];
    size_t          vlen;
    ngx_int_t       rc;
    ngx_str_t       json, out, err, parts[PATH_MAX_PARTS];
    ngx_uint_t      flags, n;
    ngx_pool_t     *pool;
    ngx_array_t     path;
    ref_kind_t      kind;
    const char     *value;
    const uint8_t  *p, *nl, *last, *dot;

    fuzz_ngx_init();

    if (size < 2) {
        return 0;
    }

    flags = (data[0] & 1) ? NGX_HTTP_COMETCHAT_JSON_STRING : 0;
    p = data + 1;
    last = data + size;

    nl = memchr(p, '\n', last - p);
    if (nl == NULL) {
        return 0;
    }

    /* the path: configuration text, so no dots inside a component */

    n = 0;

    for ( ;; ) {
        dot = memchr(p, '.', nl - p);
        if (dot == NULL) {
            dot = nl;
        }

        if (n == PATH_MAX_PARTS) {
            return 0;
        }

        parts[n].data = (u_char *) p;
        parts[n].len = dot - p;
        n++;

        if (dot == nl) {
            break;
        }

        p = dot + 1;
    }

    path.elts = parts;
    path.nelts = n;
    path.size = sizeof(ngx_str_t);
    path.nalloc = n;
    path.pool = NULL;

    /* a copy of exactly the body's size: an over-read is ASan's to see */
    json.len = last - (nl + 1);
    json.data = malloc(json.len ? json.len : 1);
    memcpy(json.data, nl + 1, json.len);

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        abort();
    }

    err.data = errbuf;
    err.len = sizeof(errbuf);
    ngx_str_null(&out);

    rc = ngx_http_cometchat_json_find(pool, &json, &path, flags, &out, &err);

    if (err.len > sizeof(errbuf)) {
        fuzz_fail("err.len %zu over its buffer", err.len);
    }

    value = NULL;
    vlen = 0;
    kind = ref_find(json.data, json.len, parts, n, flags, &value, &vlen);

    switch (kind) {

    case REF_UNKNOWN:
        if (rc == NGX_OK && out.data[out.len] != '\0') {
            fuzz_fail("value not NUL-terminated");
        }
        break;

    case REF_INVALID:
        if (rc != NGX_ERROR) {
            fuzz_fail("invalid JSON gave rc %ld", (long) rc);
        }
        break;

    case REF_ABSENT:
        if (rc != NGX_DECLINED) {
            fuzz_fail("absent or null value gave rc %ld", (long) rc);
        }
        break;

    case REF_BAD_TYPE:
        if (rc != NGX_ERROR || err.len == 0) {
            fuzz_fail("wrong-typed value gave rc %ld (err %zu bytes)",
                      (long) rc, err.len);
        }
        break;

    case REF_VALUE:
        if (rc != NGX_OK) {
            fuzz_fail("value \"%s\" not found: rc %ld, %.*s", value,
                      (long) rc, (int) err.len, err.data);
        }

        if (out.data[out.len] != '\0') {
            fuzz_fail("value not NUL-terminated");
        }

        if (out.len != vlen || memcmp(out.data, value, vlen) != 0) {
            fuzz_fail("value \"%.*s\" (%zu), reference \"%s\" (%zu)",
                      (int) out.len, out.data, out.len, value, vlen);
        }
        break;
    }

    if (rc == NGX_ERROR && err.len == 0) {
        fuzz_fail("NGX_ERROR without a description");
    }

    free((void *) value);
    ngx_destroy_pool(pool);
    free(json.data);

    return 0;
}
