
/*
 * libFuzzer harness for the snippet templates
 * (ngx_http_cometchat_template.c with ngx_http_cometchat_escape.c and
 * ngx_http_cometchat_widget.c): a random template is compiled as at
 * configuration time, then rendered with random values as in the header
 * filter.
 *
 * template.c is compiled into the harness (#include) to reach the
 * compiled parts; nginx's variables are test doubles that hand out the
 * input's bytes.  An input is
 *
 *     FLAGS TEMPLATE \0 then values: LEN(1) BYTES ...
 *
 * taken in turn by $cometchat_uid, $cometchat_auth_token, the CSP nonce
 * and each other variable name in order of first use (LEN 255: the
 * variable is not found).  FLAGS bit 0: the response has a nonce; bit 1:
 * the template is the built-in widget, with the first two values as
 * cometchat_app_id and cometchat_region (TEMPLATE is ignored).  A
 * template the compiler refuses is fine.
 *
 * Oracle: a rendered value never leaves the place it stands in.  The
 * output is read by an HTML tokenizer written here after the WHATWG
 * tokenizer (data, RCDATA, RAWTEXT, script data with its escaped states,
 * tags, attribute values, comments, doctype) with, in script data, a
 * JavaScript reader (code, '...', "...", `...` with ${} nesting, line
 * and block comments, "<!--" and "-->" comments; no regular expression
 * literals, which the compiler documents it does not follow).  For each
 * value the state is the same before and after it, and inside it only
 * moves within its context (a value in a comment may hold "-", never end
 * the comment); a value in JS code is one "..." string.  Also: the
 * rendered length is the sum of the parts.
 *
 * Built and run by tools/fuzz/run.
 */


#include "fuzz_ngx.h"

#include "../../ngx_http_cometchat_module/ngx_http_cometchat_template.c"


/*
 * The oracle's own branches are no coverage to the fuzzer, and their
 * comparisons traced cost more than the module's code
 */
#define FUZZ_ORACLE  __attribute__((no_sanitize("coverage")))

#define FUZZ_VARS    16
#define FUZZ_VALUES  (3 + FUZZ_VARS)


typedef struct {
    u_char      name[64];
    size_t      len;
} fuzz_var_t;


static fuzz_var_t                 vars[FUZZ_VARS];
static ngx_uint_t                 nvars;
static ngx_http_variable_value_t  values[FUZZ_VALUES];
static ngx_uint_t                 conf_errors;


/* test doubles for what template.c and widget.c call outside */

ngx_int_t
ngx_http_get_variable_index(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < nvars; i++) {
        if (vars[i].len == ngx_min(name->len, sizeof(vars[i].name))
            && ngx_memcmp(vars[i].name, name->data, vars[i].len) == 0)
        {
            return i;
        }
    }

    if (nvars == FUZZ_VARS) {
        /* more names share the last values */
        return FUZZ_VARS - 1;
    }

    vars[nvars].len = ngx_min(name->len, sizeof(vars[nvars].name));
    ngx_memcpy(vars[nvars].name, name->data, vars[nvars].len);

    return nvars++;
}


ngx_http_variable_value_t *
ngx_http_get_indexed_variable(ngx_http_request_t *r, ngx_uint_t index)
{
    if (index >= FUZZ_VARS) {
        fuzz_fail("variable index %lu", (unsigned long) index);
    }

    return &values[3 + index];
}


void ngx_cdecl
ngx_conf_log_error(ngx_uint_t level, ngx_conf_t *cf, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   buf[NGX_MAX_CONF_ERRSTR], *p;
    va_list  args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    conf_errors++;

    if (getenv("FUZZ_LOG")) {
        fprintf(stderr, "conf: %.*s\n", (int) (p - buf), buf);
    }
}


char *
ngx_http_cometchat_read_conf_file(ngx_conf_t *cf, char *directive,
    ngx_str_t *path, size_t max, ngx_pool_t *pool, ngx_str_t *text)
{
    fuzz_fail("read_conf_file() called");
    return NGX_CONF_ERROR;
}


char *
ngx_conf_set_flag_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return NGX_CONF_ERROR;
}


/*
 * The HTML tokenizer.  States in groups: a value may move between the
 * states of one group (a comment's "-" states), never out of it.
 */

