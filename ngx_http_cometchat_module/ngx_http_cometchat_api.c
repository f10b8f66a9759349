
/*
 * The mint flow (docs/cometchat-api.md): ask CometChat for an auth
 * token; when the user does not exist, create it with a token in the same
 * call; when another host created it meanwhile, ask for the token again.
 *
 * The same machinery makes the one other call, update user, for profile
 * sync (ngx_http_cometchat_profile.c): a "mint" that only updates.
 *
 * A mint owns copies of everything it uses, in its own pool: the caller
 * may cancel it at any time and the request that started it may be gone.
 * Its handler is called exactly once, never from inside mint_start(),
 * unless the mint is cancelled first.
 */


#include "ngx_http_cometchat_escape.h"
#include "ngx_http_cometchat_json.h"
#include "ngx_http_cometchat_quota.h"
#include "ngx_http_cometchat_rest.h"
#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_api.h"


/* after CometChat rejected the REST API key: no calls for this long */
#define NGX_HTTP_COMETCHAT_API_KEY_BACKOFF  30

/* a 429 without a usable Retry-After or reset header */
#define NGX_HTTP_COMETCHAT_API_RETRY_AFTER  60

#define NGX_HTTP_COMETCHAT_API_TOKEN_MAX    1024
#define NGX_HTTP_COMETCHAT_API_CODE_MAX     64
#define NGX_HTTP_COMETCHAT_API_ERROR_LEN    512


#define NGX_HTTP_COMETCHAT_MINT_TOKEN       0   /* create auth token */
#define NGX_HTTP_COMETCHAT_MINT_CREATE      1   /* create user */
#define NGX_HTTP_COMETCHAT_MINT_TOKEN_AGAIN 2   /* after a create race */
#define NGX_HTTP_COMETCHAT_MINT_UPDATE      3   /* update user, alone */


struct ngx_http_cometchat_mint_s {
    ngx_pool_t                         *pool;
    ngx_log_t                           log;    /* the caller's, copied */

    ngx_http_cometchat_mint_handler_pt  handler;
    void                               *data;

    ngx_http_cometchat_rest_call_t     *call;
    ngx_event_t                         event;  /* a failure without a call */

    ngx_uint_t                          state;
    ngx_uint_t                          finishing;  /* handler running */
    ngx_uint_t                          entered;    /* holds a place of
                                                       the host's cap */

    ngx_str_t                           app_id;
    ngx_str_t                           api_url;
    ngx_str_t                           url;        /* of the last call */
    ngx_str_t                           api_key;
    ngx_str_t                           api_key_file;
    ngx_msec_t                          timeout;
    ngx_http_cometchat_egress_t        *egress; /* configuration memory,
                                                   as long as the worker */

    ngx_str_t                           uid;
    ngx_str_t                           name;
    ngx_str_t                           avatar;     /* empty: none */
    ngx_uint_t                          nameless;   /* name is the uid */

    ngx_http_cometchat_mint_result_t    result;
};


static ngx_http_cometchat_mint_t *ngx_http_cometchat_api_start(
    ngx_http_cometchat_loc_conf_t *lcf, ngx_uint_t state, ngx_str_t *uid,
    ngx_str_t *name, ngx_str_t *avatar,
    ngx_http_cometchat_mint_handler_pt handler, void *data, ngx_log_t *log);
static ngx_int_t ngx_http_cometchat_api_call(ngx_http_cometchat_mint_t *mint,
    ngx_uint_t state);
static void ngx_http_cometchat_api_reply(void *data,
    ngx_http_cometchat_rest_reply_t *reply);
static void ngx_http_cometchat_api_success(ngx_http_cometchat_mint_t *mint,
    ngx_http_cometchat_rest_reply_t *reply);
static void ngx_http_cometchat_api_created(ngx_http_cometchat_mint_t *mint);
static void ngx_http_cometchat_api_failure(ngx_http_cometchat_mint_t *mint,
    ngx_http_cometchat_rest_reply_t *reply);
static void ngx_http_cometchat_api_bad_reply(ngx_http_cometchat_mint_t *mint,
    ngx_http_cometchat_rest_reply_t *reply, ngx_str_t *why);
static void ngx_http_cometchat_api_error(ngx_http_cometchat_mint_t *mint,
    const char *fmt, ...);
static void ngx_http_cometchat_api_finish(ngx_http_cometchat_mint_t *mint);
static ngx_int_t ngx_http_cometchat_api_quota(ngx_http_cometchat_mint_t *mint,
    ngx_uint_t state);
