
/*
 * ngx_http_cometchat_module: snippet templates.
 *
 * The snippet, built-in (ngx_http_cometchat_widget.c) or from
 * cometchat_snippet_file, is a template compiled once at configuration
 * time into literal runs and values.  The compiler follows the template's
 * HTML and script syntax so that each value is escaped for the place it
 * stands in: HTML text, attribute value, URL attribute, JavaScript string
 * or code, CSS (ngx_http_cometchat_escape.c).  The built-in widget goes
 * through the same compiler, its configured values already escaped.
 *
 * Rendering happens once per response, in the header filter.
 *
 * The compiler is one state machine over the template's HTML (tags,
 * attributes, comments, script and style content) and reads best whole:
 * its states hand over to each other byte by byte, and splitting them
 * across files would hide which context a value ends up in.
 */


#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_escape.h"
#include "ngx_http_cometchat_widget.h"
#include "ngx_http_cometchat_template.h"


#define NGX_HTTP_COMETCHAT_SNIPPET_MAX      65536

/* template parts */
#define NGX_HTTP_COMETCHAT_TPL_LITERAL      0
#define NGX_HTTP_COMETCHAT_TPL_UID          1
#define NGX_HTTP_COMETCHAT_TPL_TOKEN        2
#define NGX_HTTP_COMETCHAT_TPL_NONCE        3
#define NGX_HTTP_COMETCHAT_TPL_VARIABLE     4

/* template parser states */
#define NGX_HTTP_COMETCHAT_ST_TEXT          0
#define NGX_HTTP_COMETCHAT_ST_TAG_NAME      1
#define NGX_HTTP_COMETCHAT_ST_END_TAG       2
#define NGX_HTTP_COMETCHAT_ST_IN_TAG        3
#define NGX_HTTP_COMETCHAT_ST_ATTR_NAME     4
#define NGX_HTTP_COMETCHAT_ST_AFTER_NAME    5
#define NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE  6
#define NGX_HTTP_COMETCHAT_ST_VALUE_DQ      7
#define NGX_HTTP_COMETCHAT_ST_VALUE_SQ      8
#define NGX_HTTP_COMETCHAT_ST_VALUE_UNQ     9
#define NGX_HTTP_COMETCHAT_ST_COMMENT       10
#define NGX_HTTP_COMETCHAT_ST_BOGUS         11
#define NGX_HTTP_COMETCHAT_ST_SCRIPT        12
#define NGX_HTTP_COMETCHAT_ST_STYLE         13
#define NGX_HTTP_COMETCHAT_ST_RAWTEXT       14  /* title, textarea, xmp,
                                                   iframe, noembed,
                                                   noframes, noscript,
                                                   plaintext */

#define NGX_HTTP_COMETCHAT_JS_CODE          0
#define NGX_HTTP_COMETCHAT_JS_SQ            1
#define NGX_HTTP_COMETCHAT_JS_DQ            2
#define NGX_HTTP_COMETCHAT_JS_TPL           3
#define NGX_HTTP_COMETCHAT_JS_LINE          4
#define NGX_HTTP_COMETCHAT_JS_BLOCK         5

#define NGX_HTTP_COMETCHAT_ATTR_PLAIN       0
#define NGX_HTTP_COMETCHAT_ATTR_URL         1
#define NGX_HTTP_COMETCHAT_ATTR_UNSAFE      2   /* on*, style, srcdoc */

#define NGX_HTTP_COMETCHAT_RAW_NONE         0
#define NGX_HTTP_COMETCHAT_RAW_SCRIPT       1
#define NGX_HTTP_COMETCHAT_RAW_STYLE        2
#define NGX_HTTP_COMETCHAT_RAW_TEXT         3

#define NGX_HTTP_COMETCHAT_JS_NEST          8   /* ${ } in ` ` in ${ } */

/* the HTML tokenizer's script data states */
#define NGX_HTTP_COMETCHAT_SCRIPT_DATA      0
#define NGX_HTTP_COMETCHAT_SCRIPT_ESCAPED   1   /* after "<!--" */
#define NGX_HTTP_COMETCHAT_SCRIPT_DOUBLE    2   /* "<!--" ... "<script" */


typedef struct {
    ngx_uint_t                  type;
    ngx_uint_t                  escape;
    ngx_str_t                   text;
    ngx_int_t                   index;
    ngx_uint_t                  unquoted;   /* starts an unquoted attribute
                                               value: see
                                               ..._template_unquoted() */
} ngx_http_cometchat_part_t;


typedef struct {
    ngx_array_t                 parts;      /* ngx_http_cometchat_part_t */
    uint32_t                    id;         /* CRC-32 of the template */
} ngx_http_cometchat_snippet_t;


typedef struct {
    ngx_conf_t                  *cf;
    ngx_http_cometchat_snippet_t *snippet;
    char                        *name;      /* for messages */
    u_char                      *lit;       /* literal run start */
    ngx_uint_t                   line;
    ngx_uint_t                   state;
    ngx_uint_t                   js;
    ngx_uint_t                   js_blank;  /* only blanks on the line */
    ngx_uint_t                   js_depth;  /* "{" open in this ${ } */
    ngx_uint_t                   js_nest;   /* ${ } open */
    ngx_uint_t                   js_outer[NGX_HTTP_COMETCHAT_JS_NEST];
    ngx_uint_t                   dollar;    /* "$$" wrote a "$" just now */
    ngx_uint_t                   skip_dollar;   /* the second of "$$" */
    ngx_uint_t                   unq_values;    /* only values so far in
                                                   an unquoted value */
    ngx_uint_t                   script;    /* NGX_HTTP_COMETCHAT_SCRIPT_* */
    ngx_uint_t                   raw;
    ngx_uint_t                   attr;
    ngx_uint_t                   value_start;
    ngx_uint_t                   scheme_value;  /* a value may make it */
    u_char                      *value;     /* attribute value start */
    size_t                       tag_len;
    size_t                       attr_len;
    u_char                       tag[16];
    u_char                       attr_name[64];
} ngx_http_cometchat_parse_t;


static ngx_uint_t ngx_http_cometchat_template_unquoted(
    ngx_http_cometchat_snippet_t *sn, ngx_str_t *values, ngx_uint_t i);
static ngx_uint_t ngx_http_cometchat_template_same(
    ngx_http_cometchat_loc_conf_t *a, ngx_http_cometchat_loc_conf_t *b);
static ngx_uint_t ngx_http_cometchat_template_str_eq(ngx_str_t *a,
    ngx_str_t *b);

static ngx_http_cometchat_snippet_t *ngx_http_cometchat_template_compile(
    ngx_conf_t *cf, ngx_str_t *text, char *name);
static ngx_uint_t ngx_http_cometchat_template_keyword(u_char *lit, u_char *p);
static ngx_int_t ngx_http_cometchat_template_variable(
    ngx_http_cometchat_parse_t *ps, u_char **pp, u_char *last);
