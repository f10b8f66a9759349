
/*
 * ngx_http_cometchat_module: the one UTF-8 decoder and the escapers.
 *
 * Every value the module writes into a page or a JSON document goes
 * through ngx_http_cometchat_escape(): HTML text and attribute values,
 * URL attributes, JavaScript strings and code, CSS, and JSON strings.
 * What is not known to be harmless in the place given is written as a
 * numeric character reference (HTML), a \uXXXX escape (JavaScript, JSON)
 * or a \XXXXXX escape (CSS), so that no value can end the string, the
 * attribute, the comment or the element it stands in.
 */


#include "ngx_http_cometchat_escape.h"


static void ngx_http_cometchat_escape_init(void);
static size_t ngx_http_cometchat_escape_char(ngx_uint_t escape, uint32_t cp,
    u_char *buf);
static ngx_uint_t ngx_http_cometchat_escape_safe_url(u_char *p, size_t len);
static uint32_t ngx_http_cometchat_escape_char_ref(u_char **pp, u_char *last);


/* bytes that stand for themselves, per escape (bit = 1 << escape) */
static uint16_t  ngx_http_cometchat_escape_plain[256];


/*
 * Escapes src for its place into dst, or only counts when dst is NULL.
 * Outside JSON the output is ASCII; JSON keeps valid UTF-8 as it is.
 * Invalid UTF-8 comes out as U+FFFD, and so do the control characters
 * in HTML and CSS, where no escape can stand for them.
 */