enum {
    H_DATA = 1, H_RCDATA, H_RAWTEXT, H_PLAINTEXT,
    H_TAG_OPEN, H_END_TAG_OPEN, H_TAG_NAME,
    H_RCDATA_LT, H_RCDATA_END_OPEN, H_RCDATA_END_NAME,
    H_RAWTEXT_LT, H_RAWTEXT_END_OPEN, H_RAWTEXT_END_NAME,
    H_SD, H_SD_LT, H_SD_END_OPEN, H_SD_END_NAME,
    H_SD_ESC_START, H_SD_ESC_START_DASH,
    H_SD_ESC, H_SD_ESC_DASH, H_SD_ESC_DASH_DASH,
    H_SD_ESC_LT, H_SD_ESC_END_OPEN, H_SD_ESC_END_NAME,
    H_SD_DESC_START,
    H_SD_DESC, H_SD_DESC_DASH, H_SD_DESC_DASH_DASH,
    H_SD_DESC_LT, H_SD_DESC_END,
    H_BEFORE_ATTR_NAME, H_ATTR_NAME, H_AFTER_ATTR_NAME,
    H_BEFORE_ATTR_VALUE, H_ATTR_DQ, H_ATTR_SQ, H_ATTR_UNQ,
    H_AFTER_ATTR_QUOTED, H_SELF_CLOSING,
    H_BOGUS, H_MARKUP, H_DOCTYPE,
    H_COMMENT_START, H_COMMENT_START_DASH,
    H_COMMENT, H_COMMENT_LT, H_COMMENT_LT_BANG, H_COMMENT_LT_BANG_DASH,
    H_COMMENT_LT_BANG_DASH_DASH, H_COMMENT_END_DASH, H_COMMENT_END,
    H_COMMENT_END_BANG,
    H_LAST
};

enum { J_NONE = 0, J_CODE, J_SQ, J_DQ, J_TPL, J_LINE, J_BLOCK };

#define JS_STACK  32


typedef struct {
    ngx_uint_t  html;
    ngx_uint_t  js;
    ngx_uint_t  hskip;      /* bytes the HTML lookahead has read */
    ngx_uint_t  jskip;      /* bytes the JS lookahead has read */
    ngx_uint_t  blank;      /* only blanks on the JS line so far */
    ngx_uint_t  depth;      /* braces in the innermost ${ } */
    ngx_uint_t  sp;
    ngx_uint_t  stack[JS_STACK];
    ngx_uint_t  end_tag;    /* the tag being read is an end tag */
    size_t      name_len;   /* tag name, temporary buffer */
    u_char      name[16];
    size_t      buf_len;
    u_char      buf[16];
    ngx_uint_t  lost;       /* too deep: no oracle */
} tz_t;


/* what a state of the tokenizer is, per byte of the output */
typedef struct {
    uint16_t    html;
    uint8_t     js;
    uint8_t     skip;
    uint32_t    extra;      /* buffer lengths, JS depth, ... */
} tz_at_t;


FUZZ_ORACLE
static ngx_uint_t
tz_group(ngx_uint_t h)
{
    switch (h) {
    case H_SD_ESC:
    case H_SD_ESC_DASH:
    case H_SD_ESC_DASH_DASH:
        return H_SD_ESC;
    case H_SD_DESC:
    case H_SD_DESC_DASH:
    case H_SD_DESC_DASH_DASH:
        return H_SD_DESC;
    case H_COMMENT:
    case H_COMMENT_LT:
    case H_COMMENT_LT_BANG:
    case H_COMMENT_LT_BANG_DASH:
    case H_COMMENT_LT_BANG_DASH_DASH:
    case H_COMMENT_END_DASH:
    case H_COMMENT_END:
    case H_COMMENT_END_BANG:
        return H_COMMENT;
    default:
        return h;
    }
}


/* a state waiting for its next byte, and where a plain byte takes it */

FUZZ_ORACLE
static ngx_uint_t
tz_base(ngx_uint_t h)
{
    switch (h) {
    case H_TAG_OPEN:
        return H_DATA;
    case H_RCDATA_LT:
    case H_RCDATA_END_OPEN:
    case H_RCDATA_END_NAME:
        return H_RCDATA;
    case H_RAWTEXT_LT:
    case H_RAWTEXT_END_OPEN:
    case H_RAWTEXT_END_NAME:
        return H_RAWTEXT;
    case H_SD_LT:
    case H_SD_END_OPEN:
    case H_SD_END_NAME:
    case H_SD_ESC_START:
    case H_SD_ESC_START_DASH:
        return H_SD;
    case H_SD_ESC_LT:
    case H_SD_ESC_END_OPEN:
    case H_SD_ESC_END_NAME:
    case H_SD_DESC_START:
        return H_SD_ESC;
    case H_SD_DESC_LT:
    case H_SD_DESC_END:
        return H_SD_DESC;
    case H_COMMENT_START:
    case H_COMMENT_START_DASH:
        return H_COMMENT;
    case H_BEFORE_ATTR_VALUE:
        return H_ATTR_UNQ;
    default:
        return 0;
    }
}


FUZZ_ORACLE
static ngx_uint_t
tz_in_script(ngx_uint_t h)
{
    return h >= H_SD && h <= H_SD_DESC_END;
}


FUZZ_ORACLE
static ngx_uint_t
is_alpha(u_char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}


FUZZ_ORACLE
static ngx_uint_t
is_space(u_char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}


FUZZ_ORACLE
static void
tz_name_add(u_char *name, size_t *len, u_char c)
{
    if (*len < 16) {
        name[*len] = (u_char) ((c >= 'A' && c <= 'Z') ? (c | 0x20) : c);
    }

    (*len)++;
}


FUZZ_ORACLE
static ngx_uint_t
tz_is(u_char *name, size_t len, const char *s)
{
    return len == strlen(s) && ngx_memcmp(name, s, len) == 0;
}