static ngx_int_t ngx_http_cometchat_template_escape(
    ngx_http_cometchat_parse_t *ps, ngx_uint_t *escape);
static void ngx_http_cometchat_template_tag_name(
    ngx_http_cometchat_parse_t *ps, u_char *p);
static void ngx_http_cometchat_template_attr_kind(
    ngx_http_cometchat_parse_t *ps);
static ngx_uint_t ngx_http_cometchat_template_end_of_raw(
    ngx_http_cometchat_parse_t *ps, u_char *p, u_char *last);
static ngx_uint_t ngx_http_cometchat_template_script_name(u_char *p,
    u_char *last);
static void ngx_http_cometchat_template_script_state(
    ngx_http_cometchat_parse_t *ps, u_char *p, u_char *last);
static ngx_int_t ngx_http_cometchat_template_script_value(
    ngx_http_cometchat_parse_t *ps, u_char *p, u_char *next, u_char *last,
    ngx_str_t *name);
static ngx_int_t ngx_http_cometchat_template_markup_value(
    ngx_http_cometchat_parse_t *ps, u_char *p, u_char *next, u_char *last,
    ngx_str_t *name);
static ngx_int_t ngx_http_cometchat_template_add_part(
    ngx_http_cometchat_parse_t *ps, ngx_uint_t type, ngx_uint_t escape,
    u_char *start, u_char *end, ngx_int_t index);
static ngx_int_t ngx_http_cometchat_template_flush(
    ngx_http_cometchat_parse_t *ps, u_char *p);
static ngx_uint_t ngx_http_cometchat_template_ends_scheme(u_char *p,
    u_char *last);


/* "plaintext" has no end tag: the rest is text */
static char  *ngx_http_cometchat_template_raw_tags[] = {
    "title", "textarea", "xmp", "iframe", "noembed", "noframes", "noscript",
    "plaintext", NULL
};

static char  *ngx_http_cometchat_template_url_attrs[] = {
    "href", "src", "action", "formaction", "poster", "data", "cite",
    "background", "longdesc", "manifest", "codebase", "icon", "xlink:href",
    "ping", "srcset", NULL
};


