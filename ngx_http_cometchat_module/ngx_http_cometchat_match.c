
/*
 * ngx_http_cometchat_module: the streaming "</body>" matcher.
 *
 * The body filter feeds it one buffer at a time and it answers how many
 * held bytes and how many bytes of the buffer may be passed on; the rest
 * stays held.  The rule it implements (and tools/fuzz checks against a
 * one-pass reference): the snippet goes right before the last "</body>",
 * in any letter case, if at most max_tail bytes follow it; otherwise, and
 * when there is none, after the last byte.  So at most max_tail + 7 bytes
 * are ever held, whatever the size of the page and however it is split.
 *
 * Buffers are searched backwards from their end: only their last
 * max_tail + 7 bytes can hold a "</body>" that is still a candidate when
 * the buffer ends, and the last "</body>" is usually a few bytes from the
 * end.  File buffers are read through a window, so a static page sent
 * with sendfile is only read where it ends.
 *
 * This file uses no nginx function, only its types, so that tools/fuzz
 * can link it alone.
 */


#include "ngx_http_cometchat_match.h"


#define NGX_HTTP_COMETCHAT_BODY_LEN   7     /* "</body>" */

#define NGX_HTTP_COMETCHAT_DOC_START  0
#define NGX_HTTP_COMETCHAT_DOC_BOM1   1
#define NGX_HTTP_COMETCHAT_DOC_BOM2   2
#define NGX_HTTP_COMETCHAT_DOC_SPACE  3
#define NGX_HTTP_COMETCHAT_DOC_NAME   4
#define NGX_HTTP_COMETCHAT_DOC_COMM   5


static ngx_int_t ngx_http_cometchat_find_last(u_char *p, size_t n);
static ngx_uint_t ngx_http_cometchat_prefix(u_char *p, size_t n,
    ngx_uint_t from, ngx_uint_t *pcase);
static void ngx_http_cometchat_end_partial(ngx_http_cometchat_match_t *m,
    u_char *w, size_t n, off_t len, ngx_uint_t *np, ngx_uint_t *ncase);
static ngx_int_t ngx_http_cometchat_doc_window(ngx_http_cometchat_match_t *m,
    off_t len, ngx_http_cometchat_window_pt window, void *data,
    size_t wsize);
static void ngx_http_cometchat_doc_byte(ngx_http_cometchat_match_t *m,
    u_char c);


static u_char  ngx_http_cometchat_body[] = "</body>";

/* "</body" with the letters in every case, indexed by pcase */
static u_char  ngx_http_cometchat_partials[16][6] = {
    "</body", "</Body", "</bOdy", "</BOdy",
    "</boDy", "</BoDy", "</bODy", "</BODy",
    "</bodY", "</BodY", "</bOdY", "</BOdY",
    "</boDY", "</BoDY", "</bODY", "</BODY"
};

/* what a response may start with, after white space, to be a document */
static char  *ngx_http_cometchat_doc_names[] = {
    "!doctype", "html", "head", "body", "?xml", "!--", NULL
};


void
ngx_http_cometchat_match_init(ngx_http_cometchat_match_t *m, off_t max_tail)
{
    ngx_memzero(m, sizeof(ngx_http_cometchat_match_t));

    m->max_tail = max_tail;
    m->tail = -1;
}


