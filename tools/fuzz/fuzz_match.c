
/*
 * libFuzzer harness for the "</body>" matcher (ngx_http_cometchat_match.c).
 *
 * Each input is turned into a page, a way of cutting it into buffers
 * (empty ones included), a hold limit and a window size.  The page is
 * fed through the matcher buffer by buffer, doing with a byte string what
 * the body filter does with nginx buffers, and the result must equal a
 * one-pass reference over the whole page.  Invariants of the held bytes
 * are checked after every buffer.  The reference reads the page with its
 * own copy of the HTML tokenizer, written state by state as the spec
 * has it, so that "</body>" in a script, a comment or raw text is told
 * from a real end tag.
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
    "<</body>>", "</body >", "</bodyy>", "<!-- </body> -->",
    "<script>", "</script>", "<SCRIPT>", "</sCrIpt>", "<script ",
    "</script ", "<style>", "</style>", "<textarea>", "</textarea>",
    "<title>", "</title>", "<xmp>", "<plaintext>", "<noscript>", "<p ",
    "\"", "'", "=", "<!-->", "<!--->", "--!>", "--", "<!", "<?",
    "<![CDATA[", "]]>", "document.write(\"", "<a href=\"", " a=", "/>",
    "<!--<script>", "</SCRIPT>-->", "<scriptx>", "</scrip"
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


/*
 * The reference tokenizer: WHATWG HTML 13.2.5, one byte at a time, with
 * the spec's states as they are written (none merged), limited to what
 * decides where comments and raw text end.  Returns where the last
 * "</body>" read in the data state starts, or -1.  Start tags of the raw
 * text elements switch the tokenizer as the tree builder does in HTML
 * content.  As in the matcher, foreign content is not modelled, and
 * other tags are not read as tags: "<" and a letter that do not begin
 * "</body>" or a raw text element's start tag are text, and so is "</"
 * and no letter.
 */

enum {
    S_DATA, S_TAG_OPEN, S_END_TAG_OPEN, S_TAG_NAME, S_BEFORE_ATTR_NAME,
    S_ATTR_NAME, S_AFTER_ATTR_NAME, S_BEFORE_ATTR_VALUE, S_ATTR_VALUE_DQ,
    S_ATTR_VALUE_SQ, S_ATTR_VALUE_UNQ, S_AFTER_ATTR_VALUE_Q,
    S_SELF_CLOSING, S_MARKUP_OPEN, S_BOGUS_COMMENT, S_COMMENT_START,
    S_COMMENT_START_DASH, S_COMMENT, S_COMMENT_LT, S_COMMENT_LT_BANG,
    S_COMMENT_LT_BANG_DASH, S_COMMENT_LT_BANG_DASH_DASH, S_COMMENT_END_DASH,
    S_COMMENT_END, S_COMMENT_END_BANG, S_RCDATA, S_RCDATA_LT,
    S_RCDATA_END_OPEN, S_RCDATA_END_NAME, S_SCRIPT, S_SCRIPT_LT,
    S_SCRIPT_END_OPEN, S_SCRIPT_END_NAME, S_SCRIPT_ESC_START,
    S_SCRIPT_ESC_START_DASH, S_SCRIPT_ESC, S_SCRIPT_ESC_DASH,
    S_SCRIPT_ESC_DASH_DASH, S_SCRIPT_ESC_LT, S_SCRIPT_ESC_END_OPEN,
    S_SCRIPT_ESC_END_NAME, S_SCRIPT_DESC_START, S_SCRIPT_DESC,
    S_SCRIPT_DESC_DASH, S_SCRIPT_DESC_DASH_DASH, S_SCRIPT_DESC_LT,
    S_SCRIPT_DESC_END, S_PLAINTEXT
};


#define NAME_MAX_REF  32


static int
is_space(u_char c)
{
    return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '\r';
}


static int
is_alpha(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}


static u_char
lower(u_char c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}


typedef struct {
    char    buf[NAME_MAX_REF + 1];
    size_t  len;
    int     over;
} name_t;


static void
name_add(name_t *n, u_char c)
{
    if (n->len < NAME_MAX_REF) {
        n->buf[n->len++] = (char) lower(c);
        n->buf[n->len] = '\0';

    } else {
        n->over = 1;
    }
}


