
/*
 * Profile sync: a CometChat user's name and avatar follow what the session
 * reports, not only what it reported when the user was created.
 *
 * What was last sent for a user is remembered as a fingerprint: 16 hex
 * digits of the name's MD5, then 16 of the avatar's, "-" digits for a field
 * never sent.  It lives in Redis (cometchat:APP_ID:profile:UID, with the
 * token's expiry), which token.c reads in the same MGET as the token, and
 * in the per-host zone next to the token, so that a page served from
 * either cache compares it in memory.  Nothing more happens while it
 * matches, which is nearly always.
 *
 * A field the session does not give (no name, an unusable avatar) is not
 * synced: it keeps its half of the fingerprint and is left out of the
 * update.  In particular the uid, which a mint sends when there is no
 * name, never replaces a name in CometChat.  A user found without a
 * fingerprint (created by someone else, or its key expired) gets one
 * update: the module cannot know what CometChat holds.
 *
 * When the fingerprint differs, one update (PUT /users/{uid}) runs for
 * that user, detached from the request that noticed it: within a worker,
 * later requests find it in flight and leave it; across workers and hosts
 * a short Redis lock (cometchat:APP_ID:profile_lock:UID, SET NX PX, one
 * API timeout and a second) lets one through, and the same script checks
 * the user's 429 memory (cometchat:APP_ID:retry:UID) and whether another
 * host sent this very profile meanwhile.  Without Redis a marker in the
 * per-host zone plays the lock.  A failed update leaves its lock to
 * expire, so the next page after that retries; a 429 is kept as a mint's
 * is: no CometChat call for that user until Retry-After.
 */


#include "ngx_http_cometchat_api.h"
#include "ngx_http_cometchat_cache.h"
#include "ngx_http_cometchat_quota.h"
#include "ngx_http_cometchat_redis.h"
#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_profile.h"

#include <ngx_md5.h>


#define NGX_HTTP_COMETCHAT_PROFILE_HALF     16
#define NGX_HTTP_COMETCHAT_PROFILE_MARGIN   1000

/* the update's lock outlives the call it guards */
#define ngx_http_cometchat_profile_lock_time(lcf)                            \
    ((lcf)->api_timeout + NGX_HTTP_COMETCHAT_PROFILE_MARGIN)


typedef struct {
    ngx_str_node_t                  sn;         /* key "APP_ID:UID" */
    ngx_queue_t                     all;

    ngx_http_cometchat_loc_conf_t  *lcf;
    ngx_log_t                      *log;

    ngx_str_t                       uid;
    ngx_str_t                       name;       /* to send; empty: not */
    ngx_str_t                       avatar;
    ngx_str_t                       fp;         /* stored once sent */
    ngx_str_t                       profile_key;
    ngx_str_t                       lock_key;
    ngx_str_t                       retry_key;
    ngx_str_t                       pause_key;
    ngx_str_t                       lock_value;

    ngx_http_cometchat_redis_cmd_t *cmd;
    ngx_http_cometchat_mint_t      *call;

    unsigned                        redis_lock:1;
} ngx_http_cometchat_profile_update_t;


static void ngx_http_cometchat_profile_fingerprint(ngx_str_t *name,
    ngx_str_t *avatar, ngx_str_t *old, u_char *fp);
static void ngx_http_cometchat_profile_half(ngx_str_t *value, u_char *p);
static void ngx_http_cometchat_profile_start(
    ngx_http_cometchat_loc_conf_t *lcf, ngx_str_t *key, ngx_str_t *name,
    ngx_str_t *avatar, ngx_str_t *fp);