static void ngx_http_cometchat_api_post(ngx_http_cometchat_mint_t *mint);
static void ngx_http_cometchat_api_event_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_cometchat_api_copy(ngx_pool_t *pool,
    ngx_str_t *dst, ngx_str_t *src);
static void ngx_http_cometchat_api_set_name(ngx_http_cometchat_mint_t *mint,
    ngx_str_t *name);
static ngx_int_t ngx_http_cometchat_api_valid_avatar(ngx_str_t *avatar);
static ngx_int_t ngx_http_cometchat_api_valid_token(ngx_str_t *token);
static void ngx_http_cometchat_api_code(ngx_pool_t *pool, ngx_str_t *body,
    ngx_str_t *code);


static ngx_str_t  ngx_http_cometchat_api_post_method = ngx_string("POST");
static ngx_str_t  ngx_http_cometchat_api_put_method = ngx_string("PUT");
static ngx_str_t  ngx_http_cometchat_api_none = ngx_string("none");

static ngx_str_t  ngx_http_cometchat_api_calls[] = {
    ngx_string("create auth token"),
    ngx_string("create user"),
    ngx_string("create auth token"),
    ngx_string("update user")
};

static ngx_str_t  ngx_http_cometchat_api_token_parts[] = {
    ngx_string("data"), ngx_string("authToken")
};

static ngx_str_t  ngx_http_cometchat_api_uid_parts[] = {
    ngx_string("data"), ngx_string("uid")
};

static ngx_str_t  ngx_http_cometchat_api_code_parts[] = {
    ngx_string("error"), ngx_string("code")
};

static ngx_array_t  ngx_http_cometchat_api_token_path = {
    ngx_http_cometchat_api_token_parts, 2, sizeof(ngx_str_t), 2, NULL
};

static ngx_array_t  ngx_http_cometchat_api_uid_path = {
    ngx_http_cometchat_api_uid_parts, 2, sizeof(ngx_str_t), 2, NULL
};

static ngx_array_t  ngx_http_cometchat_api_code_path = {
    ngx_http_cometchat_api_code_parts, 2, sizeof(ngx_str_t), 2, NULL
};


/* per worker: while CometChat rejects a key, do not call it with that key
 * (kept as a checksum: the key itself is not copied around) */
static time_t    ngx_http_cometchat_api_key_rejected;
static uint32_t  ngx_http_cometchat_api_key_crc;


ngx_http_cometchat_mint_t *
ngx_http_cometchat_api_mint_start(ngx_http_cometchat_loc_conf_t *lcf,
    ngx_str_t *uid, ngx_str_t *name, ngx_str_t *avatar,
    ngx_http_cometchat_mint_handler_pt handler, void *data, ngx_log_t *log)
{
    return ngx_http_cometchat_api_start(lcf, NGX_HTTP_COMETCHAT_MINT_TOKEN,
                                        uid, name, avatar, handler, data,
                                        log);
}


/* name, avatar: as ngx_http_cometchat_api_user_name() and _avatar() give
 * them; an empty one is left out of the update */

ngx_http_cometchat_mint_t *
ngx_http_cometchat_api_update_start(ngx_http_cometchat_loc_conf_t *lcf,
    ngx_str_t *uid, ngx_str_t *name, ngx_str_t *avatar,
    ngx_http_cometchat_mint_handler_pt handler, void *data, ngx_log_t *log)
{
    return ngx_http_cometchat_api_start(lcf, NGX_HTTP_COMETCHAT_MINT_UPDATE,
                                        uid, name, avatar, handler, data,
                                        log);
}