size_t
ngx_http_cometchat_escape(ngx_uint_t escape, u_char *dst, u_char *src,
    size_t len)
{
    u_char      *p, *last, *start, buf[32];
    size_t       n, total;
    uint32_t     cp;
    ngx_uint_t   quoted_js, json, bit;

    static u_char  unsafe_url[] = "about:invalid#cometchat-unsafe-url";

    /* a variable not found, no nonce: memcpy() and p + 0 need a pointer */

    if (src == NULL) {
        src = (u_char *) "";
        len = 0;
    }

    ngx_http_cometchat_escape_init();

    total = 0;
    quoted_js = (escape == NGX_HTTP_COMETCHAT_ESC_JS_QUOTED);
    json = (escape == NGX_HTTP_COMETCHAT_ESC_JSON
            || escape == NGX_HTTP_COMETCHAT_ESC_JSON_BODY);

    if (escape == NGX_HTTP_COMETCHAT_ESC_URL
        || escape == NGX_HTTP_COMETCHAT_ESC_URL_UNQ)
    {
        if (!ngx_http_cometchat_escape_safe_url(src, len)) {
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

    bit = 1 << escape;
    p = src;
    last = src + len;

    /* uids and tokens usually need nothing: copy the harmless run */

    while (p < last && (ngx_http_cometchat_escape_plain[*p] & bit)) {
        p++;
    }

    if (dst) {
        dst = ngx_cpymem(dst, src, p - src);
    }

    total += p - src;

    while (p < last) {
        start = p;

        if (*p < 0x80) {
            cp = *p++;

            if (ngx_http_cometchat_escape_plain[cp] & bit) {
                if (dst) {
                    *dst++ = (u_char) cp;
                }

                total++;
                continue;
            }

        } else {
            n = ngx_http_cometchat_escape_utf8_next(p, last, &cp);

            if (n == 0) {
                /* one U+FFFD per bad byte; what follows is read again */
                p++;
                cp = 0xfffd;

            } else {
                p += n;

                /* U+2028 and U+2029 end a line in JavaScript only */

                if (json && cp != 0x2028 && cp != 0x2029) {
                    if (dst) {
                        dst = ngx_cpymem(dst, start, n);
                    }

                    total += n;
                    continue;
                }
            }
        }

        /* the control characters, except HT, LF and CR, in HTML and CSS */

        if (!json && escape != NGX_HTTP_COMETCHAT_ESC_JS
            && ((cp < 0x20 && cp != '\t' && cp != LF && cp != CR)
                || (cp >= 0x7f && cp < 0xa0)))
        {
            cp = 0xfffd;
        }

        n = ngx_http_cometchat_escape_char(escape, cp, buf);

        if (dst) {
            dst = ngx_cpymem(dst, buf, n);
        }

        total += n;
    }

    if (quoted_js) {
        if (dst) {
            *dst = '"';
        }

        total++;
    }

    return total;
}


/*
 * Escapes a string for a JSON string literal; dst == NULL returns the
 * length needed.  Beyond what JSON needs, "<", ">", "&", "'" and U+2028/9
 * are escaped too, so the result is also safe inside an HTML <script>, and
 * bytes that are not valid UTF-8 become U+FFFD, so the output always is
 * valid JSON whatever the input.
 */

size_t
ngx_http_cometchat_escape_json(u_char *dst, u_char *src, size_t size)
{
    return ngx_http_cometchat_escape(NGX_HTTP_COMETCHAT_ESC_JSON, dst, src,
                                     size);
}


/* the same for JSON that never meets HTML (REST request bodies): "<", ">",
 * "&" and "'" stay as they are, which keeps long URLs short */

size_t
ngx_http_cometchat_escape_json_body(u_char *dst, u_char *src, size_t size)
{
    return ngx_http_cometchat_escape(NGX_HTTP_COMETCHAT_ESC_JSON_BODY, dst,
                                     src, size);
}


/* bytes of the first max_chars characters of a UTF-8 string; an invalid
 * byte counts as one character (it becomes U+FFFD when escaped) */

size_t
ngx_http_cometchat_escape_utf8_cut(u_char *src, size_t size,
    size_t max_chars)
{
    u_char    *p, *last;
    size_t     n;
    uint32_t   u;

    p = src;
    last = src + size;

    while (p < last && max_chars) {
        n = ngx_http_cometchat_escape_utf8_next(p, last, &u);
        p += n ? n : 1;
        max_chars--;
    }

    return p - src;
}


/*
 * The length of the UTF-8 sequence at p, 0 if it is not valid: strict, no
 * overlong forms, surrogates or code points above U+10FFFF.
 */

size_t
ngx_http_cometchat_escape_utf8_next(u_char *p, u_char *last, uint32_t *cp)
{
    u_char    c;
    size_t    n, i;
    uint32_t  u, min;

    c = *p;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        u = c & 0x1f;
        min = 0x80;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        u = c & 0x0f;
        min = 0x800;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        u = c & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        u = (u << 6) | (p[i] & 0x3f);
    }

    if (u < min || u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
        return 0;
    }

    *cp = u;

    return n;
}


/* the escaped form of one character, into buf (32 bytes) */

static size_t
ngx_http_cometchat_escape_char(ngx_uint_t escape, uint32_t cp, u_char *buf)
{
    size_t    n;
    uint32_t  hi;

    static u_char  hex[] = "0123456789abcdef";

    switch (escape) {

    case NGX_HTTP_COMETCHAT_ESC_JSON:
    case NGX_HTTP_COMETCHAT_ESC_JSON_BODY:

        /* the short forms JSON has; the rest as in JavaScript */

        buf[0] = '\\';

        switch (cp) {
        case '"':
        case '\\':
            buf[1] = (u_char) cp;
            return 2;
        case '\n':
            buf[1] = 'n';
            return 2;
        case '\r':
            buf[1] = 'r';
            return 2;
        case '\t':
            buf[1] = 't';
            return 2;
        case '\b':
            buf[1] = 'b';
            return 2;
        case '\f':
            buf[1] = 'f';
            return 2;
        }

        /* fall through */

    case NGX_HTTP_COMETCHAT_ESC_JS:
        n = 0;

        if (cp >= 0x10000) {
            hi = 0xd800 + ((cp - 0x10000) >> 10);
            cp = 0xdc00 + ((cp - 0x10000) & 0x3ff);

            buf[n++] = '\\';
            buf[n++] = 'u';
            buf[n++] = hex[(hi >> 12) & 0xf];
            buf[n++] = hex[(hi >> 8) & 0xf];
            buf[n++] = hex[(hi >> 4) & 0xf];
            buf[n++] = hex[hi & 0xf];
        }

        buf[n++] = '\\';
        buf[n++] = 'u';
        buf[n++] = hex[(cp >> 12) & 0xf];
        buf[n++] = hex[(cp >> 8) & 0xf];
        buf[n++] = hex[(cp >> 4) & 0xf];
        buf[n++] = hex[cp & 0xf];

        return n;

    case NGX_HTTP_COMETCHAT_ESC_CSS:
        buf[0] = '\\';
        buf[1] = hex[(cp >> 20) & 0xf];
        buf[2] = hex[(cp >> 16) & 0xf];
        buf[3] = hex[(cp >> 12) & 0xf];
        buf[4] = hex[(cp >> 8) & 0xf];
        buf[5] = hex[(cp >> 4) & 0xf];
        buf[6] = hex[cp & 0xf];

        return 7;

    default: /* HTML */
        return ngx_sprintf(buf, "&#%uD;", cp) - buf;
    }
}


static void
ngx_http_cometchat_escape_init(void)
{
    u_char      *s;
    ngx_uint_t   c, html, json;

    static u_char  safe[] = "_-.,:/@+#~!%?";
    static u_char  code[] = "();";
    static u_char  markup[] = "<>&'";

    if (ngx_http_cometchat_escape_plain['a']) {
        return;
    }

    html = (1 << NGX_HTTP_COMETCHAT_ESC_HTML)
           | (1 << NGX_HTTP_COMETCHAT_ESC_HTML_UNQ);
    json = (1 << NGX_HTTP_COMETCHAT_ESC_JSON)
           | (1 << NGX_HTTP_COMETCHAT_ESC_JSON_BODY);

    /* the one table both paths of ngx_http_cometchat_escape() follow */

    for (c = 0x20; c < 0x7f; c++) {
        if (c != '"' && c != '\\') {
            ngx_http_cometchat_escape_plain[c] = json;
        }
    }

    /* JSON that may meet HTML: no markup, no end of a quoted attribute */

    for (s = markup; *s; s++) {
        ngx_http_cometchat_escape_plain[*s] =
                                    1 << NGX_HTTP_COMETCHAT_ESC_JSON_BODY;
    }

    for (c = 0; c < 256; c++) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            ngx_http_cometchat_escape_plain[c] |=
                                       html
                                       | (1 << NGX_HTTP_COMETCHAT_ESC_JS)
                                       | (1 << NGX_HTTP_COMETCHAT_ESC_CSS);
        }
    }

    for (s = safe; *s; s++) {
        ngx_http_cometchat_escape_plain[*s] |=
                                       html | (1 << NGX_HTTP_COMETCHAT_ESC_JS);
    }

    /*
     * Not in JS: the template compiler does not follow regular expression
     * literals, so a quote in one can make it take code for a string or
     * the reverse; without "(", ")", ";" and "=" a value read as code
     * can call nothing and assign nothing.
     */

    for (s = code; *s; s++) {
        ngx_http_cometchat_escape_plain[*s] |= html;
    }

    /* they end an unquoted attribute value, or its name */

    ngx_http_cometchat_escape_plain[' '] |=
                                       (1 << NGX_HTTP_COMETCHAT_ESC_HTML)
                                       | (1 << NGX_HTTP_COMETCHAT_ESC_JS);
    ngx_http_cometchat_escape_plain['='] |= 1 << NGX_HTTP_COMETCHAT_ESC_HTML;
}