static void ngx_http_cometchat_profile_lock_handler(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_cometchat_profile_local(
    ngx_http_cometchat_profile_update_t *u);
static void ngx_http_cometchat_profile_put(
    ngx_http_cometchat_profile_update_t *u);
static void ngx_http_cometchat_profile_put_handler(void *data,
    ngx_http_cometchat_mint_result_t *result);
static void ngx_http_cometchat_profile_store(
    ngx_http_cometchat_loc_conf_t *lcf, ngx_str_t *profile_key,
    ngx_str_t *fp);
static void ngx_http_cometchat_profile_done(
    ngx_http_cometchat_profile_update_t *u);
static ngx_http_cometchat_redis_cmd_t *ngx_http_cometchat_profile_redis(
    ngx_http_cometchat_profile_update_t *u, int argc, ngx_str_t *args);
static void ngx_http_cometchat_profile_redis_ignore(void *data,
    ngx_int_t rc, ngx_str_t *value);
static void ngx_http_cometchat_profile_init(void);


/*
 * KEYS: lock, retry, profile, the app's pause; ARGV: lock value, lease,
 * fingerprint.  "pause T" while the app is paused after a 429, "retry T"
 * while a 429 for the user runs, "same" when that profile was sent
 * already, "ok" when the lock is ours, "busy" when another has it.
 */
static ngx_str_t  ngx_http_cometchat_profile_lock_script = ngx_string(
    "local r "
    "if #KEYS > 3 then r = redis.call('get', KEYS[4]) "
    "if r then return 'pause ' .. r end end "
    "r = redis.call('get', KEYS[2]) "
    "if r then return 'retry ' .. r end "
    "if redis.call('get', KEYS[3]) == ARGV[3] then return 'same' end "
    "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then "
    "return 'ok' end "
    "return 'busy'");

static ngx_str_t  ngx_http_cometchat_profile_unlock_script = ngx_string(
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end");


static ngx_rbtree_t                   ngx_http_cometchat_profile_tree;
static ngx_rbtree_node_t              ngx_http_cometchat_profile_sentinel;
static ngx_queue_t                    ngx_http_cometchat_profile_all;
static ngx_uint_t                     ngx_http_cometchat_profile_ready;
static ngx_uint_t                     ngx_http_cometchat_profile_seq;


void
ngx_http_cometchat_profile_check(ngx_http_cometchat_loc_conf_t *lcf,
    ngx_str_t *key, ngx_str_t *name, ngx_str_t *avatar, ngx_str_t *stored)
{
    u_char     buf[NGX_HTTP_COMETCHAT_PROFILE_LEN];
    u_char     target[NGX_HTTP_COMETCHAT_PROFILE_LEN];
    ngx_str_t  n, a, old, fp;

    if (!lcf->profile_sync) {
        return;
    }

    ngx_http_cometchat_api_user_name(name, &n);
    ngx_http_cometchat_api_user_avatar(avatar, &a);

    if (stored) {
        old = *stored;

        if (old.data == NULL || old.len != NGX_HTTP_COMETCHAT_PROFILE_LEN) {
            old.len = 0;
        }

    } else {
        old.data = buf;
        ngx_http_cometchat_cache_profile(key, &old);
    }

    ngx_http_cometchat_profile_fingerprint(&n, &a, &old, target);

    fp.data = target;
    fp.len = NGX_HTTP_COMETCHAT_PROFILE_LEN;

    if (old.len && ngx_memcmp(old.data, target, old.len) == 0) {

        if (stored) {
            /* from Redis: later hits on this host compare in memory */
            ngx_http_cometchat_cache_profile_store(key, &fp, 0);
        }

        return;
    }

    /* only the fields that changed, and never one the session lacks */

    if (old.len) {
        if (ngx_memcmp(old.data, target, NGX_HTTP_COMETCHAT_PROFILE_HALF)
            == 0)
        {
            n.len = 0;
        }

        if (ngx_memcmp(old.data + NGX_HTTP_COMETCHAT_PROFILE_HALF,
                       target + NGX_HTTP_COMETCHAT_PROFILE_HALF,
                       NGX_HTTP_COMETCHAT_PROFILE_HALF)
            == 0)
        {
            a.len = 0;
        }
    }

    if (n.len == 0 && a.len == 0) {
        /* no name and no avatar to sync */
        return;
    }

    ngx_http_cometchat_profile_start(lcf, key, &n, &a, &fp);
}


void
ngx_http_cometchat_profile_created(ngx_http_cometchat_loc_conf_t *lcf,
    ngx_str_t *key, ngx_str_t *name, ngx_str_t *avatar)
{
    u_char     target[NGX_HTTP_COMETCHAT_PROFILE_LEN];
    u_char     kbuf[sizeof("cometchat::profile:") + 64
                    + NGX_HTTP_COMETCHAT_UID_MAX];
    ngx_str_t  n, a, old, fp, uid, profile_key;

    if (!lcf->profile_sync) {
        return;
    }

    /* a name the mint replaced with the uid counts as never sent */

    ngx_http_cometchat_api_user_name(name, &n);
    ngx_http_cometchat_api_user_avatar(avatar, &a);

    old.len = 0;
    ngx_http_cometchat_profile_fingerprint(&n, &a, &old, target);

    fp.data = target;
    fp.len = NGX_HTTP_COMETCHAT_PROFILE_LEN;

    ngx_http_cometchat_cache_profile_store(key, &fp, 0);

    /* token.c looked the key up: an app id and a uid of valid lengths */

    if (!ngx_http_cometchat_redis_configured()
        || key->len + sizeof("cometchat::profile:{}") > sizeof(kbuf))
    {
        return;
    }

    uid.data = key->data + lcf->app_id.len + 1;
    uid.len = key->len - lcf->app_id.len - 1;

    (void) ngx_http_cometchat_redis_key(kbuf, &lcf->app_id, "profile", &uid,
                                        &profile_key);

    ngx_http_cometchat_profile_store(lcf, &profile_key, &fp);
}


void
ngx_http_cometchat_profile_exit_process(void)
{
    ngx_queue_t                          *q;
    ngx_http_cometchat_profile_update_t  *u;

    if (!ngx_http_cometchat_profile_ready) {
        return;
    }

    /* the locks expire on their own, soon */

    while (!ngx_queue_empty(&ngx_http_cometchat_profile_all)) {
        q = ngx_queue_head(&ngx_http_cometchat_profile_all);
        u = ngx_queue_data(q, ngx_http_cometchat_profile_update_t, all);

        ngx_http_cometchat_profile_done(u);
    }

    ngx_http_cometchat_profile_ready = 0;
}


/* each half: the field's, else the one stored, else never sent */

static void
ngx_http_cometchat_profile_fingerprint(ngx_str_t *name, ngx_str_t *avatar,
    ngx_str_t *old, u_char *fp)
{
    ngx_uint_t   i;
    ngx_str_t   *field[2];

    field[0] = name;
    field[1] = avatar;

    for (i = 0; i < 2; i++) {

        if (field[i]->len) {
            ngx_http_cometchat_profile_half(field[i], fp);

        } else if (old->len) {
            ngx_memcpy(fp, old->data + i * NGX_HTTP_COMETCHAT_PROFILE_HALF,
                       NGX_HTTP_COMETCHAT_PROFILE_HALF);

        } else {
            ngx_memset(fp, '-', NGX_HTTP_COMETCHAT_PROFILE_HALF);
        }

        fp += NGX_HTTP_COMETCHAT_PROFILE_HALF;
    }
}


static void
ngx_http_cometchat_profile_half(ngx_str_t *value, u_char *p)
{
    u_char     md5[16];
    ngx_md5_t  ctx;

    ngx_md5_init(&ctx);
    ngx_md5_update(&ctx, value->data, value->len);
    ngx_md5_final(md5, &ctx);

    ngx_hex_dump(p, md5, NGX_HTTP_COMETCHAT_PROFILE_HALF / 2);
}


static void
ngx_http_cometchat_profile_start(ngx_http_cometchat_loc_conf_t *lcf,
    ngx_str_t *key, ngx_str_t *name, ngx_str_t *avatar, ngx_str_t *fp)
{
    u_char                                buf[NGX_INT_T_LEN];
    u_char                               *p;
    size_t                                size, klen;
    uint32_t                              hash;
    ngx_int_t                             n;
    ngx_str_t                             uid, args[10];
    ngx_http_cometchat_profile_update_t  *u;

    ngx_http_cometchat_profile_init();

    uid.data = key->data + lcf->app_id.len + 1;
    uid.len = key->len - lcf->app_id.len - 1;

    hash = ngx_crc32_short(key->data, key->len);

    if (ngx_str_rbtree_lookup(&ngx_http_cometchat_profile_tree, key, hash)) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "cometchat profile: \"%V\" being updated", &uid);
        return;
    }

    /* "cometchat:" APP_ID ":profile_lock:{" UID "}", the longest key */
    klen = sizeof("cometchat::profile_lock:{}") - 1 + key->len;

    size = sizeof(ngx_http_cometchat_profile_update_t)
           + key->len + name->len + avatar->len + fp->len + 4 * klen
           + ngx_cycle->hostname.len + 2 * NGX_INT_T_LEN + 2;

    /* not from the request's pool: the request may end first */

    u = ngx_alloc(size, ngx_cycle->log);
    if (u == NULL) {
        return;
    }

    ngx_memzero(u, sizeof(ngx_http_cometchat_profile_update_t));

    p = (u_char *) u + sizeof(ngx_http_cometchat_profile_update_t);

    u->sn.node.key = hash;
    u->sn.str.data = p;
    u->sn.str.len = key->len;
    p = ngx_cpymem(p, key->data, key->len);

    u->uid.data = u->sn.str.data + lcf->app_id.len + 1;
    u->uid.len = uid.len;

    u->name.data = p;
    u->name.len = name->len;
    p = ngx_cpymem(p, name->data, name->len);

    u->avatar.data = p;
    u->avatar.len = avatar->len;
    p = ngx_cpymem(p, avatar->data, avatar->len);

    u->fp.data = p;
    u->fp.len = fp->len;
    p = ngx_cpymem(p, fp->data, fp->len);

    p = ngx_http_cometchat_redis_key(p, &lcf->app_id, "profile", &u->uid,
                                     &u->profile_key);
    p = ngx_http_cometchat_redis_key(p, &lcf->app_id, "profile_lock",
                                     &u->uid, &u->lock_key);
    p = ngx_http_cometchat_redis_key(p, &lcf->app_id, "retry", &u->uid,
                                     &u->retry_key);
    p = ngx_http_cometchat_redis_key(p, &lcf->app_id, "pause", NULL,
                                     &u->pause_key);

    u->lock_value.data = p;
    p = ngx_sprintf(p, "%V:%P:%ui", &ngx_cycle->hostname, ngx_pid,
                    ++ngx_http_cometchat_profile_seq);
    u->lock_value.len = p - u->lock_value.data;

    u->lcf = lcf;
    u->log = ngx_cycle->log;

    ngx_rbtree_insert(&ngx_http_cometchat_profile_tree, &u->sn.node);
    ngx_queue_insert_tail(&ngx_http_cometchat_profile_all, &u->all);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, u->log, 0,
                   "cometchat profile: \"%V\" changed", &u->uid);

    if (!ngx_http_cometchat_redis_configured()
        || !ngx_http_cometchat_redis_ready())
    {
        ngx_http_cometchat_profile_local(u);
        return;
    }

    ngx_str_set(&args[0], "EVAL");
    args[1] = ngx_http_cometchat_profile_lock_script;
    ngx_str_set(&args[2], "4");
    args[3] = u->lock_key;
    args[4] = u->retry_key;
    args[5] = u->profile_key;
    n = 6;

    /* in a Redis Cluster the app's pause is in another slot: left out */
    if (ngx_http_cometchat_redis_one_slot()) {
        ngx_str_set(&args[2], "3");

    } else {
        args[n++] = u->pause_key;
    }

    args[n++] = u->lock_value;
    args[n].data = buf;
    args[n].len = ngx_sprintf(buf, "%M",
                              ngx_http_cometchat_profile_lock_time(lcf))
                  - buf;
    n++;
    args[n++] = u->fp;

    u->cmd = ngx_http_cometchat_profile_redis(u, n, args);

    if (u->cmd == NULL) {
        ngx_http_cometchat_profile_local(u);
    }
}


