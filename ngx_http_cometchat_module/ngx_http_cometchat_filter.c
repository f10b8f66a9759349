
/*
 * ngx_http_cometchat_module: header and body filters that put the widget
 * snippet into HTML pages.
 *
 * The header filter decides once per response.  Responses it leaves
 * alone go through both filters untouched, with no copy.  For the others
 * it renders the snippet once, has ngx_http_cometchat_headers.c make the
 * response headers fit the page it becomes (or answer a 304), and sets up
 * the body filter's state (ctx->inject).
 *
 * The body filter streams: ngx_http_cometchat_match.c decides, buffer by
 * buffer, what may be passed on and what must be held back (at most a
 * "</body>" and the NGX_HTTP_COMETCHAT_TAIL_MAX bytes after it, plus the
 * six bytes that may begin one).  Data passed on is the input buffer
 * itself, or a shadow of its first part, or a part of its file; held
 * bytes are copied into a bounded set of chunks, so producers get their
 * buffers back (a non-buffered upstream could not go on otherwise).  When
 * every chunk is in flight the filter stops taking input and asks for a
 * flush, as gzip does, so memory per request stays bounded whatever the
 * page size.  Held bytes that may begin a "</body>" are kept as a count
 * and a case mask, not copied.
 *
 * A static page is the same bytes on every request, so each worker
 * remembers, for the last NGX_HTTP_COMETCHAT_SCANS pages it matched,
 * what the matcher found: where the snippet goes, and the bytes from
 * there to the end when they are few.  A page is known by its file name,
 * size and modification time, which is what nginx's open_file_cache
 * trusts too: a file rewritten in place within the same second and to
 * the same size is taken for the one it was, until it changes again.
 * Only a response that is one whole file, from its first byte, as the
 * static module sends it, is remembered; a proxied page spooled to a
 * temporary file and a cached one (whose file starts with a header) are
 * not.  A small page found there is read with one pread() and goes out
 * from memory, the snippet in between; a bigger one is not read at all:
 * its first part goes on as a part of the file (sendfile), then the
 * snippet and the rest.
 *
 * The file reads best whole: held chunks, shadows, file parts and the
 * busy and free lists are one protocol of who owns which buffer, from
 * the step through the copy, the pass and the end to the update.
 */


#include "ngx_http_cometchat_headers.h"
#include "ngx_http_cometchat_match.h"
#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_template.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_widget.h"
#include "ngx_http_cometchat_filter.h"


/* in c->buffered: input waits for chunks (0x10, 0x20 are write, gzip) */
#define NGX_HTTP_COMETCHAT_BUFFERED     0x80

/*
 * 1 KB: small allocations from the request pool (no malloc()), and the
 * usual held tail, "</body>\n</html>\n", fits the first chunk and the
 * usual last "</body>" the first window
 */
#define NGX_HTTP_COMETCHAT_CHUNK        1024
#define NGX_HTTP_COMETCHAT_CHUNKS                                            \
    ((NGX_HTTP_COMETCHAT_TAIL_MAX + 7 + NGX_HTTP_COMETCHAT_CHUNK - 1)       \
     / NGX_HTTP_COMETCHAT_CHUNK + 2)
/*
 * file buffers are read in windows of at most this size, allocated once
 * per request; a page that fits is read with one pread()
 */
#define NGX_HTTP_COMETCHAT_WINDOW       32768

/*
 * a known page up to this size goes out from memory, read with one
 * pread(): with the headers and the snippet that is one writev(), where
 * the page's file would need a writev() on each side of its sendfile()
 */
#define NGX_HTTP_COMETCHAT_SMALL_PAGE   16384

/* the pages a worker remembers, see above, and what of them */
#define NGX_HTTP_COMETCHAT_SCANS        64
#define NGX_HTTP_COMETCHAT_SCAN_NAME    256
#define NGX_HTTP_COMETCHAT_SCAN_TAIL    1024

#define NGX_HTTP_COMETCHAT_SCAN_NONE    0   /* no "</body>", no document */
#define NGX_HTTP_COMETCHAT_SCAN_APPEND  1   /* no "</body>", a document */
#define NGX_HTTP_COMETCHAT_SCAN_BEFORE  2   /* before the "</body>" at */


typedef struct {
    ngx_uint_t                   used;      /* when, for the LRU; 0: free */
    off_t                        size;
    time_t                       mtime;
    off_t                        at;        /* where the "</body>" is */
    ngx_uint_t                   verdict;   /* NGX_HTTP_COMETCHAT_SCAN_* */
    size_t                       name_len;
    size_t                       tail_len;  /* of tail, if it is kept */
    u_char                       name[NGX_HTTP_COMETCHAT_SCAN_NAME];
    u_char                       tail[NGX_HTTP_COMETCHAT_SCAN_TAIL];
} ngx_http_cometchat_scan_t;


struct ngx_http_cometchat_inject_s {
    ngx_str_t                    snippet;
    ngx_http_cometchat_match_t   match;

