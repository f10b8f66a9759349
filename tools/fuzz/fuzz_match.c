
/*
 * libFuzzer harness for the "</body>" matcher (ngx_http_cometchat_match.c).
 *
 * Each input is turned into a page, a way of cutting it into buffers
 * (empty ones included), a hold limit and a window size.  The page is
 * fed through the matcher buffer by buffer, doing with a byte string what
 * the body filter does with nginx buffers, and the result must equal a
 * one-pass reference over the whole page.  Invariants of the held bytes
 * are checked after every buffer.
 *
 * Built and run by tools/fuzz/run.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_cometchat_match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define SNIPPET      "{SNIPPET}"
#define PAGE_MAX     65536


typedef struct {
    const u_char  *base;
    size_t         wsize;
    u_char        *scratch;     /* file-like windows: a copy, like pread */
} window_ctx_t;


static const char  *tokens[] = {
    "</body>", "</BODY>", "</BoDy>", "</body", "</bo", "dy>", "<", "/",
    "b", "o", "d", "y", ">", "B", "O", "D", "Y", "x", " ", "\n",
    "<html>", "<!DOCTYPE html>", "<!--", "-->", "\xef\xbb\xbf", "<body>",
    "</", "<head>", "<?xml", "<p>text</p>", "</html>", "\t", "-", "!",
    "<</body>>", "</body >", "</bodyy>", "<!-- </body> -->"
};


static u_char *
window(void *data, off_t start, off_t end)
{
    window_ctx_t  *w = data;

    if (end < start || (size_t) (end - start) > w->wsize) {
        fprintf(stderr, "window [%lld, %lld) larger than %zu\n",
                (long long) start, (long long) end, w->wsize);
        abort();
    }

    if (w->scratch == NULL) {
        return (u_char *) w->base + start;
    }

    /* like a file read: the bytes are only valid until the next call */
    memset(w->scratch, 0xa5, w->wsize);
    memcpy(w->scratch, w->base + start, (size_t) (end - start));

    return w->scratch;
}


static int
ci_body_at(const u_char *p)
{
    static const char  body[] = "</body>";
    int                i;

    for (i = 0; i < 7; i++) {
        if (body[i] >= 'a' && body[i] <= 'z') {
            if ((p[i] | 0x20) != body[i]) {
                return 0;
            }

        } else if (p[i] != body[i]) {
            return 0;
        }
    }

    return 1;
}


static int
ref_doc(const u_char *p, size_t len)
{
    static const char  *names[] = { "!doctype", "html", "head", "body",
                                    "?xml", NULL };
    size_t              i, j, k, limit;
    const char        **n;

    limit = len < NGX_HTTP_COMETCHAT_DOC_LIMIT
            ? len : NGX_HTTP_COMETCHAT_DOC_LIMIT;
    i = 0;

    if (limit >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
        i = 3;
    }

    for ( ;; ) {
        while (i < limit && strchr(" \t\r\n\f", p[i]) && p[i]) {
            i++;
        }

        if (i >= limit || p[i] != '<') {
            return 0;
        }

        i++;

        if (i + 3 <= limit && memcmp(p + i, "!--", 3) == 0) {
            for (j = i + 3; j + 3 <= limit; j++) {
                if (memcmp(p + j, "-->", 3) == 0) {
                    break;
                }
            }

            if (j + 3 > limit) {
                return 0;
            }

            i = j + 3;
            continue;
        }

        for (n = names; *n; n++) {
            k = strlen(*n);

            if (i + k > limit) {
                continue;
            }

            for (j = 0; j < k; j++) {
                u_char c = p[i + j];

                if (c >= 'A' && c <= 'Z') {
                    c |= 0x20;
                }

                if (c != (u_char) (*n)[j]) {
                    break;
                }
            }

            if (j == k) {
                return 1;
            }
        }

        return 0;
    }
}


/* the whole page at once: the rule the streaming matcher must follow */