char *
ngx_http_cometchat_snippet_merge(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *prev, ngx_http_cometchat_loc_conf_t *conf)
{
    char                          *rv, *what;
    ngx_str_t                      text, path;
    ngx_http_cometchat_snippet_t  *sn;

    ngx_conf_merge_str_value(conf->snippet_file, prev->snippet_file, "");

    ngx_http_cometchat_widget_merge(prev, conf);

    if (!conf->enable || !conf->inject) {
        return NGX_CONF_OK;
    }

    if (ngx_http_cometchat_widget_signout(cf, prev, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* compile once, and share with every level that changes nothing */

    if (prev->snippet && ngx_http_cometchat_template_same(prev, conf)) {
        conf->snippet = prev->snippet;
        return NGX_CONF_OK;
    }

    if (conf->snippet_file.len) {
        /* the compiled parts keep copies of the literal runs */

        path = conf->snippet_file;

        rv = ngx_http_cometchat_read_conf_file(cf, "cometchat_snippet_file",
                                               &path,
                                               NGX_HTTP_COMETCHAT_SNIPPET_MAX,
                                               cf->temp_pool, &text);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        what = "cometchat_snippet_file";

    } else {
        if (ngx_http_cometchat_widget_builtin(cf, conf, &text) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        what = "cometchat_widget";
    }

    sn = ngx_http_cometchat_template_compile(cf, &text, what);
    if (sn == NULL) {
        return NGX_CONF_ERROR;
    }

    conf->snippet = sn;

    if (ngx_http_cometchat_template_same(prev, conf)) {
        prev->snippet = sn;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_cometchat_snippet_render(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_ctx_t *ctx,
    ngx_str_t *nonce, ngx_str_t *out, uint32_t *id)
{
    u_char                        *p, le[4];
    size_t                         len;
    uint32_t                       crc;
    ngx_str_t                     *values, *v;
    ngx_uint_t                     i;
    ngx_http_variable_value_t     *vv;
    ngx_http_cometchat_part_t     *part;
    ngx_http_cometchat_snippet_t  *sn;

    sn = lcf->snippet;

    if (sn == NULL) {
        return NGX_DECLINED;
    }

    part = sn->parts.elts;

    /* each variable is evaluated once, as it may change between calls */

    values = ngx_palloc(r->pool, sn->parts.nelts * sizeof(ngx_str_t));
    if (values == NULL) {
        return NGX_ERROR;
    }

    /*
     * The snippet's identity, for the page's ETag: it is a function of
     * the template and the values put into it, so a CRC-32 of those
     * stands for it (a few dozen bytes hashed instead of the snippet):
     * of the template's text, then of each value as its length (four
     * bytes, little-endian: "ab" "c" is not "a" "bc") and its bytes
     */

    len = 0;
    crc = ~sn->id;

    for (i = 0; i < sn->parts.nelts; i++) {
        v = &values[i];

        switch (part[i].type) {

        case NGX_HTTP_COMETCHAT_TPL_LITERAL:
            len += part[i].text.len;
            continue;

        case NGX_HTTP_COMETCHAT_TPL_UID:
            *v = ctx->uid;
            break;

        case NGX_HTTP_COMETCHAT_TPL_TOKEN:
            *v = ctx->token;
            break;

        case NGX_HTTP_COMETCHAT_TPL_NONCE:
            *v = *nonce;

            if (v->len) {
                len += sizeof(" nonce=\"\"") - 1;
            }

            break;

        default: /* NGX_HTTP_COMETCHAT_TPL_VARIABLE */
            vv = ngx_http_get_indexed_variable(r, part[i].index);

            if (vv == NULL || vv->not_found) {
                v->len = 0;
                v->data = NULL;

            } else {
                v->len = vv->len;
                v->data = vv->data;
            }

            break;
        }

        le[0] = (u_char) v->len;
        le[1] = (u_char) (v->len >> 8);
        le[2] = (u_char) (v->len >> 16);
        le[3] = (u_char) (v->len >> 24);
        ngx_crc32_update(&crc, le, 4);
        ngx_crc32_update(&crc, v->data, v->len);

        len += ngx_http_cometchat_escape(part[i].escape, NULL, v->data,
                                         v->len);
    }

    *id = ~crc;

    for (i = 0; i < sn->parts.nelts; i++) {
        if (part[i].unquoted
            && ngx_http_cometchat_template_unquoted(sn, values, i))
        {
            len += 2;
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    for (i = 0; i < sn->parts.nelts; i++) {
        v = &values[i];

        switch (part[i].type) {

        case NGX_HTTP_COMETCHAT_TPL_LITERAL:
            p = ngx_cpymem(p, part[i].text.data, part[i].text.len);
            continue;

        case NGX_HTTP_COMETCHAT_TPL_NONCE:
            if (v->len == 0) {
                continue;
            }

            p = ngx_cpymem(p, " nonce=\"", sizeof(" nonce=\"") - 1);
            p += ngx_http_cometchat_escape(part[i].escape, p, v->data,
                                           v->len);
            *p++ = '"';
            continue;

        default:
            if (part[i].unquoted
                && ngx_http_cometchat_template_unquoted(sn, values, i))
            {
                *p++ = '"';
                *p++ = '"';
            }

            p += ngx_http_cometchat_escape(part[i].escape, p, v->data,
                                           v->len);
        }
    }

    out->len = p - out->data;

    return NGX_OK;
}


/*
 * a=$a b=1 with $a empty is a="b=1" to a browser, which skips blanks
 * before a value: the attributes after it, and the values in them, would
 * not be where the compiler saw them.  Such a value is written "" when it
 * and the values right after it are empty and a blank follows.
 */

static ngx_uint_t
ngx_http_cometchat_template_unquoted(ngx_http_cometchat_snippet_t *sn,
    ngx_str_t *values, ngx_uint_t i)
{
    u_char                     c;
    ngx_http_cometchat_part_t  *part;

    part = sn->parts.elts;

    for ( /* void */ ; i < sn->parts.nelts; i++) {
        if (part[i].type == NGX_HTTP_COMETCHAT_TPL_LITERAL) {
            c = part[i].text.data[0];
            return c == ' ' || c == '\t' || c == CR || c == LF || c == '\f';
        }

        if (values[i].len) {
            return 0;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_cometchat_template_same(ngx_http_cometchat_loc_conf_t *a,
    ngx_http_cometchat_loc_conf_t *b)
{
    return a->widget == b->widget
           && ngx_http_cometchat_template_str_eq(&a->snippet_file,
                                                 &b->snippet_file)
           && ngx_http_cometchat_template_str_eq(&a->app_id, &b->app_id)
           && ngx_http_cometchat_template_str_eq(&a->region, &b->region);
}


/* unset (NULL) and empty strings are equal */

static ngx_uint_t
ngx_http_cometchat_template_str_eq(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || ngx_memcmp(a->data, b->data, a->len) == 0);
}



/*
 * The template compiler: a small HTML tokenizer that knows where each
 * "$variable" stands.  "$$" is a literal "$"; "$" not followed by a name
 * or "{" is literal too (so "$(...)" and "$.x" need no escaping).
 * A "nonce" part is inserted after the name of every <script> tag.
 */

static ngx_http_cometchat_snippet_t *
ngx_http_cometchat_template_compile(ngx_conf_t *cf, ngx_str_t *text, char *name)
{
    u_char                        *p, *last, c;
    ngx_uint_t                     dollar;
    ngx_http_cometchat_parse_t     ps;
    ngx_http_cometchat_snippet_t  *sn;

    sn = ngx_palloc(cf->pool, sizeof(ngx_http_cometchat_snippet_t));
    if (sn == NULL) {
        return NULL;
    }

    if (ngx_array_init(&sn->parts, cf->pool, 8,
                       sizeof(ngx_http_cometchat_part_t))
        != NGX_OK)
    {
        return NULL;
    }

    ngx_memzero(&ps, sizeof(ngx_http_cometchat_parse_t));

    ps.cf = cf;
    ps.snippet = sn;
    ps.name = name;
    ps.line = 1;
    ps.state = NGX_HTTP_COMETCHAT_ST_TEXT;

    p = text->data;
    last = p + text->len;
    ps.lit = p;

    while (p < last) {
        c = *p;

        if (c == '$') {
            switch (ngx_http_cometchat_template_variable(&ps, &p, last)) {
            case NGX_OK:
                continue;
            case NGX_ERROR:
                return NULL;
            default: /* NGX_DECLINED: a literal "$" */
                break;
            }
        }

        /* "$${" in a template literal is a "${" of JavaScript */

        dollar = ps.dollar;
        ps.dollar = 0;

        if (c == LF) {
            ps.line++;
        }

        /*
         * Until a literal "/", "?", "#" or ":", a URL attribute may still
         * get its scheme from a value: in href="$a$b" or href=" $a" each
         * value is checked as the start of the URL
         */

        if (c == '/' || c == '?' || c == '#' || c == ':') {
            ps.value_start = 0;

            /* past a "/", "?" or "#" no ":" makes a scheme any more */

            if (c != ':') {
                ps.scheme_value = 0;
            }
        }

        /* in href="$a:..." the value would choose the scheme */

        if ((c == ':' || c == '&') && ps.scheme_value
            && (ps.state == NGX_HTTP_COMETCHAT_ST_VALUE_DQ
                || ps.state == NGX_HTTP_COMETCHAT_ST_VALUE_SQ
                || ps.state == NGX_HTTP_COMETCHAT_ST_VALUE_UNQ)
            && ngx_http_cometchat_template_ends_scheme(p, last))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": line %ui: a variable may not stand "
                               "in the scheme of a URL", name, ps.line);
            return NULL;
        }

        switch (ps.state) {

        case NGX_HTTP_COMETCHAT_ST_TEXT:
            if (c != '<' || last - p < 2) {
                break;
            }

            if (last - p >= 4 && ngx_strncmp(p + 1, "!--", 3) == 0) {
                ps.state = NGX_HTTP_COMETCHAT_ST_COMMENT;
                p += 3;

                /* "<!-->" and "<!--->" are whole, empty comments */

                if (last - p >= 2 && p[1] == '>') {
                    ps.state = NGX_HTTP_COMETCHAT_ST_TEXT;
                    p++;

                } else if (last - p >= 3 && p[1] == '-' && p[2] == '>') {
                    ps.state = NGX_HTTP_COMETCHAT_ST_TEXT;
                    p += 2;
                }

            } else if (p[1] == '!' || p[1] == '?') {
                ps.state = NGX_HTTP_COMETCHAT_ST_BOGUS;

            } else if (p[1] == '/' && last - p >= 3 && p[2] != '>'
                       && !((p[2] | 0x20) >= 'a' && (p[2] | 0x20) <= 'z'))
            {
                /* "</" and no tag name: a bogus comment up to ">" */
                ps.state = NGX_HTTP_COMETCHAT_ST_BOGUS;
                p++;

            } else if (p[1] == '/' && last - p >= 3
                       && ((p[2] | 0x20) >= 'a' && (p[2] | 0x20) <= 'z'))
            {
                ps.state = NGX_HTTP_COMETCHAT_ST_END_TAG;
                p++;

            } else if ((p[1] | 0x20) >= 'a' && (p[1] | 0x20) <= 'z') {
                ps.state = NGX_HTTP_COMETCHAT_ST_TAG_NAME;
                ps.tag_len = 0;
            }

            break;

        case NGX_HTTP_COMETCHAT_ST_TAG_NAME:
            if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
                if (ps.tag_len < sizeof(ps.tag)) {
                    ps.tag[ps.tag_len++] = c | 0x20;
                }

                break;
            }

            /* as in the tokenizer, only a blank, "/" or ">" ends it */

            if (c != ' ' && c != '\t' && c != CR && c != LF && c != '\f'
                && c != '/' && c != '>')
            {
                if (ps.tag_len < sizeof(ps.tag)) {
                    ps.tag[ps.tag_len++] = c;
                }

                break;
            }

            ngx_http_cometchat_template_tag_name(&ps, p);

            if (ps.snippet == NULL) {
                return NULL;
            }

            ps.state = NGX_HTTP_COMETCHAT_ST_IN_TAG;

            /* fall through */

        case NGX_HTTP_COMETCHAT_ST_IN_TAG:
        in_tag:
            if (c == ' ' || c == '\t' || c == CR || c == LF || c == '\f'
                || c == '/')
            {
                break;
            }

            if (c == '>') {
                goto tag_end;
            }

            ps.state = NGX_HTTP_COMETCHAT_ST_ATTR_NAME;
            ps.attr_len = 0;

            /* an "=" first is a part of the name, as in the tokenizer */

            if (c == '=') {
                ps.attr_name[ps.attr_len++] = c;
                break;
            }

            /* fall through */

        case NGX_HTTP_COMETCHAT_ST_ATTR_NAME:
            if (c == '=') {
                ngx_http_cometchat_template_attr_kind(&ps);
                ps.state = NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE;
                ps.value_start = 1;
                ps.scheme_value = 0;
                break;
            }

            if (c == ' ' || c == '\t' || c == CR || c == LF || c == '\f') {
                ps.state = NGX_HTTP_COMETCHAT_ST_AFTER_NAME;
                break;
            }

            if (c == '>') {
                goto tag_end;
            }

            if (c == '/') {
                ps.state = NGX_HTTP_COMETCHAT_ST_IN_TAG;
                break;
            }

            if (ps.attr_len < sizeof(ps.attr_name)) {
                ps.attr_name[ps.attr_len++] =
                                   (c >= 'A' && c <= 'Z') ? (c | 0x20) : c;
            }

            break;

        case NGX_HTTP_COMETCHAT_ST_AFTER_NAME:
            if (c == ' ' || c == '\t' || c == CR || c == LF || c == '\f') {
                break;
            }

            if (c == '=') {
                ngx_http_cometchat_template_attr_kind(&ps);
                ps.state = NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE;
                ps.value_start = 1;
                ps.scheme_value = 0;
                break;
            }

            ps.state = NGX_HTTP_COMETCHAT_ST_IN_TAG;
            goto in_tag;

        case NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE:
            if (c == ' ' || c == '\t' || c == CR || c == LF || c == '\f') {
                break;
            }

            if (c == '"') {
                ps.state = NGX_HTTP_COMETCHAT_ST_VALUE_DQ;
                ps.value = p + 1;
                break;
            }

            if (c == '\'') {
                ps.state = NGX_HTTP_COMETCHAT_ST_VALUE_SQ;
                ps.value = p + 1;
                break;
            }

            if (c == '>') {
                goto tag_end;
            }

            ps.state = NGX_HTTP_COMETCHAT_ST_VALUE_UNQ;
            ps.value = p;
            break;

        case NGX_HTTP_COMETCHAT_ST_VALUE_DQ:
            if (c == '"') {
                ps.state = NGX_HTTP_COMETCHAT_ST_IN_TAG;
            }

            break;

        case NGX_HTTP_COMETCHAT_ST_VALUE_SQ:
            if (c == '\'') {
                ps.state = NGX_HTTP_COMETCHAT_ST_IN_TAG;
            }

            break;

        case NGX_HTTP_COMETCHAT_ST_VALUE_UNQ:

            /*
             * Values may be empty: in a="$a" or a=$a'...' the quote
             * would open a quoted value, where the module has seen an
             * unquoted one
             */

            if (ps.unq_values && (c == '"' || c == '\'')) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%s\": line %ui: a quote right after "
                                   "a variable that starts an unquoted "
                                   "attribute value", name, ps.line);
                return NULL;
            }

            ps.unq_values = 0;

            if (c == ' ' || c == '\t' || c == CR || c == LF || c == '\f') {
                ps.state = NGX_HTTP_COMETCHAT_ST_IN_TAG;
                break;
            }

            if (c == '>') {
                goto tag_end;
            }

            break;

        case NGX_HTTP_COMETCHAT_ST_END_TAG:
            if (c == '>') {
                ps.state = NGX_HTTP_COMETCHAT_ST_TEXT;
                break;
            }

            /*
             * the tokenizer reads attributes in end tags too: a quoted
             * ">" does not end "</a x='>'>"
             */

            if (c == ' ' || c == '\t' || c == CR || c == LF || c == '\f'
                || c == '/')
            {
                ps.raw = NGX_HTTP_COMETCHAT_RAW_NONE;
                ps.attr = NGX_HTTP_COMETCHAT_ATTR_PLAIN;
                ps.state = NGX_HTTP_COMETCHAT_ST_IN_TAG;
            }

            break;

        case NGX_HTTP_COMETCHAT_ST_COMMENT:
            if (c == '-' && last - p >= 3 && p[1] == '-' && p[2] == '>') {
                ps.state = NGX_HTTP_COMETCHAT_ST_TEXT;
                p += 2;

            } else if (c == '-' && last - p >= 4 && p[1] == '-'
                       && p[2] == '!' && p[3] == '>')
            {
                /* "--!>" ends a comment too */
                ps.state = NGX_HTTP_COMETCHAT_ST_TEXT;
                p += 3;
            }

            break;

        case NGX_HTTP_COMETCHAT_ST_BOGUS:
            if (c == '>') {
                ps.state = NGX_HTTP_COMETCHAT_ST_TEXT;
            }

            break;

        case NGX_HTTP_COMETCHAT_ST_STYLE:
        case NGX_HTTP_COMETCHAT_ST_RAWTEXT:
            if (c == '<'
                && ngx_http_cometchat_template_end_of_raw(&ps, p, last))
            {
                /* the name is next: the "/" is not an attribute's */
                ps.state = NGX_HTTP_COMETCHAT_ST_END_TAG;
                p++;
            }

            break;

        default: /* NGX_HTTP_COMETCHAT_ST_SCRIPT */

            /* in the double-escaped state "</script>" ends nothing */

            if (c == '<' && ps.script != NGX_HTTP_COMETCHAT_SCRIPT_DOUBLE
                && ngx_http_cometchat_template_end_of_raw(&ps, p, last))
            {
                ps.state = NGX_HTTP_COMETCHAT_ST_END_TAG;
                p++;
                break;
            }

            ngx_http_cometchat_template_script_state(&ps, p, last);

            if (c == LF) {
                ps.js_blank = 1;
            }

            switch (ps.js) {

            case NGX_HTTP_COMETCHAT_JS_CODE:

                /*
                 * "<!--", and "-->" first on a line, start a line comment
                 * in a classic script, as "//" does
                 */

                if ((c == '<' && last - p >= 4
                     && ngx_strncmp(p + 1, "!--", 3) == 0)
                    || (c == '-' && ps.js_blank && last - p >= 3
                        && p[1] == '-' && p[2] == '>'))
                {
                    ps.js = NGX_HTTP_COMETCHAT_JS_LINE;
                    break;
                }

                if (c != ' ' && c != '\t' && c != CR && c != LF && c != '\f') {
                    ps.js_blank = 0;
                }

                if (c == '\'') {
                    ps.js = NGX_HTTP_COMETCHAT_JS_SQ;

                } else if (c == '"') {
                    ps.js = NGX_HTTP_COMETCHAT_JS_DQ;

                } else if (c == '`') {
                    ps.js = NGX_HTTP_COMETCHAT_JS_TPL;

                } else if (c == '/' && last - p >= 2 && p[1] == '/') {
                    ps.js = NGX_HTTP_COMETCHAT_JS_LINE;
                    p++;

                } else if (c == '/' && last - p >= 2 && p[1] == '*') {
                    ps.js = NGX_HTTP_COMETCHAT_JS_BLOCK;
                    p++;

                } else if (c == '{') {
                    ps.js_depth++;

                } else if (c == '}' && ps.js_depth) {
                    ps.js_depth--;

                } else if (c == '}' && ps.js_nest) {
                    /* the end of a ${ }: back in the template literal */
                    ps.js_depth = ps.js_outer[--ps.js_nest];
                    ps.js = NGX_HTTP_COMETCHAT_JS_TPL;
                }

                break;

            case NGX_HTTP_COMETCHAT_JS_SQ:
            case NGX_HTTP_COMETCHAT_JS_DQ:
            case NGX_HTTP_COMETCHAT_JS_TPL:
                if (c == '{' && dollar
                    && ps.js == NGX_HTTP_COMETCHAT_JS_TPL)
                {
                    /* code again, up to the "}" that matches */

                    if (ps.js_nest == NGX_HTTP_COMETCHAT_JS_NEST) {
                        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                           "\"%s\": line %ui: \"${\" in "
                                           "template literals nested too "
                                           "deep", name, ps.line);
                        return NULL;
                    }

                    ps.js_outer[ps.js_nest++] = ps.js_depth;
                    ps.js_depth = 0;
                    ps.js = NGX_HTTP_COMETCHAT_JS_CODE;

                } else if (c == '\\' && last - p >= 2 && p[1] != '<'
                           && p[1] != '-')
                {
                    /*
                     * the escaped byte is passed over, unless the HTML
                     * tokenizer, which knows no backslashes, reads it:
                     * "\</script>" ends the script
                     */

                    p++;

                    if (*p == LF) {
                        ps.line++;
                    }

                } else if ((c == '\'' && ps.js == NGX_HTTP_COMETCHAT_JS_SQ)
                           || (c == '"' && ps.js == NGX_HTTP_COMETCHAT_JS_DQ)
                           || (c == '`' && ps.js == NGX_HTTP_COMETCHAT_JS_TPL)
                           || (c == LF && ps.js != NGX_HTTP_COMETCHAT_JS_TPL))
                {
                    ps.js = NGX_HTTP_COMETCHAT_JS_CODE;
                }

                break;

            case NGX_HTTP_COMETCHAT_JS_LINE:
                if (c == LF) {
                    ps.js = NGX_HTTP_COMETCHAT_JS_CODE;
                }

                break;

            default: /* NGX_HTTP_COMETCHAT_JS_BLOCK */
                if (c == '*' && last - p >= 2 && p[1] == '/') {
                    ps.js = NGX_HTTP_COMETCHAT_JS_CODE;
                    p++;
                }

                break;
            }

            break;
        }

        p++;

        if (ps.skip_dollar) {
            ps.skip_dollar = 0;

            if (ngx_http_cometchat_template_flush(&ps, p) != NGX_OK) {
                return NULL;
            }

            ps.lit = ++p;
            ps.dollar = 1;
        }

        continue;

    tag_end:

        switch (ps.raw) {

        case NGX_HTTP_COMETCHAT_RAW_SCRIPT:
            ps.state = NGX_HTTP_COMETCHAT_ST_SCRIPT;
            ps.js = NGX_HTTP_COMETCHAT_JS_CODE;
            ps.js_blank = 1;
            ps.script = NGX_HTTP_COMETCHAT_SCRIPT_DATA;
            ps.js_depth = 0;
            ps.js_nest = 0;
            break;

        case NGX_HTTP_COMETCHAT_RAW_STYLE:
            ps.state = NGX_HTTP_COMETCHAT_ST_STYLE;
            break;

        case NGX_HTTP_COMETCHAT_RAW_TEXT:
            ps.state = NGX_HTTP_COMETCHAT_ST_RAWTEXT;
            break;

        default:
            ps.state = NGX_HTTP_COMETCHAT_ST_TEXT;
        }

        ps.raw = NGX_HTTP_COMETCHAT_RAW_NONE;
        p++;
    }

    if (ngx_http_cometchat_template_flush(&ps, last) != NGX_OK) {
        return NULL;
    }

    sn->id = ngx_crc32_long(text->data, text->len);

    return sn;
}


/*
 * At a "$": NGX_OK when a variable part was added (*pp is past it),
 * NGX_DECLINED for a literal "$" (the first of "$$" too), NGX_ERROR on a
 * bad variable.
 */

static ngx_int_t
ngx_http_cometchat_template_variable(ngx_http_cometchat_parse_t *ps,
    u_char **pp, u_char *last)
{
    u_char                     *p, *start, *end, *next;
    ngx_str_t                   name;
    ngx_int_t                   index;
    ngx_uint_t                  type, escape, braces;
    ngx_http_cometchat_part_t  *part;

    p = *pp;

    if (last - p >= 2 && p[1] == '$') {
        /*
         * "$$": the first is a literal "$", read as any byte (it may end
         * a tag name or start an attribute value); the compiler drops
         * the second
         */

        ps->skip_dollar = 1;
        return NGX_DECLINED;
    }

    braces = (last - p >= 2 && p[1] == '{');
    start = p + 1 + braces;

    for (end = start; end < last; end++) {
        if (!((*end >= 'a' && *end <= 'z') || (*end >= 'A' && *end <= 'Z')
              || (*end >= '0' && *end <= '9') || *end == '_'))
        {
            break;
        }
    }

    if (end == start) {
        if (braces) {
            ngx_conf_log_error(NGX_LOG_EMERG, ps->cf, 0,
                               "\"%s\": line %ui: invalid variable name "
                               "after \"${\"", ps->name, ps->line);
            return NGX_ERROR;
        }

        return NGX_DECLINED;
    }

    next = end;

    if (braces) {
        if (end == last || *end != '}') {
            ngx_conf_log_error(NGX_LOG_EMERG, ps->cf, 0,
                               "\"%s\": line %ui: the variable \"${%*s\" "
                               "has no closing \"}\"", ps->name, ps->line,
                               end - start, start);
            return NGX_ERROR;
        }

        next = end + 1;
    }

    name.data = start;
    name.len = end - start;

    if (ps->state == NGX_HTTP_COMETCHAT_ST_SCRIPT
        && ngx_http_cometchat_template_script_value(ps, p, next, last, &name)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_cometchat_template_markup_value(ps, p, next, last, &name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_cometchat_template_escape(ps, &escape) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, ps->cf, 0,
                           "\"%s\": line %ui: the variable \"$%V\" %s",
                           ps->name, ps->line, &name,
                           (ps->attr == NGX_HTTP_COMETCHAT_ATTR_UNSAFE
                            && (ps->state == NGX_HTTP_COMETCHAT_ST_VALUE_DQ
                                || ps->state == NGX_HTTP_COMETCHAT_ST_VALUE_SQ
                                || ps->state
                                   == NGX_HTTP_COMETCHAT_ST_VALUE_UNQ
                                || ps->state
                                   == NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE))
                           ? "may not stand in an event handler, \"style\" "
                             "or \"srcdoc\" attribute"
                           : "may stand only in text, in an attribute value, "
                             "in a script or in a style element");
        return NGX_ERROR;
    }

    if (ps->attr == NGX_HTTP_COMETCHAT_ATTR_URL
        && (ps->state == NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE
            || ps->state == NGX_HTTP_COMETCHAT_ST_VALUE_DQ
            || ps->state == NGX_HTTP_COMETCHAT_ST_VALUE_SQ
            || ps->state == NGX_HTTP_COMETCHAT_ST_VALUE_UNQ))
    {
        if (ps->state == NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE) {
            ps->value = p;
        }

        /*
         * Refused rather than escaped: in a script URL the value would be
         * JavaScript after two decodings (the attribute's references, then
         * the URL's percent escapes), in a string or in code as the
         * literal part says, which the compiler cannot follow through the
         * decodings, as in event handler attributes.
         */

        switch (ngx_http_cometchat_escape_url_kind(ps->value, p - ps->value))
        {
        case NGX_HTTP_COMETCHAT_URL_SCRIPT:
            ngx_conf_log_error(NGX_LOG_EMERG, ps->cf, 0,
                               "\"%s\": line %ui: the variable \"$%V\" may "
                               "not stand in a \"javascript:\", "
                               "\"vbscript:\" or \"data:\" URL",
                               ps->name, ps->line, &name);
            return NGX_ERROR;

        case NGX_HTTP_COMETCHAT_URL_OPEN:
            /* a literal ":" after it is refused */
            ps->scheme_value = 1;
            break;

        default:
            break;
        }
    }

    if (name.len == 13 && ngx_strncmp(name.data, "cometchat_uid", 13) == 0) {
        type = NGX_HTTP_COMETCHAT_TPL_UID;
        index = 0;

    } else if (name.len == 20
               && ngx_strncmp(name.data, "cometchat_auth_token", 20) == 0)
    {
        type = NGX_HTTP_COMETCHAT_TPL_TOKEN;
        index = 0;

    } else {
        type = NGX_HTTP_COMETCHAT_TPL_VARIABLE;

        /* unknown names are reported by nginx once the config is read */

        index = ngx_http_get_variable_index(ps->cf, &name);
        if (index == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_cometchat_template_flush(ps, p) != NGX_OK
        || ngx_http_cometchat_template_add_part(ps, type, escape, NULL, NULL,
                                                index)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a value in code is a "..." string: the line is not blank after it */

    if (ps->state == NGX_HTTP_COMETCHAT_ST_SCRIPT
        && ps->js == NGX_HTTP_COMETCHAT_JS_CODE)
    {
        ps->js_blank = 0;
    }

    if (ps->state == NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE) {
        ps->state = NGX_HTTP_COMETCHAT_ST_VALUE_UNQ;
        ps->unq_values = 1;

        part = ps->snippet->parts.elts;
        part[ps->snippet->parts.nelts - 1].unquoted = 1;
    }

    ps->lit = next;
    *pp = next;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_template_escape(ngx_http_cometchat_parse_t *ps,
    ngx_uint_t *escape)
{
    ngx_uint_t  unquoted;

    switch (ps->state) {

    case NGX_HTTP_COMETCHAT_ST_TEXT:
    case NGX_HTTP_COMETCHAT_ST_COMMENT:
    case NGX_HTTP_COMETCHAT_ST_BOGUS:
    case NGX_HTTP_COMETCHAT_ST_RAWTEXT:
        *escape = NGX_HTTP_COMETCHAT_ESC_HTML;
        return NGX_OK;

    case NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE:
    case NGX_HTTP_COMETCHAT_ST_VALUE_DQ:
    case NGX_HTTP_COMETCHAT_ST_VALUE_SQ:
    case NGX_HTTP_COMETCHAT_ST_VALUE_UNQ:

        if (ps->attr == NGX_HTTP_COMETCHAT_ATTR_UNSAFE) {
            return NGX_ERROR;
        }

        unquoted = (ps->state == NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE
                    || ps->state == NGX_HTTP_COMETCHAT_ST_VALUE_UNQ);

        if (ps->attr == NGX_HTTP_COMETCHAT_ATTR_URL
            && (ps->value_start
                || ps->state == NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE))
        {
            *escape = unquoted ? NGX_HTTP_COMETCHAT_ESC_URL_UNQ
                               : NGX_HTTP_COMETCHAT_ESC_URL;
            return NGX_OK;
        }

        *escape = unquoted ? NGX_HTTP_COMETCHAT_ESC_HTML_UNQ
                           : NGX_HTTP_COMETCHAT_ESC_HTML;
        return NGX_OK;

    case NGX_HTTP_COMETCHAT_ST_SCRIPT:
        *escape = (ps->js == NGX_HTTP_COMETCHAT_JS_CODE)
                  ? NGX_HTTP_COMETCHAT_ESC_JS_QUOTED
                  : NGX_HTTP_COMETCHAT_ESC_JS;
        return NGX_OK;

    case NGX_HTTP_COMETCHAT_ST_STYLE:
        *escape = NGX_HTTP_COMETCHAT_ESC_CSS;
        return NGX_OK;

    default:
        /* a tag or attribute name, an end tag */
        return NGX_ERROR;
    }
}


static void
ngx_http_cometchat_template_tag_name(ngx_http_cometchat_parse_t *ps, u_char *p)
{
    char  **name;

    ps->raw = NGX_HTTP_COMETCHAT_RAW_NONE;
    ps->attr = NGX_HTTP_COMETCHAT_ATTR_PLAIN;

    if (ps->tag_len == 6 && ngx_strncmp(ps->tag, "script", 6) == 0) {
        ps->raw = NGX_HTTP_COMETCHAT_RAW_SCRIPT;

        /* the CSP nonce, if the response has one, goes right here */

        if (ngx_http_cometchat_template_flush(ps, p) != NGX_OK
            || ngx_http_cometchat_template_add_part(ps,
                                                NGX_HTTP_COMETCHAT_TPL_NONCE,
                                                NGX_HTTP_COMETCHAT_ESC_HTML,
                                                NULL, NULL, 0)
               != NGX_OK)
        {
            ps->snippet = NULL;
            return;
        }

        ps->lit = p;

    } else if (ps->tag_len == 5 && ngx_strncmp(ps->tag, "style", 5) == 0) {
        ps->raw = NGX_HTTP_COMETCHAT_RAW_STYLE;

    } else {
        /* their content is text up to their end tag, markup or not */

        for (name = ngx_http_cometchat_template_raw_tags; *name; name++) {
            if (ps->tag_len == ngx_strlen(*name)
                && ngx_strncmp(ps->tag, *name, ps->tag_len) == 0)
            {
                ps->raw = NGX_HTTP_COMETCHAT_RAW_TEXT;
                break;
            }
        }
    }
}


static void
ngx_http_cometchat_template_attr_kind(ngx_http_cometchat_parse_t *ps)
{
    char       **name;
    size_t       len;
    ngx_uint_t   i;

    len = ps->attr_len;
    ps->attr = NGX_HTTP_COMETCHAT_ATTR_PLAIN;

    /* the value of these is script, style or a document */

    if ((len >= 2 && ps->attr_name[0] == 'o' && ps->attr_name[1] == 'n')
        || (len == 5 && ngx_strncmp(ps->attr_name, "style", 5) == 0)
        || (len == 6 && ngx_strncmp(ps->attr_name, "srcdoc", 6) == 0))
    {
        ps->attr = NGX_HTTP_COMETCHAT_ATTR_UNSAFE;
        return;
    }

    for (name = ngx_http_cometchat_template_url_attrs; *name; name++) {
        for (i = 0; i < len && (*name)[i] == (char) ps->attr_name[i]; i++) {
            /* void */
        }

        if (i == len && (*name)[i] == '\0') {
            ps->attr = NGX_HTTP_COMETCHAT_ATTR_URL;
            return;
        }
    }
}


/* "script" and a character that ends a tag name, as the tokenizer sees */

static ngx_uint_t
ngx_http_cometchat_template_script_name(u_char *p, u_char *last)
{
    if (last - p < 6 || ngx_strncasecmp(p, (u_char *) "script", 6) != 0) {
        return 0;
    }

    if (last - p == 6) {
        return 1;
    }

    switch (p[6]) {
    case ' ':
    case '\t':
    case CR:
    case LF:
    case '\f':
    case '/':
    case '>':
        return 1;
    }

    return 0;
}


/*
 * The script data escaped states of the HTML tokenizer: "<!--" in a
 * script enters the escaped state, "<script" there the double-escaped one,
 * where "</script>" only goes back to the escaped state; "-->" returns to
 * plain script data.  The element ends at "</script>" except when double
 * escaped.
 */

static void
ngx_http_cometchat_template_script_state(ngx_http_cometchat_parse_t *ps,
    u_char *p, u_char *last)
{
    if (*p == '<' && ps->script == NGX_HTTP_COMETCHAT_SCRIPT_DATA) {
        if (last - p >= 4 && ngx_strncmp(p + 1, "!--", 3) == 0) {
            ps->script = NGX_HTTP_COMETCHAT_SCRIPT_ESCAPED;
        }

        return;
    }

    if (ps->script == NGX_HTTP_COMETCHAT_SCRIPT_DATA) {
        return;
    }

    if (*p == '-' && last - p >= 3 && p[1] == '-' && p[2] == '>') {
        ps->script = NGX_HTTP_COMETCHAT_SCRIPT_DATA;
        return;
    }

    if (*p != '<') {
        return;
    }

    if (ps->script == NGX_HTTP_COMETCHAT_SCRIPT_ESCAPED
        && ngx_http_cometchat_template_script_name(p + 1, last))
    {
        ps->script = NGX_HTTP_COMETCHAT_SCRIPT_DOUBLE;

    } else if (ps->script == NGX_HTTP_COMETCHAT_SCRIPT_DOUBLE
               && last - p >= 2 && p[1] == '/'
               && ngx_http_cometchat_template_script_name(p + 2, last))
    {
        ps->script = NGX_HTTP_COMETCHAT_SCRIPT_ESCAPED;
    }
}


/*
 * A value in a script cannot contain "<" or ">" (the JavaScript escapes
 * write them as \u003C, \u003E), but with the literal text around it, it
 * could finish a "<!--", "<script", "</script" or "-->" that the literal
 * text begins, and move the browser's tokenizer to a state the compiler
 * did not see.  Refused: a value right after a "<" and the letters, "!",
 * "-" or "/" that follow it; in the escaped states a value next to a "-"
 * or before a ">"; and any value in the double-escaped state, where what
 * the browser runs depends on markup inside the script.
 */

static ngx_int_t
ngx_http_cometchat_template_script_value(ngx_http_cometchat_parse_t *ps,
    u_char *p, u_char *next, u_char *last, ngx_str_t *name)
{
    u_char      *q;
    const char  *why;

    why = NULL;

    /* the JavaScript escapes write "*" as \u002A, not "/" */

    if (ps->js == NGX_HTTP_COMETCHAT_JS_BLOCK && p > ps->lit && p[-1] == '*') {
        ngx_conf_log_error(NGX_LOG_EMERG, ps->cf, 0,
                           "\"%s\": line %ui: the variable \"$%V\" may not "
                           "stand right after a \"*\" in a JavaScript /* "
                           "comment */: a \"/\" first in its value would end "
                           "the comment", ps->name, ps->line, name);
        return NGX_ERROR;
    }

    if (ps->script == NGX_HTTP_COMETCHAT_SCRIPT_DOUBLE) {
        why = "in the double-escaped part of a script (\"<!--\" and then "
              "\"<script\")";
        goto refused;
    }

    for (q = p; q > ps->lit && p - q < 9; q--) {
        if (q[-1] == '<') {
            why = "right after a \"<\" in a script";
            goto refused;
        }

        if (!(((q[-1] | 0x20) >= 'a' && (q[-1] | 0x20) <= 'z')
              || q[-1] == '!' || q[-1] == '-' || q[-1] == '/'))
        {
            break;
        }
    }

    if (ps->script == NGX_HTTP_COMETCHAT_SCRIPT_ESCAPED
        && ((p > ps->lit && p[-1] == '-')
            || (next < last && (*next == '-' || *next == '>'))))
    {
        why = "next to a \"-\" or \">\" after \"<!--\" in a script";
        goto refused;
    }

    return NGX_OK;

refused:

    ngx_conf_log_error(NGX_LOG_EMERG, ps->cf, 0,
                       "\"%s\": line %ui: the variable \"$%V\" may not stand "
                       "%s: with the text around it, it could change where "
                       "the browser ends the script", ps->name, ps->line,
                       name, why);

    return NGX_ERROR;
}


/*
 * The same in text and comments: a value right after "<", "</", "<!",
 * "<?" or "<!-" could start a tag, an end tag or a comment with its
 * first letters or dashes ("<$a>" with "img src=x onerror=..."), and in
 * a comment a value next to a "-", "!" or ">" could end it ("--" before
 * a ">").  Refused.
 */

static ngx_int_t
ngx_http_cometchat_template_markup_value(ngx_http_cometchat_parse_t *ps,
    u_char *p, u_char *next, u_char *last, ngx_str_t *name)
{
    size_t       n;
    u_char      *q;
    const char  *why;

    /* in raw text, as in a script: "</sty$a>" could end the element */

    if (ps->state == NGX_HTTP_COMETCHAT_ST_STYLE
        || ps->state == NGX_HTTP_COMETCHAT_ST_RAWTEXT)
    {
        for (q = p; q > ps->lit && p - q < 16; q--) {
            if (q[-1] == '<') {
                why = "right after a \"<\" in raw text: it could end the "
                      "element";
                goto refused;
            }

            if (!(((q[-1] | 0x20) >= 'a' && (q[-1] | 0x20) <= 'z')
                  || q[-1] == '!' || q[-1] == '-' || q[-1] == '/'))
            {
                break;
            }
        }

        return NGX_OK;
    }

    if (ps->state != NGX_HTTP_COMETCHAT_ST_TEXT
        && ps->state != NGX_HTTP_COMETCHAT_ST_BOGUS
        && ps->state != NGX_HTTP_COMETCHAT_ST_COMMENT)
    {
        return NGX_OK;
    }

    /* the literal text before the value */
    n = p - ps->lit;

    if ((n >= 1 && p[-1] == '<')
        || (n >= 2 && p[-2] == '<'
            && (p[-1] == '/' || p[-1] == '!' || p[-1] == '?'))
        || (n >= 3 && p[-3] == '<' && p[-2] == '!' && p[-1] == '-'))
    {
        why = "right after a \"<\", \"</\", \"<!\" or \"<?\": it could "
              "start a tag or a comment";
        goto refused;
    }

    if (ps->state == NGX_HTTP_COMETCHAT_ST_COMMENT
        && ((n >= 1 && (p[-1] == '-' || p[-1] == '!'))
            || (next < last
                && (*next == '-' || *next == '!' || *next == '>'))))
    {
        why = "next to a \"-\", \"!\" or \">\" in a comment: it could "
              "end the comment";
        goto refused;
    }

    if (ps->state == NGX_HTTP_COMETCHAT_ST_BOGUS
        && ngx_http_cometchat_template_keyword(ps->lit, p))
    {
        why = "in \"<!DOCTYPE\" or \"<![CDATA[\": it could finish the "
              "keyword (a CDATA section in SVG ends only at \"]]>\")";
        goto refused;
    }

    return NGX_OK;

refused:

    ngx_conf_log_error(NGX_LOG_EMERG, ps->cf, 0,
                       "\"%s\": line %ui: the variable \"$%V\" may not "
                       "stand %s", ps->name, ps->line, name, why);

    return NGX_ERROR;
}


/*
 * Whether the literal text before p ends with "<!" and the beginning of
 * "DOCTYPE" (any case) or "[CDATA[": a value there could complete it
 */

static ngx_uint_t
ngx_http_cometchat_template_keyword(u_char *lit, u_char *p)
{
    size_t   n;
    u_char  *q;

    for (q = p; q - lit >= 2 && p - q < 7; q--) {
        if (q[-2] != '<' || q[-1] != '!') {
            continue;
        }

        n = p - q;

        return (ngx_strncasecmp(q, (u_char *) "doctype", n) == 0
                || ngx_strncmp(q, "[CDATA[", n) == 0);
    }

    return 0;
}


/* "</script", "</style" or "</title" ..., as the case may be, ends the raw
 * text */

static ngx_uint_t
ngx_http_cometchat_template_end_of_raw(ngx_http_cometchat_parse_t *ps,
    u_char *p, u_char *last)
{
    char    *name;
    size_t   len;

    if (ps->state == NGX_HTTP_COMETCHAT_ST_SCRIPT) {
        name = "script";
        len = 6;

    } else if (ps->state == NGX_HTTP_COMETCHAT_ST_STYLE) {
        name = "style";
        len = 5;

    } else {
        /* the element's own name: no other tag came since */

        if (ps->tag_len == 9
            && ngx_strncmp(ps->tag, "plaintext", 9) == 0)
        {
            return 0;
        }

        name = (char *) ps->tag;
        len = ps->tag_len;
    }

    if ((size_t) (last - p) < len + 2 || p[1] != '/'
        || ngx_strncasecmp(p + 2, (u_char *) name, len) != 0)
    {
        return 0;
    }

    if ((size_t) (last - p) == len + 2) {
        return 1;
    }

    switch (p[len + 2]) {
    case ' ':
    case '\t':
    case CR:
    case LF:
    case '\f':
    case '/':
    case '>':
        return 1;
    }

    return 0;
}


static ngx_int_t
ngx_http_cometchat_template_flush(ngx_http_cometchat_parse_t *ps, u_char *p)
{
    if (p == ps->lit) {
        return NGX_OK;
    }

    if (ngx_http_cometchat_template_add_part(ps,
                                             NGX_HTTP_COMETCHAT_TPL_LITERAL, 0,
                                             ps->lit, p, 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ps->lit = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_template_add_part(ngx_http_cometchat_parse_t *ps,
    ngx_uint_t type, ngx_uint_t escape, u_char *start, u_char *end,
    ngx_int_t index)
{
    ngx_http_cometchat_part_t  *part;

    part = ngx_array_push(&ps->snippet->parts);
    if (part == NULL) {
        return NGX_ERROR;
    }

    part->type = type;
    part->escape = escape;
    part->index = index;
    part->unquoted = 0;
    part->text.len = 0;
    part->text.data = NULL;

    if (type == NGX_HTTP_COMETCHAT_TPL_LITERAL) {
        part->text.len = end - start;
        part->text.data = ngx_pnalloc(ps->cf->pool, part->text.len);
        if (part->text.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(part->text.data, start, part->text.len);
    }

    return NGX_OK;
}


/*
 * Whether the literal ":" or character reference at p, after a value
 * that stands where the scheme is, ends the scheme: "&colon;" does.
 */

static ngx_uint_t
ngx_http_cometchat_template_ends_scheme(u_char *p, u_char *last)
{
    u_char  buf[48], *b;
    size_t  n;

    if (*p == ':') {
        return 1;
    }

    /* a scheme that runs script before it: is it one now? */

    b = ngx_cpymem(buf, "javascript", sizeof("javascript") - 1);
    n = ngx_min((size_t) (last - p), sizeof(buf) - (b - buf));
    b = ngx_cpymem(b, p, n);

    return ngx_http_cometchat_escape_url_kind(buf, b - buf)
           == NGX_HTTP_COMETCHAT_URL_SCRIPT;
}