static int
name_is(name_t *n, const char *s)
{
    return !n->over && strcmp(n->buf, s) == 0;
}


/*
 * Does a raw text element's start tag name begin at p: the name, any
 * case, then white space, "/" or ">"?  Sets the name into *tag.
 */

static int
raw_start_at(const u_char *p, size_t n, name_t *tag)
{
    static const char  *raws[] = { "script", "style", "textarea", "title",
                                   "xmp", "iframe", "noembed", "noframes",
                                   "noscript", "plaintext", NULL };
    size_t              k, j;
    const char        **r;

    for (r = raws; *r; r++) {
        k = strlen(*r);

        if (n <= k) {
            continue;
        }

        for (j = 0; j < k && lower(p[j]) == (u_char) (*r)[j]; j++) {
            /* void */
        }

        if (j == k && (is_space(p[k]) || p[k] == '/' || p[k] == '>')) {
            memset(tag, 0, sizeof(name_t));
            strcpy(tag->buf, *r);
            tag->len = k;
            return 1;
        }
    }

    return 0;
}


static long
ref_last_body(const u_char *p, size_t len)
{
    int          state, end_tag;
    long         last, tag_at;
    size_t       i;
    u_char       c;
    name_t       tag, last_start, temp;

    state = S_DATA;
    last = -1;
    tag_at = -1;
    end_tag = 0;
    memset(&tag, 0, sizeof(tag));
    memset(&last_start, 0, sizeof(last_start));
    memset(&temp, 0, sizeof(temp));

    for (i = 0; i < len; /* void */) {
        c = p[i];

#define CONSUME  i++; break
#define RECONSUME(s)  state = (s); break

        switch (state) {

        case S_DATA:
            if (c == '<') {
                tag_at = (long) i;
                state = S_TAG_OPEN;
            }
            CONSUME;

        case S_TAG_OPEN:
            if (c == '!') {
                state = S_MARKUP_OPEN;
                CONSUME;
            }
            if (c == '/') {
                state = S_END_TAG_OPEN;
                CONSUME;
            }
            if (is_alpha(c)) {
                /* only raw text elements' start tags are tags */
                if (raw_start_at(p + i, len - i, &tag)) {
                    end_tag = 0;
                    i += tag.len;
                    state = S_TAG_NAME;
                    break;
                }
                RECONSUME(S_DATA);
            }
            if (c == '?') {
                RECONSUME(S_BOGUS_COMMENT);
            }
            RECONSUME(S_DATA);

        case S_END_TAG_OPEN:
            if (is_alpha(c)) {
                /* "</body>" exactly, else text */
                if (len - i >= 5 && lower(p[i]) == 'b'
                    && lower(p[i + 1]) == 'o' && lower(p[i + 2]) == 'd'
                    && lower(p[i + 3]) == 'y' && p[i + 4] == '>')
                {
                    last = tag_at;
                    i += 5;
                    state = S_DATA;
                    break;
                }
                RECONSUME(S_DATA);
            }
            /* no bogus comment: "</" is text, as in the matcher */
            RECONSUME(S_DATA);

        case S_TAG_NAME:
            if (is_space(c)) {
                state = S_BEFORE_ATTR_NAME;
                CONSUME;
            }
            if (c == '/') {
                state = S_SELF_CLOSING;
                CONSUME;
            }
            if (c == '>') {
                goto emit;
            }
            name_add(&tag, c);
            CONSUME;

        case S_BEFORE_ATTR_NAME:
            if (is_space(c)) {
                CONSUME;
            }
            if (c == '/' || c == '>') {
                RECONSUME(S_AFTER_ATTR_NAME);
            }
            if (c == '=') {
                state = S_ATTR_NAME;
                CONSUME;
            }
            RECONSUME(S_ATTR_NAME);

        case S_ATTR_NAME:
            if (is_space(c) || c == '/' || c == '>') {
                RECONSUME(S_AFTER_ATTR_NAME);
            }
            if (c == '=') {
                state = S_BEFORE_ATTR_VALUE;
                CONSUME;
            }
            CONSUME;

        case S_AFTER_ATTR_NAME:
            if (is_space(c)) {
                CONSUME;
            }
            if (c == '/') {
                state = S_SELF_CLOSING;
                CONSUME;
            }
            if (c == '=') {
                state = S_BEFORE_ATTR_VALUE;
                CONSUME;
            }
            if (c == '>') {
                goto emit;
            }
            RECONSUME(S_ATTR_NAME);

        case S_BEFORE_ATTR_VALUE:
            if (is_space(c)) {
                CONSUME;
            }
            if (c == '"') {
                state = S_ATTR_VALUE_DQ;
                CONSUME;
            }
            if (c == '\'') {
                state = S_ATTR_VALUE_SQ;
                CONSUME;
            }
            if (c == '>') {
                goto emit;
            }
            RECONSUME(S_ATTR_VALUE_UNQ);

        case S_ATTR_VALUE_DQ:
            if (c == '"') {
                state = S_AFTER_ATTR_VALUE_Q;
            }
            CONSUME;

        case S_ATTR_VALUE_SQ:
            if (c == '\'') {
                state = S_AFTER_ATTR_VALUE_Q;
            }
            CONSUME;

        case S_ATTR_VALUE_UNQ:
            if (is_space(c)) {
                state = S_BEFORE_ATTR_NAME;
                CONSUME;
            }
            if (c == '>') {
                goto emit;
            }
            CONSUME;

        case S_AFTER_ATTR_VALUE_Q:
            if (is_space(c)) {
                state = S_BEFORE_ATTR_NAME;
                CONSUME;
            }
            if (c == '/') {
                state = S_SELF_CLOSING;
                CONSUME;
            }
            if (c == '>') {
                goto emit;
            }
            RECONSUME(S_BEFORE_ATTR_NAME);

        case S_SELF_CLOSING:
            if (c == '>') {
                goto emit;
            }
            RECONSUME(S_BEFORE_ATTR_NAME);

        case S_MARKUP_OPEN:
            /* "<!" was consumed; looks ahead for "--" */
            if (i + 1 < len && p[i] == '-' && p[i + 1] == '-') {
                i += 2;
                state = S_COMMENT_START;
                break;
            }
            RECONSUME(S_BOGUS_COMMENT);

        case S_BOGUS_COMMENT:
            if (c == '>') {
                state = S_DATA;
            }
            CONSUME;

        case S_COMMENT_START:
            if (c == '-') {
                state = S_COMMENT_START_DASH;
                CONSUME;
            }
            if (c == '>') {
                state = S_DATA;
                CONSUME;
            }
            RECONSUME(S_COMMENT);

        case S_COMMENT_START_DASH:
            if (c == '-') {
                state = S_COMMENT_END;
                CONSUME;
            }
            if (c == '>') {
                state = S_DATA;
                CONSUME;
            }
            RECONSUME(S_COMMENT);

        case S_COMMENT:
            if (c == '<') {
                state = S_COMMENT_LT;
                CONSUME;
            }
            if (c == '-') {
                state = S_COMMENT_END_DASH;
                CONSUME;
            }
            CONSUME;

        case S_COMMENT_LT:
            if (c == '!') {
                state = S_COMMENT_LT_BANG;
                CONSUME;
            }
            if (c == '<') {
                CONSUME;
            }
            RECONSUME(S_COMMENT);

        case S_COMMENT_LT_BANG:
            if (c == '-') {
                state = S_COMMENT_LT_BANG_DASH;
                CONSUME;
            }
            RECONSUME(S_COMMENT);

        case S_COMMENT_LT_BANG_DASH:
            if (c == '-') {
                state = S_COMMENT_LT_BANG_DASH_DASH;
                CONSUME;
            }
            RECONSUME(S_COMMENT_END_DASH);

        case S_COMMENT_LT_BANG_DASH_DASH:
            RECONSUME(S_COMMENT_END);

        case S_COMMENT_END_DASH:
            if (c == '-') {
                state = S_COMMENT_END;
                CONSUME;
            }
            RECONSUME(S_COMMENT);

        case S_COMMENT_END:
            if (c == '>') {
                state = S_DATA;
                CONSUME;
            }
            if (c == '!') {
                state = S_COMMENT_END_BANG;
                CONSUME;
            }
            if (c == '-') {
                CONSUME;
            }
            RECONSUME(S_COMMENT);

        case S_COMMENT_END_BANG:
            if (c == '-') {
                state = S_COMMENT_END_DASH;
                CONSUME;
            }
            if (c == '>') {
                state = S_DATA;
                CONSUME;
            }
            RECONSUME(S_COMMENT);

        /* RCDATA and RAWTEXT: the same states but for entities */

        case S_RCDATA:
            if (c == '<') {
                state = S_RCDATA_LT;
            }
            CONSUME;

        case S_RCDATA_LT:
            if (c == '/') {
                memset(&temp, 0, sizeof(temp));
                state = S_RCDATA_END_OPEN;
                CONSUME;
            }
            RECONSUME(S_RCDATA);

        case S_RCDATA_END_OPEN:
            if (is_alpha(c)) {
                memset(&tag, 0, sizeof(tag));
                end_tag = 1;
                RECONSUME(S_RCDATA_END_NAME);
            }
            RECONSUME(S_RCDATA);

        case S_RCDATA_END_NAME:
        case S_SCRIPT_END_NAME:
        case S_SCRIPT_ESC_END_NAME:
            if ((is_space(c) || c == '/' || c == '>')
                && !tag.over && strcmp(tag.buf, last_start.buf) == 0)
            {
                if (c == '>') {
                    goto emit;
                }
                state = is_space(c) ? S_BEFORE_ATTR_NAME : S_SELF_CLOSING;
                CONSUME;
            }
            if (is_alpha(c)) {
                name_add(&tag, c);
                CONSUME;
            }
            RECONSUME(state == S_RCDATA_END_NAME ? S_RCDATA
                      : state == S_SCRIPT_END_NAME ? S_SCRIPT
                      : S_SCRIPT_ESC);

        case S_SCRIPT:
            if (c == '<') {
                state = S_SCRIPT_LT;
            }
            CONSUME;

        case S_SCRIPT_LT:
            if (c == '/') {
                state = S_SCRIPT_END_OPEN;
                CONSUME;
            }
            if (c == '!') {
                state = S_SCRIPT_ESC_START;
                CONSUME;
            }
            RECONSUME(S_SCRIPT);

        case S_SCRIPT_END_OPEN:
            if (is_alpha(c)) {
                memset(&tag, 0, sizeof(tag));
                end_tag = 1;
                RECONSUME(S_SCRIPT_END_NAME);
            }
            RECONSUME(S_SCRIPT);

        case S_SCRIPT_ESC_START:
            if (c == '-') {
                state = S_SCRIPT_ESC_START_DASH;
                CONSUME;
            }
            RECONSUME(S_SCRIPT);

        case S_SCRIPT_ESC_START_DASH:
            if (c == '-') {
                state = S_SCRIPT_ESC_DASH_DASH;
                CONSUME;
            }
            RECONSUME(S_SCRIPT);

        case S_SCRIPT_ESC:
            if (c == '-') {
                state = S_SCRIPT_ESC_DASH;
            } else if (c == '<') {
                state = S_SCRIPT_ESC_LT;
            }
            CONSUME;

        case S_SCRIPT_ESC_DASH:
            if (c == '-') {
                state = S_SCRIPT_ESC_DASH_DASH;
            } else if (c == '<') {
                state = S_SCRIPT_ESC_LT;
            } else {
                state = S_SCRIPT_ESC;
            }
            CONSUME;

        case S_SCRIPT_ESC_DASH_DASH:
            if (c == '-') {
                /* stays */
            } else if (c == '<') {
                state = S_SCRIPT_ESC_LT;
            } else if (c == '>') {
                state = S_SCRIPT;
            } else {
                state = S_SCRIPT_ESC;
            }
            CONSUME;

        case S_SCRIPT_ESC_LT:
            if (c == '/') {
                state = S_SCRIPT_ESC_END_OPEN;
                CONSUME;
            }
            if (is_alpha(c)) {
                memset(&temp, 0, sizeof(temp));
                RECONSUME(S_SCRIPT_DESC_START);
            }
            RECONSUME(S_SCRIPT_ESC);

        case S_SCRIPT_ESC_END_OPEN:
            if (is_alpha(c)) {
                memset(&tag, 0, sizeof(tag));
                end_tag = 1;
                RECONSUME(S_SCRIPT_ESC_END_NAME);
            }
            RECONSUME(S_SCRIPT_ESC);

        case S_SCRIPT_DESC_START:
            if (is_space(c) || c == '/' || c == '>') {
                state = name_is(&temp, "script") ? S_SCRIPT_DESC
                                                 : S_SCRIPT_ESC;
                CONSUME;
            }
            if (is_alpha(c)) {
                name_add(&temp, c);
                CONSUME;
            }
            RECONSUME(S_SCRIPT_ESC);

        case S_SCRIPT_DESC:
            if (c == '-') {
                state = S_SCRIPT_DESC_DASH;
            } else if (c == '<') {
                state = S_SCRIPT_DESC_LT;
            }
            CONSUME;

        case S_SCRIPT_DESC_DASH:
            if (c == '-') {
                state = S_SCRIPT_DESC_DASH_DASH;
            } else if (c == '<') {
                state = S_SCRIPT_DESC_LT;
            } else {
                state = S_SCRIPT_DESC;
            }
            CONSUME;

        case S_SCRIPT_DESC_DASH_DASH:
            if (c == '-') {
                /* stays */
            } else if (c == '<') {
                state = S_SCRIPT_DESC_LT;
            } else if (c == '>') {
                state = S_SCRIPT;
            } else {
                state = S_SCRIPT_DESC;
            }
            CONSUME;

        case S_SCRIPT_DESC_LT:
            if (c == '/') {
                memset(&temp, 0, sizeof(temp));
                state = S_SCRIPT_DESC_END;
                CONSUME;
            }
            RECONSUME(S_SCRIPT_DESC);

        case S_SCRIPT_DESC_END:
            if (is_space(c) || c == '/' || c == '>') {
                state = name_is(&temp, "script") ? S_SCRIPT_ESC
                                                 : S_SCRIPT_DESC;
                CONSUME;
            }
            if (is_alpha(c)) {
                name_add(&temp, c);
                CONSUME;
            }
            RECONSUME(S_SCRIPT_DESC);

        case S_PLAINTEXT:
            CONSUME;

        emit:

            /* c is the ">" ending a tag token */

            if (end_tag) {
                state = S_DATA;

            } else if (name_is(&tag, "script")) {
                last_start = tag;
                state = S_SCRIPT;

            } else if (name_is(&tag, "style") || name_is(&tag, "xmp")
                       || name_is(&tag, "iframe") || name_is(&tag, "noembed")
                       || name_is(&tag, "noframes")
                       || name_is(&tag, "noscript")
                       || name_is(&tag, "textarea")
                       || name_is(&tag, "title"))
            {
                last_start = tag;
                state = S_RCDATA;

            } else if (name_is(&tag, "plaintext")) {
                state = S_PLAINTEXT;

            } else {
                state = S_DATA;
            }

            CONSUME;
        }

#undef CONSUME
#undef RECONSUME
    }

    return last;
}


/* the whole page at once: the rule the streaming matcher must follow */

static size_t
reference(const u_char *p, size_t len, off_t max_tail, u_char *out)
{
    size_t  n;
    long    last;

    last = ref_last_body(p, len);

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


/* bytes as C string literal text, so that a NUL does not cut them short */

static void
dump(const char *label, const u_char *p, size_t n)
{
    size_t  i;

    fprintf(stderr, "%s\"", label);

    for (i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
            fputc(p[i], stderr);

        } else {
            fprintf(stderr, "\\x%02x", p[i]);
        }
    }

    fprintf(stderr, "\"\n");
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
        fprintf(stderr, "mismatch (max_tail %lld, window %zu)\n",
                (long long) max_tail, w.wsize);
        dump("page:      ", page, plen);
        dump("streamed:  ", out, olen);
        dump("reference: ", ref, rlen);
        abort();
    }

    return 0;
}
