
/*
 * ngx_http_cometchat_module: widget parameters and snippet templates.
 *
 * The snippet, built-in or from cometchat_snippet_file, is a template
 * compiled once at configuration time into literal runs and values.  The
 * compiler follows the template's HTML and script syntax so that each
 * value is escaped for the place it stands in: HTML text, attribute
 * value, URL attribute, JavaScript string or code, CSS.  The escaped
 * forms use only characters that cannot end the string, the attribute,
 * the comment or the element, whatever the value.  The built-in widget
 * goes through the same compiler, its configured values already escaped.
 *
 * Rendering happens once per response, in the header filter.
 */


#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_template.h"


/* cometchat_widget parameters */
#define NGX_HTTP_COMETCHAT_W_POSITION       0
#define NGX_HTTP_COMETCHAT_W_DOCKED         1
#define NGX_HTTP_COMETCHAT_W_WIDTH          2
#define NGX_HTTP_COMETCHAT_W_HEIGHT         3
#define NGX_HTTP_COMETCHAT_W_VARIANT        4
#define NGX_HTTP_COMETCHAT_W_CHAT_TYPE      5
#define NGX_HTTP_COMETCHAT_W_DEFAULT_CHAT   6
#define NGX_HTTP_COMETCHAT_W_LANGUAGE       7
#define NGX_HTTP_COMETCHAT_W_SCRIPT         8
#define NGX_HTTP_COMETCHAT_W_FLAVOR         9
#define NGX_HTTP_COMETCHAT_W_WIDGET_ID      10
#define NGX_HTTP_COMETCHAT_W_N              11

#define NGX_HTTP_COMETCHAT_EMBED_SCRIPT                                      \
    "https://cdn.jsdelivr.net/npm/@cometchat/chat-embed@1.x.x/dist/main.js"
#define NGX_HTTP_COMETCHAT_LEGACY_SCRIPT                                     \
    "https://widget-js.cometchat.io/v3/cometchatwidget.js"

#define NGX_HTTP_COMETCHAT_SNIPPET_MAX      65536

/* template parts */
#define NGX_HTTP_COMETCHAT_PART_LITERAL     0
#define NGX_HTTP_COMETCHAT_PART_UID         1
#define NGX_HTTP_COMETCHAT_PART_TOKEN       2
#define NGX_HTTP_COMETCHAT_PART_NONCE       3
#define NGX_HTTP_COMETCHAT_PART_VARIABLE    4

/* how a value is escaped */
#define NGX_HTTP_COMETCHAT_ESC_HTML         0   /* text, quoted attribute */
#define NGX_HTTP_COMETCHAT_ESC_HTML_UNQ     1   /* unquoted attribute */
#define NGX_HTTP_COMETCHAT_ESC_URL          2   /* starts a URL attribute */
#define NGX_HTTP_COMETCHAT_ESC_URL_UNQ      3
#define NGX_HTTP_COMETCHAT_ESC_JS           4   /* inside a JS string */
#define NGX_HTTP_COMETCHAT_ESC_JS_QUOTED    5   /* JS code: a string */
#define NGX_HTTP_COMETCHAT_ESC_CSS          6

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


typedef struct {
    ngx_str_t                   value[NGX_HTTP_COMETCHAT_W_N];
} ngx_http_cometchat_widget_t;


typedef ngx_int_t (*ngx_http_cometchat_check_pt)(ngx_str_t *value);

typedef struct {
    ngx_str_t                   name;
    ngx_http_cometchat_check_pt check;
    char                       *expected;
} ngx_http_cometchat_param_t;


typedef struct {
    ngx_uint_t                  type;
    ngx_uint_t                  escape;
    ngx_str_t                   text;
    ngx_int_t                   index;
} ngx_http_cometchat_part_t;


typedef struct {
    ngx_array_t                 parts;      /* ngx_http_cometchat_part_t */
} ngx_http_cometchat_snippet_t;


typedef struct {
    ngx_conf_t                  *cf;
    ngx_http_cometchat_snippet_t *snippet;
    char                        *name;      /* for messages */
    u_char                      *lit;       /* literal run start */
    ngx_uint_t                   line;
    ngx_uint_t                   state;
    ngx_uint_t                   js;
    ngx_uint_t                   raw;
    ngx_uint_t                   attr;
    ngx_uint_t                   value_start;
    size_t                       tag_len;
    size_t                       attr_len;
    u_char                       tag[16];
    u_char                       attr_name[64];
} ngx_http_cometchat_parse_t;


typedef struct {
    ngx_array_t                 *text;      /* u_char */
} ngx_http_cometchat_builder_t;