/*
 * A value that starts a URL attribute must not bring its own scheme,
 * except the harmless ones: "javascript:" and "data:" URLs would run.
 */

static ngx_uint_t
ngx_http_cometchat_escape_safe_url(u_char *p, size_t len)
{
    size_t   i;
    char   **s;

    static char  *schemes[] = { "http:", "https:", "mailto:", "tel:", NULL };

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


/*
 * Reads the literal start of a URL attribute value as a browser does:
 * character references decoded first (the attribute), then leading
 * spaces and control characters dropped and tabs and newlines anywhere
 * ignored (the URL parser), the scheme compared without case.  A scheme
 * that runs script makes it NGX_HTTP_COMETCHAT_URL_SCRIPT.
 */

ngx_uint_t
ngx_http_cometchat_escape_url_kind(u_char *p, size_t len)
{
    u_char     *last, scheme[16];
    size_t      n;
    uint32_t    c;
    ngx_uint_t  i, colon;

    static char  *script[] = { "javascript", "vbscript", "data", NULL };

    last = p + len;
    n = 0;
    colon = 0;

    while (p < last) {
        if (*p == '&') {
            c = ngx_http_cometchat_escape_char_ref(&p, last);

        } else {
            c = *p++;
        }

        if (c == '\t' || c == LF || c == CR || (n == 0 && c <= 0x20)) {
            continue;
        }

        if (c == ':') {
            colon = 1;
            break;
        }

        /* not a scheme character: a relative URL, "/x", "?x", "#x" */

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (n && ((c >= '0' && c <= '9')
                        || c == '+' || c == '-' || c == '.'))))
        {
            return NGX_HTTP_COMETCHAT_URL_PLAIN;
        }

        /* longer than any scheme of ours: not one of them */

        if (n == sizeof(scheme)) {
            return NGX_HTTP_COMETCHAT_URL_PLAIN;
        }

        scheme[n++] = (u_char) (c | 0x20);
    }

    if (!colon) {
        return NGX_HTTP_COMETCHAT_URL_OPEN;
    }

    for (i = 0; script[i]; i++) {
        if (n == ngx_strlen(script[i])
            && ngx_strncmp(scheme, script[i], n) == 0)
        {
            return NGX_HTTP_COMETCHAT_URL_SCRIPT;
        }
    }

    return NGX_HTTP_COMETCHAT_URL_PLAIN;
}


