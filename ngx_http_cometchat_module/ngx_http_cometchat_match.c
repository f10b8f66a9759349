
/*
 * ngx_http_cometchat_module: the streaming "</body>" matcher.
 *
 * The body filter feeds it one buffer at a time and it answers how many
 * held bytes and how many bytes of the buffer may be passed on; the rest
 * stays held.  The rule it implements (and tools/fuzz checks against a
 * one-pass reference): the snippet goes right before the last "</body>",
 * in any letter case, that is a real end tag, if at most max_tail bytes
 * follow it; otherwise, and when there is none, after the last byte.  So
 * at most max_tail + 7 bytes are ever held, whatever the size of the page
 * and however it is split.  It reads best whole: the step, the tokenizer
 * below and the document check share the state a buffer edge may cut
 * anywhere, and each state is understood next to the others.
 *
 * "A real end tag" is what a browser's tokenizer (WHATWG HTML, 13.2.5)
 * sees as one: "</body>" written in a script string, a comment, a
 * <textarea> or a <title> is text, and a snippet put there would end up
 * in the string or the comment.  So the buffers are read forward through
 * a small copy of the tokenizer, whose state (m->html, a name matched so
 * far in m->nlen and m->names) survives a buffer split at any byte; no
 * byte of the page is kept for it.  Its states, NGX_HTTP_COMETCHAT_HT_*:
 *
 *   DATA           text; the next "<" is found with memchr(), and an
 *                  end tag other than "</b..." or a start tag whose name
 *                  is none of the raw text elements' is passed over in
 *                  the same loop (most tags of a page), the others go on
 *                  to TAG_OPEN
 *   TAG_OPEN ...   "<": a start tag, "</" an end tag, "<!" a comment or
 *                  a bogus comment, "<?" a bogus comment, else text
 *   BODY           "</b", "</bo", ... "</body": only "</body>" with these
 *                  very bytes is a candidate, as before; "</body >" is
 *                  an end tag too, but not one the snippet goes before
 *   START_NAME     a start tag name that may still be one of the raw
 *                  text elements (ngx_http_cometchat_match_raws)
 *   TAG_NAME, BEFORE_ATTR, ATTR_NAME, AFTER_ATTR, BEFORE_VALUE,
 *   VALUE_DQ, VALUE_SQ, VALUE_UNQ
 *                  the rest of a raw text element's start tag, or of its
 *                  end tag once "</script" and white space or "/" are
 *                  read: it ends at the first ">" outside a quoted
 *                  attribute value, and a quote opens a value only after
 *                  "=".  The spec's "self-closing start tag" and "after
 *                  attribute value (quoted)" states act as BEFORE_ATTR
 *                  for where the tag ends, and are merged into it
 *   MARKUP, MARKUP_DASH, BOGUS
 *                  "<!-" and "<!--" open a comment; any other "<!"
 *                  (DOCTYPE, "<![CDATA[" outside SVG and MathML) and "<?"
 *                  a bogus comment, which ends at the first ">"
 *   COMMENT_START ... COMMENT_END_BANG
 *                  a comment ends at "-->", "--!>", or as "<!-->" and
 *                  "<!--->"; the spec's "comment less-than sign" states
 *                  only report errors and never end one sooner, so they
 *                  are left out.  Inside, the next "-" is found with
 *                  memchr()
 *   RAW, RAW_LT, RAW_END
 *                  RAWTEXT and RCDATA (style, textarea, title, xmp,
 *                  iframe, noembed, noframes, noscript): up to "</name"
 *                  followed by white space, "/" or ">"; "<" by memchr()
 *   SCRIPT ... DESC_END
 *                  script data with its escaped ("<!--") and
 *                  double-escaped ("<!--" then "<script") states, in
 *                  which "</script>" is not an end tag until "-->"
 *   PLAINTEXT      the rest of the page is text
 *
 * Other tags are not read as tags: "<" and a letter that do not begin
 * "</body>" or a raw text element's start tag are text, and so is "</"
 * without a letter (a bogus comment to the spec), and the matcher goes
 * on to the next "<".  That keeps it cheap on pages that are mostly
 * markup, and it is the one place where it parts from the spec on
 * purpose: a "</body>" inside an attribute value of another tag
 * (<a title="</body>">) or after "</ " counts, as it always did (pages
 * cut anywhere and ended with "</body>" keep their snippet), and
 * markup-like text in one (<a title="<!--">) is read as markup, which
 * errs on the side of "not a real tag" for what follows.
 *
 * Also left out, each erring on the side of "not a real tag" or too rare
 * to matter: foreign content (inside <svg> and <math> a <title> or <style>
 * is not raw text and "<![CDATA[" is a real CDATA section; both are taken
 * as in HTML), insertion modes that ignore some of these start tags
 * (<iframe> in <select>, say), and <noscript> is raw text as it is in a
 * browser that runs scripts.
 *
 * Buffers are read forward in windows, so that file buffers are read
 * through the caller's window; memory buffers are one window.
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

/* the tokenizer states, see above; 0 is the data state */
#define NGX_HTTP_COMETCHAT_HT_DATA                0
#define NGX_HTTP_COMETCHAT_HT_TAG_OPEN            1
#define NGX_HTTP_COMETCHAT_HT_END_TAG_OPEN        2
#define NGX_HTTP_COMETCHAT_HT_BODY                3
#define NGX_HTTP_COMETCHAT_HT_START_NAME          4
#define NGX_HTTP_COMETCHAT_HT_TAG_NAME            5
#define NGX_HTTP_COMETCHAT_HT_BEFORE_ATTR         6
#define NGX_HTTP_COMETCHAT_HT_ATTR_NAME           7
#define NGX_HTTP_COMETCHAT_HT_AFTER_ATTR          8
#define NGX_HTTP_COMETCHAT_HT_BEFORE_VALUE        9
#define NGX_HTTP_COMETCHAT_HT_VALUE_DQ            10
#define NGX_HTTP_COMETCHAT_HT_VALUE_SQ            11
#define NGX_HTTP_COMETCHAT_HT_VALUE_UNQ           12
#define NGX_HTTP_COMETCHAT_HT_MARKUP              13
#define NGX_HTTP_COMETCHAT_HT_MARKUP_DASH         14
#define NGX_HTTP_COMETCHAT_HT_BOGUS               15
#define NGX_HTTP_COMETCHAT_HT_COMMENT_START       16
#define NGX_HTTP_COMETCHAT_HT_COMMENT_START_DASH  17
#define NGX_HTTP_COMETCHAT_HT_COMMENT             18
#define NGX_HTTP_COMETCHAT_HT_COMMENT_END_DASH    19
#define NGX_HTTP_COMETCHAT_HT_COMMENT_END         20
#define NGX_HTTP_COMETCHAT_HT_COMMENT_END_BANG    21
#define NGX_HTTP_COMETCHAT_HT_RAW                 22
#define NGX_HTTP_COMETCHAT_HT_RAW_LT              23
#define NGX_HTTP_COMETCHAT_HT_RAW_END             24
#define NGX_HTTP_COMETCHAT_HT_SCRIPT              25
#define NGX_HTTP_COMETCHAT_HT_SCRIPT_LT           26
#define NGX_HTTP_COMETCHAT_HT_SCRIPT_END          27
#define NGX_HTTP_COMETCHAT_HT_ESC_START           28
#define NGX_HTTP_COMETCHAT_HT_ESC_START_DASH      29
#define NGX_HTTP_COMETCHAT_HT_ESC                 30
#define NGX_HTTP_COMETCHAT_HT_ESC_DASH            31
#define NGX_HTTP_COMETCHAT_HT_ESC_DASH_DASH       32
#define NGX_HTTP_COMETCHAT_HT_ESC_LT              33
#define NGX_HTTP_COMETCHAT_HT_ESC_END             34
#define NGX_HTTP_COMETCHAT_HT_DESC_START          35
#define NGX_HTTP_COMETCHAT_HT_DESC                36
#define NGX_HTTP_COMETCHAT_HT_DESC_DASH           37
#define NGX_HTTP_COMETCHAT_HT_DESC_DASH_DASH      38
#define NGX_HTTP_COMETCHAT_HT_DESC_LT             39
#define NGX_HTTP_COMETCHAT_HT_DESC_END            40
#define NGX_HTTP_COMETCHAT_HT_PLAINTEXT           41