/* a tag ends: the tree builder switches the tokenizer for some elements */

FUZZ_ORACLE
static void
tz_tag_end(tz_t *t)
{
    ngx_uint_t  js;

    js = 0;
    t->html = H_DATA;

    if (t->end_tag) {
        return;
    }

    if (tz_is(t->name, t->name_len, "script")) {
        t->html = H_SD;
        js = 1;

    } else if (tz_is(t->name, t->name_len, "style")
               || tz_is(t->name, t->name_len, "xmp")
               || tz_is(t->name, t->name_len, "iframe")
               || tz_is(t->name, t->name_len, "noembed")
               || tz_is(t->name, t->name_len, "noframes")
               || tz_is(t->name, t->name_len, "noscript"))
    {
        t->html = H_RAWTEXT;

    } else if (tz_is(t->name, t->name_len, "title")
               || tz_is(t->name, t->name_len, "textarea"))
    {
        t->html = H_RCDATA;

    } else if (tz_is(t->name, t->name_len, "plaintext")) {
        t->html = H_PLAINTEXT;
    }

    if (js) {
        t->js = J_CODE;
        t->blank = 1;
        t->depth = 0;
        t->sp = 0;
    }

    /* the raw text ends at the end tag of this element */

    ngx_memcpy(t->buf, t->name, ngx_min(t->name_len, 16));
    t->buf_len = 0;
}


/* the last start tag's name, for "an appropriate end tag token" */

static u_char   last_start[16];
static size_t   last_start_len;


FUZZ_ORACLE
static ngx_uint_t
tz_appropriate(tz_t *t)
{
    return !t->end_tag ? 0
           : (t->name_len == last_start_len
              && ngx_memcmp(t->name, last_start,
                            ngx_min(t->name_len, 16)) == 0);
}