static ngx_http_cometchat_mint_t *
ngx_http_cometchat_api_start(ngx_http_cometchat_loc_conf_t *lcf,
    ngx_uint_t state, ngx_str_t *uid, ngx_str_t *name, ngx_str_t *avatar,
    ngx_http_cometchat_mint_handler_pt handler, void *data, ngx_log_t *log)
{
    time_t                      now;
    ngx_pool_t                 *pool;
    ngx_http_cometchat_mint_t  *mint;

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    mint = ngx_pcalloc(pool, sizeof(ngx_http_cometchat_mint_t));
    if (mint == NULL) {
        goto failed;
    }

    mint->pool = pool;
    mint->log = *log;
    mint->handler = handler;
    mint->data = data;
    mint->timeout = lcf->api_timeout;
    mint->egress = lcf->egress;
    mint->result.rc = NGX_ERROR;

    if (ngx_http_cometchat_api_copy(pool, &mint->api_url, &lcf->api_url)
        != NGX_OK
        || ngx_http_cometchat_api_copy(pool, &mint->app_id, &lcf->app_id)
           != NGX_OK
        || ngx_http_cometchat_api_copy(pool, &mint->api_key, &lcf->api_key)
           != NGX_OK
        || ngx_http_cometchat_api_copy(pool, &mint->api_key_file,
                                       &lcf->api_key_file)
           != NGX_OK
        || ngx_http_cometchat_api_copy(pool, &mint->uid, uid) != NGX_OK)
    {
        goto failed;
    }

    if (state == NGX_HTTP_COMETCHAT_MINT_UPDATE) {
        if (ngx_http_cometchat_api_copy(pool, &mint->name, name) != NGX_OK) {
            goto failed;
        }

    } else {
        ngx_http_cometchat_api_set_name(mint, name);

        if (mint->name.data == NULL) {
            goto failed;
        }
    }

    if (avatar && avatar->len) {
        if (ngx_http_cometchat_api_valid_avatar(avatar) == NGX_OK) {
            if (ngx_http_cometchat_api_copy(pool, &mint->avatar, avatar)
                != NGX_OK)
            {
                goto failed;
            }

        } else {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                           "cometchat api: avatar of \"%V\" is not a "
                           "http(s) URL of at most 3000 bytes, left out",
                           uid);
        }
    }

    mint->event.handler = ngx_http_cometchat_api_event_handler;
    mint->event.data = mint;
    mint->event.log = &mint->log;

    now = ngx_time();

    if (now < ngx_http_cometchat_api_key_rejected
        && ngx_crc32_short(mint->api_key.data, mint->api_key.len)
           == ngx_http_cometchat_api_key_crc)
    {
        ngx_http_cometchat_api_error(mint,
            "CometChat rejected the REST API key recently; no CometChat "
            "calls with it from this worker for %T s",
            ngx_http_cometchat_api_key_rejected - now);

        /* said once when the key was rejected; not again per request */
        mint->result.logged = 1;

        ngx_http_cometchat_api_post(mint);
        return mint;
    }

    if (ngx_http_cometchat_api_call(mint, state) != NGX_OK) {
        ngx_http_cometchat_api_post(mint);
    }

    return mint;

failed:

    ngx_destroy_pool(pool);

    return NULL;
}


void
ngx_http_cometchat_api_mint_cancel(ngx_http_cometchat_mint_t *mint)
{
    if (mint == NULL || mint->finishing) {
        /* a cancel from inside the handler: the mint is ending anyway */
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, &mint->log, 0,
                   "cometchat api: mint %p for \"%V\" cancelled",
                   mint, &mint->uid);

    if (mint->call) {
        ngx_http_cometchat_rest_cancel(mint->call);
        mint->call = NULL;
    }

    if (mint->entered) {
        mint->entered = 0;
        ngx_http_cometchat_quota_leave();
    }

    if (mint->event.posted) {
        ngx_delete_posted_event(&mint->event);
    }

    ngx_destroy_pool(mint->pool);
}