    ngx_chain_t                 *in;        /* input not done yet */
    ngx_chain_t                 *held;      /* chunks: "</body>" and tail */
    ngx_chain_t                 *out;
    ngx_chain_t                **last_out;
    ngx_chain_t                 *out_tail;  /* the last link of out */
    ngx_chain_t                 *busy;
    ngx_chain_t                 *free;      /* chunks */
    ngx_chain_t                 *free_bufs; /* shadows, file parts, ... */
    ngx_uint_t                   chunks;
    ngx_uint_t                   nbufs;     /* buffers made, for the log */

    /* the input buffer ij->in->buf once matched */
    off_t                        size;
    off_t                        pass;
    u_char                      *pos;       /* its data, or */
    off_t                        file_pos;  /* its file part */
    off_t                        copy;      /* next byte to hold */
    u_char                      *partial;   /* "</body" bytes to hold */
    size_t                       partial_len;

    ngx_file_t                  *doc_file;  /* where the response starts, */
    off_t                        doc_pos;   /* for a document check put off */

    ngx_buf_t                   *buf;       /* for the window */
    u_char                      *window;
    size_t                       window_size;
    off_t                        window_start;  /* what it holds of */
    off_t                        window_end;    /* the file buffer */

    time_t                       mtime;     /* of the page, and its */
    off_t                        length;    /* size, as the app sent them */
    ngx_str_t                   *scan_name; /* of a page to remember */

    unsigned                     signout:1;
    unsigned                     stepped:1;
    unsigned                     as_is:1;
    unsigned                     done:1;
    unsigned                     overdraft:1;
};


static ngx_int_t ngx_http_cometchat_filter_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_cometchat_filter_body(ngx_http_request_t *r,
    ngx_chain_t *in);

static ngx_int_t ngx_http_cometchat_filter_process(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij);
static ngx_int_t ngx_http_cometchat_filter_step(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_buf_t *b);
static ngx_int_t ngx_http_cometchat_filter_known(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_chain_t *in);
static ngx_int_t ngx_http_cometchat_filter_known_read(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_buf_t *b,
    ngx_http_cometchat_scan_t *sc);
static ngx_int_t ngx_http_cometchat_filter_out_file(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_buf_t *b, off_t start, off_t end);
static void ngx_http_cometchat_filter_remember(
    ngx_http_cometchat_inject_t *ij, ngx_uint_t before);
static ngx_int_t ngx_http_cometchat_filter_window_alloc(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, off_t size);
static ngx_int_t ngx_http_cometchat_filter_copy(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_buf_t *b);
static ngx_int_t ngx_http_cometchat_filter_pass(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_chain_t *in);
static ngx_int_t ngx_http_cometchat_filter_end(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij);
static ngx_int_t ngx_http_cometchat_filter_flush(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_uint_t last);
static u_char *ngx_http_cometchat_filter_window(void *data, off_t start,
    off_t end);
static void ngx_http_cometchat_filter_trim(ngx_http_cometchat_inject_t *ij,
    size_t n);
static void ngx_http_cometchat_filter_release(
    ngx_http_cometchat_inject_t *ij);