static void
ngx_http_cometchat_profile_lock_handler(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_http_cometchat_profile_update_t *u = data;

    time_t  retry;

    u->cmd = NULL;

    if (rc != NGX_OK) {
        ngx_http_cometchat_profile_local(u);
        return;
    }

    if (value->len == 2 && ngx_strncmp(value->data, "ok", 2) == 0) {
        u->redis_lock = 1;
        ngx_http_cometchat_profile_put(u);
        return;
    }

    if (value->len == 4 && ngx_strncmp(value->data, "same", 4) == 0) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, u->log, 0,
                       "cometchat profile: \"%V\" sent elsewhere", &u->uid);

        ngx_http_cometchat_cache_profile_store(&u->sn.str, &u->fp, 0);

    } else if (value->len > 6 && ngx_strncmp(value->data, "pause ", 6) == 0) {
        retry = ngx_atotm(value->data + 6, value->len - 6);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, u->log, 0,
                       "cometchat profile: \"%V\" not sent, the app is "
                       "paused until %T", &u->uid, retry);

        if (retry != NGX_ERROR) {
            ngx_http_cometchat_quota_pause(&u->lcf->app_id, retry);
        }

    } else if (value->len > 6 && ngx_strncmp(value->data, "retry ", 6) == 0) {
        retry = ngx_atotm(value->data + 6, value->len - 6);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, u->log, 0,
                       "cometchat profile: \"%V\" rate limited until %T",
                       &u->uid, retry);

        if (retry != NGX_ERROR && retry > ngx_time()) {
            ngx_http_cometchat_cache_profile_store(&u->sn.str, NULL, retry);
        }

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, u->log, 0,
                       "cometchat profile: \"%V\": %V", &u->uid, value);
    }

    ngx_http_cometchat_profile_done(u);
}