static ngx_int_t
ngx_http_cometchat_api_call(ngx_http_cometchat_mint_t *mint, ngx_uint_t state)
{
    u_char     *p;
    size_t      len, n;
    ngx_str_t   url, body, *method;

    mint->state = state;
    method = &ngx_http_cometchat_api_post_method;

    if (ngx_http_cometchat_api_quota(mint, state) != NGX_OK) {
        return NGX_ERROR;
    }

    n = ngx_escape_uri(NULL, mint->uid.data, mint->uid.len,
                       NGX_ESCAPE_URI_COMPONENT);

    if (state == NGX_HTTP_COMETCHAT_MINT_CREATE) {

        /* POST /users {"uid", "name", "avatar", "withAuthToken": true} */

        len = mint->api_url.len + sizeof("/users") - 1;

        url.data = ngx_pnalloc(mint->pool, len);
        if (url.data == NULL) {
            goto nomem;
        }

        url.len = ngx_sprintf(url.data, "%V/users", &mint->api_url)
                  - url.data;

        len = sizeof("{\"uid\":\"\",\"name\":\"\",\"avatar\":\"\","
                     "\"withAuthToken\":true}") - 1
              + ngx_http_cometchat_escape_json_body(NULL, mint->uid.data,
                                                    mint->uid.len)
              + ngx_http_cometchat_escape_json_body(NULL, mint->name.data,
                                                    mint->name.len)
              + ngx_http_cometchat_escape_json_body(NULL, mint->avatar.data,
                                                    mint->avatar.len);

        body.data = ngx_pnalloc(mint->pool, len);
        if (body.data == NULL) {
            goto nomem;
        }

        p = ngx_cpymem(body.data, "{\"uid\":\"", sizeof("{\"uid\":\"") - 1);
        p += ngx_http_cometchat_escape_json_body(p, mint->uid.data,
                                                 mint->uid.len);
        p = ngx_cpymem(p, "\",\"name\":\"", sizeof("\",\"name\":\"") - 1);
        p += ngx_http_cometchat_escape_json_body(p, mint->name.data,
                                                 mint->name.len);

        if (mint->avatar.len) {
            p = ngx_cpymem(p, "\",\"avatar\":\"",
                           sizeof("\",\"avatar\":\"") - 1);
            p += ngx_http_cometchat_escape_json_body(p, mint->avatar.data,
                                                     mint->avatar.len);
        }

        p = ngx_cpymem(p, "\",\"withAuthToken\":true}",
                       sizeof("\",\"withAuthToken\":true}") - 1);

        body.len = p - body.data;

    } else if (state == NGX_HTTP_COMETCHAT_MINT_UPDATE) {

        /* PUT /users/{uid} {"name", "avatar"}: the ones given */

        method = &ngx_http_cometchat_api_put_method;

        len = mint->api_url.len + sizeof("/users/") - 1 + mint->uid.len
              + 2 * n;

        url.data = ngx_pnalloc(mint->pool, len);
        if (url.data == NULL) {
            goto nomem;
        }

        p = ngx_sprintf(url.data, "%V/users/", &mint->api_url);
        p = (u_char *) ngx_escape_uri(p, mint->uid.data, mint->uid.len,
                                      NGX_ESCAPE_URI_COMPONENT);

        url.len = p - url.data;

        len = sizeof("{\"name\":\"\",\"avatar\":\"\"}") - 1
              + ngx_http_cometchat_escape_json_body(NULL, mint->name.data,
                                                    mint->name.len)
              + ngx_http_cometchat_escape_json_body(NULL, mint->avatar.data,
                                                    mint->avatar.len);

        body.data = ngx_pnalloc(mint->pool, len);
        if (body.data == NULL) {
            goto nomem;
        }

        p = ngx_cpymem(body.data, "{", 1);

        if (mint->name.len) {
            p = ngx_cpymem(p, "\"name\":\"", sizeof("\"name\":\"") - 1);
            p += ngx_http_cometchat_escape_json_body(p, mint->name.data,
                                                     mint->name.len);
            *p++ = '"';
        }

        if (mint->avatar.len) {
            if (mint->name.len) {
                *p++ = ',';
            }

            p = ngx_cpymem(p, "\"avatar\":\"", sizeof("\"avatar\":\"") - 1);
            p += ngx_http_cometchat_escape_json_body(p, mint->avatar.data,
                                                     mint->avatar.len);
            *p++ = '"';
        }

        *p++ = '}';

        body.len = p - body.data;

    } else {

        /* POST /users/{uid}/auth_tokens {} */

        len = mint->api_url.len + sizeof("/users//auth_tokens") - 1
              + mint->uid.len + 2 * n;

        url.data = ngx_pnalloc(mint->pool, len);
        if (url.data == NULL) {
            goto nomem;
        }

        p = ngx_sprintf(url.data, "%V/users/", &mint->api_url);
        p = (u_char *) ngx_escape_uri(p, mint->uid.data, mint->uid.len,
                                      NGX_ESCAPE_URI_COMPONENT);
        p = ngx_cpymem(p, "/auth_tokens", sizeof("/auth_tokens") - 1);

        url.len = p - url.data;

        ngx_str_set(&body, "{}");
    }

    mint->url = url;

    mint->call = ngx_http_cometchat_rest_start(method,
                                      &url, &mint->api_key, &body,
                                      mint->timeout, mint->egress,
                                      ngx_http_cometchat_api_reply, mint,
                                      &mint->log);

    if (mint->call == NULL) {
        ngx_http_cometchat_api_error(mint,
            "CometChat \"%V\" call for uid \"%V\" could not be started",
            &ngx_http_cometchat_api_calls[state], &mint->uid);
        return NGX_ERROR;
    }

    return NGX_OK;

nomem:

    ngx_http_cometchat_api_error(mint, "out of memory for a CometChat call");

    return NGX_ERROR;
}