FUZZ_ORACLE
static void
tz_html(tz_t *t, u_char *p, u_char *last)
{
    u_char      c;
    ngx_uint_t  h, name;

    c = *p;

again:

    h = t->html;

    switch (h) {

    case H_DATA:
        if (c == '<') {
            t->html = H_TAG_OPEN;
        }
        return;

    case H_PLAINTEXT:
        return;

    case H_RCDATA:
    case H_RAWTEXT:
        if (c == '<') {
            t->html = (h == H_RCDATA) ? H_RCDATA_LT : H_RAWTEXT_LT;
        }
        return;

    case H_TAG_OPEN:
        if (c == '!') {
            /* the markup declaration open state reads ahead */
            if (last - p >= 3 && p[1] == '-' && p[2] == '-') {
                t->hskip = 2;
                t->html = H_COMMENT_START;

            } else if (last - p >= 8
                       && ngx_strncasecmp(p + 1, (u_char *) "doctype", 7)
                          == 0)
            {
                t->hskip = 7;
                t->html = H_DOCTYPE;

            } else {
                t->html = H_BOGUS;
            }
            return;
        }

        if (c == '/') {
            t->html = H_END_TAG_OPEN;
            return;
        }

        if (is_alpha(c)) {
            t->end_tag = 0;
            t->name_len = 0;
            t->html = H_TAG_NAME;
            goto again;
        }

        if (c == '?') {
            t->html = H_BOGUS;
            return;
        }

        t->html = H_DATA;
        goto again;

    case H_END_TAG_OPEN:
        if (is_alpha(c)) {
            t->end_tag = 1;
            t->name_len = 0;
            t->html = H_TAG_NAME;
            goto again;
        }

        t->html = (c == '>') ? H_DATA : H_BOGUS;
        return;

    case H_TAG_NAME:
        if (is_space(c)) {
            t->html = H_BEFORE_ATTR_NAME;

        } else if (c == '/') {
            t->html = H_SELF_CLOSING;

        } else if (c == '>') {
            goto tag_end;

        } else {
            tz_name_add(t->name, &t->name_len, c);
        }
        return;

    case H_RCDATA_LT:
    case H_RAWTEXT_LT:
    case H_SD_LT:
        if (c == '/') {
            t->buf_len = 0;
            t->html = h + 1;
            return;
        }

        if (h == H_SD_LT && c == '!') {
            t->html = H_SD_ESC_START;
            return;
        }

        t->html = tz_base(h);
        goto again;

    case H_RCDATA_END_OPEN:
    case H_RAWTEXT_END_OPEN:
    case H_SD_END_OPEN:
    case H_SD_ESC_END_OPEN:
        if (is_alpha(c)) {
            t->end_tag = 1;
            t->name_len = 0;
            t->html = h + 1;
            goto again;
        }

        t->html = tz_base(h);
        goto again;

    case H_RCDATA_END_NAME:
    case H_RAWTEXT_END_NAME:
    case H_SD_END_NAME:
    case H_SD_ESC_END_NAME:
        if ((is_space(c) || c == '/' || c == '>') && tz_appropriate(t)) {
            if (is_space(c)) {
                t->html = H_BEFORE_ATTR_NAME;

            } else if (c == '/') {
                t->html = H_SELF_CLOSING;

            } else {
                goto tag_end;
            }
            return;
        }

        if (is_alpha(c)) {
            tz_name_add(t->name, &t->name_len, c);
            return;
        }

        t->html = tz_base(h);
        goto again;

    case H_SD:
        if (c == '<') {
            t->html = H_SD_LT;
        }
        return;

    case H_SD_ESC_START:
    case H_SD_ESC_START_DASH:
        if (c == '-') {
            t->html = (h == H_SD_ESC_START) ? H_SD_ESC_START_DASH
                                            : H_SD_ESC_DASH_DASH;
            return;
        }

        t->html = H_SD;
        goto again;

    case H_SD_ESC:
    case H_SD_ESC_DASH:
    case H_SD_ESC_DASH_DASH:
        if (c == '-') {
            t->html = (h == H_SD_ESC) ? H_SD_ESC_DASH : H_SD_ESC_DASH_DASH;

        } else if (c == '<') {
            t->html = H_SD_ESC_LT;

        } else if (c == '>' && h == H_SD_ESC_DASH_DASH) {
            t->html = H_SD;

        } else {
            t->html = H_SD_ESC;
        }
        return;

    case H_SD_ESC_LT:
        if (c == '/') {
            t->buf_len = 0;
            t->html = H_SD_ESC_END_OPEN;
            return;
        }

        if (is_alpha(c)) {
            t->buf_len = 0;
            t->html = H_SD_DESC_START;
            goto again;
        }

        t->html = H_SD_ESC;
        goto again;

    case H_SD_DESC_START:
    case H_SD_DESC_END:
        if (is_space(c) || c == '/' || c == '>') {
            name = tz_is(t->buf, t->buf_len, "script");

            if (h == H_SD_DESC_START) {
                t->html = name ? H_SD_DESC : H_SD_ESC;
            } else {
                t->html = name ? H_SD_ESC : H_SD_DESC;
            }
            return;
        }

        if (is_alpha(c)) {
            tz_name_add(t->buf, &t->buf_len, c);
            return;
        }

        t->html = tz_base(h);
        goto again;

    case H_SD_DESC:
    case H_SD_DESC_DASH:
    case H_SD_DESC_DASH_DASH:
        if (c == '-') {
            t->html = (h == H_SD_DESC) ? H_SD_DESC_DASH
                                       : H_SD_DESC_DASH_DASH;

        } else if (c == '<') {
            t->html = H_SD_DESC_LT;

        } else if (c == '>' && h == H_SD_DESC_DASH_DASH) {
            t->html = H_SD;

        } else {
            t->html = H_SD_DESC;
        }
        return;

    case H_SD_DESC_LT:
        if (c == '/') {
            t->buf_len = 0;
            t->html = H_SD_DESC_END;
            return;
        }

        t->html = H_SD_DESC;
        goto again;

    case H_BEFORE_ATTR_NAME:
        if (is_space(c)) {
            return;
        }

        if (c == '/' || c == '>') {
            t->html = H_AFTER_ATTR_NAME;
            goto again;
        }

        /* "=" here starts a name */
        t->html = H_ATTR_NAME;
        return;

    case H_ATTR_NAME:
        if (is_space(c) || c == '/' || c == '>') {
            t->html = H_AFTER_ATTR_NAME;
            goto again;
        }

        if (c == '=') {
            t->html = H_BEFORE_ATTR_VALUE;
        }
        return;

    case H_AFTER_ATTR_NAME:
        if (is_space(c)) {
            return;
        }

        if (c == '/') {
            t->html = H_SELF_CLOSING;
            return;
        }

        if (c == '=') {
            t->html = H_BEFORE_ATTR_VALUE;
            return;
        }

        if (c == '>') {
            goto tag_end;
        }

        t->html = H_ATTR_NAME;
        return;

    case H_BEFORE_ATTR_VALUE:
        if (is_space(c)) {
            return;
        }

        if (c == '"') {
            t->html = H_ATTR_DQ;
            return;
        }

        if (c == '\'') {
            t->html = H_ATTR_SQ;
            return;
        }

        if (c == '>') {
            goto tag_end;
        }

        t->html = H_ATTR_UNQ;
        goto again;

    case H_ATTR_DQ:
    case H_ATTR_SQ:
        if (c == (h == H_ATTR_DQ ? '"' : '\'')) {
            t->html = H_AFTER_ATTR_QUOTED;
        }
        return;

    case H_ATTR_UNQ:
        if (is_space(c)) {
            t->html = H_BEFORE_ATTR_NAME;

        } else if (c == '>') {
            goto tag_end;
        }
        return;

    case H_AFTER_ATTR_QUOTED:
        if (is_space(c)) {
            t->html = H_BEFORE_ATTR_NAME;
            return;
        }

        if (c == '/') {
            t->html = H_SELF_CLOSING;
            return;
        }

        if (c == '>') {
            goto tag_end;
        }

        t->html = H_BEFORE_ATTR_NAME;
        goto again;

    case H_SELF_CLOSING:
        if (c == '>') {
            goto tag_end;
        }

        t->html = H_BEFORE_ATTR_NAME;
        goto again;

    case H_BOGUS:
    case H_DOCTYPE:
        if (c == '>') {
            t->html = H_DATA;
        }
        return;

    case H_COMMENT_START:
        if (c == '-') {
            t->html = H_COMMENT_START_DASH;
            return;
        }

        if (c == '>') {
            t->html = H_DATA;
            return;
        }

        t->html = H_COMMENT;
        goto again;

    case H_COMMENT_START_DASH:
        if (c == '-') {
            t->html = H_COMMENT_END;
            return;
        }

        if (c == '>') {
            t->html = H_DATA;
            return;
        }

        t->html = H_COMMENT;
        goto again;

    case H_COMMENT:
        if (c == '<') {
            t->html = H_COMMENT_LT;

        } else if (c == '-') {
            t->html = H_COMMENT_END_DASH;
        }
        return;

    case H_COMMENT_LT:
        if (c == '!') {
            t->html = H_COMMENT_LT_BANG;

        } else if (c != '<') {
            t->html = H_COMMENT;
            goto again;
        }
        return;

    case H_COMMENT_LT_BANG:
        if (c == '-') {
            t->html = H_COMMENT_LT_BANG_DASH;
            return;
        }

        t->html = H_COMMENT;
        goto again;

    case H_COMMENT_LT_BANG_DASH:
        if (c == '-') {
            t->html = H_COMMENT_LT_BANG_DASH_DASH;
            return;
        }

        t->html = H_COMMENT_END_DASH;
        goto again;

    case H_COMMENT_LT_BANG_DASH_DASH:
        t->html = H_COMMENT_END;
        goto again;

    case H_COMMENT_END_DASH:
        if (c == '-') {
            t->html = H_COMMENT_END;
            return;
        }

        t->html = H_COMMENT;
        goto again;

    case H_COMMENT_END:
        if (c == '>') {
            t->html = H_DATA;

        } else if (c == '!') {
            t->html = H_COMMENT_END_BANG;

        } else if (c != '-') {
            t->html = H_COMMENT;
            goto again;
        }
        return;

    case H_COMMENT_END_BANG:
        if (c == '-') {
            t->html = H_COMMENT_END_DASH;

        } else if (c == '>') {
            t->html = H_DATA;

        } else {
            t->html = H_COMMENT;
            goto again;
        }
        return;

    default:
        fuzz_fail("tokenizer state %lu", (unsigned long) h);
    }

tag_end:

    if (!t->end_tag) {
        last_start_len = t->name_len;
        ngx_memcpy(last_start, t->name, ngx_min(t->name_len, 16));
    }

    tz_tag_end(t);
}


