
/*
 * ngx_http_cometchat_module: the cometchat_widget directive and the
 * built-in snippet.
 *
 * Parameters are checked and parsed when the configuration is read; the
 * built-in snippet is CometChat's embed (or legacy widget) script, written
 * as a snippet template with the configured values already escaped, and
 * compiled as any other template (ngx_http_cometchat_template.c).  What
 * the scripts expect is described in docs/cometchat-api.md.
 */


#include "ngx_http_cometchat_escape.h"
#include "ngx_http_cometchat_widget.h"


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

/* parsed keywords: their place in the parameter's list, plus one */
#define NGX_HTTP_COMETCHAT_W_UNSET          0

#define NGX_HTTP_COMETCHAT_POSITION_RIGHT   1
#define NGX_HTTP_COMETCHAT_POSITION_LEFT    2

#define NGX_HTTP_COMETCHAT_DOCKED_ON        1
#define NGX_HTTP_COMETCHAT_DOCKED_OFF       2

#define NGX_HTTP_COMETCHAT_FLAVOR_EMBED     1
#define NGX_HTTP_COMETCHAT_FLAVOR_LEGACY    2

/*
 * an exact version: a floating "1.x.x" would let a new release change
 * what runs next to the auth token without a configuration change
 */
#define NGX_HTTP_COMETCHAT_EMBED_VERSION    "1.0.36"
#define NGX_HTTP_COMETCHAT_EMBED_SCRIPT                                      \
    "https://cdn.jsdelivr.net/npm/@cometchat/chat-embed@"                    \
    NGX_HTTP_COMETCHAT_EMBED_VERSION "/dist/main.js"
#define NGX_HTTP_COMETCHAT_LEGACY_SCRIPT                                     \
    "https://widget-js.cometchat.io/v3/cometchatwidget.js"


typedef struct {
    ngx_str_t                   value[NGX_HTTP_COMETCHAT_W_N];  /* as set */
    ngx_uint_t                  keyword[NGX_HTTP_COMETCHAT_W_N];
} ngx_http_cometchat_widget_t;


typedef ngx_int_t (*ngx_http_cometchat_widget_check_pt)(ngx_str_t *value);

typedef struct {
    ngx_str_t                            name;
    ngx_str_t                           *keywords;  /* or check */
    ngx_http_cometchat_widget_check_pt   check;
    char                                *expected;
} ngx_http_cometchat_widget_param_t;


/* the built-in snippet as it is written; the first error is kept */

typedef struct {
    ngx_array_t                 *text;      /* u_char */
    ngx_int_t                    rc;
} ngx_http_cometchat_widget_writer_t;


static ngx_int_t ngx_http_cometchat_widget_keyword(ngx_str_t *value,
    ngx_str_t *keywords);