/* bytes that matter inside a tag */
#define NGX_HTTP_COMETCHAT_C_SPACE    1
#define NGX_HTTP_COMETCHAT_C_SLASH    2
#define NGX_HTTP_COMETCHAT_C_GT       4
#define NGX_HTTP_COMETCHAT_C_EQ       8
#define NGX_HTTP_COMETCHAT_C_QUOTE    16
#define NGX_HTTP_COMETCHAT_C_NAME_END                                        \
    (NGX_HTTP_COMETCHAT_C_SPACE|NGX_HTTP_COMETCHAT_C_SLASH                   \
     |NGX_HTTP_COMETCHAT_C_GT)

#define ngx_http_cometchat_match_lower(c)                                    \
    (u_char) (((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c))
#define ngx_http_cometchat_match_alpha(c)                                    \
    (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z')

/* of the raw text element names, those that have k letters */
#define ngx_http_cometchat_match_names_of_len(names, k)                      \
    (((k) <= NGX_HTTP_COMETCHAT_RAW_LEN)                                     \
     ? ((names) & ngx_http_cometchat_match_len[k]) : 0)

/* of the raw text element names, those with c (in any case) at k */
#define ngx_http_cometchat_match_names_at(names, k, c)                       \
    (((k) < NGX_HTTP_COMETCHAT_RAW_LEN && ngx_http_cometchat_match_alpha(c))  \
     ? ((names) & ngx_http_cometchat_match_at[k][((c) | 0x20) - 'a']) : 0)


typedef struct {
    u_char                     *name;
    size_t                      len;
    ngx_uint_t                  state;      /* the one after the tag */
} ngx_http_cometchat_match_raw_t;


static ngx_int_t ngx_http_cometchat_match_scan(ngx_http_cometchat_match_t *m,
    u_char *p, size_t n);
static ngx_uint_t ngx_http_cometchat_match_end_tag(
    ngx_http_cometchat_match_t *m, u_char c, ngx_uint_t back,
    ngx_uint_t *state);
static ngx_int_t ngx_http_cometchat_match_doc_window(
    ngx_http_cometchat_match_t *m, off_t len,
    ngx_http_cometchat_window_pt window, void *data, size_t wsize);
static void ngx_http_cometchat_match_doc_byte(ngx_http_cometchat_match_t *m,
    u_char c);


/* "</body" with the letters in every case, indexed by pcase */
static u_char  ngx_http_cometchat_partials[16][6] = {
    "</body", "</Body", "</bOdy", "</BOdy",
    "</boDy", "</BoDy", "</bODy", "</BODy",
    "</bodY", "</BodY", "</bOdY", "</BOdY",
    "</boDY", "</BoDY", "</bODY", "</BODY"
};

/*
 * the elements whose start tag switches the tokenizer (the tree builder
 * does it, in HTML content); "script" is the first, with its own states
 */
static ngx_http_cometchat_match_raw_t  ngx_http_cometchat_match_raws[] = {
    { (u_char *) "script", 6, NGX_HTTP_COMETCHAT_HT_SCRIPT },
    { (u_char *) "style", 5, NGX_HTTP_COMETCHAT_HT_RAW },
    { (u_char *) "textarea", 8, NGX_HTTP_COMETCHAT_HT_RAW },
    { (u_char *) "title", 5, NGX_HTTP_COMETCHAT_HT_RAW },
    { (u_char *) "xmp", 3, NGX_HTTP_COMETCHAT_HT_RAW },
    { (u_char *) "iframe", 6, NGX_HTTP_COMETCHAT_HT_RAW },
    { (u_char *) "noembed", 7, NGX_HTTP_COMETCHAT_HT_RAW },
    { (u_char *) "noframes", 8, NGX_HTTP_COMETCHAT_HT_RAW },
    { (u_char *) "noscript", 8, NGX_HTTP_COMETCHAT_HT_RAW },
    { (u_char *) "plaintext", 9, NGX_HTTP_COMETCHAT_HT_PLAINTEXT }
};

#define NGX_HTTP_COMETCHAT_RAWS                                              \
    (sizeof(ngx_http_cometchat_match_raws)                                   \
     / sizeof(ngx_http_cometchat_match_raw_t))

/* the longest name, "plaintext" */
#define NGX_HTTP_COMETCHAT_RAW_LEN      9

/*
 * The names as bits again, to narrow the ones a tag name may still be
 * with one AND a byte (most tags are "<p" and "<s...", and a loop over
 * the names for each was the most of the matcher's time): the names of
 * each length, and the names with each lower-case letter at each place
 * (filled in by ngx_http_cometchat_match_init())
 */
static uint16_t  ngx_http_cometchat_match_len[NGX_HTTP_COMETCHAT_RAW_LEN + 1];
static uint16_t  ngx_http_cometchat_match_at[NGX_HTTP_COMETCHAT_RAW_LEN][26];

/*
 * the raw text elements a start tag name beginning with the byte may be,
 * as bits of ngx_http_cometchat_match_raws: most tags have none, and the
 * data state skips them without leaving its loop
 */
static uint16_t  ngx_http_cometchat_match_first[256] = {
    ['s'] = 0x003, ['S'] = 0x003,       /* script, style */
    ['t'] = 0x00c, ['T'] = 0x00c,       /* textarea, title */
    ['x'] = 0x010, ['X'] = 0x010,       /* xmp */
    ['i'] = 0x020, ['I'] = 0x020,       /* iframe */
    ['n'] = 0x1c0, ['N'] = 0x1c0,       /* noembed, noframes, noscript */
    ['p'] = 0x200, ['P'] = 0x200        /* plaintext */
};

/* the bytes that matter inside a tag, NGX_HTTP_COMETCHAT_C_* */
static u_char  ngx_http_cometchat_match_class[256] = {
    ['\t'] = NGX_HTTP_COMETCHAT_C_SPACE,
    ['\n'] = NGX_HTTP_COMETCHAT_C_SPACE,
    ['\f'] = NGX_HTTP_COMETCHAT_C_SPACE,
    ['\r'] = NGX_HTTP_COMETCHAT_C_SPACE,   /* a LF once preprocessed */
    [' '] = NGX_HTTP_COMETCHAT_C_SPACE,
    ['/'] = NGX_HTTP_COMETCHAT_C_SLASH,
    ['>'] = NGX_HTTP_COMETCHAT_C_GT,
    ['='] = NGX_HTTP_COMETCHAT_C_EQ,
    ['"'] = NGX_HTTP_COMETCHAT_C_QUOTE,
    ['\''] = NGX_HTTP_COMETCHAT_C_QUOTE
};

/* what a response may start with, after white space, to be a document */
static char  *ngx_http_cometchat_doc_names[] = {
    "!doctype", "html", "head", "body", "?xml", "!--", NULL
};


void
ngx_http_cometchat_match_init(ngx_http_cometchat_match_t *m, off_t max_tail)
{
    size_t       k;
    ngx_uint_t   i;
    u_char      *name;

    /* once per process: the longest name has its bit once they are */

    if (ngx_http_cometchat_match_len[NGX_HTTP_COMETCHAT_RAW_LEN] == 0) {
        for (i = 0; i < NGX_HTTP_COMETCHAT_RAWS; i++) {
            name = ngx_http_cometchat_match_raws[i].name;

            ngx_http_cometchat_match_len[ngx_http_cometchat_match_raws[i].len]
                |= 1 << i;

            for (k = 0; k < ngx_http_cometchat_match_raws[i].len; k++) {
                ngx_http_cometchat_match_at[k][name[k] - 'a'] |= 1 << i;
            }
        }
    }

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
    off_t        lo, hi, found, tail;
    ngx_int_t    k;
    ngx_uint_t   p, np;

    step->release = 0;
    step->pass = 0;

    if (len == 0) {
        return NGX_OK;
    }

    if (m->doc == NGX_HTTP_COMETCHAT_DOC_UNKNOWN) {
        if (ngx_http_cometchat_match_doc_window(m, len, window, data, wsize)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    m->seen += len;

    if (wsize == 0) {
        wsize = 1;
    }

    /*
     * found: where the last "</body>" ending in the buffer starts; it
     * may start in the held bytes (the partial "</body"), at -p
     */

    p = m->partial;
    found = len;

    for (lo = 0; lo < len; lo = hi) {
        hi = (len - lo > (off_t) wsize) ? lo + (off_t) wsize : len;

        w = window(data, lo, hi);
        if (w == NULL) {
            return NGX_ERROR;
        }

        k = ngx_http_cometchat_match_scan(m, w, (size_t) (hi - lo));

        if (k >= 0) {
            found = lo + k - NGX_HTTP_COMETCHAT_BODY_LEN;
        }
    }

    /* the stream now ends with "<", "</", "</b" ... "</body" */

    switch (m->html) {

    case NGX_HTTP_COMETCHAT_HT_TAG_OPEN:
        np = 1;
        break;

    case NGX_HTTP_COMETCHAT_HT_END_TAG_OPEN:
        np = 2;
        break;

    case NGX_HTTP_COMETCHAT_HT_BODY:
        np = 2 + m->nlen;
        break;

    default:
        np = 0;
    }

    tail = len - found - NGX_HTTP_COMETCHAT_BODY_LEN;

    if (found < len && tail <= m->max_tail) {
        /* a new candidate: everything before it goes */

        if (found >= 0) {
            step->release = m->held;
            step->pass = found;

        } else {
            /* it starts with the held partial bytes, -found == p */
            step->release = m->held - p;
            step->pass = 0;
        }

        m->held = len - found;
        m->tail = tail;

    } else if (found == len && m->tail >= 0 && m->tail + len <= m->max_tail) {
        /* the candidate still stands */
        m->held += len;
        m->tail += len;

    } else {
        /* no candidate: hold only what may begin a "</body>" */
        m->tail = -1;

        if ((off_t) np > len) {
            /* the held partial bytes go on, np - len == p */
            step->release = m->held - p;
            step->pass = 0;

        } else {
            step->release = m->held;
            step->pass = len - np;
        }

        m->held = np;
    }

    m->partial = np;
    m->pcase = np ? m->tcase : 0;

    return NGX_OK;
}


/*
 * Runs the tokenizer over p[0 .. n): returns where the last "</body>"
 * (as a real end tag) ends in it, or -1.
 */

static ngx_int_t
ngx_http_cometchat_match_scan(ngx_http_cometchat_match_t *m, u_char *p,
    size_t n)
{
    u_char      *start, *last, *q, c, cl;
    size_t       k;
    ngx_int_t    found;
    ngx_uint_t   state, i, names;

    start = p;
    last = p + n;
    found = -1;
    state = m->html;

    while (p < last) {

        switch (state) {

        case NGX_HTTP_COMETCHAT_HT_DATA:

            /*
             * "<" and what follows it, where it is in the buffer: the
             * usual tags are text here and are passed over in this loop
             */

            for ( ;; ) {
                q = memchr(p, '<', last - p);

                if (q == NULL) {
                    p = last;
                    break;
                }

                p = q + 1;

                if (p == last) {
                    break;
                }

                c = *p;

                if (c == '/') {
                    if (p + 1 < last && (p[1] | 0x20) != 'b') {
                        /* another end tag: text, p[1] is read again */
                        p++;
                        continue;
                    }

                    break;
                }

                if (!ngx_http_cometchat_match_alpha(c)) {
                    break;
                }

                names = ngx_http_cometchat_match_first[c];

                if (names == 0) {
                    /* a start tag of no raw text element: text */
                    p++;
                    continue;
                }

                /*
                 * a start tag: its name is read here as long as it may
                 * be a raw text element's (START_NAME does the same when
                 * the buffer ends first, or when it is one)
                 */

                for (k = 1; p + k < last; k++) {
                    cl = p[k];

                    if (ngx_http_cometchat_match_class[cl]
                        & NGX_HTTP_COMETCHAT_C_NAME_END)
                    {
                        names = ngx_http_cometchat_match_names_of_len(names,
                                                                      k);
                        break;
                    }

                    names = ngx_http_cometchat_match_names_at(names, k, cl);

                    if (names == 0) {
                        break;
                    }
                }

                if (names == 0) {
                    /* no raw text element: text, p[k] is read again */
                    p += k;
                    continue;
                }

                break;
            }

            if (q == NULL) {
                break;
            }

            m->tcase = 0;
            state = NGX_HTTP_COMETCHAT_HT_TAG_OPEN;
            break;

        case NGX_HTTP_COMETCHAT_HT_TAG_OPEN:
            c = *p;
            m->raw = 0;

            if (c == '/') {
                p++;
                state = NGX_HTTP_COMETCHAT_HT_END_TAG_OPEN;
                break;
            }

            if (c == '!') {
                p++;
                state = NGX_HTTP_COMETCHAT_HT_MARKUP;
                break;
            }

            if (c == '?') {
                p++;
                state = NGX_HTTP_COMETCHAT_HT_BOGUS;
                break;
            }

            if (!ngx_http_cometchat_match_alpha(c)) {
                /* "<" was text; c is read again as text */
                state = NGX_HTTP_COMETCHAT_HT_DATA;
                break;
            }

            /* a start tag; only those of the raw text elements matter */

            /* the raw text elements the name may still be */

            names = ngx_http_cometchat_match_first[c];

            p++;
            m->names = names;
            m->nlen = 1;
            state = names ? NGX_HTTP_COMETCHAT_HT_START_NAME
                          : NGX_HTTP_COMETCHAT_HT_DATA;
            break;

        case NGX_HTTP_COMETCHAT_HT_END_TAG_OPEN:
            c = *p;

            if ((c | 0x20) == 'b') {
                m->tcase = (c & 0x20) ? 0 : 1;
                m->nlen = 1;
                p++;
                state = NGX_HTTP_COMETCHAT_HT_BODY;
                break;
            }

            /*
             * another end tag, or "</" and no letter (a bogus comment to
             * the spec): text, and c is read again ("</</body>")
             */

            state = NGX_HTTP_COMETCHAT_HT_DATA;
            break;

        case NGX_HTTP_COMETCHAT_HT_BODY:
            c = *p;

            if (m->nlen == 4) {
                if (c == '>') {
                    p++;
                    found = p - start;
                    state = NGX_HTTP_COMETCHAT_HT_DATA;
                    break;
                }

                /* "</body" then something else: text, read again */
                state = NGX_HTTP_COMETCHAT_HT_DATA;
                break;
            }

            if ((c | 0x20) != "body"[m->nlen]) {
                state = NGX_HTTP_COMETCHAT_HT_DATA;
                break;
            }

            if (!(c & 0x20)) {
                m->tcase |= 1 << m->nlen;
            }

            m->nlen++;
            p++;
            break;

        case NGX_HTTP_COMETCHAT_HT_START_NAME:
            c = *p;

            if (ngx_http_cometchat_match_class[c]
                & NGX_HTTP_COMETCHAT_C_NAME_END)
            {
                state = NGX_HTTP_COMETCHAT_HT_DATA;
                names = ngx_http_cometchat_match_names_of_len(m->names,
                                                              m->nlen);

                /* one name at most has both the letters and the length */

                for (i = 0; names >> i; i++) {
                    if (names & (1 << i)) {
                        /* the rest of the tag, then raw text */
                        m->raw = i + 1;
                        state = NGX_HTTP_COMETCHAT_HT_TAG_NAME;
                        break;
                    }
                }

                break;
            }

            names = ngx_http_cometchat_match_names_at(m->names, m->nlen, c);

            if (names == 0) {
                /* another tag: text, and c is read again ("<pla<style>") */
                state = NGX_HTTP_COMETCHAT_HT_DATA;
                break;
            }

            p++;
            m->names = names;
            m->nlen++;
            break;

        case NGX_HTTP_COMETCHAT_HT_TAG_NAME:
        case NGX_HTTP_COMETCHAT_HT_ATTR_NAME:
        case NGX_HTTP_COMETCHAT_HT_VALUE_UNQ:

            /* up to white space, "/", ">", and "=" in an attribute name */

            cl = (state == NGX_HTTP_COMETCHAT_HT_ATTR_NAME)
                 ? NGX_HTTP_COMETCHAT_C_NAME_END|NGX_HTTP_COMETCHAT_C_EQ
                 : ((state == NGX_HTTP_COMETCHAT_HT_TAG_NAME)
                    ? NGX_HTTP_COMETCHAT_C_NAME_END
                    : NGX_HTTP_COMETCHAT_C_SPACE|NGX_HTTP_COMETCHAT_C_GT);

            while (p < last && !(ngx_http_cometchat_match_class[*p] & cl)) {
                p++;
            }

            if (p == last) {
                break;
            }

            c = *p++;

            if (c == '>') {
                goto tag_end;
            }

            if (c == '=') {
                state = NGX_HTTP_COMETCHAT_HT_BEFORE_VALUE;

            } else if (c == '/' || state != NGX_HTTP_COMETCHAT_HT_ATTR_NAME) {
                state = NGX_HTTP_COMETCHAT_HT_BEFORE_ATTR;

            } else {
                state = NGX_HTTP_COMETCHAT_HT_AFTER_ATTR;
            }

            break;

        case NGX_HTTP_COMETCHAT_HT_BEFORE_ATTR:
        case NGX_HTTP_COMETCHAT_HT_AFTER_ATTR:
        case NGX_HTTP_COMETCHAT_HT_BEFORE_VALUE:
            c = *p++;
            cl = ngx_http_cometchat_match_class[c];

            if (cl & NGX_HTTP_COMETCHAT_C_SPACE) {
                break;
            }

            if (c == '>') {
                goto tag_end;
            }

            if (state == NGX_HTTP_COMETCHAT_HT_BEFORE_VALUE) {
                state = (c == '"') ? NGX_HTTP_COMETCHAT_HT_VALUE_DQ
                        : (c == '\'') ? NGX_HTTP_COMETCHAT_HT_VALUE_SQ
                        : NGX_HTTP_COMETCHAT_HT_VALUE_UNQ;
                break;
            }

            if (c == '/') {
                state = NGX_HTTP_COMETCHAT_HT_BEFORE_ATTR;
                break;
            }

            /* "=" starts a value after a name, else a name ("=" too) */

            state = (c == '=' && state == NGX_HTTP_COMETCHAT_HT_AFTER_ATTR)
                    ? NGX_HTTP_COMETCHAT_HT_BEFORE_VALUE
                    : NGX_HTTP_COMETCHAT_HT_ATTR_NAME;
            break;

        case NGX_HTTP_COMETCHAT_HT_VALUE_DQ:
        case NGX_HTTP_COMETCHAT_HT_VALUE_SQ:
            c = (state == NGX_HTTP_COMETCHAT_HT_VALUE_DQ) ? '"' : '\'';
            q = memchr(p, c, last - p);

            if (q == NULL) {
                p = last;
                break;
            }

            p = q + 1;
            state = NGX_HTTP_COMETCHAT_HT_BEFORE_ATTR;
            break;

        tag_end:

            /* p is past the ">" of a start or an end tag */

            if (m->raw) {
                state = ngx_http_cometchat_match_raws[m->raw - 1].state;
                break;
            }

            state = NGX_HTTP_COMETCHAT_HT_DATA;
            break;

        case NGX_HTTP_COMETCHAT_HT_MARKUP:
            if (*p == '-') {
                p++;
                state = NGX_HTTP_COMETCHAT_HT_MARKUP_DASH;
                break;
            }

            state = NGX_HTTP_COMETCHAT_HT_BOGUS;
            break;

        case NGX_HTTP_COMETCHAT_HT_MARKUP_DASH:
            if (*p == '-') {
                p++;
                state = NGX_HTTP_COMETCHAT_HT_COMMENT_START;
                break;
            }

            state = NGX_HTTP_COMETCHAT_HT_BOGUS;
            break;

        case NGX_HTTP_COMETCHAT_HT_BOGUS:
            q = memchr(p, '>', last - p);

            if (q == NULL) {
                p = last;
                break;
            }

            p = q + 1;
            state = NGX_HTTP_COMETCHAT_HT_DATA;
            break;

        case NGX_HTTP_COMETCHAT_HT_COMMENT_START:
        case NGX_HTTP_COMETCHAT_HT_COMMENT_START_DASH:
            c = *p;

            if (c == '>') {
                /* "<!-->", "<!--->" */
                p++;
                state = NGX_HTTP_COMETCHAT_HT_DATA;
                break;
            }

            if (c == '-') {
                p++;
                state = (state == NGX_HTTP_COMETCHAT_HT_COMMENT_START)
                        ? NGX_HTTP_COMETCHAT_HT_COMMENT_START_DASH
                        : NGX_HTTP_COMETCHAT_HT_COMMENT_END;
                break;
            }

            state = NGX_HTTP_COMETCHAT_HT_COMMENT;
            break;

        case NGX_HTTP_COMETCHAT_HT_COMMENT:
            q = memchr(p, '-', last - p);

            if (q == NULL) {
                p = last;
                break;
            }

            p = q + 1;
            state = NGX_HTTP_COMETCHAT_HT_COMMENT_END_DASH;
            break;

        case NGX_HTTP_COMETCHAT_HT_COMMENT_END_DASH:
            if (*p == '-') {
                p++;
                state = NGX_HTTP_COMETCHAT_HT_COMMENT_END;
                break;
            }

            state = NGX_HTTP_COMETCHAT_HT_COMMENT;
            break;

        case NGX_HTTP_COMETCHAT_HT_COMMENT_END:
            c = *p;

            if (c == '-') {
                p++;
                break;
            }

            if (c == '>') {
                p++;
                state = NGX_HTTP_COMETCHAT_HT_DATA;
                break;
            }

            if (c == '!') {
                p++;
                state = NGX_HTTP_COMETCHAT_HT_COMMENT_END_BANG;
                break;
            }

            state = NGX_HTTP_COMETCHAT_HT_COMMENT;
            break;

        case NGX_HTTP_COMETCHAT_HT_COMMENT_END_BANG:
            c = *p;

            if (c == '-') {
                p++;
                state = NGX_HTTP_COMETCHAT_HT_COMMENT_END_DASH;
                break;
            }

            if (c == '>') {
                /* "--!>" */
                p++;
                state = NGX_HTTP_COMETCHAT_HT_DATA;
                break;
            }

            state = NGX_HTTP_COMETCHAT_HT_COMMENT;
            break;

        case NGX_HTTP_COMETCHAT_HT_RAW:
        case NGX_HTTP_COMETCHAT_HT_SCRIPT:
            q = memchr(p, '<', last - p);

            if (q == NULL) {
                p = last;
                break;
            }

            p = q + 1;
            state++;        /* RAW_LT, SCRIPT_LT */
            break;

        case NGX_HTTP_COMETCHAT_HT_RAW_LT:
        case NGX_HTTP_COMETCHAT_HT_SCRIPT_LT:
            c = *p;

            if (c == '/') {
                p++;
                m->nlen = 0;
                state++;    /* RAW_END, SCRIPT_END */
                break;
            }

            if (c == '!' && state == NGX_HTTP_COMETCHAT_HT_SCRIPT_LT) {
                p++;
                state = NGX_HTTP_COMETCHAT_HT_ESC_START;
                break;
            }

            state--;
            break;

        case NGX_HTTP_COMETCHAT_HT_RAW_END:
            if (ngx_http_cometchat_match_end_tag(m, *p,
                                                 NGX_HTTP_COMETCHAT_HT_RAW,
                                                 &state))
            {
                p++;
            }

            break;

        case NGX_HTTP_COMETCHAT_HT_SCRIPT_END:
            if (ngx_http_cometchat_match_end_tag(m, *p,
                                                 NGX_HTTP_COMETCHAT_HT_SCRIPT,
                                                 &state))
            {
                p++;
            }

            break;

        case NGX_HTTP_COMETCHAT_HT_ESC_START:
        case NGX_HTTP_COMETCHAT_HT_ESC_START_DASH:
            if (*p == '-') {
                p++;
                state = (state == NGX_HTTP_COMETCHAT_HT_ESC_START)
                        ? NGX_HTTP_COMETCHAT_HT_ESC_START_DASH
                        : NGX_HTTP_COMETCHAT_HT_ESC_DASH_DASH;
                break;
            }

            state = NGX_HTTP_COMETCHAT_HT_SCRIPT;
            break;

        case NGX_HTTP_COMETCHAT_HT_ESC:
        case NGX_HTTP_COMETCHAT_HT_DESC:
            while (p < last && *p != '-' && *p != '<') {
                p++;
            }

            if (p == last) {
                break;
            }

            /* ESC_DASH, ESC_LT; DESC_DASH, DESC_LT */
            state += (*p++ == '-') ? 1 : 3;
            break;

        case NGX_HTTP_COMETCHAT_HT_ESC_DASH:
        case NGX_HTTP_COMETCHAT_HT_ESC_DASH_DASH:
        case NGX_HTTP_COMETCHAT_HT_DESC_DASH:
        case NGX_HTTP_COMETCHAT_HT_DESC_DASH_DASH:
            c = *p++;

            if (c == '-') {
                if (state == NGX_HTTP_COMETCHAT_HT_ESC_DASH
                    || state == NGX_HTTP_COMETCHAT_HT_DESC_DASH)
                {
                    state++;
                }

                break;
            }

            if (state <= NGX_HTTP_COMETCHAT_HT_ESC_DASH_DASH) {
                state = (c == '<') ? NGX_HTTP_COMETCHAT_HT_ESC_LT
                        : (c == '>' && state
                                       == NGX_HTTP_COMETCHAT_HT_ESC_DASH_DASH)
                          ? NGX_HTTP_COMETCHAT_HT_SCRIPT
                          : NGX_HTTP_COMETCHAT_HT_ESC;
                break;
            }

            state = (c == '<') ? NGX_HTTP_COMETCHAT_HT_DESC_LT
                    : (c == '>' && state
                                   == NGX_HTTP_COMETCHAT_HT_DESC_DASH_DASH)
                      ? NGX_HTTP_COMETCHAT_HT_SCRIPT
                      : NGX_HTTP_COMETCHAT_HT_DESC;
            break;

        case NGX_HTTP_COMETCHAT_HT_ESC_LT:
            c = *p;
            m->nlen = 0;

            if (c == '/') {
                p++;
                state = NGX_HTTP_COMETCHAT_HT_ESC_END;
                break;
            }

            state = ngx_http_cometchat_match_alpha(c)
                    ? NGX_HTTP_COMETCHAT_HT_DESC_START
                    : NGX_HTTP_COMETCHAT_HT_ESC;
            break;

        case NGX_HTTP_COMETCHAT_HT_ESC_END:
            if (ngx_http_cometchat_match_end_tag(m, *p,
                                                 NGX_HTTP_COMETCHAT_HT_ESC,
                                                 &state))
            {
                p++;
            }

            break;

        case NGX_HTTP_COMETCHAT_HT_DESC_LT:
            if (*p == '/') {
                p++;
                m->nlen = 0;
                state = NGX_HTTP_COMETCHAT_HT_DESC_END;
                break;
            }

            state = NGX_HTTP_COMETCHAT_HT_DESC;
            break;

        case NGX_HTTP_COMETCHAT_HT_DESC_START:
        case NGX_HTTP_COMETCHAT_HT_DESC_END:

            /* "<script" in, "</script" out, ended as a tag name is */

            c = *p;

            if (m->nlen == 6
                && (ngx_http_cometchat_match_class[c]
                    & NGX_HTTP_COMETCHAT_C_NAME_END))
            {
                p++;
                state = (state == NGX_HTTP_COMETCHAT_HT_DESC_START)
                        ? NGX_HTTP_COMETCHAT_HT_DESC
                        : NGX_HTTP_COMETCHAT_HT_ESC;
                break;
            }

            if (m->nlen < 6
                && ngx_http_cometchat_match_lower(c) == "script"[m->nlen])
            {
                p++;
                m->nlen++;
                break;
            }

            /* anything else goes back, and is read there again */

            state = (state == NGX_HTTP_COMETCHAT_HT_DESC_START)
                    ? NGX_HTTP_COMETCHAT_HT_ESC
                    : NGX_HTTP_COMETCHAT_HT_DESC;
            break;

        default: /* NGX_HTTP_COMETCHAT_HT_PLAINTEXT */
            p = last;
            break;
        }
    }

    m->html = state;

    return found;
}


/*
 * "</" and m->nlen bytes of the name of the raw text element m->raw
 * were read, and c comes: is it the element's end tag?  Returns whether
 * c was used up; if not, it is read again in state "back".
 */

static ngx_uint_t
ngx_http_cometchat_match_end_tag(ngx_http_cometchat_match_t *m, u_char c,
    ngx_uint_t back, ngx_uint_t *state)
{
    ngx_http_cometchat_match_raw_t  *raw;

    raw = &ngx_http_cometchat_match_raws[m->raw - 1];

    if (m->nlen == raw->len) {

        if (c == '>') {
            m->raw = 0;
            *state = NGX_HTTP_COMETCHAT_HT_DATA;
            return 1;
        }

        if (ngx_http_cometchat_match_class[c]
            & (NGX_HTTP_COMETCHAT_C_SPACE|NGX_HTTP_COMETCHAT_C_SLASH))
        {
            /* the end tag's attributes: it ends at its ">" */
            m->raw = 0;
            *state = NGX_HTTP_COMETCHAT_HT_BEFORE_ATTR;
            return 1;
        }

    } else if (ngx_http_cometchat_match_lower(c) == raw->name[m->nlen]) {
        m->nlen++;
        return 1;
    }

    /* not the end tag: a longer name, or not a name */

    *state = back;

    return 0;
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
        ngx_http_cometchat_match_doc_byte(m, p[i]);
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


/*
 * Does the response start like an HTML document?  Only then is the
 * snippet appended when it has no "</body>": a fragment fetched by
 * script (htmx, Turbo, jQuery .load()) must not get a second widget.
 */

static ngx_int_t
ngx_http_cometchat_match_doc_window(ngx_http_cometchat_match_t *m,
    off_t len, ngx_http_cometchat_window_pt window, void *data, size_t wsize)
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
            ngx_http_cometchat_match_doc_byte(m, w[i]);

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
ngx_http_cometchat_match_doc_byte(ngx_http_cometchat_match_t *m,
    u_char c)
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