static void
ngx_http_cometchat_api_reply(void *data,
    ngx_http_cometchat_rest_reply_t *reply)
{
    ngx_http_cometchat_mint_t *mint = data;

    /* the call is over: a cancel from now on must not touch it */
    mint->call = NULL;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, &mint->log, 0,
                   "cometchat api: \"%V\" for \"%V\": status %ui, %uz bytes",
                   &ngx_http_cometchat_api_calls[mint->state], &mint->uid,
                   reply->status, reply->body.len);

    if (reply->status == 0) {
        ngx_http_cometchat_api_error(mint,
            "CometChat \"%V\" call for uid \"%V\" failed: %s",
            &ngx_http_cometchat_api_calls[mint->state], &mint->uid,
            reply->error ? reply->error : "transport error");
        ngx_http_cometchat_api_finish(mint);
        return;
    }

    if (reply->status >= 200 && reply->status < 300) {
        ngx_http_cometchat_api_success(mint, reply);
        return;
    }

    ngx_http_cometchat_api_failure(mint, reply);
}


static void
ngx_http_cometchat_api_success(ngx_http_cometchat_mint_t *mint,
    ngx_http_cometchat_rest_reply_t *reply)
{
    u_char     buf[NGX_HTTP_COMETCHAT_JSON_ERR_LEN];
    ngx_int_t  rc;
    ngx_str_t  token, uid, err;

    if (mint->state == NGX_HTTP_COMETCHAT_MINT_UPDATE) {
        /* the updated user: nothing in it is needed */
        mint->result.rc = NGX_OK;
        ngx_http_cometchat_api_finish(mint);
        return;
    }

    err.data = buf;
    err.len = sizeof(buf);

    rc = ngx_http_cometchat_json_find(mint->pool, &reply->body,
                                      &ngx_http_cometchat_api_token_path,
                                      NGX_HTTP_COMETCHAT_JSON_STRING,
                                      &token, &err);

    if (rc == NGX_DECLINED
        && mint->state == NGX_HTTP_COMETCHAT_MINT_CREATE)
    {
        /*
         * the user exists now, but the reply has no token (an API that
         * ignores withAuthToken): ask for one
         */

        err.len = sizeof(buf);

        if (ngx_http_cometchat_json_find(mint->pool, &reply->body,
                                         &ngx_http_cometchat_api_uid_path,
                                         0, &uid, &err)
            == NGX_OK)
        {
            ngx_http_cometchat_api_created(mint);

            if (ngx_http_cometchat_api_call(mint,
                                        NGX_HTTP_COMETCHAT_MINT_TOKEN_AGAIN)
                != NGX_OK)
            {
                ngx_http_cometchat_api_finish(mint);
            }

            return;
        }

        err.len = 0;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(&err, "no data.authToken");
        ngx_http_cometchat_api_bad_reply(mint, reply, &err);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_cometchat_api_bad_reply(mint, reply, &err);
        return;
    }

    if (ngx_http_cometchat_api_valid_token(&token) != NGX_OK) {
        ngx_str_set(&err, "data.authToken is not a plausible token");
        ngx_http_cometchat_api_bad_reply(mint, reply, &err);
        return;
    }

    if (mint->state == NGX_HTTP_COMETCHAT_MINT_CREATE) {
        ngx_http_cometchat_api_created(mint);
    }

    ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_TOKENS_MINTED);

    mint->result.rc = NGX_OK;
    mint->result.token = token;

    ngx_http_cometchat_api_finish(mint);
}


static void
ngx_http_cometchat_api_created(ngx_http_cometchat_mint_t *mint)
{
    mint->result.user_created = 1;
    ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_USERS_CREATED);

    /*
     * CometChat keeps the name it was created with: a session source that
     * gives none (a token endpoint's server without cometchat_session_name,
     * most often) names every new user after their uid
     */

    if (mint->nameless
        && ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_LOG_NAMELESS))
    {
        ngx_log_error(NGX_LOG_WARN, &mint->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "CometChat user \"%V\" was created with the uid as "
                      "name: the session gave no name; set "
                      "cometchat_session_name at server level, so that the "
                      "token endpoint reads it too", &mint->uid);
    }
}