/* JavaScript in script data: strings, comments, template literals */

FUZZ_ORACLE
static void
tz_js(tz_t *t, u_char *p, u_char *last)
{
    u_char  c;

    c = *p;

    if (c == '\n') {
        t->blank = 1;
    }

    switch (t->js) {

    case J_CODE:
        if ((c == '<' && last - p >= 4 && ngx_strncmp(p + 1, "!--", 3) == 0)
            || (c == '-' && t->blank && last - p >= 3 && p[1] == '-'
                && p[2] == '>'))
        {
            t->js = J_LINE;
            return;
        }

        if (!is_space(c)) {
            t->blank = 0;
        }

        if (c == '\'') {
            t->js = J_SQ;

        } else if (c == '"') {
            t->js = J_DQ;

        } else if (c == '`') {
            t->js = J_TPL;

        } else if (c == '/' && last - p >= 2 && p[1] == '/') {
            t->js = J_LINE;
            t->jskip = 1;

        } else if (c == '/' && last - p >= 2 && p[1] == '*') {
            t->js = J_BLOCK;
            t->jskip = 1;

        } else if (c == '{') {
            t->depth++;

        } else if (c == '}') {
            if (t->depth) {
                t->depth--;

            } else if (t->sp) {
                /* the end of a ${ } */
                t->depth = t->stack[--t->sp];
                t->js = J_TPL;
            }
        }
        return;

    case J_SQ:
    case J_DQ:
    case J_TPL:
        if (c == '\\') {
            t->jskip = 1;

        } else if ((c == '\'' && t->js == J_SQ)
                   || (c == '"' && t->js == J_DQ)
                   || (c == '`' && t->js == J_TPL)
                   || (c == '\n' && t->js != J_TPL))
        {
            t->js = J_CODE;

        } else if (c == '$' && t->js == J_TPL && last - p >= 2
                   && p[1] == '{')
        {
            if (t->sp == JS_STACK) {
                t->lost = 1;
                return;
            }

            t->stack[t->sp++] = t->depth;
            t->depth = 0;
            t->js = J_CODE;
            t->jskip = 1;
        }
        return;

    case J_LINE:
        if (c == '\n') {
            t->js = J_CODE;
        }
        return;

    default: /* J_BLOCK */
        if (c == '*' && last - p >= 2 && p[1] == '/') {
            t->js = J_CODE;
            t->jskip = 1;
        }
        return;
    }
}


/* the state before each byte of out, and after the last */

