/*
 * ngx_http_cometchat_escape.c
 */


#ifndef _NGX_HTTP_COMETCHAT_ESCAPE_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_ESCAPE_H_INCLUDED_


#include "ngx_http_cometchat_common.h"


/* where a value stands, that is how it is escaped */
#define NGX_HTTP_COMETCHAT_ESC_HTML         0   /* text, quoted attribute */
#define NGX_HTTP_COMETCHAT_ESC_HTML_UNQ     1   /* unquoted attribute */
#define NGX_HTTP_COMETCHAT_ESC_URL          2   /* starts a URL attribute */
#define NGX_HTTP_COMETCHAT_ESC_URL_UNQ      3
#define NGX_HTTP_COMETCHAT_ESC_JS           4   /* inside a JS string */
#define NGX_HTTP_COMETCHAT_ESC_JS_QUOTED    5   /* JS code: a string */
#define NGX_HTTP_COMETCHAT_ESC_CSS          6
#define NGX_HTTP_COMETCHAT_ESC_JSON         7   /* JSON string body that
                                                   may meet HTML */
#define NGX_HTTP_COMETCHAT_ESC_JSON_BODY    8   /* JSON for REST bodies */


/* what the literal start of a URL attribute value makes of the URL */
#define NGX_HTTP_COMETCHAT_URL_OPEN         0   /* the scheme may follow */
#define NGX_HTTP_COMETCHAT_URL_PLAIN        1   /* relative, or a scheme
                                                   that runs nothing */
#define NGX_HTTP_COMETCHAT_URL_SCRIPT       2   /* javascript:, vbscript:,
                                                   data: */


/*
 * Escapes src for the place given into dst; dst == NULL returns the length
 * needed.  Invalid UTF-8 becomes U+FFFD, one per bad byte.
 */
size_t ngx_http_cometchat_escape(ngx_uint_t escape, u_char *dst, u_char *src,
    size_t len);
/* JSON string body (no quotes), also safe in HTML <script> */
size_t ngx_http_cometchat_escape_json(u_char *dst, u_char *src, size_t size);
/* the same without the HTML-safety escapes, for REST request bodies */
size_t ngx_http_cometchat_escape_json_body(u_char *dst, u_char *src,
    size_t size);
/* the literal start of a URL attribute value, as the browser reads it */
ngx_uint_t ngx_http_cometchat_escape_url_kind(u_char *p, size_t len);
/* bytes in the first max_chars UTF-8 characters of src */
size_t ngx_http_cometchat_escape_utf8_cut(u_char *src, size_t size,
    size_t max_chars);
/* the length of the UTF-8 sequence at p, 0 if it is not valid */
size_t ngx_http_cometchat_escape_utf8_next(u_char *p, u_char *last,
    uint32_t *cp);


#endif /* _NGX_HTTP_COMETCHAT_ESCAPE_H_INCLUDED_ */