static void
ngx_http_cometchat_api_failure(ngx_http_cometchat_mint_t *mint,
    ngx_http_cometchat_rest_reply_t *reply)
{
    time_t      delay;
    ngx_str_t  *call, code;

    call = &ngx_http_cometchat_api_calls[mint->state];

    ngx_http_cometchat_api_code(mint->pool, &reply->body, &code);

    if (code.len == sizeof("ERR_UID_NOT_FOUND") - 1
        && ngx_strncmp(code.data, "ERR_UID_NOT_FOUND", code.len) == 0
        && mint->state == NGX_HTTP_COMETCHAT_MINT_TOKEN)
    {
        /*
         * a new user: the REST client counted a client error, but this
         * answer is part of healthy traffic, and alerts on client errors
         * must not fire on every sign-up
         */

        ngx_http_cometchat_status_add(
                              NGX_HTTP_COMETCHAT_STAT_API_CLIENT_ERROR, -1);
        ngx_http_cometchat_status_inc(
                              NGX_HTTP_COMETCHAT_STAT_API_USER_MISSING);

        if (ngx_http_cometchat_api_call(mint, NGX_HTTP_COMETCHAT_MINT_CREATE)
            != NGX_OK)
        {
            ngx_http_cometchat_api_finish(mint);
        }

        return;
    }

    if (code.len == sizeof("ERR_UID_ALREADY_EXISTS") - 1
        && ngx_strncmp(code.data, "ERR_UID_ALREADY_EXISTS", code.len) == 0
        && mint->state == NGX_HTTP_COMETCHAT_MINT_CREATE)
    {
        /* another worker or host created the user first */

        if (ngx_http_cometchat_api_call(mint,
                                        NGX_HTTP_COMETCHAT_MINT_TOKEN_AGAIN)
            != NGX_OK)
        {
            ngx_http_cometchat_api_finish(mint);
        }

        return;
    }

    if (code.len > sizeof("AUTH_ERR_") - 1
        && ngx_strncmp(code.data, "AUTH_ERR_", sizeof("AUTH_ERR_") - 1) == 0)
    {
        /*
         * a configuration error: every call would fail alike, so stop
         * calling for a while; the message CometChat sends may quote the
         * key, so only its code is used
         */

        ngx_http_cometchat_api_key_rejected = ngx_time()
                                           + NGX_HTTP_COMETCHAT_API_KEY_BACKOFF;
        ngx_http_cometchat_api_key_crc = ngx_crc32_short(mint->api_key.data,
                                                         mint->api_key.len);

        mint->result.logged = 1;

        if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_LOG_API_KEY)) {
            if (mint->api_key_file.len) {
                ngx_log_error(NGX_LOG_ERR, &mint->log, 0,
                              NGX_HTTP_COMETCHAT_LOG_PREFIX
                              "CometChat rejected the REST API key (%V): "
                              "check cometchat_api_key_file \"%V\"; no "
                              "CometChat calls with it from this worker "
                              "for %d s",
                              &code, &mint->api_key_file,
                              NGX_HTTP_COMETCHAT_API_KEY_BACKOFF);

            } else {
                ngx_log_error(NGX_LOG_ERR, &mint->log, 0,
                              NGX_HTTP_COMETCHAT_LOG_PREFIX
                              "CometChat rejected the REST API key (%V): "
                              "check cometchat_api_key; no CometChat calls "
                              "with it from this worker for %d s",
                              &code, NGX_HTTP_COMETCHAT_API_KEY_BACKOFF);
            }
        }

        ngx_http_cometchat_api_error(mint,
            "CometChat \"%V\" call for uid \"%V\" failed: HTTP %ui, "
            "code %V (the REST API key was rejected)",
            call, &mint->uid, reply->status, &code);
        ngx_http_cometchat_api_finish(mint);
        return;
    }

    if (reply->status == 429
        || (code.len == sizeof("ERR_TOO_MANY_REQUESTS") - 1
            && ngx_strncmp(code.data, "ERR_TOO_MANY_REQUESTS", code.len)
               == 0))
    {
        delay = reply->retry_after ? reply->retry_after
                                   : NGX_HTTP_COMETCHAT_API_RETRY_AFTER;

        mint->result.retry_after = ngx_time() + delay;

        /* CometChat counts its rate limit per app: all users wait */

        ngx_http_cometchat_quota_pause(&mint->app_id,
                                       mint->result.retry_after);

        ngx_http_cometchat_api_error(mint,
            "CometChat \"%V\" call for uid \"%V\" failed: HTTP %ui, "
            "code %V (rate limited, retry after %T s)",
            call, &mint->uid, reply->status,
            code.len ? &code : &ngx_http_cometchat_api_none, delay);
        ngx_http_cometchat_api_finish(mint);
        return;
    }

    if (code.len) {
        ngx_http_cometchat_api_error(mint,
            "CometChat \"%V\" call for uid \"%V\" failed: HTTP %ui, code %V",
            call, &mint->uid, reply->status, &code);

    } else if (reply->status >= 400 && reply->status < 500) {

        /*
         * not CometChat's JSON: most often a cometchat_api_url without
         * "/v3" or of another region, answered by some other server
         */

        ngx_http_cometchat_api_error(mint,
            "CometChat \"%V\" call for uid \"%V\" failed: HTTP %ui, "
            "no error code in the reply from \"%V\"; check "
            "cometchat_api_url (https://APP_ID.api-REGION.cometchat.io/v3)",
            call, &mint->uid, reply->status, &mint->url);

    } else {
        ngx_http_cometchat_api_error(mint,
            "CometChat \"%V\" call for uid \"%V\" failed: HTTP %ui, "
            "no error code in the reply from \"%V\"",
            call, &mint->uid, reply->status, &mint->url);
    }

    ngx_http_cometchat_api_finish(mint);
}