/* without Redis: this host's zone is the lock and the memory */

static void
ngx_http_cometchat_profile_local(ngx_http_cometchat_profile_update_t *u)
{
    ngx_uint_t  rc;

    rc = ngx_http_cometchat_cache_profile_lock(&u->sn.str, &u->fp,
                               ngx_http_cometchat_profile_lock_time(u->lcf));

    if (rc != NGX_HTTP_COMETCHAT_CACHE_LOCKED) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, u->log, 0,
                       "cometchat profile: \"%V\" not updated here: %ui",
                       &u->uid, rc);

        ngx_http_cometchat_profile_done(u);
        return;
    }

    ngx_http_cometchat_profile_put(u);
}


static void
ngx_http_cometchat_profile_put(ngx_http_cometchat_profile_update_t *u)
{
    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, u->log, 0,
                   "cometchat profile: updating \"%V\": name \"%V\", "
                   "avatar \"%V\"", &u->uid, &u->name, &u->avatar);

    u->call = ngx_http_cometchat_api_update_start(u->lcf, &u->uid, &u->name,
                                     &u->avatar,
                                     ngx_http_cometchat_profile_put_handler,
                                     u, u->log);

    if (u->call == NULL) {
        /* the lock stays until it expires: a later page retries */
        ngx_http_cometchat_profile_done(u);
    }
}