/*
 * The character a reference at "&" stands for: numeric ones, and the
 * named ones that can spell a scheme's end or hide in it; any other
 * "&" is itself.  As in browsers, ";" may be missing after a number.
 */

static uint32_t
ngx_http_cometchat_escape_char_ref(u_char **pp, u_char *last)
{
    u_char      *p;
    size_t       len;
    uint32_t     c, base, d;
    ngx_uint_t   i, digits;

    static struct {
        char      *name;
        uint32_t   c;
    } named[] = {
        { "&colon;", ':' }, { "&Tab;", '\t' }, { "&NewLine;", LF },
        { "&sol;", '/' }, { "&quest;", '?' }, { "&num;", '#' },
        { NULL, 0 }
    };

    p = *pp + 1;

    if (p < last && *p == '#') {
        p++;
        base = 10;

        if (p < last && (*p | 0x20) == 'x') {
            p++;
            base = 16;
        }

        c = 0;
        digits = 0;

        for ( /* void */ ; p < last; p++) {
            if (*p >= '0' && *p <= '9') {
                d = *p - '0';

            } else if (base == 16 && (*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
            {
                d = (*p | 0x20) - 'a' + 10;

            } else {
                break;
            }

            if (c <= 0x10ffff) {
                c = c * base + d;
            }

            digits++;
        }

        if (digits) {
            if (p < last && *p == ';') {
                p++;
            }

            *pp = p;

            return (c > 0x10ffff || c == 0) ? 0xfffd : c;
        }
    }

    for (i = 0; named[i].name; i++) {
        len = ngx_strlen(named[i].name);

        if ((size_t) (last - *pp) >= len
            && ngx_strncmp(*pp, named[i].name, len) == 0)
        {
            *pp += len;
            return named[i].c;
        }
    }

    (*pp)++;

    return '&';
}