ngx_int_t
ngx_http_cometchat_match_step(ngx_http_cometchat_match_t *m, off_t len,
    ngx_http_cometchat_window_pt window, void *data, size_t wsize,
    ngx_http_cometchat_step_t *step)
{
    u_char      *w;
    off_t        lo, hi, limit, found;
    ngx_int_t    k;
    ngx_uint_t   p, np, ncase, head, first;

    step->release = 0;
    step->pass = 0;

    if (len == 0) {
        return NGX_OK;
    }

    if (m->doc == NGX_HTTP_COMETCHAT_DOC_UNKNOWN) {
        if (ngx_http_cometchat_doc_window(m, len, window, data, wsize)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    m->seen += len;

    /* windows overlap by 6 bytes so that no "</body>" is cut in two */

    if (wsize < 2 * NGX_HTTP_COMETCHAT_BODY_LEN) {
        wsize = 2 * NGX_HTTP_COMETCHAT_BODY_LEN;
    }

    p = m->partial;
    np = 0;
    ncase = 0;
    found = -1;
    head = 0;
    first = 1;

    /* a "</body>" starting before limit would be followed by too much */

    limit = (len > m->max_tail + NGX_HTTP_COMETCHAT_BODY_LEN)
            ? len - m->max_tail - NGX_HTTP_COMETCHAT_BODY_LEN : 0;

    hi = len;

    for ( ;; ) {
        lo = (hi - limit > (off_t) wsize) ? hi - (off_t) wsize : limit;

        w = window(data, lo, hi);
        if (w == NULL) {
            return NGX_ERROR;
        }

        if (first) {
            ngx_http_cometchat_end_partial(m, w, (size_t) (hi - lo), len,
                                           &np, &ncase);
            first = 0;
        }

        k = ngx_http_cometchat_find_last(w, (size_t) (hi - lo));

        if (k >= 0) {
            found = lo + k;
            break;
        }

        if (lo == limit) {

            /* the held "</bo" and the buffer's "dy>..." */

            if (lo == 0
                && p
                && len >= (off_t) (NGX_HTTP_COMETCHAT_BODY_LEN - p)
                && len - (off_t) (NGX_HTTP_COMETCHAT_BODY_LEN - p)
                   <= m->max_tail
                && ngx_http_cometchat_prefix(w, NGX_HTTP_COMETCHAT_BODY_LEN
                                                - p, p, NULL)
                   == NGX_HTTP_COMETCHAT_BODY_LEN - p)
            {
                head = 1;
            }

            break;
        }

        hi = lo + NGX_HTTP_COMETCHAT_BODY_LEN - 1;
    }

    if (found >= 0) {
        /* a new candidate: everything before it goes */
        step->release = m->held;
        step->pass = found;
        m->held = len - found;
        m->tail = len - found - NGX_HTTP_COMETCHAT_BODY_LEN;

    } else if (head) {
        /* a new candidate that starts with the held partial bytes */
        step->release = m->held - p;
        step->pass = 0;
        m->held = p + len;
        m->tail = len - (NGX_HTTP_COMETCHAT_BODY_LEN - p);

    } else if (m->tail >= 0 && m->tail + len <= m->max_tail) {
        /* the candidate still stands */
        m->held += len;
        m->tail += len;

    } else {
        /* no candidate: hold only what may begin a "</body>" */
        m->tail = -1;

        if ((off_t) np > len) {
            step->release = m->held - p;
            step->pass = 0;

        } else {
            step->release = m->held;
            step->pass = len - np;
        }

        m->held = np;
    }

    m->partial = np;
    m->pcase = ncase;

    return NGX_OK;
}


/*
 * The document check on the first bytes of the response, for a caller
 * that put it off (DOC_LATER): a static page is read at its end only,
 * and its start is needed only when it has no "</body>" to go before.
 */

void
ngx_http_cometchat_match_doc(ngx_http_cometchat_match_t *m, u_char *p,
    size_t len)
{
    size_t  i;

    m->doc = NGX_HTTP_COMETCHAT_DOC_UNKNOWN;
    m->doc_state = 0;
    m->doc_len = 0;

    if (len > NGX_HTTP_COMETCHAT_DOC_LIMIT) {
        len = NGX_HTTP_COMETCHAT_DOC_LIMIT;
    }

    for (i = 0; i < len && m->doc == NGX_HTTP_COMETCHAT_DOC_UNKNOWN; i++) {
        ngx_http_cometchat_doc_byte(m, p[i]);
    }

    if (m->doc == NGX_HTTP_COMETCHAT_DOC_UNKNOWN) {
        m->doc = NGX_HTTP_COMETCHAT_DOC_NO;
    }
}


void
ngx_http_cometchat_match_end(ngx_http_cometchat_match_t *m)
{
    if (m->doc == NGX_HTTP_COMETCHAT_DOC_UNKNOWN) {
        m->doc = NGX_HTTP_COMETCHAT_DOC_NO;
    }
}


u_char *
ngx_http_cometchat_match_partial(ngx_http_cometchat_match_t *m)
{
    return ngx_http_cometchat_partials[m->pcase & 0xf];
}


/* the start of the last "</body>" (any case) in p[0 .. n), or -1 */

static ngx_int_t
ngx_http_cometchat_find_last(u_char *p, size_t n)
{
    u_char  *lt;

    while (n >= NGX_HTTP_COMETCHAT_BODY_LEN) {

#if (NGX_LINUX || NGX_FREEBSD)
        lt = memrchr(p, '<', n - NGX_HTTP_COMETCHAT_BODY_LEN + 1);

        if (lt == NULL) {
            return -1;
        }
#else
        lt = p + n - NGX_HTTP_COMETCHAT_BODY_LEN;

        while (*lt != '<') {
            if (lt == p) {
                return -1;
            }

            lt--;
        }
#endif

        if (lt[1] == '/'
            && (lt[2] | 0x20) == 'b'
            && (lt[3] | 0x20) == 'o'
            && (lt[4] | 0x20) == 'd'
            && (lt[5] | 0x20) == 'y'
            && lt[6] == '>')
        {
            return lt - p;
        }

        /* the next one must start before lt */

        if (lt == p) {
            return -1;
        }

        n = (size_t) (lt - p) + NGX_HTTP_COMETCHAT_BODY_LEN - 1;
    }

    return -1;
}


/*
 * How many of p[0 .. n) match "</body>" from its byte "from" on (case
 * insensitive); the case of the letters matched goes into *pcase.
 */

static ngx_uint_t
ngx_http_cometchat_prefix(u_char *p, size_t n, ngx_uint_t from,
    ngx_uint_t *pcase)
{
    u_char      c, e;
    ngx_uint_t  i;

    for (i = 0; i < n && from + i < NGX_HTTP_COMETCHAT_BODY_LEN; i++) {
        c = p[i];
        e = ngx_http_cometchat_body[from + i];

        if (e >= 'a' && e <= 'z') {
            if ((c | 0x20) != e) {
                break;
            }

            if (pcase && !(c & 0x20)) {
                *pcase |= 1 << (from + i - 2);
            }

            continue;
        }

        if (c != e) {
            break;
        }
    }

    return i;
}


/*
 * The bytes ending the stream after this buffer that begin "</body": the
 * buffer may continue the held ones, or end with its own.  w[0 .. n) are
 * the buffer's last bytes, len its size.
 */

static void
ngx_http_cometchat_end_partial(ngx_http_cometchat_match_t *m, u_char *w,
    size_t n, off_t len, ngx_uint_t *np, ngx_uint_t *ncase)
{
    size_t      j;
    ngx_uint_t  p, c;

    p = m->partial;

    if (p && (off_t) p + len < NGX_HTTP_COMETCHAT_BODY_LEN) {
        c = m->pcase;

        if (ngx_http_cometchat_prefix(w + n - len, (size_t) len, p, &c)
            == (size_t) len)
        {
            *np = p + (size_t) len;
            *ncase = c;
            return;
        }
    }

    /* the longest tail of the buffer that begins "</body" */

    j = NGX_HTTP_COMETCHAT_BODY_LEN - 1;

    if (j > n) {
        j = n;
    }

    for ( /* void */ ; j > 0; j--) {
        if (w[n - j] != '<') {
            continue;
        }

        c = 0;

        if (ngx_http_cometchat_prefix(w + n - j, j, 0, &c) == j) {
            *np = j;
            *ncase = c;
            return;
        }
    }

    *np = 0;
    *ncase = 0;
}


/*
 * Does the response start like an HTML document?  Only then is the
 * snippet appended when it has no "</body>": a fragment fetched by
 * script (htmx, Turbo, jQuery .load()) must not get a second widget.
 */

static ngx_int_t
ngx_http_cometchat_doc_window(ngx_http_cometchat_match_t *m, off_t len,
    ngx_http_cometchat_window_pt window, void *data, size_t wsize)
{
    u_char  *w;
    off_t    pos, end, n, i;

    end = NGX_HTTP_COMETCHAT_DOC_LIMIT - m->seen;

    if (end > len) {
        end = len;
    }

    for (pos = 0; pos < end; pos += n) {
        n = end - pos;

        if (n > (off_t) wsize) {
            n = wsize;
        }

        w = window(data, pos, pos + n);
        if (w == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < n; i++) {
            ngx_http_cometchat_doc_byte(m, w[i]);

            if (m->doc != NGX_HTTP_COMETCHAT_DOC_UNKNOWN) {
                return NGX_OK;
            }
        }
    }

    if (m->seen + end >= NGX_HTTP_COMETCHAT_DOC_LIMIT) {
        m->doc = NGX_HTTP_COMETCHAT_DOC_NO;
    }

    return NGX_OK;
}


static void
ngx_http_cometchat_doc_byte(ngx_http_cometchat_match_t *m, u_char c)
{
    char        **name;
    ngx_uint_t    prefix, i;

    switch (m->doc_state) {

    case NGX_HTTP_COMETCHAT_DOC_START:
        if (c == 0xef) {
            m->doc_state = NGX_HTTP_COMETCHAT_DOC_BOM1;
            return;
        }

        break;

    case NGX_HTTP_COMETCHAT_DOC_BOM1:
        if (c == 0xbb) {
            m->doc_state = NGX_HTTP_COMETCHAT_DOC_BOM2;
            return;
        }

        m->doc = NGX_HTTP_COMETCHAT_DOC_NO;
        return;

    case NGX_HTTP_COMETCHAT_DOC_BOM2:
        if (c == 0xbf) {
            m->doc_state = NGX_HTTP_COMETCHAT_DOC_SPACE;
            return;
        }

        m->doc = NGX_HTTP_COMETCHAT_DOC_NO;
        return;

    case NGX_HTTP_COMETCHAT_DOC_SPACE:
        break;

    case NGX_HTTP_COMETCHAT_DOC_NAME:
        if (c >= 'A' && c <= 'Z') {
            c |= 0x20;
        }

        m->doc_name[m->doc_len++] = c;
        prefix = 0;

        for (name = ngx_http_cometchat_doc_names; *name; name++) {
            for (i = 0; i < m->doc_len && (*name)[i] == m->doc_name[i]; i++) {
                /* void */
            }

            if (i < m->doc_len) {
                continue;
            }

            if ((*name)[m->doc_len] != '\0') {
                prefix = 1;
                continue;
            }

            if ((*name)[0] == '!' && (*name)[1] == '-') {
                m->doc_state = NGX_HTTP_COMETCHAT_DOC_COMM;
                m->doc_len = 0;
                return;
            }

            m->doc = NGX_HTTP_COMETCHAT_DOC_YES;
            return;
        }

        if (!prefix) {
            m->doc = NGX_HTTP_COMETCHAT_DOC_NO;
        }

        return;

    case NGX_HTTP_COMETCHAT_DOC_COMM:
        /* doc_len counts the dashes before a ">" */

        if (c == '-') {
            m->doc_len++;

        } else if (c == '>' && m->doc_len >= 2) {
            m->doc_state = NGX_HTTP_COMETCHAT_DOC_SPACE;

        } else {
            m->doc_len = 0;
        }

        return;
    }

    /* DOC_START or DOC_SPACE */

    switch (c) {

    case ' ':
    case '\t':
    case CR:
    case LF:
    case '\f':
        m->doc_state = NGX_HTTP_COMETCHAT_DOC_SPACE;
        return;

    case '<':
        m->doc_state = NGX_HTTP_COMETCHAT_DOC_NAME;
        m->doc_len = 0;
        return;

    default:
        m->doc = NGX_HTTP_COMETCHAT_DOC_NO;
        return;
    }
}