static void
ngx_http_cometchat_api_bad_reply(ngx_http_cometchat_mint_t *mint,
    ngx_http_cometchat_rest_reply_t *reply, ngx_str_t *why)
{
    /*
     * the REST client counted a 2xx as a good call; one that cannot be
     * used is a bad reply, counted with the transport errors
     */

    ngx_http_cometchat_status_add(NGX_HTTP_COMETCHAT_STAT_API_OK, -1);
    ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_API_TRANSPORT_ERROR);

    ngx_http_cometchat_api_error(mint,
        "CometChat \"%V\" call for uid \"%V\" gave a bad reply: HTTP %ui, %V",
        &ngx_http_cometchat_api_calls[mint->state], &mint->uid,
        reply->status, why);

    ngx_http_cometchat_api_finish(mint);
}


static void
ngx_http_cometchat_api_error(ngx_http_cometchat_mint_t *mint,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    mint->result.rc = NGX_ERROR;

    p = ngx_pnalloc(mint->pool, NGX_HTTP_COMETCHAT_API_ERROR_LEN);
    if (p == NULL) {
        ngx_str_set(&mint->result.error, "CometChat call failed");
        return;
    }

    va_start(args, fmt);
    mint->result.error.len = ngx_vslprintf(p,
                                         p + NGX_HTTP_COMETCHAT_API_ERROR_LEN,
                                         fmt, args)
                             - p;
    va_end(args);

    mint->result.error.data = p;
}


static void
ngx_http_cometchat_api_finish(ngx_http_cometchat_mint_t *mint)
{
    /* result strings live in the mint's pool: valid during the handler */

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &mint->log, 0,
                   "cometchat api: mint %p for \"%V\" done: %i",
                   mint, &mint->uid, mint->result.rc);

    mint->finishing = 1;

    if (mint->entered) {
        mint->entered = 0;
        ngx_http_cometchat_quota_leave();
    }

    mint->handler(mint->data, &mint->result);

    ngx_destroy_pool(mint->pool);
}


/*
 * Every call waits for the end of the app's pause after a 429; a mint
 * takes one place of cometchat_api_max_concurrent for all its calls.  A
 * call refused fails at once, logged at most once per interval.
 */

static ngx_int_t
ngx_http_cometchat_api_quota(ngx_http_cometchat_mint_t *mint,
    ngx_uint_t state)
{
    time_t     until;
    ngx_int_t  rc;

    rc = ngx_http_cometchat_quota_enter(&mint->app_id, &until,
                                        !mint->entered);

    if (rc == NGX_OK) {
        mint->entered = 1;
        return NGX_OK;
    }

    if (rc == NGX_BUSY) {
        ngx_http_cometchat_api_error(mint,
            "CometChat \"%V\" call for uid \"%V\" not made: calls for app "
            "\"%V\" paused for %T s after a 429",
            &ngx_http_cometchat_api_calls[state], &mint->uid,
            &mint->app_id, until - ngx_time());

    } else {
        ngx_http_cometchat_api_error(mint,
            "CometChat \"%V\" call for uid \"%V\" not made: "
            "cometchat_api_max_concurrent calls in flight on this host",
            &ngx_http_cometchat_api_calls[state], &mint->uid);
    }

    mint->result.logged = 1;

    if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_LOG_RATE_LIMIT)) {
        ngx_log_error(NGX_LOG_WARN, &mint->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX "%V",
                      &mint->result.error);
    }

    return NGX_ERROR;
}


static void
ngx_http_cometchat_api_post(ngx_http_cometchat_mint_t *mint)
{
    /* the caller learns of a failure at start from the event loop, never
     * from inside ngx_http_cometchat_api_mint_start() */

    ngx_post_event(&mint->event, &ngx_posted_events);
}


static void
ngx_http_cometchat_api_event_handler(ngx_event_t *ev)
{
    ngx_http_cometchat_api_finish(ev->data);
}


