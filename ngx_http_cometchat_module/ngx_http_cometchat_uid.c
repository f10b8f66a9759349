
/*
 * ngx_http_cometchat_module: the application's user id as a CometChat uid.
 *
 * A uid has only a-z, 0-9, "_" and "-", at most 100 characters, and
 * CometChat lowercases it when it creates the user.  Application ids are
 * anything (e-mail addresses, UUIDs, names in any case, any language),
 * so they are mapped, one-to-one: two users of the application must never
 * share a CometChat user, its chats and its token.
 *
 * "escape": a-z, 0-9 and "-" stay as they are; every other byte becomes
 * "_" and two lowercase hex digits ("A" is "_41", "@" is "_40", "_" is
 * "_5f").  "_" only ever starts an escape, so a uid decodes back to one id.
 * Lowercase UUIDs and numeric ids keep their form.
 *
 * "lowercase": the id is ASCII-lowercased, then escaped: ids that differ
 * only in case share a uid, for applications whose ids are
 * case-insensitive.
 *
 * The prefix comes first.  When prefix and escaped id would exceed 100
 * characters the uid is the prefix, "_h" and the hex SHA-256 of the id
 * (lowercased first by "lowercase").  An escaped id never holds "_h", as
 * "h" is no hex digit, so a hashed uid never equals an escaped one; two
 * hashed uids are equal only for a SHA-256 collision.
 *
 * Refused: an empty id, one with a control character (a broken session
 * endpoint, not a user), one over NGX_HTTP_COMETCHAT_ID_MAX bytes.
 */


#include <openssl/evp.h>

#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_uid.h"


#define ngx_http_cometchat_uid_plain(c)                                       \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') || (c) == '-')


static ngx_int_t ngx_http_cometchat_uid_hashed(ngx_pool_t *pool,
    ngx_uint_t map, ngx_str_t *prefix, ngx_str_t *id, ngx_str_t *uid,
    const char **why);


/*
 * NGX_OK: uid set, from pool; NGX_DECLINED: the id is refused, *why says
 * why; NGX_ERROR: no memory or no hash, *why says which
 */

ngx_int_t
ngx_http_cometchat_uid_map(ngx_pool_t *pool, ngx_uint_t map,
    ngx_str_t *prefix, ngx_str_t *id, ngx_str_t *uid, const char **why)
{
    u_char   c, *p, *q, *last;
    size_t   len;

    static u_char  hex[] = "0123456789abcdef";

    if (id->len == 0) {
        *why = "empty";
        return NGX_DECLINED;
    }

    if (id->len > NGX_HTTP_COMETCHAT_ID_MAX) {
        *why = "longer than 1024 bytes";
        return NGX_DECLINED;
    }

    len = 0;
    last = id->data + id->len;

    for (p = id->data; p < last; p++) {
        c = *p;

        if (c < 0x20 || c == 0x7f) {
            *why = "has a control character";
            return NGX_DECLINED;
        }

        if (map == NGX_HTTP_COMETCHAT_UID_MAP_LOWERCASE) {
            c = ngx_tolower(c);
        }

        len += ngx_http_cometchat_uid_plain(c) ? 1 : 3;
    }

    if (prefix->len + len > NGX_HTTP_COMETCHAT_UID_MAX) {
        return ngx_http_cometchat_uid_hashed(pool, map, prefix, id, uid, why);
    }

    q = ngx_pnalloc(pool, prefix->len + len);
    if (q == NULL) {
        *why = "no memory";
        return NGX_ERROR;
    }

    uid->data = q;

    q = ngx_cpymem(q, prefix->data, prefix->len);

    for (p = id->data; p < last; p++) {
        c = *p;

        if (map == NGX_HTTP_COMETCHAT_UID_MAP_LOWERCASE) {
            c = ngx_tolower(c);
        }

        if (ngx_http_cometchat_uid_plain(c)) {
            *q++ = c;
            continue;
        }

        *q++ = '_';
        *q++ = hex[c >> 4];
        *q++ = hex[c & 0xf];
    }

    uid->len = q - uid->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_uid_hashed(ngx_pool_t *pool, ngx_uint_t map,
    ngx_str_t *prefix, ngx_str_t *id, ngx_str_t *uid, const char **why)
{
    u_char        *p, md[EVP_MAX_MD_SIZE];
    unsigned int   n;

    p = id->data;

    if (map == NGX_HTTP_COMETCHAT_UID_MAP_LOWERCASE) {
        p = ngx_pnalloc(pool, id->len);
        if (p == NULL) {
            *why = "no memory";
            return NGX_ERROR;
        }

        ngx_strlow(p, id->data, id->len);
    }

    if (EVP_Digest(p, id->len, md, &n, EVP_sha256(), NULL) != 1
        || n != (NGX_HTTP_COMETCHAT_UID_HASHED_LEN - 2) / 2)
    {
        *why = "SHA-256 failed";
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, prefix->len + NGX_HTTP_COMETCHAT_UID_HASHED_LEN);
    if (p == NULL) {
        *why = "no memory";
        return NGX_ERROR;
    }

    uid->data = p;

    p = ngx_cpymem(p, prefix->data, prefix->len);
    *p++ = '_';
    *p++ = 'h';
    p = ngx_hex_dump(p, md, n);

    uid->len = p - uid->data;

    return NGX_OK;
}


char *
ngx_http_cometchat_uid_conf_prefix(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    ngx_str_t  *value;

    if (cclcf->uid_prefix.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /*
     * the prefix is part of every uid: hold it to the uid rules now, and
     * leave room for the hashed form of a long id
     */

    ngx_strlow(value[1].data, value[1].data, value[1].len);

    if (value[1].len > NGX_HTTP_COMETCHAT_UID_PREFIX_MAX
        || (value[1].len && ngx_http_cometchat_valid_uid(&value[1]) != NGX_OK))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_uid_prefix\" may contain only "
                           "letters, digits, \"-\" and \"_\" and must be "
                           "shorter than %d characters: \"%V\"",
                           NGX_HTTP_COMETCHAT_UID_PREFIX_MAX + 1, &value[1]);
        return NGX_CONF_ERROR;
    }

    cclcf->uid_prefix = value[1];

    return NGX_CONF_OK;
}
