/*
 * ngx_http_cometchat_match.c
 */


#ifndef _NGX_HTTP_COMETCHAT_MATCH_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_MATCH_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


/*
 * the streaming "</body>" matcher, free of
 * nginx buffers so that tools/fuzz can drive it.  The snippet goes before
 * the last "</body>" (any case) that is a real tag, not text in a script,
 * a comment and the like, if at most NGX_HTTP_COMETCHAT_TAIL_MAX bytes
 * follow it, so only that much is ever held back; otherwise, and when
 * there is none, it is appended to a response that starts like an HTML
 * document (NGX_HTTP_COMETCHAT_DOC_* below).
 */
#define NGX_HTTP_COMETCHAT_TAIL_MAX     32768
#define NGX_HTTP_COMETCHAT_DOC_LIMIT    1024    /* bytes looked at */

#define NGX_HTTP_COMETCHAT_DOC_UNKNOWN  0
#define NGX_HTTP_COMETCHAT_DOC_YES      1
#define NGX_HTTP_COMETCHAT_DOC_NO       2
#define NGX_HTTP_COMETCHAT_DOC_LATER    3   /* the caller checks it with
                                               ..._match_doc() if needed */

typedef struct {
    off_t                       max_tail;
    off_t                       held;       /* bytes held back */
    off_t                       tail;       /* bytes after the candidate
                                               "</body>"; -1: none */
    off_t                       seen;       /* bytes of the response */
    ngx_uint_t                  partial;    /* "</body" bytes ending it */
    ngx_uint_t                  pcase;      /* their upper-case letters */
    ngx_uint_t                  doc;        /* NGX_HTTP_COMETCHAT_DOC_* */
    ngx_uint_t                  doc_state;
    ngx_uint_t                  doc_len;
    u_char                      doc_name[8];
    ngx_uint_t                  html;       /* tokenizer state */
    ngx_uint_t                  raw;        /* raw text element + 1 */
    ngx_uint_t                  names;      /* those a start tag may be */
    ngx_uint_t                  nlen;       /* tag name bytes matched */
    ngx_uint_t                  tcase;      /* upper case in "</body" */
} ngx_http_cometchat_match_t;

/* the bytes [start, end) of the buffer being matched; NULL on error */
typedef u_char *(*ngx_http_cometchat_window_pt)(void *data, off_t start,
    off_t end);

typedef struct {
    off_t                       release;    /* held bytes passed on first */
    off_t                       pass;       /* then the buffer's first
                                               bytes; the rest is held */
} ngx_http_cometchat_step_t;

void ngx_http_cometchat_match_init(ngx_http_cometchat_match_t *m,
    off_t max_tail);
ngx_int_t ngx_http_cometchat_match_step(ngx_http_cometchat_match_t *m,
    off_t len, ngx_http_cometchat_window_pt window, void *data,
    size_t wsize, ngx_http_cometchat_step_t *step);
void ngx_http_cometchat_match_end(ngx_http_cometchat_match_t *m);
void ngx_http_cometchat_match_doc(ngx_http_cometchat_match_t *m, u_char *p,
    size_t len);
u_char *ngx_http_cometchat_match_partial(ngx_http_cometchat_match_t *m);


#endif /* _NGX_HTTP_COMETCHAT_MATCH_H_INCLUDED_ */