static ngx_int_t ngx_http_cometchat_widget_check_css(ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_widget_check_id(ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_widget_check_language(ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_widget_check_url(ngx_str_t *value);
static ngx_int_t ngx_http_cometchat_widget_check_flavor(ngx_conf_t *cf,
    ngx_http_cometchat_widget_t *w);

static void ngx_http_cometchat_widget_add(
    ngx_http_cometchat_widget_writer_t *wr, char *s);
static void ngx_http_cometchat_widget_add_escaped(
    ngx_http_cometchat_widget_writer_t *wr, ngx_uint_t escape,
    ngx_str_t *value);
static void ngx_http_cometchat_widget_add_field(
    ngx_http_cometchat_widget_writer_t *wr, char *name, ngx_str_t *value);
static void ngx_http_cometchat_widget_add_forget(
    ngx_http_cometchat_widget_writer_t *wr, ngx_str_t *app_id);
static ngx_int_t ngx_http_cometchat_widget_add_switch(
    ngx_http_cometchat_widget_writer_t *wr, ngx_str_t *app_id);


static ngx_str_t  ngx_http_cometchat_widget_positions[] = {
    ngx_string("bottom-right"), ngx_string("bottom-left"), ngx_null_string
};

static ngx_str_t  ngx_http_cometchat_widget_onoff[] = {
    ngx_string("on"), ngx_string("off"), ngx_null_string
};

static ngx_str_t  ngx_http_cometchat_widget_chat_types[] = {
    ngx_string("user"), ngx_string("group"), ngx_null_string
};

static ngx_str_t  ngx_http_cometchat_widget_flavors[] = {
    ngx_string("embed"), ngx_string("legacy"), ngx_null_string
};


static ngx_http_cometchat_widget_param_t  ngx_http_cometchat_widget_params[]
    = {

    { ngx_string("position"), ngx_http_cometchat_widget_positions, NULL,
      "\"bottom-right\" or \"bottom-left\"" },

    { ngx_string("docked"), ngx_http_cometchat_widget_onoff, NULL,
      "\"on\" or \"off\"" },

    { ngx_string("width"), NULL, ngx_http_cometchat_widget_check_css,
      "a CSS length such as \"450px\" or \"80vh\"" },

    { ngx_string("height"), NULL, ngx_http_cometchat_widget_check_css,
      "a CSS length such as \"450px\" or \"80vh\"" },

    { ngx_string("variant"), NULL, ngx_http_cometchat_widget_check_id,
      "up to 100 letters, digits, \"-\" and \"_\"" },

    { ngx_string("chat_type"), ngx_http_cometchat_widget_chat_types, NULL,
      "\"user\" or \"group\"" },

    { ngx_string("default_chat"), NULL, ngx_http_cometchat_widget_check_id,
      "up to 100 letters, digits, \"-\" and \"_\"" },

    { ngx_string("language"), NULL, ngx_http_cometchat_widget_check_language,
      "a language tag such as \"en\" or \"pt-BR\"" },

    { ngx_string("script"), NULL, ngx_http_cometchat_widget_check_url,
      "an \"https://\", \"http://\" or \"/\" URL without quotes, "
      "spaces, \"<\", \">\" or \"\\\"" },

    { ngx_string("flavor"), ngx_http_cometchat_widget_flavors, NULL,
      "\"embed\" or \"legacy\"" },

    { ngx_string("widget_id"), NULL, ngx_http_cometchat_widget_check_id,
      "up to 100 letters, digits, \"-\" and \"_\"" }
};


char *
ngx_http_cometchat_widget(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    u_char                             *eq;
    ngx_int_t                           rc;
    ngx_str_t                          *value, name, val;
    ngx_uint_t                          i, j;
    ngx_http_cometchat_widget_t        *w;
    ngx_http_cometchat_widget_param_t  *param;

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
            param = &ngx_http_cometchat_widget_params[j];

            if (name.len == param->name.len
                && ngx_strncmp(name.data, param->name.data, name.len) == 0)
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

        rc = param->keywords
             ? ngx_http_cometchat_widget_keyword(&val, param->keywords)
             : param->check(&val);

        if (rc == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"cometchat_widget\": invalid value \"%V\" "
                               "for \"%V\", expected %s", &val, &name,
                               param->expected);
            return NGX_CONF_ERROR;
        }

        w->value[j] = val;
        w->keyword[j] = rc;
    }

    return NGX_CONF_OK;
}


void
ngx_http_cometchat_widget_merge(ngx_http_cometchat_loc_conf_t *prev,
    ngx_http_cometchat_loc_conf_t *conf)
{
    ngx_uint_t                    i;
    ngx_http_cometchat_widget_t  *w, *pw;

    w = conf->widget;
    pw = prev->widget;

    if (w == NULL) {
        conf->widget = pw;
        return;
    }

    if (pw == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_COMETCHAT_W_N; i++) {
        if (w->value[i].data == NULL) {
            w->value[i] = pw->value[i];
            w->keyword[i] = pw->keyword[i];
        }
    }
}


/*
 * The built-in snippet: CometChat's Widget Builder embed (or the legacy
 * CometChatWidget), logged in with the user's auth token.  Configured
 * values are escaped here; the uid and the token are template variables.
 */

ngx_int_t
ngx_http_cometchat_widget_builtin(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *conf, ngx_str_t *text)
{
    ngx_str_t                           *v, script;
    ngx_uint_t                           legacy, docked, left;
    ngx_http_cometchat_widget_t          none, *w;
    ngx_http_cometchat_widget_writer_t   wr;

    static ngx_str_t  width = ngx_string("450px");
    static ngx_str_t  height = ngx_string("80vh");

    w = conf->widget;

    if (w == NULL) {
        ngx_memzero(&none, sizeof(ngx_http_cometchat_widget_t));
        w = &none;

    } else if (ngx_http_cometchat_widget_check_flavor(cf, w) != NGX_OK) {
        return NGX_ERROR;
    }

    v = w->value;

    legacy = (w->keyword[NGX_HTTP_COMETCHAT_W_FLAVOR]
              == NGX_HTTP_COMETCHAT_FLAVOR_LEGACY);
    docked = (w->keyword[NGX_HTTP_COMETCHAT_W_DOCKED]
              != NGX_HTTP_COMETCHAT_DOCKED_OFF);
    left = (w->keyword[NGX_HTTP_COMETCHAT_W_POSITION]
            == NGX_HTTP_COMETCHAT_POSITION_LEFT);

    if (v[NGX_HTTP_COMETCHAT_W_SCRIPT].data) {
        script = v[NGX_HTTP_COMETCHAT_W_SCRIPT];

    } else if (legacy) {
        ngx_str_set(&script, NGX_HTTP_COMETCHAT_LEGACY_SCRIPT);

    } else {
        ngx_str_set(&script, NGX_HTTP_COMETCHAT_EMBED_SCRIPT);
    }

    wr.rc = NGX_OK;
    wr.text = ngx_array_create(cf->temp_pool, 4096, 1);
    if (wr.text == NULL) {
        return NGX_ERROR;
    }

    if (!docked || !legacy) {
        ngx_http_cometchat_widget_add(&wr,
                                      "<div id=\"cometChatMount\"></div>\n");
    }

    ngx_http_cometchat_widget_add(&wr, "<script defer src=\"");
    ngx_http_cometchat_widget_add_escaped(&wr, NGX_HTTP_COMETCHAT_ESC_HTML,
                                          &script);
    ngx_http_cometchat_widget_add(&wr,
        "\"></script>\n"
        "<script>\n"
        "(function () {\n"
        "  var uid = \"$cometchat_uid\";\n"
        "  function fail(e) {\n"
        "    console.error(\"[cometchat] widget failed: \""
                        " + (e && e.message ? e.message : e));\n"
        "  }\n");

    if (ngx_http_cometchat_widget_add_switch(&wr, &conf->app_id) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!legacy) {
        ngx_http_cometchat_widget_add(&wr,
            "  var config = {\n"
            "    appID: ");
        ngx_http_cometchat_widget_add_escaped(&wr,
                                       NGX_HTTP_COMETCHAT_ESC_JS_QUOTED,
                                       &conf->app_id);
        ngx_http_cometchat_widget_add(&wr, ", region: ");
        ngx_http_cometchat_widget_add_escaped(&wr,
                                       NGX_HTTP_COMETCHAT_ESC_JS_QUOTED,
                                       &conf->region);
        ngx_http_cometchat_widget_add(&wr,
            ",\n    mode: \"authToken\", authToken: \"$cometchat_auth_token\""
            ",\n    mount: \"#cometChatMount\", isDocked: ");
        ngx_http_cometchat_widget_add(&wr, docked ? "true" : "false");
        ngx_http_cometchat_widget_add(&wr, ", dockedAlignment: ");
        ngx_http_cometchat_widget_add(&wr, left ? "\"left\"" : "\"right\"");

    } else {
        ngx_http_cometchat_widget_add(&wr,
            "  function start() {\n"
            "    var w = window.CometChatWidget;\n"
            "    if (!w) {\n"
            "      fail(\"the widget script did not load\");\n"
            "      return;\n"
            "    }\n"
            "    try {\n"
            "      w.init({appID: ");
        ngx_http_cometchat_widget_add_escaped(&wr,
                                       NGX_HTTP_COMETCHAT_ESC_JS_QUOTED,
                                       &conf->app_id);
        ngx_http_cometchat_widget_add(&wr, ", appRegion: ");
        ngx_http_cometchat_widget_add_escaped(&wr,
                                       NGX_HTTP_COMETCHAT_ESC_JS_QUOTED,
                                       &conf->region);
        ngx_http_cometchat_widget_add(&wr,
            "}).then(function () {\n"
            "        return w.login({authToken: \"$cometchat_auth_token\"});\n"
            "      }).then(function () {\n"
            "        w.launch({roundedCorners: \"true\"");
        ngx_http_cometchat_widget_add_field(&wr, "widgetID",
                                        &v[NGX_HTTP_COMETCHAT_W_WIDGET_ID]);

        if (docked) {
            ngx_http_cometchat_widget_add(&wr,
                                       ", docked: \"true\", alignment: ");
            ngx_http_cometchat_widget_add(&wr,
                                       left ? "\"left\"" : "\"right\"");

        } else {
            ngx_http_cometchat_widget_add(&wr,
                                       ", target: \"#cometChatMount\"");
        }
    }

    ngx_http_cometchat_widget_add_field(&wr, "width",
                                        v[NGX_HTTP_COMETCHAT_W_WIDTH].data
                                        ? &v[NGX_HTTP_COMETCHAT_W_WIDTH]
                                        : &width);
    ngx_http_cometchat_widget_add_field(&wr, "height",
                                        v[NGX_HTTP_COMETCHAT_W_HEIGHT].data
                                        ? &v[NGX_HTTP_COMETCHAT_W_HEIGHT]
                                        : &height);

    if (!legacy) {
        ngx_http_cometchat_widget_add_field(&wr, "variantID",
                                        &v[NGX_HTTP_COMETCHAT_W_VARIANT]);
        ngx_http_cometchat_widget_add_field(&wr, "chatType",
                                        &v[NGX_HTTP_COMETCHAT_W_CHAT_TYPE]);
        ngx_http_cometchat_widget_add_field(&wr, "defaultChatID",
                                        &v[NGX_HTTP_COMETCHAT_W_DEFAULT_CHAT]);
        ngx_http_cometchat_widget_add_field(&wr, "language",
                                        &v[NGX_HTTP_COMETCHAT_W_LANGUAGE]);
        ngx_http_cometchat_widget_add(&wr,
            "\n  };\n"
            "  function start() {\n"
            "    var app = window.CometChatApp;\n"
            "    if (!app || !app.CometChatAuth) {\n"
            "      fail(\"the widget script did not load\");\n"
            "      return;\n"
            "    }\n"
            "    try {\n"
            "      Promise.resolve(app.CometChatAuth.start(config))"
                                                ".then(function () {\n"
            "        config.authToken = \"\";\n");

    } else {
        ngx_http_cometchat_widget_add_field(&wr, "defaultType",
                                        &v[NGX_HTTP_COMETCHAT_W_CHAT_TYPE]);
        ngx_http_cometchat_widget_add_field(&wr, "defaultID",
                                        &v[NGX_HTTP_COMETCHAT_W_DEFAULT_CHAT]);
        ngx_http_cometchat_widget_add(&wr, "});\n");
    }

    ngx_http_cometchat_widget_add(&wr,
        "        console.info(\"[cometchat] widget started for uid \""
                                                            " + uid);\n"
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

    if (wr.rc != NGX_OK) {
        return NGX_ERROR;
    }

    text->data = wr.text->elts;
    text->len = wr.text->nelts;

    return NGX_OK;
}


/*
 * The sign-out snippet, for a page the session check found anonymous in
 * a browser that had a chat session (NGX_HTTP_COMETCHAT_CHAT_COOKIE):
 * every front end that is loaded is logged out, then the app's CometChat
 * storage is removed, so that nothing of the last user's session stays.
 * It has no per-request values but the nonce; it is built once, from
 * after "<script" on, and shared with the levels that keep the app ID.
 */

ngx_int_t
ngx_http_cometchat_widget_signout(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *prev, ngx_http_cometchat_loc_conf_t *conf)
{
    ngx_http_cometchat_widget_writer_t  wr;

    if (conf->signout.data) {
        return NGX_OK;
    }

    if (prev->signout.data
        && prev->app_id.len == conf->app_id.len
        && ngx_strncmp(prev->app_id.data, conf->app_id.data,
                       conf->app_id.len) == 0)
    {
        conf->signout = prev->signout;
        return NGX_OK;
    }

    wr.rc = NGX_OK;
    wr.text = ngx_array_create(cf->pool, 1024, 1);
    if (wr.text == NULL) {
        return NGX_ERROR;
    }

    ngx_http_cometchat_widget_add(&wr,
        ">\n"
        "(function () {\n");
    ngx_http_cometchat_widget_add_forget(&wr, &conf->app_id);
    ngx_http_cometchat_widget_add(&wr,
        "  function logout(o) {\n"
        "    try {\n"
        "      if (o && typeof o.logout === \"function\") {\n"
        "        Promise.resolve(o.logout()).then(null, function () {});\n"
        "      }\n"
        "    } catch (e) {\n"
        "    }\n"
        "  }\n"
        "  logout(window.CometChatApp);\n"
        "  logout(window.CometChatWidget);\n"
        "  logout(window.CometChatUIKit || window.CometChat);\n"
        "  try {\n"
        "    forget();\n"
        "  } catch (e) {\n"
        "  }\n"
        "  console.info(\"[cometchat] signed out: chat session removed\");\n"
        "})();\n"
        "</script>\n");

    if (wr.rc != NGX_OK) {
        return NGX_ERROR;
    }

    conf->signout.data = wr.text->elts;
    conf->signout.len = wr.text->nelts;

    return NGX_OK;
}


ngx_int_t
ngx_http_cometchat_widget_signout_render(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_str_t *nonce, ngx_str_t *out,
    uint32_t *id)
{
    u_char  *p;
    size_t   len;

    if (lcf->signout.len == 0) {
        return NGX_DECLINED;
    }

    /* the nonce has only base64 characters (ngx_http_cometchat_headers.c) */

    len = sizeof("<script nonce=\"\"") - 1 + nonce->len + lcf->signout.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    p = ngx_cpymem(p, "<script", sizeof("<script") - 1);

    if (nonce->len) {
        p = ngx_cpymem(p, " nonce=\"", sizeof(" nonce=\"") - 1);
        p = ngx_cpymem(p, nonce->data, nonce->len);
        *p++ = '"';
    }

    p = ngx_cpymem(p, lcf->signout.data, lcf->signout.len);

    out->len = p - out->data;
    *id = ngx_crc32_long(out->data, out->len);

    return NGX_OK;
}


/* the parameters one flavor or the other cannot use */

static ngx_int_t
ngx_http_cometchat_widget_check_flavor(ngx_conf_t *cf,
    ngx_http_cometchat_widget_t *w)
{
    ngx_uint_t                          i;
    ngx_http_cometchat_widget_param_t  *params;

    static ngx_uint_t  embed_only[] = {
        NGX_HTTP_COMETCHAT_W_VARIANT,
        NGX_HTTP_COMETCHAT_W_LANGUAGE
    };

    if (w->keyword[NGX_HTTP_COMETCHAT_W_FLAVOR]
        != NGX_HTTP_COMETCHAT_FLAVOR_LEGACY)
    {
        if (w->value[NGX_HTTP_COMETCHAT_W_WIDGET_ID].data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"cometchat_widget\": \"widget_id\" requires "
                               "\"flavor=legacy\"");
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    params = ngx_http_cometchat_widget_params;

    if (w->value[NGX_HTTP_COMETCHAT_W_WIDGET_ID].data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_widget\": \"flavor=legacy\" requires "
                           "\"widget_id\"");
        return NGX_ERROR;
    }

    for (i = 0; i < sizeof(embed_only) / sizeof(embed_only[0]); i++) {
        if (w->value[embed_only[i]].data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"cometchat_widget\": \"%V\" is not "
                               "supported with \"flavor=legacy\"",
                               &params[embed_only[i]].name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the keyword's place in the list, plus one, or NGX_ERROR */

static ngx_int_t
ngx_http_cometchat_widget_keyword(ngx_str_t *value, ngx_str_t *keywords)
{
    ngx_uint_t  i;

    for (i = 0; keywords[i].len; i++) {
        if (value->len == keywords[i].len
            && ngx_strncmp(value->data, keywords[i].data, value->len) == 0)
        {
            return i + 1;
        }
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_cometchat_widget_check_css(ngx_str_t *value)
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
ngx_http_cometchat_widget_check_id(ngx_str_t *value)
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
ngx_http_cometchat_widget_check_language(ngx_str_t *value)
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
ngx_http_cometchat_widget_check_url(ngx_str_t *value)
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


static void
ngx_http_cometchat_widget_add(ngx_http_cometchat_widget_writer_t *wr,
    char *s)
{
    u_char  *p;
    size_t   len;

    if (wr->rc != NGX_OK) {
        return;
    }

    len = ngx_strlen(s);

    p = ngx_array_push_n(wr->text, len);
    if (p == NULL) {
        wr->rc = NGX_ERROR;
        return;
    }

    ngx_memcpy(p, s, len);
}


static void
ngx_http_cometchat_widget_add_escaped(ngx_http_cometchat_widget_writer_t *wr,
    ngx_uint_t escape, ngx_str_t *value)
{
    u_char  *p;
    size_t   len;

    if (wr->rc != NGX_OK) {
        return;
    }

    len = ngx_http_cometchat_escape(escape, NULL, value->data, value->len);

    if (len == 0) {
        return;
    }

    p = ngx_array_push_n(wr->text, len);
    if (p == NULL) {
        wr->rc = NGX_ERROR;
        return;
    }

    (void) ngx_http_cometchat_escape(escape, p, value->data, value->len);
}


/* ", name: "value"" when the value is set */

static void
ngx_http_cometchat_widget_add_field(ngx_http_cometchat_widget_writer_t *wr,
    char *name, ngx_str_t *value)
{
    if (value->data == NULL) {
        return;
    }

    ngx_http_cometchat_widget_add(wr, ", ");
    ngx_http_cometchat_widget_add(wr, name);
    ngx_http_cometchat_widget_add(wr, ": ");
    ngx_http_cometchat_widget_add_escaped(wr,
                                          NGX_HTTP_COMETCHAT_ESC_JS_QUOTED,
                                          value);
}


/*
 * forget(): removes the app's CometChat storage, "APPID:..." keys (the
 * SDK's localforage stores, double-JSON-encoded values) in localStorage
 * and sessionStorage, and the SDK's "sessionId" ("WEB-...") in the latter
 */

static void
ngx_http_cometchat_widget_add_forget(ngx_http_cometchat_widget_writer_t *wr,
    ngx_str_t *app_id)
{
    ngx_http_cometchat_widget_add(wr, "  var store = ");
    ngx_http_cometchat_widget_add_escaped(wr,
                                          NGX_HTTP_COMETCHAT_ESC_JS_QUOTED,
                                          app_id);
    ngx_http_cometchat_widget_add(wr,
        " + \":\";\n"
        "  function forget() {\n"
        "    [window.localStorage, window.sessionStorage]"
                                        ".forEach(function (s) {\n"
        "      for (var i = s.length - 1; i >= 0; i--) {\n"
        "        var k = s.key(i);\n"
        "        if (k !== null && (k.indexOf(store) === 0\n"
        "            || (k === \"sessionId\""
                        " && /^WEB-/.test(s.getItem(k))))) {\n"
        "          s.removeItem(k);\n"
        "        }\n"
        "      }\n"
        "    });\n"
        "  }\n");
}


/*
 * Before the widget script runs: CometChat's embed logs in as the user
 * its storage holds, whatever token it is given, so a session of another
 * user (the last one to use this browser) is removed first.
 */

static ngx_int_t
ngx_http_cometchat_widget_add_switch(ngx_http_cometchat_widget_writer_t *wr,
    ngx_str_t *app_id)
{
    ngx_http_cometchat_widget_add_forget(wr, app_id);
    ngx_http_cometchat_widget_add(wr,
        "  try {\n"
        "    var seen = localStorage.getItem(store + "
                                        "\"common_store/user\");\n"
        "    for (var i = 0; i < 3 && typeof seen === \"string\"; i++) {\n"
        "      seen = JSON.parse(seen);\n"
        "    }\n"
        "    if (seen !== null && !(seen && String(seen.uid).toLowerCase()"
                                        " === uid.toLowerCase())) {\n"
        "      forget();\n"
        "      console.info(\"[cometchat] another user's chat session"
                                        " was stored here: removed\");\n"
        "    }\n"
        "  } catch (e) {\n"
        "    try {\n"
        "      forget();\n"
        "    } catch (e2) {\n"
        "    }\n"
        "  }\n");

    return wr->rc;
}