static void
ngx_http_cometchat_profile_put_handler(void *data,
    ngx_http_cometchat_mint_result_t *result)
{
    ngx_http_cometchat_profile_update_t *u = data;

    u_char      buf[NGX_TIME_T_LEN], val[NGX_TIME_T_LEN];
    time_t      now;
    ngx_str_t   args[5];

    u->call = NULL;

    now = ngx_time();

    if (result->rc == NGX_OK) {
        ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_PROFILE_UPDATES);

        ngx_http_cometchat_cache_profile_store(&u->sn.str, &u->fp, 0);

        if (ngx_http_cometchat_redis_configured()) {
            ngx_http_cometchat_profile_store(u->lcf, &u->profile_key, &u->fp);
        }

        if (u->redis_lock) {
            u->redis_lock = 0;

            ngx_str_set(&args[0], "EVAL");
            args[1] = ngx_http_cometchat_profile_unlock_script;
            ngx_str_set(&args[2], "1");
            args[3] = u->lock_key;
            args[4] = u->lock_value;

            (void) ngx_http_cometchat_profile_redis(NULL, 5, args);
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, u->log, 0,
                       "cometchat profile: \"%V\" updated", &u->uid);

        ngx_http_cometchat_profile_done(u);
        return;
    }

    if (result->retry_after > now) {

        /* as after a mint's 429: no call for this user until then */

        ngx_http_cometchat_cache_profile_store(&u->sn.str, NULL,
                                               result->retry_after);

        ngx_str_set(&args[0], "SET");
        args[1] = u->retry_key;
        args[2].data = val;
        args[2].len = ngx_sprintf(val, "%T", result->retry_after) - val;
        ngx_str_set(&args[3], "PX");
        args[4].data = buf;
        args[4].len = ngx_sprintf(buf, "%T",
                                  (result->retry_after - now) * 1000)
                      - buf;

        if (ngx_http_cometchat_redis_configured()) {
            (void) ngx_http_cometchat_profile_redis(NULL, 5, args);

            /* the app's pause, for the other hosts (quota.c) */
            args[1] = u->pause_key;
            (void) ngx_http_cometchat_profile_redis(NULL, 5, args);
        }

        if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_LOG_RATE_LIMIT))
        {
            ngx_log_error(NGX_LOG_WARN, u->log, 0,
                          NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "%V; no CometChat call for \"%V\" for %T s",
                          &result->error, &u->uid,
                          result->retry_after - now);
        }

    } else if (!result->logged
               && ngx_http_cometchat_log_allowed(
                                          NGX_HTTP_COMETCHAT_LOG_PROFILE))
    {
        ngx_log_error(NGX_LOG_ERR, u->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "%V; the profile update is retried in %M ms at the "
                      "earliest", &result->error,
                      ngx_http_cometchat_profile_lock_time(u->lcf));
    }

    /* the lock, or the zone's marker, expires: a later page retries */

    ngx_http_cometchat_profile_done(u);
}