static size_t
reference(const u_char *p, size_t len, off_t max_tail, u_char *out)
{
    size_t  i, n;
    long    last;

    last = -1;

    for (i = 0; i + 7 <= len; i++) {
        if (ci_body_at(p + i)) {
            last = (long) i;
        }
    }

    n = 0;

    if (last >= 0 && (off_t) (len - last - 7) <= max_tail) {
        memcpy(out, p, last);
        n = last;
        memcpy(out + n, SNIPPET, sizeof(SNIPPET) - 1);
        n += sizeof(SNIPPET) - 1;
        memcpy(out + n, p + last, len - last);
        return n + len - last;
    }

    memcpy(out, p, len);
    n = len;

    if (ref_doc(p, len)) {
        memcpy(out + n, SNIPPET, sizeof(SNIPPET) - 1);
        n += sizeof(SNIPPET) - 1;
    }

    return n;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static u_char  page[PAGE_MAX], out[PAGE_MAX * 2], ref[PAGE_MAX * 2],
                   held[PAGE_MAX], scratch[PAGE_MAX];

    off_t                        max_tail;
    ngx_uint_t                   defer;
    size_t                       plen, olen, rlen, hlen, half, i, k, len;
    size_t                       pos, cut;
    const char                  *t;
    window_ctx_t                 w;
    ngx_http_cometchat_match_t   m;
    ngx_http_cometchat_step_t    st;

    if (size < 4) {
        return 0;
    }

    max_tail = (data[0] & 0x80) ? (data[0] & 0x7f) * 64 : data[0] % 48;
    w.wsize = (data[1] & 1) ? 0 : 14 + data[1] % 90;

    /* as the filter does for a big file buffer first: the document check
     * is put off until the end, and done there only if needed */
    defer = data[1] & 2;
    w.scratch = w.wsize ? scratch : NULL;

    /* the first half makes the page, the second the cuts */

    half = 3 + (size - 3) / 2;
    plen = 0;

    if (data[2] & 1) {
        for (i = 3; i < half && plen < PAGE_MAX; i++) {
            page[plen++] = data[i];
        }

    } else {
        for (i = 3; i < half; i++) {
            t = tokens[data[i] % (sizeof(tokens) / sizeof(tokens[0]))];
            k = strlen(t);

            if (plen + k > PAGE_MAX) {
                break;
            }

            memcpy(page + plen, t, k);
            plen += k;
        }
    }

    if (data[2] & 2) {
        /* a long run so that holding limits and big windows are hit */
        k = (data[2] >> 2) * 97;

        if (plen + k <= PAGE_MAX) {
            memset(page + plen, 'x', k);
            plen += k;
        }

        if (plen + 7 <= PAGE_MAX && (data[2] & 0x80)) {
            memcpy(page + plen, "</body>", 7);
            plen += 7;
        }
    }

    ngx_http_cometchat_match_init(&m, max_tail);

    olen = 0;
    hlen = 0;
    pos = 0;
    k = half;

    while (pos < plen || (k < size && data[k] == 0)) {

        if (k < size) {
            cut = data[k++];
            cut = (cut & 0x80) ? (cut & 0x7f) * 37 : cut % 9;

        } else {
            cut = 1 + (pos % 13);
        }

        len = plen - pos < cut ? plen - pos : cut;

        w.base = page + pos;

        if (defer && pos == 0 && len >= NGX_HTTP_COMETCHAT_DOC_LIMIT
            && m.doc == NGX_HTTP_COMETCHAT_DOC_UNKNOWN)
        {
            m.doc = NGX_HTTP_COMETCHAT_DOC_LATER;
        }

        if (w.scratch == NULL) {
            w.wsize = len;
        }

        if (ngx_http_cometchat_match_step(&m, (off_t) len, window, &w,
                                          w.scratch ? w.wsize : len, &st)
            != NGX_OK)
        {
            abort();
        }

        if (w.scratch == NULL) {
            w.wsize = 0;
        }

        if (st.release < 0 || (size_t) st.release > hlen
            || st.pass < 0 || (size_t) st.pass > len)
        {
            fprintf(stderr, "bad step: release %lld of %zu, pass %lld of "
                    "%zu\n", (long long) st.release, hlen,
                    (long long) st.pass, len);
            abort();
        }

        memcpy(out + olen, held, st.release);
        olen += st.release;
        memmove(held, held + st.release, hlen - st.release);
        hlen -= st.release;

        memcpy(out + olen, page + pos, st.pass);
        olen += st.pass;
        memcpy(held + hlen, page + pos + st.pass, len - st.pass);
        hlen += len - st.pass;

        pos += len;

        /* what the filter relies on */

        if ((off_t) hlen != m.held) {
            fprintf(stderr, "held %zu, matcher says %lld\n", hlen,
                    (long long) m.held);
            abort();
        }

        if (m.tail >= 0) {
            if ((off_t) hlen != m.tail + 7 || !ci_body_at(held)
                || m.tail > max_tail)
            {
                fprintf(stderr, "bad candidate: held %zu tail %lld\n", hlen,
                        (long long) m.tail);
                abort();
            }

        } else if (hlen != m.partial) {
            fprintf(stderr, "held %zu bytes without a candidate, partial "
                    "%zu\n", hlen, (size_t) m.partial);
            abort();
        }

        if (m.partial > 6 || m.partial > hlen
            || memcmp(held + hlen - m.partial,
                      ngx_http_cometchat_match_partial(&m), m.partial) != 0)
        {
            fprintf(stderr, "partial %zu does not end the held bytes\n",
                    (size_t) m.partial);
            abort();
        }
    }

    if (m.tail < 0 && m.doc == NGX_HTTP_COMETCHAT_DOC_LATER) {
        ngx_http_cometchat_match_doc(&m, page, plen);
    }

    ngx_http_cometchat_match_end(&m);

    if (m.tail >= 0) {
        memcpy(out + olen, SNIPPET, sizeof(SNIPPET) - 1);
        olen += sizeof(SNIPPET) - 1;
        memcpy(out + olen, held, hlen);
        olen += hlen;

    } else {
        memcpy(out + olen, held, hlen);
        olen += hlen;

        if (m.doc == NGX_HTTP_COMETCHAT_DOC_YES) {
            memcpy(out + olen, SNIPPET, sizeof(SNIPPET) - 1);
            olen += sizeof(SNIPPET) - 1;
        }
    }

    rlen = reference(page, plen, max_tail, ref);

    if (olen != rlen || memcmp(out, ref, olen) != 0) {
        fprintf(stderr, "mismatch (max_tail %lld, window %zu)\n"
                "page:      \"%.*s\"\nstreamed:  \"%.*s\"\n"
                "reference: \"%.*s\"\n", (long long) max_tail, w.wsize,
                (int) plen, page, (int) olen, out, (int) rlen, ref);
        abort();
    }

    return 0;
}