static ngx_int_t ngx_http_cometchat_filter_out_static(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, u_char *data, size_t len);
static ngx_buf_t *ngx_http_cometchat_filter_out_buf(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij);
static void ngx_http_cometchat_filter_update(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* buffers this filter owns: chunks, and headers it may reuse */
static u_char  ngx_http_cometchat_chunk_tag;
static u_char  ngx_http_cometchat_buf_tag;

/* the pages this worker remembers */
static ngx_http_cometchat_scan_t  ngx_http_cometchat_scans[
                                      NGX_HTTP_COMETCHAT_SCANS];
static ngx_uint_t                 ngx_http_cometchat_scan_clock;


ngx_int_t
ngx_http_cometchat_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_cometchat_filter_header;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_cometchat_filter_body;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_filter_header(ngx_http_request_t *r)
{
    uint32_t                        id;
    ngx_int_t                       rc;
    ngx_str_t                       nonce;
    ngx_uint_t                      signout, marked;
    ngx_http_cometchat_ctx_t       *ctx;
    ngx_http_cometchat_inject_t    *ij;
    ngx_http_cometchat_loc_conf_t  *lcf;

    if (r != r->main
        || r->headers_out.status != NGX_HTTP_OK
        || r->header_only
        || (r->method & NGX_HTTP_HEAD)
        || r->headers_out.content_length_n == 0
        || (r->headers_out.content_encoding
            && r->headers_out.content_encoding->value.len))
    {
        return ngx_http_next_header_filter(r);
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cometchat_module);

    if (!lcf->enable || !lcf->inject || lcf->snippet == NULL) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_cometchat_get_ctx(r);

    if (ctx == NULL || !ctx->done) {
        return ngx_http_next_header_filter(r);
    }

    /*
     * A signed-in user gets the widget; an anonymous one gets the sign-out
     * snippet, but only where the browser was given a widget before (the
     * marker cookie): other visitors' pages stay as the app sent them.
     * A session check that failed decides nothing.
     */

    marked = ngx_http_cometchat_headers_chat_cookie(r);

    if ((ctx->token_status == NGX_HTTP_COMETCHAT_TOKEN_HIT
         || ctx->token_status == NGX_HTTP_COMETCHAT_TOKEN_MINTED)
        && ctx->token.len)
    {
        signout = 0;

    } else if (ctx->token_status == NGX_HTTP_COMETCHAT_TOKEN_ANONYMOUS
               && marked)
    {
        signout = 1;

    } else {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_test_content_type(r, &lcf->types) == NULL
        || ngx_http_cometchat_headers_encoded(r))
    {
        return ngx_http_next_header_filter(r);
    }

    ij = ngx_pcalloc(r->pool, sizeof(ngx_http_cometchat_inject_t));
    if (ij == NULL) {
        return NGX_ERROR;
    }

    ij->signout = signout;

    ngx_http_cometchat_headers_nonce(r, &nonce);

    if (signout) {
        rc = ngx_http_cometchat_widget_signout_render(r, lcf, &nonce,
                                                      &ij->snippet, &id);

    } else {
        rc = ngx_http_cometchat_snippet_render(r, lcf, ctx, &nonce,
                                               &ij->snippet, &id);
    }

    switch (rc) {
    case NGX_OK:
        break;

    case NGX_DECLINED:
        return ngx_http_next_header_filter(r);

    default:
        return NGX_ERROR;
    }

    ngx_http_cometchat_match_init(&ij->match, NGX_HTTP_COMETCHAT_TAIL_MAX);
    ij->last_out = &ij->out;

    /* before the headers say what the page becomes */
    ij->mtime = r->headers_out.last_modified_time;
    ij->length = r->headers_out.content_length_n;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cometchat inject: %s %uz bytes, nonce \"%V\", "
                   "uid \"%V\"", signout ? "sign-out snippet" : "snippet",
                   ij->snippet.len, &nonce, &ctx->uid);

    if (ngx_http_cometchat_headers_inject(r, id) != NGX_OK) {
        return NGX_ERROR;
    }

    if ((signout || !marked)
        && ngx_http_cometchat_headers_set_chat_cookie(r, !signout) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_cometchat_headers_not_modified(r)) {
        /* a 304: no body to inject into */
        return ngx_http_next_header_filter(r);
    }

    ctx->inject = ij;

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_cometchat_filter_body(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                     rc, orc;
    ngx_connection_t             *c;
    ngx_http_cometchat_ctx_t     *ctx;
    ngx_http_cometchat_inject_t  *ij;

    if (r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_cometchat_module);

    if (ctx == NULL || ctx->inject == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ij = ctx->inject;
    c = r->connection;

    if (ij->done && ij->in == NULL) {
        rc = ngx_http_next_body_filter(r, in);

        if (ij->busy) {
            ngx_http_cometchat_filter_update(r, ij);
        }

        return rc;
    }

    if (in && ngx_chain_add_copy(r->pool, &ij->in, in) != NGX_OK) {
        return NGX_ERROR;
    }

    for ( ;; ) {
        rc = ngx_http_cometchat_filter_process(r, ij);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_AGAIN) {
            /* chunks in flight come back only once sent */

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "cometchat inject: out of chunks, flush");

            if (ngx_http_cometchat_filter_flush(r, ij, 0) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        orc = ngx_http_next_body_filter(r, ij->out);

        ngx_http_cometchat_filter_update(r, ij);

        if (orc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_AGAIN && ij->free) {
            continue;
        }

        if (rc == NGX_AGAIN && orc == NGX_OK) {
            /*
             * everything went, yet no chunk came back: a filter after
             * this one keeps them, and no write event may come to call
             * this filter again; one chunk more rather than a stall
             */

            ij->overdraft = 1;
            continue;
        }

        break;
    }

    if (ij->in) {
        c->buffered |= NGX_HTTP_COMETCHAT_BUFFERED;

    } else {
        c->buffered &= ~NGX_HTTP_COMETCHAT_BUFFERED;
    }

    return (rc == NGX_AGAIN) ? NGX_AGAIN : orc;
}


/* NGX_OK: all input done; NGX_AGAIN: a chunk is needed */

static ngx_int_t
ngx_http_cometchat_filter_process(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    while (ij->in) {
        cl = ij->in;
        b = cl->buf;

        if (!ij->stepped && ij->match.seen == 0 && !ij->done) {
            rc = ngx_http_cometchat_filter_known(r, ij, cl);

            if (rc == NGX_OK) {
                ij->in = cl->next;
                ngx_free_chain(r->pool, cl);
                continue;
            }

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }
        }

        if (!ij->stepped) {
            rc = ngx_http_cometchat_filter_step(r, ij, b);
            if (rc != NGX_OK) {
                return rc;
            }

            ij->stepped = 1;
        }

        if (ij->partial_len || ij->copy < ij->size) {
            rc = ngx_http_cometchat_filter_copy(r, ij, b);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        ij->in = cl->next;
        ij->stepped = 0;

        rc = ngx_http_cometchat_filter_pass(r, ij, cl);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/* matches the buffer; releases what it says; sets up what to hold */

static ngx_int_t
ngx_http_cometchat_filter_step(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_buf_t *b)
{
    off_t                        kept;
    u_char                      *p;
    size_t                       wsize;
    ngx_http_cometchat_step_t    st;
    ngx_http_cometchat_match_t   before;

    ij->size = 0;
    ij->pass = 0;
    ij->copy = 0;
    ij->partial_len = 0;
    ij->as_is = 0;

    if (ij->done) {
        ij->as_is = 1;
        return NGX_OK;
    }

    if (ngx_buf_in_memory(b)) {
        ij->size = b->last - b->pos;
        ij->pos = b->pos;
        wsize = (size_t) ij->size;

    } else if (b->in_file) {
        ij->size = b->file_last - b->file_pos;
        ij->file_pos = b->file_pos;

        if (ngx_http_cometchat_filter_window_alloc(r, ij, ij->size)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        wsize = ij->window_size;
        ij->window_end = 0;

        /*
         * a big static page: its start is read only if it has no
         * "</body>" to go before (see ngx_http_cometchat_filter_end())
         */

        if (ij->match.seen == 0
            && ij->match.doc == NGX_HTTP_COMETCHAT_DOC_UNKNOWN
            && ij->size >= NGX_HTTP_COMETCHAT_DOC_LIMIT)
        {
            ij->match.doc = NGX_HTTP_COMETCHAT_DOC_LATER;
            ij->doc_file = b->file;
            ij->doc_pos = b->file_pos;
        }

    } else {
        return NGX_OK;
    }

    if (ij->size == 0) {
        return NGX_OK;
    }

    before = ij->match;
    ij->buf = b;

    if (ngx_http_cometchat_match_step(&ij->match, ij->size,
                                      ngx_http_cometchat_filter_window, ij,
                                      wsize, &st)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cometchat inject: buf %O, release %O, pass %O, "
                   "held %O, tail %O, partial %ui",
                   ij->size, st.release, st.pass, ij->match.held,
                   ij->match.tail, ij->match.partial);

    kept = before.held - st.release;

    if (before.tail >= 0 && st.release == 0) {
        /* the candidate stands: the buffer joins the held chunks */
        ij->copy = 0;
        return NGX_OK;
    }

    /*
     * Whatever is kept of the held bytes is their partial "</body":
     * it is a count, or the end of the chunks, which is trimmed
     */

    if (before.tail >= 0) {
        ngx_http_cometchat_filter_trim(ij, (size_t) kept);
        ngx_http_cometchat_filter_release(ij);

    } else if (st.release) {
        p = ngx_http_cometchat_match_partial(&before);

        if (ngx_http_cometchat_filter_out_static(r, ij, p, before.partial)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ij->pass = st.pass;

    if (ij->match.tail >= 0) {
        /* a new candidate: its first bytes may be the kept ones */
        ij->partial = ngx_http_cometchat_match_partial(&before);
        ij->partial_len = (size_t) kept;
        ij->copy = st.pass;

    } else {
        /* only a partial "</body" is held, as a count */
        ij->copy = ij->size;
        ij->as_is = (st.pass == ij->size);
    }

    return NGX_OK;
}


/*
 * A static page this worker matched before (see the top of the file):
 * NGX_OK when it went out as remembered, NGX_DECLINED when it is to be
 * matched, and remembered at the end if it can be.
 */

static ngx_int_t
ngx_http_cometchat_filter_known(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_chain_t *in)
{
    u_char                     *p;
    ngx_str_t                  *name;
    ngx_buf_t                  *b;
    ngx_uint_t                  i, small;
    ngx_http_cometchat_scan_t  *sc;

    b = in->buf;

    if (!b->in_file
        || b->temp_file
        || ngx_buf_in_memory(b)
        || !b->last_buf
        || b->file == NULL
        || b->file_pos != 0
        || b->file_last != ij->length
        || ij->mtime == -1)
    {
        return NGX_DECLINED;
    }

    name = &b->file->name;

    if (name->len == 0 || name->len > NGX_HTTP_COMETCHAT_SCAN_NAME) {
        return NGX_DECLINED;
    }

    /* size and time tell most pages apart: no hash of the name */

    for (i = 0; i < NGX_HTTP_COMETCHAT_SCANS; i++) {
        sc = &ngx_http_cometchat_scans[i];

        if (sc->used
            && sc->size == ij->length
            && sc->mtime == ij->mtime
            && sc->name_len == name->len
            && ngx_memcmp(sc->name, name->data, name->len) == 0)
        {
            goto known;
        }
    }

    ij->scan_name = name;

    return NGX_DECLINED;

known:

    sc->used = ++ngx_http_cometchat_scan_clock;

    small = (sc->verdict != NGX_HTTP_COMETCHAT_SCAN_NONE
             && sc->size <= NGX_HTTP_COMETCHAT_SMALL_PAGE
             && !b->file->directio);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cometchat inject: known page \"%V\", verdict %ui at %O%s",
                   name, sc->verdict, sc->at, small ? ", from memory" : "");

    if (small) {
        if (ngx_http_cometchat_filter_known_read(r, ij, b, sc) != NGX_OK) {
            return NGX_ERROR;
        }

        goto done;
    }

    switch (sc->verdict) {

    case NGX_HTTP_COMETCHAT_SCAN_BEFORE:
        if (ngx_http_cometchat_filter_out_file(r, ij, b, 0, sc->at)
            != NGX_OK
            || ngx_http_cometchat_filter_out_static(r, ij, ij->snippet.data,
                                                    ij->snippet.len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (sc->tail_len) {
            /* a copy: the entry may be reused before this is sent */

            p = ngx_pnalloc(r->pool, sc->tail_len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(p, sc->tail, sc->tail_len);

            if (ngx_http_cometchat_filter_out_static(r, ij, p, sc->tail_len)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

        } else if (ngx_http_cometchat_filter_out_file(r, ij, b, sc->at,
                                                      sc->size)
                   != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;

    case NGX_HTTP_COMETCHAT_SCAN_APPEND:
        if (ngx_http_cometchat_filter_out_file(r, ij, b, 0, sc->size)
            != NGX_OK
            || ngx_http_cometchat_filter_out_static(r, ij, ij->snippet.data,
                                                    ij->snippet.len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;

    default: /* NGX_HTTP_COMETCHAT_SCAN_NONE */
        if (ngx_http_cometchat_filter_out_file(r, ij, b, 0, sc->size)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

done:

    if (sc->verdict != NGX_HTTP_COMETCHAT_SCAN_NONE && !ij->signout) {
        ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_INJECTED);
    }

    b->file_pos = b->file_last;
    ij->done = 1;

    return ngx_http_cometchat_filter_flush(r, ij, 1);
}


/* a small known page, read whole: its start, the snippet, its end */

static ngx_int_t
ngx_http_cometchat_filter_known_read(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_buf_t *b,
    ngx_http_cometchat_scan_t *sc)
{
    off_t     at;
    u_char   *p;
    ssize_t   n;

    p = ngx_pnalloc(r->pool, (size_t) sc->size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    n = ngx_read_file(b->file, p, (size_t) sc->size, 0);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (n != sc->size) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "read only %z of %O bytes from \"%V\"",
                      n, sc->size, &b->file->name);
        return NGX_ERROR;
    }

    at = (sc->verdict == NGX_HTTP_COMETCHAT_SCAN_BEFORE) ? sc->at : sc->size;

    if (ngx_http_cometchat_filter_out_static(r, ij, p, (size_t) at)
        != NGX_OK
        || ngx_http_cometchat_filter_out_static(r, ij, ij->snippet.data,
                                                ij->snippet.len)
           != NGX_OK
        || ngx_http_cometchat_filter_out_static(r, ij, p + at,
                                                (size_t) (sc->size - at))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The matcher's verdict on a page that was one whole file: into the
 * entry of that page, if another request filled one meanwhile, else
 * into the least recently used one.
 */

static void
ngx_http_cometchat_filter_remember(ngx_http_cometchat_inject_t *ij,
    ngx_uint_t before)
{
    u_char                     *p;
    size_t                      n;
    ngx_buf_t                  *b;
    ngx_str_t                  *name;
    ngx_uint_t                  i;
    ngx_chain_t                *cl;
    ngx_http_cometchat_match_t *m;
    ngx_http_cometchat_scan_t  *sc, *old;

    m = &ij->match;
    name = ij->scan_name;
    old = &ngx_http_cometchat_scans[0];

    for (i = 0; i < NGX_HTTP_COMETCHAT_SCANS; i++) {
        sc = &ngx_http_cometchat_scans[i];

        if (sc->used
            && sc->name_len == name->len
            && ngx_memcmp(sc->name, name->data, name->len) == 0)
        {
            old = sc;
            break;
        }

        if (sc->used < old->used) {
            old = sc;
        }
    }

    sc = old;

    sc->used = ++ngx_http_cometchat_scan_clock;
    sc->size = ij->length;
    sc->mtime = ij->mtime;
    sc->name_len = name->len;
    ngx_memcpy(sc->name, name->data, name->len);
    sc->tail_len = 0;

    if (!before) {
        sc->at = -1;
        sc->verdict = (m->doc == NGX_HTTP_COMETCHAT_DOC_YES)
                      ? NGX_HTTP_COMETCHAT_SCAN_APPEND
                      : NGX_HTTP_COMETCHAT_SCAN_NONE;
        return;
    }

    sc->at = m->seen - m->held;
    sc->verdict = NGX_HTTP_COMETCHAT_SCAN_BEFORE;

    if (m->held > NGX_HTTP_COMETCHAT_SCAN_TAIL) {
        /* the rest is sent from the file */
        return;
    }

    /* the held chunks are "</body>" and the rest of the page */

    p = sc->tail;

    for (cl = ij->held; cl; cl = cl->next) {
        b = cl->buf;
        n = b->last - b->pos;

        if ((off_t) (p - sc->tail) + (off_t) n > m->held) {
            return;
        }

        p = ngx_cpymem(p, b->pos, n);
    }

    if (p - sc->tail == m->held) {
        sc->tail_len = (size_t) m->held;
    }
}


/* the bytes [start, end) of the file of b, as a buffer of ours */

static ngx_int_t
ngx_http_cometchat_filter_out_file(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_buf_t *b, off_t start, off_t end)
{
    ngx_buf_t  *nb;

    if (start == end) {
        return NGX_OK;
    }

    nb = ngx_http_cometchat_filter_out_buf(r, ij);
    if (nb == NULL) {
        return NGX_ERROR;
    }

    nb->in_file = 1;
    nb->file = b->file;
    nb->file_pos = start;
    nb->file_last = end;

    return NGX_OK;
}


/* a window for file buffers of the size given, at most ..._WINDOW */

static ngx_int_t
ngx_http_cometchat_filter_window_alloc(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, off_t size)
{
    size_t  n;

    if (size < NGX_HTTP_COMETCHAT_DOC_LIMIT) {
        size = NGX_HTTP_COMETCHAT_DOC_LIMIT;
    }

    if (size > NGX_HTTP_COMETCHAT_WINDOW) {
        size = NGX_HTTP_COMETCHAT_WINDOW;
    }

    n = (size_t) size;

    if (ij->window_size >= n) {
        return NGX_OK;
    }

    if (ij->window) {
        ngx_pfree(r->pool, ij->window);
    }

    ij->window = ngx_pnalloc(r->pool, n);
    if (ij->window == NULL) {
        return NGX_ERROR;
    }

    ij->window_size = n;

    return NGX_OK;
}


/* copies the held bytes of the buffer into chunks */

static ngx_int_t
ngx_http_cometchat_filter_copy(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_buf_t *b)
{
    size_t        n;
    ssize_t       rc;
    ngx_buf_t    *cb;
    ngx_chain_t  *cl, **ll;

    while (ij->partial_len || ij->copy < ij->size) {

        for (ll = &ij->held; *ll && (*ll)->next; ll = &(*ll)->next) {
            /* void */
        }

        cl = *ll;

        if (cl == NULL || cl->buf->last == cl->buf->end) {

            if (ij->free) {
                cl = ij->free;
                ij->free = cl->next;

            } else if (ij->chunks < NGX_HTTP_COMETCHAT_CHUNKS
                       || ij->overdraft)
            {
                ij->overdraft = 0;

                cl = ngx_alloc_chain_link(r->pool);
                if (cl == NULL) {
                    return NGX_ERROR;
                }

                cl->buf = ngx_create_temp_buf(r->pool,
                                              NGX_HTTP_COMETCHAT_CHUNK);
                if (cl->buf == NULL) {
                    return NGX_ERROR;
                }

                cl->buf->tag = (ngx_buf_tag_t) &ngx_http_cometchat_chunk_tag;
                ij->chunks++;

            } else {
                return NGX_AGAIN;
            }

            cl->next = NULL;

            if (*ll) {
                (*ll)->next = cl;

            } else {
                ij->held = cl;
            }
        }

        cb = cl->buf;
        n = cb->end - cb->last;

        if (ij->partial_len) {
            n = ngx_min(n, ij->partial_len);
            cb->last = ngx_cpymem(cb->last, ij->partial, n);
            ij->partial += n;
            ij->partial_len -= n;
            continue;
        }

        n = (size_t) ngx_min((off_t) n, ij->size - ij->copy);

        if (ngx_buf_in_memory(b)) {
            cb->last = ngx_cpymem(cb->last, ij->pos + ij->copy, n);

        } else if (ij->copy >= ij->window_start
                   && ij->copy + (off_t) n <= ij->window_end)
        {
            /* the matcher has just read it */
            cb->last = ngx_cpymem(cb->last,
                                  ij->window + (ij->copy - ij->window_start),
                                  n);

        } else {
            rc = ngx_read_file(b->file, cb->last, n, ij->file_pos + ij->copy);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if ((size_t) rc != n) {
                ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                              NGX_HTTP_COMETCHAT_LOG_PREFIX
                              "read only %z of %uz bytes from \"%s\"",
                              rc, n, b->file->name.data);
                return NGX_ERROR;
            }

            cb->last += n;
        }

        ij->copy += n;
    }

    return NGX_OK;
}


/* passes on the buffer's first bytes, then its flags */

static ngx_int_t
ngx_http_cometchat_filter_pass(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_chain_t *in)
{
    ngx_buf_t  *b, *nb;

    b = in->buf;

    if (ij->as_is && (!b->last_buf || ij->done)) {
        /* the link from ngx_chain_add_copy() goes on as it is */
        in->next = NULL;
        *ij->last_out = in;
        ij->last_out = &in->next;
        ij->out_tail = in;
        return NGX_OK;
    }

    nb = NULL;

    if (ij->pass) {
        nb = ngx_http_cometchat_filter_out_buf(r, ij);
        if (nb == NULL) {
            return NGX_ERROR;
        }

        if (ngx_buf_in_memory(b)) {
            /* a shadow: b is given back once it is sent */
            ngx_memcpy(nb, b, sizeof(ngx_buf_t));

            nb->last = nb->pos + ij->pass;

            if (nb->in_file) {
                nb->file_last = nb->file_pos + ij->pass;
            }

            nb->shadow = b;
            nb->last_buf = 0;
            nb->last_in_chain = 0;
            nb->flush = 0;
            nb->sync = 0;
            nb->last_shadow = 0;
            nb->tag = (ngx_buf_tag_t) &ngx_http_cometchat_buf_tag;

        } else {
            /* a part of the file: the file outlives the buffer */
            nb->in_file = 1;
            nb->file = b->file;
            nb->file_pos = ij->file_pos;
            nb->file_last = ij->file_pos + ij->pass;
        }
    }

    if (nb == NULL || !ngx_buf_in_memory(b)) {
        /* all the rest is copied or counted */

        if (ngx_buf_in_memory(b)) {
            b->pos = b->last;
        }

        b->file_pos = b->file_last;
    }

    ngx_free_chain(r->pool, in);

    if (b->last_buf) {
        return ngx_http_cometchat_filter_end(r, ij);
    }

    if (b->flush) {
        return ngx_http_cometchat_filter_flush(r, ij, 0);
    }

    return NGX_OK;
}


/* the end of the response: the snippet goes in */

static ngx_int_t
ngx_http_cometchat_filter_end(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij)
{
    u_char                      *p;
    ssize_t                      n;
    ngx_uint_t                   before;
    ngx_http_cometchat_match_t  *m;

    m = &ij->match;

    before = (m->tail >= 0);

    if (!before && m->doc == NGX_HTTP_COMETCHAT_DOC_LATER) {
        if (ngx_http_cometchat_filter_window_alloc(r, ij,
                                                   NGX_HTTP_COMETCHAT_DOC_LIMIT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        n = ngx_read_file(ij->doc_file, ij->window,
                          NGX_HTTP_COMETCHAT_DOC_LIMIT, ij->doc_pos);
        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        ngx_http_cometchat_match_doc(m, ij->window, (size_t) n);
    }

    ngx_http_cometchat_match_end(m);

    if (ij->scan_name && m->seen == ij->length) {
        ngx_http_cometchat_filter_remember(ij, before);
    }

    if (!before && m->partial) {
        p = ngx_http_cometchat_match_partial(m);

        if (ngx_http_cometchat_filter_out_static(r, ij, p, m->partial)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (before || m->doc == NGX_HTTP_COMETCHAT_DOC_YES) {
        if (ngx_http_cometchat_filter_out_static(r, ij, ij->snippet.data,
                                                 ij->snippet.len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (!ij->signout) {
            ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_INJECTED);
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cometchat inject: %s, %O bytes held",
                   before ? "before \"</body>\""
                          : (m->doc == NGX_HTTP_COMETCHAT_DOC_YES
                             ? "appended" : "not a document, none"),
                   m->held);

    ngx_http_cometchat_filter_release(ij);

    ij->done = 1;

    /* what the response cost: t/101 checks it stays bounded */

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cometchat inject: memory: %ui chunks, %ui buffers",
                   ij->chunks, ij->nbufs);

    return ngx_http_cometchat_filter_flush(r, ij, 1);
}


/*
 * A flush, or the last buffer: the flag goes on the last buffer this
 * filter made, or on a new empty one, which is not reused as it has no
 * size that would tell when it is done with.
 */

static ngx_int_t
ngx_http_cometchat_filter_flush(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, ngx_uint_t last)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = NULL;

    if (ij->out) {
        b = ij->out_tail->buf;

        if (b->tag != (ngx_buf_tag_t) &ngx_http_cometchat_buf_tag
            && b->tag != (ngx_buf_tag_t) &ngx_http_cometchat_chunk_tag)
        {
            b = NULL;
        }
    }

    if (b == NULL) {
        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        ij->nbufs++;

        cl->buf = b;
        cl->next = NULL;
        *ij->last_out = cl;
        ij->last_out = &cl->next;
        ij->out_tail = cl;
    }

    if (last) {
        b->last_buf = 1;
        b->last_in_chain = 1;

    } else {
        b->flush = 1;
    }

    return NGX_OK;
}


/* the matcher's view of the buffer: file buffers are read piecewise */

static u_char *
ngx_http_cometchat_filter_window(void *data, off_t start, off_t end)
{
    ngx_http_cometchat_inject_t *ij = data;

    ssize_t     n;
    ngx_buf_t  *b;

    b = ij->buf;

    if (ngx_buf_in_memory(b)) {
        return ij->pos + start;
    }

    n = ngx_read_file(b->file, ij->window, (size_t) (end - start),
                      ij->file_pos + start);

    if (n == NGX_ERROR) {
        return NULL;
    }

    if (n != end - start) {
        ngx_log_error(NGX_LOG_CRIT, b->file->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "read only %z of %O bytes from \"%s\"",
                      n, end - start, b->file->name.data);
        return NULL;
    }

    ij->window_start = start;
    ij->window_end = end;

    return ij->window;
}


/* drops the last n bytes of the held chunks */

static void
ngx_http_cometchat_filter_trim(ngx_http_cometchat_inject_t *ij, size_t n)
{
    size_t        k;
    ngx_buf_t    *b;
    ngx_chain_t  *cl, **ll;

    while (n) {
        for (ll = &ij->held; (*ll)->next; ll = &(*ll)->next) {
            /* void */
        }

        cl = *ll;
        b = cl->buf;
        k = ngx_min(n, (size_t) (b->last - b->pos));

        b->last -= k;
        n -= k;

        if (b->last == b->pos) {
            b->pos = b->start;
            b->last = b->start;
            *ll = NULL;
            cl->next = ij->free;
            ij->free = cl;
        }
    }
}


static void
ngx_http_cometchat_filter_release(ngx_http_cometchat_inject_t *ij)
{
    ngx_chain_t  *cl;

    if (ij->held == NULL) {
        return;
    }

    *ij->last_out = ij->held;

    for (cl = ij->held; cl->next; cl = cl->next) {
        /* void */
    }

    ij->last_out = &cl->next;
    ij->out_tail = cl;
    ij->held = NULL;
}


static ngx_int_t
ngx_http_cometchat_filter_out_static(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij, u_char *data, size_t len)
{
    ngx_buf_t  *b;

    if (len == 0) {
        return NGX_OK;
    }

    b = ngx_http_cometchat_filter_out_buf(r, ij);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->memory = 1;
    b->pos = data;
    b->last = data + len;

    return NGX_OK;
}


/* a zeroed buffer of ours, appended to the output */

static ngx_buf_t *
ngx_http_cometchat_filter_out_buf(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (ij->free_bufs == NULL) {
        ij->nbufs++;
    }

    cl = ngx_chain_get_free_buf(r->pool, &ij->free_bufs);
    if (cl == NULL) {
        return NULL;
    }

    b = cl->buf;
    ngx_memzero(b, sizeof(ngx_buf_t));
    b->tag = (ngx_buf_tag_t) &ngx_http_cometchat_buf_tag;

    cl->next = NULL;
    *ij->last_out = cl;
    ij->last_out = &cl->next;
    ij->out_tail = cl;

    return b;
}


/*
 * Moves the output to busy, and takes back what was sent: chunks and
 * buffers to their free lists, shadows give their buffer back.
 */

static void
ngx_http_cometchat_filter_update(ngx_http_request_t *r,
    ngx_http_cometchat_inject_t *ij)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl, **ll;

    if (ij->out) {
        for (ll = &ij->busy; *ll; ll = &(*ll)->next) {
            /* void */
        }

        *ll = ij->out;
        ij->out = NULL;
        ij->last_out = &ij->out;
        ij->out_tail = NULL;
    }

    while (ij->busy) {
        cl = ij->busy;
        b = cl->buf;

        if (ngx_buf_size(b) != 0) {
            break;
        }

        ij->busy = cl->next;

        if (b->tag == (ngx_buf_tag_t) &ngx_http_cometchat_chunk_tag) {
            b->pos = b->start;
            b->last = b->start;
            b->flush = 0;
            b->last_buf = 0;
            b->last_in_chain = 0;
            cl->next = ij->free;
            ij->free = cl;
            continue;
        }

        if (b->tag == (ngx_buf_tag_t) &ngx_http_cometchat_buf_tag
            && (ngx_buf_in_memory(b) || b->in_file))
        {
            if (b->shadow) {
                b->shadow->pos = b->shadow->last;

                if (b->shadow->in_file) {
                    b->shadow->file_pos = b->shadow->file_last;
                }
            }

            cl->next = ij->free_bufs;
            ij->free_bufs = cl;
            continue;
        }

        ngx_free_chain(r->pool, cl);
    }
}