/* SET cometchat:APP_ID:profile:UID, with the token's expiry */

static void
ngx_http_cometchat_profile_store(ngx_http_cometchat_loc_conf_t *lcf,
    ngx_str_t *profile_key, ngx_str_t *fp)
{
    u_char     buf[NGX_TIME_T_LEN];
    time_t     ttl;
    ngx_str_t  args[5];

    ttl = lcf->token_ttl > 0 ? lcf->token_ttl : 1;

    ngx_str_set(&args[0], "SET");
    args[1] = *profile_key;
    args[2] = *fp;
    ngx_str_set(&args[3], "EX");
    args[4].data = buf;
    args[4].len = ngx_sprintf(buf, "%T", ttl) - buf;

    (void) ngx_http_cometchat_profile_redis(NULL, 5, args);
}


static void
ngx_http_cometchat_profile_done(ngx_http_cometchat_profile_update_t *u)
{
    if (u->cmd) {
        ngx_http_cometchat_redis_cancel(u->cmd);
        u->cmd = NULL;
    }

    if (u->call) {
        ngx_http_cometchat_api_mint_cancel(u->call);
        u->call = NULL;
    }

    ngx_rbtree_delete(&ngx_http_cometchat_profile_tree, &u->sn.node);
    ngx_queue_remove(&u->all);

    ngx_free(u);
}


/* u == NULL: nobody waits for the reply */

static ngx_http_cometchat_redis_cmd_t *
ngx_http_cometchat_profile_redis(ngx_http_cometchat_profile_update_t *u,
    int argc, ngx_str_t *args)
{
    int          i;
    size_t       argvlen[10];
    const char  *argv[10];

    if (argc > 10) {
        return NULL;
    }

    for (i = 0; i < argc; i++) {
        argv[i] = (const char *) args[i].data;
        argvlen[i] = args[i].len;
    }

    if (u == NULL) {
        return ngx_http_cometchat_redis_command(
                   ngx_http_cometchat_profile_redis_ignore, NULL,
                   ngx_cycle->log, argc, argv, argvlen);
    }

    return ngx_http_cometchat_redis_command(
               ngx_http_cometchat_profile_lock_handler, u, u->log, argc,
               argv, argvlen);
}


static void
ngx_http_cometchat_profile_redis_ignore(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat profile: redis write done: %i", rc);
}


static void
ngx_http_cometchat_profile_init(void)
{
    if (ngx_http_cometchat_profile_ready) {
        return;
    }

    ngx_rbtree_init(&ngx_http_cometchat_profile_tree,
                    &ngx_http_cometchat_profile_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ngx_http_cometchat_profile_all);

    ngx_http_cometchat_profile_ready = 1;
}