FUZZ_ORACLE
static tz_at_t *
tz_run(u_char *out, size_t len, ngx_uint_t *lost)
{
    size_t    i;
    tz_t      t;
    tz_at_t  *at;
    u_char   *last;

    at = calloc(len + 1, sizeof(tz_at_t));
    if (at == NULL) {
        fuzz_fail("out of memory");
    }

    ngx_memzero(&t, sizeof(tz_t));
    t.html = H_DATA;
    last_start_len = 0;
    last = out + len;

    for (i = 0; i <= len; i++) {
        at[i].html = (uint16_t) t.html;
        at[i].js = (uint8_t) (tz_in_script(t.html) ? t.js : J_NONE);
        at[i].skip = (uint8_t) (t.hskip | t.jskip << 4);
        at[i].extra = (uint32_t) ((t.name_len & 0xff)
                                  | (t.buf_len & 0xff) << 8
                                  | (t.depth & 0xff) << 16
                                  | (t.sp & 0xff) << 24);

        if (i == len) {
            break;
        }

        if (t.hskip) {
            t.hskip--;

        } else {
            tz_html(&t, &out[i], last);
        }

        if (tz_in_script(at[i].html) && tz_in_script(t.html)) {
            if (t.jskip) {
                t.jskip--;

            } else {
                tz_js(&t, &out[i], last);
            }
        }
    }

    *lost = t.lost;

    return at;
}


static const char *
tz_name(ngx_uint_t h)
{
    static char  buf[16];

    snprintf(buf, sizeof(buf), "html %lu", (unsigned long) h);

    return buf;
}


FUZZ_ORACLE
static ngx_uint_t
tz_same(tz_at_t *a, tz_at_t *b)
{
    return a->html == b->html && a->js == b->js && a->skip == b->skip
           && a->extra == b->extra;
}


/* the escapes that suit the place a value starts in */

FUZZ_ORACLE
static ngx_uint_t
escape_fits(tz_at_t *a, ngx_uint_t escape)
{
    ngx_uint_t  h;

#define E(x)  (1 << NGX_HTTP_COMETCHAT_ESC_##x)

    h = tz_base(a->html) ? tz_base(a->html) : a->html;

    if (tz_in_script(h)) {
        return (a->js == J_CODE) ? escape == NGX_HTTP_COMETCHAT_ESC_JS_QUOTED
                                 : escape == NGX_HTTP_COMETCHAT_ESC_JS;
    }

    switch (tz_group(h)) {
    case H_DATA:
    case H_RCDATA:
    case H_COMMENT:
    case H_BOGUS:
    case H_DOCTYPE:
        return ((E(HTML) | E(HTML_UNQ)) >> escape) & 1;
    case H_RAWTEXT:
        return ((E(HTML) | E(HTML_UNQ) | E(CSS)) >> escape) & 1;
    case H_ATTR_DQ:
    case H_ATTR_SQ:
        return ((E(HTML) | E(HTML_UNQ) | E(URL) | E(URL_UNQ)) >> escape) & 1;
    case H_ATTR_UNQ:
        return ((E(HTML_UNQ) | E(URL_UNQ)) >> escape) & 1;
    case H_PLAINTEXT:
        return 1;
    default:
        return 0;
    }

#undef E
}


/*
 * The value left the tokenizer in another state than it found it: is it
 * one that acts as the plain one ("-" in a comment before a " ")?  The
 * output with the value replaced by a "%" is read too, and the text after
 * the value must take both to the same state before their kinds differ.
 * "%" is plain wherever a value may stand, and ends a tag name the text
 * before it began, as any value that is not letters does.
 */

FUZZ_ORACLE
static ngx_uint_t
same_as_neutral(u_char *out, size_t len, tz_at_t *at, size_t s, size_t e)
{
    u_char      *ref;
    size_t       k, r, rlen;
    tz_at_t     *at2;
    ngx_uint_t   lost, ok, ga, gb;

    rlen = s + 1 + (len - e);
    ref = malloc(rlen);
    ngx_memcpy(ref, out, s);
    ref[s] = '%';
    ngx_memcpy(ref + s + 1, out + e, len - e);

    at2 = tz_run(ref, rlen, &lost);

    ok = 1;

    for (k = e, r = s + 1; k <= len; k++, r++) {
        if (tz_same(&at[k], &at2[r])) {
            break;
        }

        /* a state waiting for its next byte stands for its plain one */

        ga = tz_group(at[k].html);
        gb = tz_group(at2[r].html);

        if ((ga != gb && tz_group(tz_base(at[k].html)) != gb
             && ga != tz_group(tz_base(at2[r].html)))
            || at[k].js != at2[r].js)
        {
            ok = 0;
            break;
        }
    }

    free(at2);
    free(ref);

    return ok;
}


/* the value rendered at out[s..e) for a part of that escape */