static ngx_int_t
ngx_http_cometchat_api_copy(ngx_pool_t *pool, ngx_str_t *dst, ngx_str_t *src)
{
    if (src == NULL || src->len == 0) {
        ngx_str_null(dst);
        return NGX_OK;
    }

    dst->data = ngx_pnalloc(pool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);
    dst->len = src->len;

    return NGX_OK;
}


static void
ngx_http_cometchat_api_set_name(ngx_http_cometchat_mint_t *mint,
    ngx_str_t *name)
{
    ngx_str_t  n;

    /* CometChat requires a name that is not blank: fall back to the uid */

    ngx_http_cometchat_api_user_name(name, &n);

    if (n.len == 0) {
        n = mint->uid;
        mint->nameless = 1;
    }

    if (ngx_http_cometchat_api_copy(mint->pool, &mint->name, &n) != NGX_OK) {
        mint->name.data = NULL;
        return;
    }
}


/*
 * The name as it is sent to CometChat: trimmed, at most 100 characters;
 * empty when blank (a mint then sends the uid).  out points into name.
 */

void
ngx_http_cometchat_api_user_name(ngx_str_t *name, ngx_str_t *out)
{
    u_char     *p, *last;
    ngx_str_t   n;

    n.len = 0;
    n.data = NULL;

    if (name && name->len) {
        p = name->data;
        last = p + name->len;

        while (p < last && (*p == ' ' || *p == '\t' || *p == '\r'
                            || *p == '\n'))
        {
            p++;
        }

        while (last > p && (last[-1] == ' ' || last[-1] == '\t'
                            || last[-1] == '\r' || last[-1] == '\n'))
        {
            last--;
        }

        n.data = p;
        n.len = last - p;
    }

    if (n.len) {
        n.len = ngx_http_cometchat_escape_utf8_cut(n.data, n.len,
                                                   NGX_HTTP_COMETCHAT_NAME_MAX);
    }

    *out = n;
}


/* the avatar as it is sent to CometChat; empty when it is not usable */

void
ngx_http_cometchat_api_user_avatar(ngx_str_t *avatar, ngx_str_t *out)
{
    if (avatar && avatar->len
        && ngx_http_cometchat_api_valid_avatar(avatar) == NGX_OK)
    {
        *out = *avatar;
        return;
    }

    ngx_str_null(out);
}


static ngx_int_t
ngx_http_cometchat_api_valid_avatar(ngx_str_t *avatar)
{
    u_char  *p;

    if (avatar->len > NGX_HTTP_COMETCHAT_URL_MAX) {
        return NGX_DECLINED;
    }

    if (!(avatar->len > sizeof("http://") - 1
          && ngx_strncasecmp(avatar->data, (u_char *) "http://",
                             sizeof("http://") - 1) == 0)
        && !(avatar->len > sizeof("https://") - 1
             && ngx_strncasecmp(avatar->data, (u_char *) "https://",
                                sizeof("https://") - 1) == 0))
    {
        return NGX_DECLINED;
    }

    for (p = avatar->data; p < avatar->data + avatar->len; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_api_valid_token(ngx_str_t *token)
{
    u_char  *p;

    /*
     * tokens are opaque, but they end up in Redis, in JSON and in pages:
     * accept only what a token plausibly is, printable ASCII without
     * quoting characters
     */

    if (token->len == 0 || token->len > NGX_HTTP_COMETCHAT_API_TOKEN_MAX) {
        return NGX_DECLINED;
    }

    for (p = token->data; p < token->data + token->len; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\''
            || *p == '\\' || *p == '<' || *p == '>' || *p == '&'
            || *p == '`')
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static void
ngx_http_cometchat_api_code(ngx_pool_t *pool, ngx_str_t *body,
    ngx_str_t *code)
{
    u_char      buf[NGX_HTTP_COMETCHAT_JSON_ERR_LEN];
    u_char     *p;
    ngx_str_t   err;

    err.data = buf;
    err.len = sizeof(buf);

    if (ngx_http_cometchat_json_find(pool, body,
                                     &ngx_http_cometchat_api_code_path,
                                     NGX_HTTP_COMETCHAT_JSON_STRING, code,
                                     &err)
        != NGX_OK)
    {
        /* an error page from a proxy, not CometChat's JSON */
        ngx_str_null(code);
        return;
    }

    /* error codes are identifiers; anything else is not repeated */

    if (code->len > NGX_HTTP_COMETCHAT_API_CODE_MAX) {
        ngx_str_null(code);
        return;
    }

    for (p = code->data; p < code->data + code->len; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '_'))
        {
            ngx_str_null(code);
            return;
        }
    }
}