static ngx_int_t ngx_http_cometchat_check_position(ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_check_onoff(ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_check_css(ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_check_id(ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_check_chat_type(ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_check_language(ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_check_url(ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_check_flavor(ngx_str_t *value);

static ngx_uint_t ngx_http_cometchat_same_snippet(
    ngx_http_cometchat_loc_conf_t *a, ngx_http_cometchat_loc_conf_t *b);
static ngx_uint_t ngx_http_cometchat_str_eq(ngx_str_t *a, ngx_str_t *b);
static char *ngx_http_cometchat_check_widget(ngx_conf_t *cf,
    ngx_http_cometchat_widget_t *w);
static ngx_int_t ngx_http_cometchat_builtin(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *conf, ngx_str_t *text);
static ngx_int_t ngx_http_cometchat_add(ngx_http_cometchat_builder_t *b,
    char *s);
static ngx_int_t ngx_http_cometchat_add_escaped(
    ngx_http_cometchat_builder_t *b, ngx_uint_t escape, ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_add_js_field(
    ngx_http_cometchat_builder_t *b, char *name, ngx_str_t *value);

static ngx_http_cometchat_snippet_t *ngx_http_cometchat_compile(
    ngx_conf_t *cf, ngx_str_t *text, char *name);
static ngx_int_t ngx_http_cometchat_parse_variable(
    ngx_http_cometchat_parse_t *ps, u_char **pp, u_char *last);
static ngx_int_t ngx_http_cometchat_value_escape(
    ngx_http_cometchat_parse_t *ps, ngx_uint_t *escape);
static void ngx_http_cometchat_tag_name_done(ngx_http_cometchat_parse_t *ps,
    u_char *p);
static void ngx_http_cometchat_attr_kind(ngx_http_cometchat_parse_t *ps);
static ngx_uint_t ngx_http_cometchat_end_of_raw(ngx_http_cometchat_parse_t *ps,
    u_char *p, u_char *last);
static ngx_int_t ngx_http_cometchat_add_part(ngx_http_cometchat_parse_t *ps,
    ngx_uint_t type, ngx_uint_t escape, u_char *start, u_char *end,
    ngx_int_t index);
static ngx_int_t ngx_http_cometchat_flush(ngx_http_cometchat_parse_t *ps,
    u_char *p);

static void ngx_http_cometchat_escape_init(void);
static size_t ngx_http_cometchat_escape(ngx_uint_t escape, u_char *dst,
    u_char *src, size_t len);
static ngx_uint_t ngx_http_cometchat_safe_url(u_char *p, size_t len);


static ngx_http_cometchat_param_t  ngx_http_cometchat_params[] = {

    { ngx_string("position"), ngx_http_cometchat_check_position,
      "\"bottom-right\" or \"bottom-left\"" },

    { ngx_string("docked"), ngx_http_cometchat_check_onoff,
      "\"on\" or \"off\"" },

    { ngx_string("width"), ngx_http_cometchat_check_css,
      "a CSS length such as \"450px\" or \"80vh\"" },

    { ngx_string("height"), ngx_http_cometchat_check_css,
      "a CSS length such as \"450px\" or \"80vh\"" },

    { ngx_string("variant"), ngx_http_cometchat_check_id,
      "up to 100 letters, digits, \"-\" and \"_\"" },

    { ngx_string("chat_type"), ngx_http_cometchat_check_chat_type,
      "\"user\" or \"group\"" },

    { ngx_string("default_chat"), ngx_http_cometchat_check_id,
      "up to 100 letters, digits, \"-\" and \"_\"" },

    { ngx_string("language"), ngx_http_cometchat_check_language,
      "a language tag such as \"en\" or \"pt-BR\"" },

    { ngx_string("script"), ngx_http_cometchat_check_url,
      "an \"https://\", \"http://\" or \"/\" URL without quotes, "
      "spaces, \"<\", \">\" or \"\\\"" },

    { ngx_string("flavor"), ngx_http_cometchat_check_flavor,
      "\"embed\" or \"legacy\"" },

    { ngx_string("widget_id"), ngx_http_cometchat_check_id,
      "up to 100 letters, digits, \"-\" and \"_\"" }
};


/* bytes that stand for themselves, per escape (bit = 1 << escape) */
static u_char  ngx_http_cometchat_plain[256];


static char  *ngx_http_cometchat_url_attrs[] = {
    "href", "src", "action", "formaction", "poster", "data", "cite",
    "background", "longdesc", "manifest", "codebase", "icon", "xlink:href",
    "ping", "srcset", NULL
};


char *
ngx_http_cometchat_widget(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    u_char                       *eq;
    ngx_str_t                    *value, name, val;
    ngx_uint_t                    i, j;
    ngx_http_cometchat_widget_t  *w;

    w = cclcf->widget;

    if (w == NULL) {
        w = ngx_pcalloc(cf->pool, sizeof(ngx_http_cometchat_widget_t));
        if (w == NULL) {
            return NGX_CONF_ERROR;
        }

        cclcf->widget = w;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');

        if (eq == NULL || eq == value[i].data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"cometchat_widget\": invalid parameter "
                               "\"%V\", expected NAME=VALUE", &value[i]);
            return NGX_CONF_ERROR;
        }

        name.data = value[i].data;
        name.len = eq - value[i].data;
        val.data = eq + 1;
        val.len = value[i].data + value[i].len - val.data;

        for (j = 0; j < NGX_HTTP_COMETCHAT_W_N; j++) {
            if (name.len == ngx_http_cometchat_params[j].name.len
                && ngx_strncmp(name.data,
                               ngx_http_cometchat_params[j].name.data,
                               name.len) == 0)
            {
                break;
            }
        }

        if (j == NGX_HTTP_COMETCHAT_W_N) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"cometchat_widget\": unknown parameter "
                               "\"%V\"", &name);
            return NGX_CONF_ERROR;
        }

        if (w->value[j].data != NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"cometchat_widget\": duplicate parameter "
                               "\"%V\"", &name);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_cometchat_params[j].check(&val) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"cometchat_widget\": invalid value \"%V\" "
                               "for \"%V\", expected %s", &val, &name,
                               ngx_http_cometchat_params[j].expected);
            return NGX_CONF_ERROR;
        }

        w->value[j] = val;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_cometchat_snippet_merge(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *prev, ngx_http_cometchat_loc_conf_t *conf)
{
    char                          *rv, *what;
    ngx_str_t                      text, path;
    ngx_uint_t                     i;
    ngx_http_cometchat_widget_t   *w, *pw;
    ngx_http_cometchat_snippet_t  *sn;

    ngx_conf_merge_str_value(conf->snippet_file, prev->snippet_file, "");

    /* parameters are inherited one by one */

    w = conf->widget;
    pw = prev->widget;

    if (w == NULL) {
        conf->widget = pw;

    } else if (pw) {
        for (i = 0; i < NGX_HTTP_COMETCHAT_W_N; i++) {
            if (w->value[i].data == NULL) {
                w->value[i] = pw->value[i];
            }
        }
    }

    if (!conf->enable || !conf->inject) {
        return NGX_CONF_OK;
    }

    /* compile once, and share with every level that changes nothing */

    if (prev->snippet && ngx_http_cometchat_same_snippet(prev, conf)) {
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
        if (conf->widget) {
            rv = ngx_http_cometchat_check_widget(cf, conf->widget);
            if (rv != NGX_CONF_OK) {
                return rv;
            }
        }

        if (ngx_http_cometchat_builtin(cf, conf, &text) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        what = "cometchat_widget";
    }

    sn = ngx_http_cometchat_compile(cf, &text, what);
    if (sn == NULL) {
        return NGX_CONF_ERROR;
    }

    conf->snippet = sn;

    if (ngx_http_cometchat_same_snippet(prev, conf)) {
        prev->snippet = sn;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_cometchat_snippet_render(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_ctx_t *ctx,
    ngx_str_t *nonce, ngx_str_t *out)
{
    u_char                        *p;
    size_t                         len;
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

    len = 0;

    for (i = 0; i < sn->parts.nelts; i++) {
        v = &values[i];

        switch (part[i].type) {

        case NGX_HTTP_COMETCHAT_PART_LITERAL:
            len += part[i].text.len;
            continue;

        case NGX_HTTP_COMETCHAT_PART_UID:
            *v = ctx->uid;
            break;

        case NGX_HTTP_COMETCHAT_PART_TOKEN:
            *v = ctx->token;
            break;

        case NGX_HTTP_COMETCHAT_PART_NONCE:
            *v = *nonce;

            if (v->len) {
                len += sizeof(" nonce=\"\"") - 1;
            }

            break;

        default: /* NGX_HTTP_COMETCHAT_PART_VARIABLE */
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

        len += ngx_http_cometchat_escape(part[i].escape, NULL, v->data,
                                         v->len);
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    for (i = 0; i < sn->parts.nelts; i++) {
        v = &values[i];

        switch (part[i].type) {

        case NGX_HTTP_COMETCHAT_PART_LITERAL:
            p = ngx_cpymem(p, part[i].text.data, part[i].text.len);
            continue;

        case NGX_HTTP_COMETCHAT_PART_NONCE:
            if (v->len == 0) {
                continue;
            }

            p = ngx_cpymem(p, " nonce=\"", sizeof(" nonce=\"") - 1);
            p += ngx_http_cometchat_escape(part[i].escape, p, v->data,
                                           v->len);
            *p++ = '"';
            continue;

        default:
            p += ngx_http_cometchat_escape(part[i].escape, p, v->data,
                                           v->len);
        }
    }

    out->len = p - out->data;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_cometchat_same_snippet(ngx_http_cometchat_loc_conf_t *a,
    ngx_http_cometchat_loc_conf_t *b)
{
    return a->widget == b->widget
           && ngx_http_cometchat_str_eq(&a->snippet_file, &b->snippet_file)
           && ngx_http_cometchat_str_eq(&a->app_id, &b->app_id)
           && ngx_http_cometchat_str_eq(&a->region, &b->region);
}


/* unset (NULL) and empty strings are equal */

static ngx_uint_t
ngx_http_cometchat_str_eq(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || ngx_memcmp(a->data, b->data, a->len) == 0);
}


static char *
ngx_http_cometchat_check_widget(ngx_conf_t *cf, ngx_http_cometchat_widget_t *w)
{
    ngx_uint_t  legacy, i;

    static ngx_uint_t  embed_only[] = {
        NGX_HTTP_COMETCHAT_W_VARIANT,
        NGX_HTTP_COMETCHAT_W_LANGUAGE
    };

    legacy = (w->value[NGX_HTTP_COMETCHAT_W_FLAVOR].len == 6);

    if (!legacy) {
        if (w->value[NGX_HTTP_COMETCHAT_W_WIDGET_ID].data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"cometchat_widget\": \"widget_id\" requires "
                               "\"flavor=legacy\"");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (w->value[NGX_HTTP_COMETCHAT_W_WIDGET_ID].data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_widget\": \"flavor=legacy\" requires "
                           "\"widget_id\"");
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < sizeof(embed_only) / sizeof(embed_only[0]); i++) {
        if (w->value[embed_only[i]].data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"cometchat_widget\": \"%V\" is not "
                               "supported with \"flavor=legacy\"",
                               &ngx_http_cometchat_params[embed_only[i]].name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_cometchat_check_position(ngx_str_t *value)
{
    if ((value->len == 12
         && ngx_strncmp(value->data, "bottom-right", 12) == 0)
        || (value->len == 11
            && ngx_strncmp(value->data, "bottom-left", 11) == 0))
    {
        return NGX_OK;
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_cometchat_check_onoff(ngx_str_t *value)
{
    if ((value->len == 2 && ngx_strncmp(value->data, "on", 2) == 0)
        || (value->len == 3 && ngx_strncmp(value->data, "off", 3) == 0))
    {
        return NGX_OK;
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_cometchat_check_css(ngx_str_t *value)
{
    u_char      *p, *last;
    ngx_str_t    unit;
    ngx_uint_t   digits, i;

    static ngx_str_t  units[] = {
        ngx_string("px"), ngx_string("%"), ngx_string("em"),
        ngx_string("rem"), ngx_string("vh"), ngx_string("vw"),
        ngx_string("vmin"), ngx_string("vmax"), ngx_string("dvh"),
        ngx_string("svh"), ngx_string("lvh"), ngx_string("dvw"),
        ngx_string("svw"), ngx_string("lvw"), ngx_null_string
    };

    if (value->len > 16) {
        return NGX_ERROR;
    }

    p = value->data;
    last = p + value->len;
    digits = 0;

    while (p < last && *p >= '0' && *p <= '9') {
        p++;
        digits++;
    }

    if (p < last && *p == '.') {
        p++;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
            digits++;
        }
    }

    if (digits == 0) {
        return NGX_ERROR;
    }

    unit.data = p;
    unit.len = last - p;

    for (i = 0; units[i].len; i++) {
        if (unit.len == units[i].len
            && ngx_strncmp(unit.data, units[i].data, unit.len) == 0)
        {
            return NGX_OK;
        }
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_cometchat_check_id(ngx_str_t *value)
{
    u_char  *p;

    if (value->len == 0 || value->len > 100) {
        return NGX_ERROR;
    }

    for (p = value->data; p < value->data + value->len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')
        {
            continue;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_check_chat_type(ngx_str_t *value)
{
    if ((value->len == 4 && ngx_strncmp(value->data, "user", 4) == 0)
        || (value->len == 5 && ngx_strncmp(value->data, "group", 5) == 0))
    {
        return NGX_OK;
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_cometchat_check_language(ngx_str_t *value)
{
    u_char      *p, *last;
    ngx_uint_t   n, first;

    /* BCP 47 in its common shape: 2-8 letters, then -subtags */

    if (value->len == 0 || value->len > 35) {
        return NGX_ERROR;
    }

    p = value->data;
    last = p + value->len;
    first = 1;

    for ( ;; ) {
        n = 0;

        while (p < last
               && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                   || (!first && *p >= '0' && *p <= '9')))
        {
            p++;
            n++;
        }

        if (n > 8 || (first && n < 2) || n == 0) {
            return NGX_ERROR;
        }

        if (p == last) {
            return NGX_OK;
        }

        if (*p++ != '-') {
            return NGX_ERROR;
        }

        first = 0;
    }
}


static ngx_int_t
ngx_http_cometchat_check_url(ngx_str_t *value)
{
    u_char  *p;

    if (value->len == 0 || value->len > 2048) {
        return NGX_ERROR;
    }

    if (!((value->len > 8
           && ngx_strncasecmp(value->data, (u_char *) "https://", 8) == 0)
          || (value->len > 7
              && ngx_strncasecmp(value->data, (u_char *) "http://", 7) == 0)
          || value->data[0] == '/'))
    {
        return NGX_ERROR;
    }

    for (p = value->data; p < value->data + value->len; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\''
            || *p == '<' || *p == '>' || *p == '\\' || *p == '`')
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_check_flavor(ngx_str_t *value)
{
    if ((value->len == 5 && ngx_strncmp(value->data, "embed", 5) == 0)
        || (value->len == 6 && ngx_strncmp(value->data, "legacy", 6) == 0))
    {
        return NGX_OK;
    }

    return NGX_ERROR;
}


/*
 * The built-in snippet: CometChat's Widget Builder embed (or the legacy
 * CometChatWidget), logged in with the user's auth token.  Configured
 * values are escaped here; the uid and the token are template variables.
 */

static ngx_int_t
ngx_http_cometchat_builtin(ngx_conf_t *cf, ngx_http_cometchat_loc_conf_t *conf,
    ngx_str_t *text)
{
    ngx_str_t                     *v, def;
    ngx_uint_t                     legacy, docked, left, rc;
    ngx_http_cometchat_builder_t   b;
    ngx_http_cometchat_widget_t    none, *w;

    static ngx_str_t  width = ngx_string("450px");
    static ngx_str_t  height = ngx_string("80vh");

    ngx_http_cometchat_escape_init();

    w = conf->widget;

    if (w == NULL) {
        ngx_memzero(&none, sizeof(ngx_http_cometchat_widget_t));
        w = &none;
    }

    v = w->value;

    legacy = (v[NGX_HTTP_COMETCHAT_W_FLAVOR].len == 6);
    docked = (v[NGX_HTTP_COMETCHAT_W_DOCKED].len != 3);
    left = (v[NGX_HTTP_COMETCHAT_W_POSITION].len == 11);

    b.text = ngx_array_create(cf->temp_pool, 4096, 1);
    if (b.text == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_OK;

    if (!docked || !legacy) {
        rc |= ngx_http_cometchat_add(&b, "<div id=\"cometChatMount\"></div>\n");
    }

    rc |= ngx_http_cometchat_add(&b, "<script defer src=\"");

    if (v[NGX_HTTP_COMETCHAT_W_SCRIPT].data) {
        def = v[NGX_HTTP_COMETCHAT_W_SCRIPT];

    } else if (legacy) {
        ngx_str_set(&def, NGX_HTTP_COMETCHAT_LEGACY_SCRIPT);

    } else {
        ngx_str_set(&def, NGX_HTTP_COMETCHAT_EMBED_SCRIPT);
    }

    rc |= ngx_http_cometchat_add_escaped(&b, NGX_HTTP_COMETCHAT_ESC_HTML,
                                         &def);

    rc |= ngx_http_cometchat_add(&b,
        "\"></script>\n"
        "<script>\n"
        "(function () {\n"
        "  var uid = \"$cometchat_uid\";\n"
        "  function fail(e) {\n"
        "    console.error(\"[cometchat] widget failed: \""
                        " + (e && e.message ? e.message : e));\n"
        "  }\n");

    if (!legacy) {
        rc |= ngx_http_cometchat_add(&b,
            "  var config = window.COMETCHAT_WIDGET_CONFIG = {\n"
            "    appID: ");
        rc |= ngx_http_cometchat_add_escaped(&b,
                                       NGX_HTTP_COMETCHAT_ESC_JS_QUOTED,
                                       &conf->app_id);
        rc |= ngx_http_cometchat_add(&b, ", region: ");
        rc |= ngx_http_cometchat_add_escaped(&b,
                                       NGX_HTTP_COMETCHAT_ESC_JS_QUOTED,
                                       &conf->region);
        rc |= ngx_http_cometchat_add(&b,
            ",\n    mode: \"authToken\", authToken: \"$cometchat_auth_token\""
            ",\n    mount: \"#cometChatMount\", isDocked: ");
        rc |= ngx_http_cometchat_add(&b, docked ? "true" : "false");
        rc |= ngx_http_cometchat_add(&b, ", dockedAlignment: ");
        rc |= ngx_http_cometchat_add(&b, left ? "\"left\"" : "\"right\"");

    } else {
        rc |= ngx_http_cometchat_add(&b,
            "  function start() {\n"
            "    var w = window.CometChatWidget;\n"
            "    if (!w) {\n"
            "      fail(\"the widget script did not load\");\n"
            "      return;\n"
            "    }\n"
            "    try {\n"
            "      w.init({appID: ");
        rc |= ngx_http_cometchat_add_escaped(&b,
                                       NGX_HTTP_COMETCHAT_ESC_JS_QUOTED,
                                       &conf->app_id);
        rc |= ngx_http_cometchat_add(&b, ", appRegion: ");
        rc |= ngx_http_cometchat_add_escaped(&b,
                                       NGX_HTTP_COMETCHAT_ESC_JS_QUOTED,
                                       &conf->region);
        rc |= ngx_http_cometchat_add(&b,
            "}).then(function () {\n"
            "        return w.login({authToken: \"$cometchat_auth_token\"});\n"
            "      }).then(function () {\n"
            "        w.launch({roundedCorners: \"true\"");
        rc |= ngx_http_cometchat_add_js_field(&b, "widgetID",
                                         &v[NGX_HTTP_COMETCHAT_W_WIDGET_ID]);

        if (docked) {
            rc |= ngx_http_cometchat_add(&b, ", docked: \"true\", alignment: ");
            rc |= ngx_http_cometchat_add(&b, left ? "\"left\"" : "\"right\"");

        } else {
            rc |= ngx_http_cometchat_add(&b, ", target: \"#cometChatMount\"");
        }
    }

    rc |= ngx_http_cometchat_add_js_field(&b, "width",
                                     v[NGX_HTTP_COMETCHAT_W_WIDTH].data
                                     ? &v[NGX_HTTP_COMETCHAT_W_WIDTH]
                                     : &width);
    rc |= ngx_http_cometchat_add_js_field(&b, "height",
                                     v[NGX_HTTP_COMETCHAT_W_HEIGHT].data
                                     ? &v[NGX_HTTP_COMETCHAT_W_HEIGHT]
                                     : &height);

    if (!legacy) {
        rc |= ngx_http_cometchat_add_js_field(&b, "variantID",
                                        &v[NGX_HTTP_COMETCHAT_W_VARIANT]);
        rc |= ngx_http_cometchat_add_js_field(&b, "chatType",
                                        &v[NGX_HTTP_COMETCHAT_W_CHAT_TYPE]);
        rc |= ngx_http_cometchat_add_js_field(&b, "defaultChatID",
                                        &v[NGX_HTTP_COMETCHAT_W_DEFAULT_CHAT]);
        rc |= ngx_http_cometchat_add_js_field(&b, "language",
                                        &v[NGX_HTTP_COMETCHAT_W_LANGUAGE]);
        rc |= ngx_http_cometchat_add(&b,
            "\n  };\n"
            "  function start() {\n"
            "    var app = window.CometChatApp;\n"
            "    if (!app || !app.CometChatAuth) {\n"
            "      fail(\"the widget script did not load\");\n"
            "      return;\n"
            "    }\n"
            "    try {\n"
            "      Promise.resolve(app.CometChatAuth.start(config))"
                                                ".then(function () {\n");

    } else {
        rc |= ngx_http_cometchat_add_js_field(&b, "defaultType",
                                        &v[NGX_HTTP_COMETCHAT_W_CHAT_TYPE]);
        rc |= ngx_http_cometchat_add_js_field(&b, "defaultID",
                                        &v[NGX_HTTP_COMETCHAT_W_DEFAULT_CHAT]);
        rc |= ngx_http_cometchat_add(&b, "});\n");
    }

    rc |= ngx_http_cometchat_add(&b,
        "        console.info(\"[cometchat] widget started for uid \" + uid);\n"
        "      }, fail);\n"
        "    } catch (e) {\n"
        "      fail(e);\n"
        "    }\n"
        "  }\n"
        "  if (document.readyState === \"loading\") {\n"
        "    document.addEventListener(\"DOMContentLoaded\", start);\n"
        "  } else {\n"
        "    start();\n"
        "  }\n"
        "})();\n"
        "</script>\n");

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    text->data = b.text->elts;
    text->len = b.text->nelts;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_add(ngx_http_cometchat_builder_t *b, char *s)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(s);

    p = ngx_array_push_n(b->text, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, s, len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_add_escaped(ngx_http_cometchat_builder_t *b,
    ngx_uint_t escape, ngx_str_t *value)
{
    u_char  *p;
    size_t   len;

    len = ngx_http_cometchat_escape(escape, NULL, value->data, value->len);

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_array_push_n(b->text, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_http_cometchat_escape(escape, p, value->data, value->len);

    return NGX_OK;
}


/* ", name: "value"" when the value is set */

static ngx_int_t
ngx_http_cometchat_add_js_field(ngx_http_cometchat_builder_t *b, char *name,
    ngx_str_t *value)
{
    if (value->data == NULL) {
        return NGX_OK;
    }

    if (ngx_http_cometchat_add(b, ", ") != NGX_OK
        || ngx_http_cometchat_add(b, name) != NGX_OK
        || ngx_http_cometchat_add(b, ": ") != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_cometchat_add_escaped(b, NGX_HTTP_COMETCHAT_ESC_JS_QUOTED,
                                          value);
}


/*
 * The template compiler: a small HTML tokenizer that knows where each
 * "$variable" stands.  "$$" is a literal "$"; "$" not followed by a name
 * or "{" is literal too (so "$(...)" and "$.x" need no escaping).
 * A "nonce" part is inserted after the name of every <script> tag.
 */

static ngx_http_cometchat_snippet_t *
ngx_http_cometchat_compile(ngx_conf_t *cf, ngx_str_t *text, char *name)
{
    u_char                        *p, *last, c;
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

    ngx_http_cometchat_escape_init();

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
            switch (ngx_http_cometchat_parse_variable(&ps, &p, last)) {
            case NGX_OK:
                continue;
            case NGX_ERROR:
                return NULL;
            default: /* NGX_DECLINED: a literal "$" */
                break;
            }
        }

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
        }

        switch (ps.state) {

        case NGX_HTTP_COMETCHAT_ST_TEXT:
            if (c != '<' || last - p < 2) {
                break;
            }

            if (last - p >= 4 && ngx_strncmp(p + 1, "!--", 3) == 0) {
                ps.state = NGX_HTTP_COMETCHAT_ST_COMMENT;
                p += 3;

            } else if (p[1] == '!' || p[1] == '?') {
                ps.state = NGX_HTTP_COMETCHAT_ST_BOGUS;

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

            if ((c >= '0' && c <= '9') || c == '-') {
                if (ps.tag_len < sizeof(ps.tag)) {
                    ps.tag[ps.tag_len++] = c;
                }

                break;
            }

            ngx_http_cometchat_tag_name_done(&ps, p);

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

            /* fall through */

        case NGX_HTTP_COMETCHAT_ST_ATTR_NAME:
            if (c == '=') {
                ngx_http_cometchat_attr_kind(&ps);
                ps.state = NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE;
                ps.value_start = 1;
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
                ngx_http_cometchat_attr_kind(&ps);
                ps.state = NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE;
                ps.value_start = 1;
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
                break;
            }

            if (c == '\'') {
                ps.state = NGX_HTTP_COMETCHAT_ST_VALUE_SQ;
                break;
            }

            if (c == '>') {
                goto tag_end;
            }

            ps.state = NGX_HTTP_COMETCHAT_ST_VALUE_UNQ;
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
            }

            break;

        case NGX_HTTP_COMETCHAT_ST_COMMENT:
            if (c == '-' && last - p >= 3 && p[1] == '-' && p[2] == '>') {
                ps.state = NGX_HTTP_COMETCHAT_ST_TEXT;
                p += 2;
            }

            break;

        case NGX_HTTP_COMETCHAT_ST_BOGUS:
            if (c == '>') {
                ps.state = NGX_HTTP_COMETCHAT_ST_TEXT;
            }

            break;

        case NGX_HTTP_COMETCHAT_ST_STYLE:
            if (c == '<' && ngx_http_cometchat_end_of_raw(&ps, p, last)) {
                ps.state = NGX_HTTP_COMETCHAT_ST_END_TAG;
            }

            break;

        default: /* NGX_HTTP_COMETCHAT_ST_SCRIPT */

            if (c == '<' && ngx_http_cometchat_end_of_raw(&ps, p, last)) {
                ps.state = NGX_HTTP_COMETCHAT_ST_END_TAG;
                break;
            }

            switch (ps.js) {

            case NGX_HTTP_COMETCHAT_JS_CODE:
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
                }

                break;

            case NGX_HTTP_COMETCHAT_JS_SQ:
            case NGX_HTTP_COMETCHAT_JS_DQ:
            case NGX_HTTP_COMETCHAT_JS_TPL:
                if (c == '\\' && last - p >= 2) {
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
        continue;

    tag_end:

        switch (ps.raw) {

        case NGX_HTTP_COMETCHAT_RAW_SCRIPT:
            ps.state = NGX_HTTP_COMETCHAT_ST_SCRIPT;
            ps.js = NGX_HTTP_COMETCHAT_JS_CODE;
            break;

        case NGX_HTTP_COMETCHAT_RAW_STYLE:
            ps.state = NGX_HTTP_COMETCHAT_ST_STYLE;
            break;

        default:
            ps.state = NGX_HTTP_COMETCHAT_ST_TEXT;
        }

        ps.raw = NGX_HTTP_COMETCHAT_RAW_NONE;
        p++;
    }

    if (ngx_http_cometchat_flush(&ps, last) != NGX_OK) {
        return NULL;
    }

    return sn;
}


/*
 * At a "$": NGX_OK when a variable part was added (*pp is past it),
 * NGX_DECLINED for a literal "$", NGX_ERROR on a bad variable.
 */

static ngx_int_t
ngx_http_cometchat_parse_variable(ngx_http_cometchat_parse_t *ps,
    u_char **pp, u_char *last)
{
    u_char      *p, *start, *end, *next;
    ngx_str_t    name;
    ngx_int_t    index;
    ngx_uint_t   type, escape, braces;

    p = *pp;

    if (last - p >= 2 && p[1] == '$') {
        /* "$$": keep the first, drop the second */

        if (ngx_http_cometchat_flush(ps, p + 1) != NGX_OK) {
            return NGX_ERROR;
        }

        ps->lit = p + 2;
        *pp = p + 2;
        return NGX_OK;
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

    if (ngx_http_cometchat_value_escape(ps, &escape) != NGX_OK) {
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

    if (name.len == 13 && ngx_strncmp(name.data, "cometchat_uid", 13) == 0) {
        type = NGX_HTTP_COMETCHAT_PART_UID;
        index = 0;

    } else if (name.len == 20
               && ngx_strncmp(name.data, "cometchat_auth_token", 20) == 0)
    {
        type = NGX_HTTP_COMETCHAT_PART_TOKEN;
        index = 0;

    } else {
        type = NGX_HTTP_COMETCHAT_PART_VARIABLE;

        /* unknown names are reported by nginx once the config is read */

        index = ngx_http_get_variable_index(ps->cf, &name);
        if (index == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_cometchat_flush(ps, p) != NGX_OK
        || ngx_http_cometchat_add_part(ps, type, escape, NULL, NULL, index)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ps->state == NGX_HTTP_COMETCHAT_ST_BEFORE_VALUE) {
        ps->state = NGX_HTTP_COMETCHAT_ST_VALUE_UNQ;
    }

    ps->lit = next;
    *pp = next;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_value_escape(ngx_http_cometchat_parse_t *ps,
    ngx_uint_t *escape)
{
    ngx_uint_t  unquoted;

    switch (ps->state) {

    case NGX_HTTP_COMETCHAT_ST_TEXT:
    case NGX_HTTP_COMETCHAT_ST_COMMENT:
    case NGX_HTTP_COMETCHAT_ST_BOGUS:
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
ngx_http_cometchat_tag_name_done(ngx_http_cometchat_parse_t *ps, u_char *p)
{
    ps->raw = NGX_HTTP_COMETCHAT_RAW_NONE;
    ps->attr = NGX_HTTP_COMETCHAT_ATTR_PLAIN;

    if (ps->tag_len == 6 && ngx_strncmp(ps->tag, "script", 6) == 0) {
        ps->raw = NGX_HTTP_COMETCHAT_RAW_SCRIPT;

        /* the CSP nonce, if the response has one, goes right here */

        if (ngx_http_cometchat_flush(ps, p) != NGX_OK
            || ngx_http_cometchat_add_part(ps, NGX_HTTP_COMETCHAT_PART_NONCE,
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
    }
}


static void
ngx_http_cometchat_attr_kind(ngx_http_cometchat_parse_t *ps)
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

    for (name = ngx_http_cometchat_url_attrs; *name; name++) {
        for (i = 0; i < len && (*name)[i] == (char) ps->attr_name[i]; i++) {
            /* void */
        }

        if (i == len && (*name)[i] == '\0') {
            ps->attr = NGX_HTTP_COMETCHAT_ATTR_URL;
            return;
        }
    }
}


/* "</script" or "</style", as the case may be, ends the raw text */

static ngx_uint_t
ngx_http_cometchat_end_of_raw(ngx_http_cometchat_parse_t *ps, u_char *p,
    u_char *last)
{
    char    *name;
    size_t   len;

    if (ps->state == NGX_HTTP_COMETCHAT_ST_SCRIPT) {
        name = "script";
        len = 6;

    } else {
        name = "style";
        len = 5;
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
ngx_http_cometchat_flush(ngx_http_cometchat_parse_t *ps, u_char *p)
{
    if (p == ps->lit) {
        return NGX_OK;
    }

    if (ngx_http_cometchat_add_part(ps, NGX_HTTP_COMETCHAT_PART_LITERAL, 0,
                                    ps->lit, p, 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ps->lit = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_add_part(ngx_http_cometchat_parse_t *ps, ngx_uint_t type,
    ngx_uint_t escape, u_char *start, u_char *end, ngx_int_t index)
{
    ngx_http_cometchat_part_t  *part;

    part = ngx_array_push(&ps->snippet->parts);
    if (part == NULL) {
        return NGX_ERROR;
    }

    part->type = type;
    part->escape = escape;
    part->index = index;
    part->text.len = 0;
    part->text.data = NULL;

    if (type == NGX_HTTP_COMETCHAT_PART_LITERAL) {
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
 * Escapes src for its context into dst, or only counts when dst is NULL.
 * The output is ASCII: what is not known to be harmless becomes a
 * numeric character reference (HTML), a \uXXXX escape (JS, so JSON too)
 * or a \XXXXXX escape (CSS).  Invalid UTF-8 and control characters come
 * out as U+FFFD.
 */

static size_t
ngx_http_cometchat_escape(ngx_uint_t escape, u_char *dst, u_char *src,
    size_t len)
{
    u_char      *p, *last, *start, buf[32];
    size_t       n, total;
    uint32_t     cp, hi;
    ngx_uint_t   quoted_js;

    static u_char  hex[] = "0123456789abcdef";
    static u_char  unsafe_url[] = "about:invalid#cometchat-unsafe-url";

    /* a variable not found, no nonce: memcpy() and p + 0 need a pointer */

    if (src == NULL) {
        src = (u_char *) "";
        len = 0;
    }

    total = 0;
    quoted_js = (escape == NGX_HTTP_COMETCHAT_ESC_JS_QUOTED);

    if (escape == NGX_HTTP_COMETCHAT_ESC_URL
        || escape == NGX_HTTP_COMETCHAT_ESC_URL_UNQ)
    {
        if (!ngx_http_cometchat_safe_url(src, len)) {
            src = unsafe_url;
            len = sizeof(unsafe_url) - 1;
        }

        escape = (escape == NGX_HTTP_COMETCHAT_ESC_URL)
                 ? NGX_HTTP_COMETCHAT_ESC_HTML
                 : NGX_HTTP_COMETCHAT_ESC_HTML_UNQ;
    }

    if (quoted_js) {
        escape = NGX_HTTP_COMETCHAT_ESC_JS;

        if (dst) {
            *dst++ = '"';
        }

        total++;
    }

    p = src;
    last = src + len;

    /* uids and tokens usually need nothing: copy the harmless run */

    while (p < last && (ngx_http_cometchat_plain[*p] & (1 << escape))) {
        p++;
    }

    if (dst) {
        dst = ngx_cpymem(dst, src, p - src);
    }

    total += p - src;

    while (p < last) {

        if (*p < 0x80) {
            cp = *p++;

            if (ngx_http_cometchat_plain[cp] & (1 << escape)) {
                goto plain;
            }

        } else {
            start = p;
            cp = ngx_utf8_decode(&p, last - p);

            if (cp > 0x10ffff) {
                /* one U+FFFD per bad byte; what follows is read again */
                p = start + 1;
                cp = 0xfffd;
            }
        }

        /* the control characters, except HT, LF and CR in HTML and CSS */

        if ((cp < 0x20 && escape != NGX_HTTP_COMETCHAT_ESC_JS
             && cp != '\t' && cp != LF && cp != CR)
            || (cp >= 0x7f && cp < 0xa0 && escape != NGX_HTTP_COMETCHAT_ESC_JS)
            || (cp >= 0xd800 && cp <= 0xdfff))
        {
            cp = 0xfffd;
        }

        switch (escape) {

        case NGX_HTTP_COMETCHAT_ESC_JS:
            if (cp >= 0x10000) {
                hi = 0xd800 + ((cp - 0x10000) >> 10);
                cp = 0xdc00 + ((cp - 0x10000) & 0x3ff);

                buf[0] = '\\';
                buf[1] = 'u';
                buf[2] = hex[(hi >> 12) & 0xf];
                buf[3] = hex[(hi >> 8) & 0xf];
                buf[4] = hex[(hi >> 4) & 0xf];
                buf[5] = hex[hi & 0xf];
                n = 6;

            } else {
                n = 0;
            }

            buf[n++] = '\\';
            buf[n++] = 'u';
            buf[n++] = hex[(cp >> 12) & 0xf];
            buf[n++] = hex[(cp >> 8) & 0xf];
            buf[n++] = hex[(cp >> 4) & 0xf];
            buf[n++] = hex[cp & 0xf];
            break;

        case NGX_HTTP_COMETCHAT_ESC_CSS:
            buf[0] = '\\';
            buf[1] = hex[(cp >> 20) & 0xf];
            buf[2] = hex[(cp >> 16) & 0xf];
            buf[3] = hex[(cp >> 12) & 0xf];
            buf[4] = hex[(cp >> 8) & 0xf];
            buf[5] = hex[(cp >> 4) & 0xf];
            buf[6] = hex[cp & 0xf];
            n = 7;
            break;

        default: /* HTML */
            n = ngx_sprintf(buf, "&#%uD;", cp) - buf;
            break;
        }

        if (dst) {
            dst = ngx_cpymem(dst, buf, n);
        }

        total += n;
        continue;

    plain:

        if (dst) {
            *dst++ = (u_char) cp;
        }

        total++;
    }

    if (quoted_js) {
        if (dst) {
            *dst = '"';
        }

        total++;
    }

    return total;
}


static void
ngx_http_cometchat_escape_init(void)
{
    u_char      *s;
    ngx_uint_t   c, html;

    static u_char  safe[] = "_-.,:/@+#~!%?";
    static u_char  code[] = "();";

    html = (1 << NGX_HTTP_COMETCHAT_ESC_HTML)
           | (1 << NGX_HTTP_COMETCHAT_ESC_HTML_UNQ);

    if (ngx_http_cometchat_plain['a']) {
        return;
    }

    /* the one table both paths of ngx_http_cometchat_escape() follow */

    for (c = 0; c < 256; c++) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            ngx_http_cometchat_plain[c] = html
                                          | (1 << NGX_HTTP_COMETCHAT_ESC_JS)
                                          | (1 << NGX_HTTP_COMETCHAT_ESC_CSS);
        }
    }

    for (s = safe; *s; s++) {
        ngx_http_cometchat_plain[*s] = html | (1 << NGX_HTTP_COMETCHAT_ESC_JS);
    }

    /*
     * Not in JS: the compiler does not follow regular expression
     * literals, so a quote in one can make it take code for a string or
     * the reverse; without "(", ")", ";" and "=" a value read as code
     * can call nothing and assign nothing.
     */

    for (s = code; *s; s++) {
        ngx_http_cometchat_plain[*s] = html;
    }

    /* they end an unquoted attribute value, or its name */

    ngx_http_cometchat_plain[' '] = (1 << NGX_HTTP_COMETCHAT_ESC_HTML)
                                    | (1 << NGX_HTTP_COMETCHAT_ESC_JS);
    ngx_http_cometchat_plain['='] = 1 << NGX_HTTP_COMETCHAT_ESC_HTML;
}


/*
 * A value that starts a URL attribute must not bring its own scheme,
 * except the harmless ones: "javascript:" and "data:" URLs would run.
 */

static ngx_uint_t
ngx_http_cometchat_safe_url(u_char *p, size_t len)
{
    size_t   i;

    static char  *schemes[] = { "http:", "https:", "mailto:", "tel:", NULL };
    char        **s;

    for (s = schemes; *s; s++) {
        if (len >= ngx_strlen(*s)
            && ngx_strncasecmp(p, (u_char *) *s, ngx_strlen(*s)) == 0)
        {
            return 1;
        }
    }

    /* no scheme: a relative URL; leading blanks could hide one */

    if (len && (p[0] <= 0x20 || p[0] == 0x7f)) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (p[i] == '/' || p[i] == '?' || p[i] == '#') {
            return 1;
        }

        if (p[i] == ':' || p[i] < 0x20 || p[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}