FUZZ_ORACLE
static void
check_value(u_char *out, size_t len, tz_at_t *at, size_t s, size_t e,
    ngx_uint_t escape)
{
    size_t       i, from, to;
    ngx_uint_t   g, base;
    const char  *why;

    if (s == e) {
        return;
    }

    why = "the escape does not suit the place";

    from = s;
    to = e;

    if (!escape_fits(&at[s], escape)) {
        goto failed;
    }

    why = "not one JS string";

    if (escape == NGX_HTTP_COMETCHAT_ESC_JS_QUOTED) {
        /* one string: its quotes are the value's first and last bytes */

        if (at[s].js != J_CODE || at[s + 1].js != J_DQ
            || at[e].js != J_CODE || at[e].skip != at[s].skip)
        {
            goto failed;
        }

        /* the state before, or the one a plain byte takes it to */

        if (!tz_same(&at[s], &at[e])
            && at[e].html != tz_base(at[s].html))
        {
            goto failed;
        }

        /* inside, as any JS string value; the ends are compared above */

        from = s + 1;
        to = e - 1;
    }

    base = tz_base(at[from].html);
    g = tz_group(at[from].html);
    why = "a state inside the value";

    for (i = from + 1; i < to; i++) {
        if (tz_group(at[i].html) != g && tz_group(at[i].html) != base) {
            goto failed;
        }

        if (at[i].js != at[from].js) {
            goto failed;
        }
    }

    if (to == e && !tz_same(&at[from], &at[to])) {

        why = "another state after the value";

        if (at[to].js != at[from].js
            || (at[to].skip & 0xf0) != (at[from].skip & 0xf0))
        {
            goto failed;
        }

        /* a state waiting for its next byte, and that byte was plain */

        if (base && at[to].html == base) {
            return;
        }

        if (!same_as_neutral(out, len, at, s, e)) {
            goto failed;
        }
    }

    return;

failed:

    fprintf(stderr, "output (%zu bytes): \"%.*s\"\nvalue at %zu..%zu: "
            "\"%.*s\"\n", len, (int) len, out, s, e, (int) (e - s), out + s);

    for (i = (s > 0 ? s - 1 : 0); i <= e && i <= len; i++) {
        fprintf(stderr, "  before %zu ('%c'): %s js %u skip %x extra %x\n",
                i, i < len ? out[i] : '$', tz_name(at[i].html),
                at[i].js, at[i].skip, at[i].extra);
    }

    fuzz_fail("a value (escape %lu) leaves its place: %s",
              (unsigned long) escape, why);
}


static u_char  *allocated[FUZZ_VALUES];


static void
take_value(const uint8_t **p, const uint8_t *last, ngx_uint_t i)
{
    size_t                      n;
    ngx_http_variable_value_t  *vv;

    vv = &values[i];
    ngx_memzero(vv, sizeof(ngx_http_variable_value_t));

    allocated[i] = NULL;

    if (*p == last) {
        vv->valid = 1;
        vv->data = (u_char *) "";
        return;
    }

    n = *(*p)++;

    if (n == 255) {
        vv->not_found = 1;
        return;
    }

    n = ngx_min(n, (size_t) (last - *p));

    /* a copy of its own size: over-reads are ASan's to see */
    vv->data = malloc(n ? n : 1);
    ngx_memcpy(vv->data, *p, n);
    vv->len = n;
    vv->valid = 1;
    *p += n;

    allocated[i] = vv->data;
}


/* the value at i and those right after it are empty, and a blank follows
 * (the harness' own reading of the values) */

FUZZ_ORACLE
static ngx_uint_t
unquoted_empty(ngx_http_cometchat_part_t *part, ngx_uint_t n, ngx_uint_t i)
{
    size_t  len;

    for ( /* void */ ; i < n; i++) {
        switch (part[i].type) {
        case NGX_HTTP_COMETCHAT_TPL_LITERAL:
            return is_space(part[i].text.data[0]);
        case NGX_HTTP_COMETCHAT_TPL_UID:
            len = values[0].len;
            break;
        case NGX_HTTP_COMETCHAT_TPL_TOKEN:
            len = values[1].len;
            break;
        case NGX_HTTP_COMETCHAT_TPL_NONCE:
            fuzz_fail("a nonce part in an attribute value");
            return 0;
        default:
            len = values[3 + part[i].index].not_found
                  ? 0 : values[3 + part[i].index].len;
        }

        if (len) {
            return 0;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                          pos, vlen;
    u_char                         *tpl_end, *tpl;
    tz_at_t                        *at;
    uint32_t                        id;
    ngx_str_t                       text, out, nonce, value, *v;
    ngx_uint_t                      i, flags, lost;
    ngx_pool_t                     *pool;
    ngx_conf_t                      cf;
    const uint8_t                  *p, *last;
    ngx_http_request_t              r;
    ngx_http_cometchat_ctx_t        ctx;
    ngx_http_cometchat_part_t      *part;
    ngx_http_cometchat_snippet_t   *sn;
    ngx_http_cometchat_loc_conf_t   lcf;

    fuzz_ngx_init();

    if (size < 1) {
        return 0;
    }

    flags = data[0];
    p = data + 1;
    last = data + size;

    tpl_end = memchr(p, '\0', last - p);
    if (tpl_end == NULL) {
        tpl_end = (u_char *) last;
    }

    /* the template in a buffer of its own size too */

    text.len = tpl_end - p;
    tpl = malloc(text.len ? text.len : 1);
    ngx_memcpy(tpl, p, text.len);
    text.data = tpl;

    p = (tpl_end == last) ? last : tpl_end + 1;

    for (i = 0; i < FUZZ_VALUES; i++) {
        take_value(&p, last, i);
    }

    nvars = 0;
    conf_errors = 0;

    pool = ngx_create_pool(1024, ngx_cycle->log);

    ngx_memzero(&cf, sizeof(ngx_conf_t));
    cf.pool = pool;
    cf.temp_pool = pool;
    cf.log = ngx_cycle->log;

    ngx_memzero(&lcf, sizeof(lcf));

    if (flags & 2) {
        /* the built-in widget, configured with the first two values */

        lcf.app_id.data = values[0].data;
        lcf.app_id.len = values[0].len;
        lcf.region.data = values[1].data;
        lcf.region.len = values[1].len;

        if (ngx_http_cometchat_widget_builtin(&cf, &lcf, &text) != NGX_OK) {
            goto done;
        }

        if (getenv("FUZZ_DUMP")) {
            fwrite(text.data, 1, text.len, stdout);
        }
    }

    sn = ngx_http_cometchat_template_compile(&cf, &text, "fuzz");

    if (sn == NULL) {
        if (conf_errors == 0) {
            fuzz_fail("template refused without a message");
        }

        goto done;
    }

    if (flags & 2 && conf_errors) {
        fuzz_fail("messages for the built-in widget");
    }

    lcf.snippet = sn;

    ngx_memzero(&r, sizeof(ngx_http_request_t));
    r.pool = pool;

    ngx_memzero(&ctx, sizeof(ngx_http_cometchat_ctx_t));
    ctx.uid.data = values[0].data;
    ctx.uid.len = values[0].len;
    ctx.token.data = values[1].data;
    ctx.token.len = values[1].len;

    nonce.len = 0;
    nonce.data = NULL;

    if (flags & 1) {
        nonce.data = values[2].data;
        nonce.len = values[2].len;
    }

    if (ngx_http_cometchat_snippet_render(&r, &lcf, &ctx, &nonce, &out, &id)
        != NGX_OK)
    {
        fuzz_fail("render failed");
    }

    if (getenv("FUZZ_DUMP")) {
        fprintf(stderr, "rendered: \"%.*s\"\n", (int) out.len, out.data);
    }

    /* where each value is: the parts again */

    at = tz_run(out.data, out.len, &lost);

    part = sn->parts.elts;
    pos = 0;

    for (i = 0; i < sn->parts.nelts; i++) {

        switch (part[i].type) {

        case NGX_HTTP_COMETCHAT_TPL_LITERAL:
            if (pos + part[i].text.len > out.len
                || ngx_memcmp(out.data + pos, part[i].text.data,
                              part[i].text.len) != 0)
            {
                fuzz_fail("literal part %lu not in the output",
                          (unsigned long) i);
            }

            pos += part[i].text.len;
            continue;

        case NGX_HTTP_COMETCHAT_TPL_UID:
            v = &ctx.uid;
            break;

        case NGX_HTTP_COMETCHAT_TPL_TOKEN:
            v = &ctx.token;
            break;

        case NGX_HTTP_COMETCHAT_TPL_NONCE:
            v = &nonce;

            if (v->len == 0) {
                continue;
            }

            if (pos + 9 > out.len
                || ngx_memcmp(out.data + pos, " nonce=\"", 8) != 0)
            {
                fuzz_fail("no nonce attribute");
            }

            pos += 8;
            break;

        default:
            if (values[3 + part[i].index].not_found) {
                v = NULL;
                break;
            }

            value.data = values[3 + part[i].index].data;
            value.len = values[3 + part[i].index].len;
            v = &value;
            break;
        }

        if (part[i].unquoted && unquoted_empty(part, sn->parts.nelts, i)) {
            /* an empty unquoted value is written "" */

            if (pos + 2 > out.len || out.data[pos] != '"'
                || out.data[pos + 1] != '"')
            {
                fuzz_fail("no \"\" for an empty unquoted value");
            }

            pos += 2;
        }

        vlen = ngx_http_cometchat_escape(part[i].escape, NULL,
                                         v ? v->data : NULL, v ? v->len : 0);

        if (pos + vlen > out.len) {
            fuzz_fail("value past the output");
        }

        if (!lost) {
            check_value(out.data, out.len, at, pos, pos + vlen,
                        part[i].escape);
        }

        pos += vlen;

        if (part[i].type == NGX_HTTP_COMETCHAT_TPL_NONCE) {
            if (pos >= out.len || out.data[pos] != '"') {
                fuzz_fail("nonce attribute not closed");
            }

            pos++;
        }
    }

    if (pos != out.len) {
        fuzz_fail("rendered %zu bytes, parts make %zu", out.len, pos);
    }

    free(at);

done:

    for (i = 0; i < FUZZ_VALUES; i++) {
        free(allocated[i]);
    }

    free(tpl);
    ngx_destroy_pool(pool);

    return 0;
}
