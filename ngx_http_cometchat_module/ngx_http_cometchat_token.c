
/*
 * Token lookup: the Redis cache, the per-host cache and coalesced minting.
 *
 * Every needless mint can log another device of the user out (CometChat
 * keeps only the newest 100 tokens of a user), so a token is minted only on
 * a real miss, and by one request at a time:
 *
 *   - within a worker, all requests for one (app id, uid) share a "flight"
 *     that lives in worker memory; later requests join its wait list;
 *   - across workers and hosts, the flight that misses takes a Redis lock
 *     before minting: a lease of one cometchat_api_timeout that the holder
 *     renews while its calls run and deletes when done, or when its worker
 *     exits.  The others poll the token key; they take the lock when it
 *     goes away (a dead holder stops renewing), or take it over when the
 *     same holder has kept it one cometchat_api_timeout without a token
 *     (a stuck holder, or a lock set by hand).  A page thus waits about
 *     one API timeout at most for someone else's mint;
 *   - without Redis (not configured, or failing), a "minting" marker in
 *     this host's shared zone plays the lock, and the zone is the cache.
 *
 * The per-host zone keeps the tokens this host minted, with their real
 * expiry, so that they are still served while Redis is down; one that
 * never reached Redis (minted while Redis was down) is written back on a
 * Redis miss instead of being minted again.  A token Redis has had is never
 * written back: its key may have been deleted on purpose.  The zone also
 * keeps 429 answers: no call for that user until Retry-After.
 *
 * It is also a first-level cache in front of Redis: a token minted here or
 * read from Redis answers without Redis for cometchat_token_local_ttl; a
 * token read from Redis is kept only that long.
 *
 * Waiting requests are blocked (r->main->blocked) and woken from a posted
 * event, never from inside a Redis or curl callback.  A flight always ends:
 * Redis and REST calls have their own timeouts, polling has a deadline.
 *
 * The per-host zone itself is ngx_http_cometchat_cache.c.  What is left
 * here is one state machine, the flight (GET, LOCK, RETRY, MINT, or POLL
 * until the other mint ends), and it reads best whole: each state is a
 * Redis or REST callback that hands over to the next, and the lock, the
 * poll deadline and the cleanup on exit only make sense side by side.
 */


#include "ngx_http_cometchat_api.h"
#include "ngx_http_cometchat_cache.h"
#include "ngx_http_cometchat_profile.h"
#include "ngx_http_cometchat_quota.h"
#include "ngx_http_cometchat_redis.h"
#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_token.h"


#define NGX_HTTP_COMETCHAT_POLL               50
#define NGX_HTTP_COMETCHAT_POLL_MARGIN        1000

/*
 * A mint makes at most three REST calls (token; user; token again after a
 * create race), each bounded by cometchat_api_timeout: without Redis, the
 * per-host minting marker outlives the slowest mint, and a waiting flight
 * never waits longer than that, whatever the lock holders do.  The Redis
 * lock is a lease of one API timeout, renewed three times per lease.
 */
#define NGX_HTTP_COMETCHAT_MINT_CALLS         3
#define ngx_http_cometchat_lock_time(lcf)                                    \
    (NGX_HTTP_COMETCHAT_MINT_CALLS * (lcf)->api_timeout)
#define NGX_HTTP_COMETCHAT_KEY_MAX                                            \
    (64 + 1 + NGX_HTTP_COMETCHAT_UID_MAX)
#define ngx_http_cometchat_lease(lcf)     ((lcf)->api_timeout)
#define NGX_HTTP_COMETCHAT_HOLDER_MAX         320


/* worker memory */

#define NGX_HTTP_COMETCHAT_FLIGHT_GET         0   /* GET token key */
#define NGX_HTTP_COMETCHAT_FLIGHT_LOCK        1   /* SET lock NX PX */
#define NGX_HTTP_COMETCHAT_FLIGHT_RETRY       2   /* GET retry key */
#define NGX_HTTP_COMETCHAT_FLIGHT_POLL        3   /* another mint runs */
#define NGX_HTTP_COMETCHAT_FLIGHT_POLL_GET    4
#define NGX_HTTP_COMETCHAT_FLIGHT_LOCAL_POLL  5   /* same, without Redis */
#define NGX_HTTP_COMETCHAT_FLIGHT_MINT        6
#define NGX_HTTP_COMETCHAT_FLIGHT_DONE        7


typedef struct {
    ngx_str_node_t                  sn;         /* key "APP_ID:UID" */
    ngx_queue_t                     all;
    ngx_queue_t                     waiters;

    ngx_http_cometchat_loc_conf_t  *lcf;
    ngx_log_t                      *log;        /* &own_log */
    ngx_log_t                       own_log;

    ngx_str_t                       uid;
    ngx_str_t                       name;
    ngx_str_t                       avatar;
    ngx_str_t                       token_key;
    ngx_str_t                       profile_key;    /* read with it */
    ngx_str_t                       lock_key;
    ngx_str_t                       retry_key;
    ngx_str_t                       pause_key;      /* read with it */
    ngx_str_t                       lock_value;

    ngx_uint_t                      state;
    ngx_http_cometchat_redis_cmd_t *cmd;        /* the reply awaited */
    ngx_http_cometchat_mint_t      *mint;

    ngx_event_t                     poll_ev;
    ngx_event_t                     wake_ev;
    ngx_event_t                     renew_ev;   /* keeps our lease */
    ngx_msec_t                      deadline;

    ngx_msec_t                      held;       /* holder seen since */
    ngx_str_t                       holder;     /* another's lock value */
    u_char                          holder_buf[NGX_HTTP_COMETCHAT_HOLDER_MAX];

    ngx_uint_t                      status;     /* result */
    ngx_uint_t                      part;
    ngx_str_t                       token;

    unsigned                        redis_lock:1;
    unsigned                        local_lock:1;
    unsigned                        missed:1;
    unsigned                        polled:1;
    unsigned                        takeover:1;
} ngx_http_cometchat_flight_t;


struct ngx_http_cometchat_waiter_s {
    ngx_queue_t                     queue;
    ngx_http_request_t             *request;
    ngx_http_cometchat_ctx_t       *ctx;
    ngx_http_cometchat_flight_t    *flight;
    unsigned                        joined:1;
};


static ngx_http_cometchat_flight_t *ngx_http_cometchat_token_create(
    ngx_http_request_t *r, ngx_http_cometchat_ctx_t *ctx,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_str_t *key, uint32_t hash);
static ngx_int_t ngx_http_cometchat_token_wait(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx, ngx_http_cometchat_flight_t *f,
    ngx_uint_t joined);
static void ngx_http_cometchat_token_waiter_cleanup(void *data);
static void ngx_http_cometchat_token_start(ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_token_get(ngx_http_cometchat_flight_t *f,
    ngx_uint_t state, ngx_http_cometchat_redis_handler_pt handler);
static void ngx_http_cometchat_token_get_handler(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_cometchat_token_lock(ngx_http_cometchat_flight_t *f);
static ngx_uint_t ngx_http_cometchat_token_paused(
    ngx_http_cometchat_flight_t *f, ngx_int_t rc, ngx_str_t *value);
static void ngx_http_cometchat_token_lock_handler(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_cometchat_token_check_retry(
    ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_token_retry_handler(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_cometchat_token_poll(ngx_http_cometchat_flight_t *f,
    ngx_uint_t state);
static void ngx_http_cometchat_token_poll_handler(ngx_event_t *ev);
static void ngx_http_cometchat_token_poll_get_handler(void *data,
    ngx_int_t rc, ngx_str_t *value);
static void ngx_http_cometchat_token_local(ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_token_mint(ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_token_mint_handler(void *data,
    ngx_http_cometchat_mint_result_t *result);
static void ngx_http_cometchat_token_unlock(ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_token_renew_handler(ngx_event_t *ev);
static void ngx_http_cometchat_token_finish(ngx_http_cometchat_flight_t *f,
    ngx_uint_t status, ngx_uint_t part, ngx_str_t *token);
static void ngx_http_cometchat_token_wake_handler(ngx_event_t *ev);
static void ngx_http_cometchat_token_stop(ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_token_redis_error(
    ngx_http_cometchat_flight_t *f, const char *what);

static ngx_http_cometchat_redis_cmd_t *ngx_http_cometchat_token_redis(
    ngx_http_cometchat_flight_t *f, ngx_http_cometchat_redis_handler_pt h,
    int argc, ngx_str_t *args);
static void ngx_http_cometchat_token_redis_ignore(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_cometchat_token_init_flights(void);


/*
 * Takes the lock when it is free, or when it still holds ARGV[3] (the
 * holder a waiter takes over from; "" for none): the reply is the lock's
 * value, ARGV[1] when it is ours now.
 */
static ngx_str_t  ngx_http_cometchat_lock_script = ngx_string(
    "local v = redis.call('get', KEYS[1]) "
    "if v and v ~= ARGV[3] then return v end "
    "redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return ARGV[1]");

/* renews the lease, if the lock is still ours */
static ngx_str_t  ngx_http_cometchat_renew_script = ngx_string(
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end");

/* compare-and-delete: only the lock this worker took */
static ngx_str_t  ngx_http_cometchat_unlock_script = ngx_string(
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end");



static ngx_rbtree_t                      ngx_http_cometchat_flights;
static ngx_rbtree_node_t                 ngx_http_cometchat_flights_sentinel;
static ngx_queue_t                       ngx_http_cometchat_flights_all;
static ngx_uint_t                        ngx_http_cometchat_flights_ready;
static ngx_uint_t                        ngx_http_cometchat_flights_seq;

/* timers log the fd of ev->data in debug builds */
static ngx_connection_t                  ngx_http_cometchat_token_dummy;



ngx_int_t
ngx_http_cometchat_token_lookup(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx)
{
    u_char                          buf[NGX_HTTP_COMETCHAT_KEY_MAX];
    u_char                          tbuf[NGX_HTTP_COMETCHAT_TOKEN_MAX];
    time_t                          expire;
    uint32_t                        hash;
    ngx_str_t                       key, token;
    ngx_uint_t                      rc;
    ngx_http_cometchat_flight_t    *f;
    ngx_http_cometchat_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cometchat_module);

    if (lcf->app_id.len > 64 || ctx->uid.len == 0
        || ctx->uid.len > NGX_HTTP_COMETCHAT_UID_MAX)
    {
        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
        ctx->error_part = NGX_HTTP_COMETCHAT_PART_SESSION;
        return NGX_ERROR;
    }

    key.data = buf;
    key.len = ngx_sprintf(buf, "%V:%V", &lcf->app_id, &ctx->uid) - buf;
    hash = ngx_crc32_short(key.data, key.len);

    ngx_http_cometchat_token_init_flights();

    f = (ngx_http_cometchat_flight_t *)
            ngx_str_rbtree_lookup(&ngx_http_cometchat_flights, &key, hash);

    if (f) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "cometchat token: joining the lookup for \"%V\"",
                       &ctx->uid);

        if (ngx_http_cometchat_token_wait(r, ctx, f, 1) != NGX_AGAIN) {
            ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
            ctx->error_part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;
            return NGX_ERROR;
        }

        ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_COALESCED);

        return NGX_AGAIN;
    }

    /*
     * the per-host zone answers at once for a 429 still running, for a
     * token within cometchat_token_local_ttl, and for a token when Redis
     * cannot
     */

    token.data = tbuf;

    rc = ngx_http_cometchat_cache_lookup(&key, &token, &expire, 0, 0);

    if (rc == NGX_HTTP_COMETCHAT_CACHE_RETRY) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "cometchat token: \"%V\" rate limited for %T s",
                       &ctx->uid, expire - ngx_time());

        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
        ctx->error_part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;
        return NGX_ERROR;
    }

    if (rc == NGX_HTTP_COMETCHAT_CACHE_FRESH && lcf->token_local_ttl == 0) {
        rc = NGX_HTTP_COMETCHAT_CACHE_TOKEN;
    }

    if (rc == NGX_HTTP_COMETCHAT_CACHE_FRESH
        || (rc == NGX_HTTP_COMETCHAT_CACHE_TOKEN
            && (!ngx_http_cometchat_redis_configured()
                || !ngx_http_cometchat_redis_ready())))
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "cometchat token: \"%V\" from the local cache",
                       &ctx->uid);

        ctx->token.data = ngx_pstrdup(r->pool, &token);
        if (ctx->token.data == NULL) {
            ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
            ctx->error_part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;
            return NGX_ERROR;
        }

        ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_CACHE_HITS);

        ctx->token.len = token.len;
        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_HIT;
        ctx->done = 1;

        ngx_http_cometchat_profile_check(lcf, &key, &ctx->name, &ctx->avatar,
                                         NULL);

        return NGX_OK;
    }

    f = ngx_http_cometchat_token_create(r, ctx, lcf, &key, hash);
    if (f == NULL) {
        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
        ctx->error_part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;
        return NGX_ERROR;
    }

    if (ngx_http_cometchat_token_wait(r, ctx, f, 0) != NGX_AGAIN) {
        ngx_rbtree_delete(&ngx_http_cometchat_flights, &f->sn.node);
        ngx_queue_remove(&f->all);
        ngx_free(f);

        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
        ctx->error_part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;
        return NGX_ERROR;
    }

    ngx_http_cometchat_token_start(f);

    return NGX_AGAIN;
}


void
ngx_http_cometchat_token_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t                  *q;
    ngx_http_cometchat_waiter_t  *w;
    ngx_http_cometchat_flight_t  *f;

    ngx_http_cometchat_profile_exit_process();

    if (!ngx_http_cometchat_flights_ready) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_cometchat_flights_all)) {
        q = ngx_queue_head(&ngx_http_cometchat_flights_all);
        f = ngx_queue_data(q, ngx_http_cometchat_flight_t, all);

        ngx_queue_remove(q);
        ngx_rbtree_delete(&ngx_http_cometchat_flights, &f->sn.node);

        ngx_http_cometchat_token_stop(f);

        /*
         * nginx -s stop, or a reload's old worker past its shutdown
         * timeout: the lock goes now rather than when its lease ends
         * (ngx_http_cometchat_redis_exit_process() sends what is queued)
         */

        ngx_http_cometchat_token_unlock(f);

        /* the requests are going away with the worker */

        while (!ngx_queue_empty(&f->waiters)) {
            q = ngx_queue_head(&f->waiters);
            w = ngx_queue_data(q, ngx_http_cometchat_waiter_t, queue);

            ngx_queue_remove(q);
            w->ctx->waiter = NULL;
        }

        if (f->token.data) {
            ngx_free(f->token.data);
        }

        ngx_free(f);
    }

    ngx_http_cometchat_flights_ready = 0;
}


static void
ngx_http_cometchat_token_init_flights(void)
{
    if (ngx_http_cometchat_flights_ready) {
        return;
    }

    ngx_rbtree_init(&ngx_http_cometchat_flights,
                    &ngx_http_cometchat_flights_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ngx_http_cometchat_flights_all);

    ngx_http_cometchat_token_dummy.fd = (ngx_socket_t) -1;

    ngx_http_cometchat_flights_ready = 1;
}


static ngx_http_cometchat_flight_t *
ngx_http_cometchat_token_create(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx, ngx_http_cometchat_loc_conf_t *lcf,
    ngx_str_t *key, uint32_t hash)
{
    u_char                       *p;
    size_t                        size, klen;
    ngx_http_cometchat_flight_t  *f;

    /* "cometchat:" APP_ID ":profile:{" UID "}", the longest of the keys */
    klen = sizeof("cometchat:") - 1 + lcf->app_id.len
           + sizeof(":profile:{}") - 1 + ctx->uid.len;

    size = sizeof(ngx_http_cometchat_flight_t)
           + key->len + ctx->name.len + ctx->avatar.len + 5 * klen
           + ngx_cycle->hostname.len + 2 * NGX_INT_T_LEN + 2;

    f = ngx_alloc(size, ngx_cycle->log);
    if (f == NULL) {
        return NULL;
    }

    ngx_memzero(f, sizeof(ngx_http_cometchat_flight_t));

    p = (u_char *) f + sizeof(ngx_http_cometchat_flight_t);

    f->sn.node.key = hash;
    f->sn.str.data = p;
    f->sn.str.len = key->len;
    p = ngx_cpymem(p, key->data, key->len);

    /* the uid is the tail of the key */
    f->uid.data = f->sn.str.data + lcf->app_id.len + 1;
    f->uid.len = ctx->uid.len;

    f->name.data = p;
    f->name.len = ctx->name.len;
    p = ngx_cpymem(p, ctx->name.data, ctx->name.len);

    f->avatar.data = p;
    f->avatar.len = ctx->avatar.len;
    p = ngx_cpymem(p, ctx->avatar.data, ctx->avatar.len);

    p = ngx_http_cometchat_redis_key(p, &lcf->app_id, "token", &f->uid,
                                     &f->token_key);
    p = ngx_http_cometchat_redis_key(p, &lcf->app_id, "profile", &f->uid,
                                     &f->profile_key);
    p = ngx_http_cometchat_redis_key(p, &lcf->app_id, "lock", &f->uid,
                                     &f->lock_key);
    p = ngx_http_cometchat_redis_key(p, &lcf->app_id, "retry", &f->uid,
                                     &f->retry_key);
    p = ngx_http_cometchat_redis_key(p, &lcf->app_id, "pause", NULL,
                                     &f->pause_key);

    /* unique across hosts, workers and flights */
    f->lock_value.data = p;
    p = ngx_sprintf(p, "%V:%P:%ui", &ngx_cycle->hostname, ngx_pid,
                    ++ngx_http_cometchat_flights_seq);
    f->lock_value.len = p - f->lock_value.data;

    f->lcf = lcf;

    /*
     * the flight works for requests: its lines go to the error_log of the
     * server that started it, and nothing in its log may point into that
     * request, which can go away before the flight ends
     */

    f->own_log = *r->connection->log;
    f->own_log.handler = NULL;
    f->own_log.data = NULL;
    f->own_log.action = NULL;
    f->log = &f->own_log;
    f->state = NGX_HTTP_COMETCHAT_FLIGHT_GET;

    ngx_queue_init(&f->waiters);

    f->poll_ev.handler = ngx_http_cometchat_token_poll_handler;
    f->poll_ev.data = &ngx_http_cometchat_token_dummy;
    f->poll_ev.log = f->log;

    f->wake_ev.handler = ngx_http_cometchat_token_wake_handler;
    f->wake_ev.data = &ngx_http_cometchat_token_dummy;
    f->wake_ev.log = f->log;

    f->renew_ev.handler = ngx_http_cometchat_token_renew_handler;
    f->renew_ev.data = &ngx_http_cometchat_token_dummy;
    f->renew_ev.log = f->log;

    ngx_rbtree_insert(&ngx_http_cometchat_flights, &f->sn.node);
    ngx_queue_insert_tail(&ngx_http_cometchat_flights_all, &f->all);

    return f;
}


static ngx_int_t
ngx_http_cometchat_token_wait(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx, ngx_http_cometchat_flight_t *f,
    ngx_uint_t joined)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_cometchat_waiter_t  *w;

    w = ngx_palloc(r->pool, sizeof(ngx_http_cometchat_waiter_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_cometchat_token_waiter_cleanup;
    cln->data = w;

    w->request = r;
    w->ctx = ctx;
    w->flight = f;
    w->joined = joined;

    ngx_queue_insert_tail(&f->waiters, &w->queue);

    ctx->waiter = w;
    r->main->blocked++;

    return NGX_AGAIN;
}


/*
 * The request is going away while it waits: the flight goes on, its token
 * is still worth caching.  A waiter already woken, or dropped on exit, is
 * no longer its context's waiter.
 */

static void
ngx_http_cometchat_token_waiter_cleanup(void *data)
{
    ngx_http_cometchat_waiter_t *w = data;

    if (w->ctx->waiter != w) {
        return;
    }

    ngx_queue_remove(&w->queue);
    w->ctx->waiter = NULL;
}


static void
ngx_http_cometchat_token_start(ngx_http_cometchat_flight_t *f)
{
    if (!ngx_http_cometchat_redis_configured()) {
        ngx_http_cometchat_token_local(f);
        return;
    }

    ngx_http_cometchat_token_get(f, NGX_HTTP_COMETCHAT_FLIGHT_GET,
                                 ngx_http_cometchat_token_get_handler);
}


/*
 * MGET the token key, the profile fingerprint and the app's pause after a
 * 429 (value[0], value[1], value[2] in the handlers); when Redis cannot
 * take it, the per-host zone answers.  In a Redis Cluster the app's pause
 * lies in another slot than the user's keys: it is left out (value[2] is
 * then nil), and only this host's zone knows of a pause.
 */

static void
ngx_http_cometchat_token_get(ngx_http_cometchat_flight_t *f,
    ngx_uint_t state, ngx_http_cometchat_redis_handler_pt handler)
{
    ngx_str_t  args[4];

    ngx_str_set(&args[0], "MGET");
    args[1] = f->token_key;
    args[2] = f->profile_key;
    args[3] = f->pause_key;

    f->state = state;

    if (ngx_http_cometchat_token_redis(f, handler,
                                       ngx_http_cometchat_redis_one_slot()
                                       ? 3 : 4, args)
        == NULL)
    {
        ngx_http_cometchat_token_redis_error(f, "unavailable");
        ngx_http_cometchat_token_local(f);
    }
}


static void
ngx_http_cometchat_token_get_handler(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_http_cometchat_flight_t *f = data;

    u_char      buf[NGX_TIME_T_LEN];
    u_char      tbuf[NGX_HTTP_COMETCHAT_TOKEN_MAX];
    time_t      expire, now;
    ngx_str_t   token, args[5];
    ngx_uint_t  lrc;

    f->cmd = NULL;

    if (rc == NGX_OK && value[0].len
        && value[0].len <= NGX_HTTP_COMETCHAT_TOKEN_MAX)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                       "cometchat token: \"%V\" from redis", &f->uid);

        ngx_http_cometchat_cache_copy(&f->sn.str, &value[0],
                           ngx_http_cometchat_cache_until(f->lcf, ngx_time()));
        ngx_http_cometchat_profile_check(f->lcf, &f->sn.str, &f->name,
                                         &f->avatar, &value[1]);
        ngx_http_cometchat_token_finish(f, NGX_HTTP_COMETCHAT_TOKEN_HIT,
                                        NGX_HTTP_COMETCHAT_PART_NONE,
                                        &value[0]);
        return;
    }

    if (rc == NGX_ERROR) {
        ngx_http_cometchat_token_redis_error(f, "GET failed");
        ngx_http_cometchat_token_local(f);
        return;
    }

    /*
     * a miss in Redis; a token this host minted while Redis was down is
     * still valid: put it back rather than mint another
     */

    token.data = tbuf;

    lrc = ngx_http_cometchat_cache_lookup(&f->sn.str, &token, &expire, 0, 1);

    if (lrc == NGX_HTTP_COMETCHAT_CACHE_TOKEN
        || lrc == NGX_HTTP_COMETCHAT_CACHE_FRESH)
    {
        now = ngx_time();

        ngx_str_set(&args[0], "SET");
        args[1] = f->token_key;
        args[2] = token;
        ngx_str_set(&args[3], "EX");
        args[4].data = buf;
        args[4].len = ngx_sprintf(buf, "%T", expire > now ? expire - now : 1)
                      - buf;

        if (ngx_http_cometchat_token_redis(NULL, NULL, 5, args) != NULL) {
            ngx_http_cometchat_cache_store(&f->sn.str, &token, expire, 0,
                                   ngx_http_cometchat_cache_until(f->lcf, now),
                                   1);
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                       "cometchat token: \"%V\" from the local cache, "
                       "written back to redis", &f->uid);

        ngx_http_cometchat_profile_check(f->lcf, &f->sn.str, &f->name,
                                         &f->avatar,
                                         rc == NGX_OK ? &value[1] : NULL);

        ngx_http_cometchat_token_finish(f, NGX_HTTP_COMETCHAT_TOKEN_HIT,
                                        NGX_HTTP_COMETCHAT_PART_NONE,
                                        &token);
        return;
    }

    if (lrc == NGX_HTTP_COMETCHAT_CACHE_RETRY) {
        ngx_http_cometchat_token_finish(f, NGX_HTTP_COMETCHAT_TOKEN_ERROR,
                                        NGX_HTTP_COMETCHAT_PART_COMETCHAT,
                                        NULL);
        return;
    }

    if (!f->missed) {
        f->missed = 1;
        ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_CACHE_MISSES);
    }

    if (ngx_http_cometchat_token_paused(f, rc, value)) {
        return;
    }

    ngx_http_cometchat_token_lock(f);
}


/*
 * A miss while the app is paused after a 429, here or, as the MGET said,
 * on another host: no lock, no mint, the flight fails at once
 */

static ngx_uint_t
ngx_http_cometchat_token_paused(ngx_http_cometchat_flight_t *f,
    ngx_int_t rc, ngx_str_t *value)
{
    if (!ngx_http_cometchat_quota_skip(&f->lcf->app_id,
                                       rc == NGX_OK ? &value[2] : NULL,
                                       f->log))
    {
        return 0;
    }

    ngx_http_cometchat_token_finish(f, NGX_HTTP_COMETCHAT_TOKEN_ERROR,
                                    NGX_HTTP_COMETCHAT_PART_COMETCHAT, NULL);
    return 1;
}


static void
ngx_http_cometchat_token_lock(ngx_http_cometchat_flight_t *f)
{
    u_char     buf[NGX_INT_T_LEN];
    ngx_str_t  args[7];

    /* the same holder for one API timeout and no token: take it over */

    f->takeover = f->holder.len
                  && (ngx_msec_int_t) (ngx_current_msec - f->held)
                     >= (ngx_msec_int_t) ngx_http_cometchat_lease(f->lcf);

    ngx_str_set(&args[0], "EVAL");
    args[1] = ngx_http_cometchat_lock_script;
    ngx_str_set(&args[2], "1");
    args[3] = f->lock_key;
    args[4] = f->lock_value;
    args[5].data = buf;
    args[5].len = ngx_sprintf(buf, "%M", ngx_http_cometchat_lease(f->lcf))
                  - buf;

    if (f->takeover) {
        args[6] = f->holder;

    } else {
        ngx_str_set(&args[6], "");
    }

    f->state = NGX_HTTP_COMETCHAT_FLIGHT_LOCK;

    if (ngx_http_cometchat_token_redis(f,
                                       ngx_http_cometchat_token_lock_handler,
                                       7, args)
        == NULL)
    {
        ngx_http_cometchat_token_redis_error(f, "unavailable");
        ngx_http_cometchat_token_local(f);
    }
}


static void
ngx_http_cometchat_token_lock_handler(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_http_cometchat_flight_t *f = data;

    size_t  len;

    f->cmd = NULL;

    if (rc != NGX_OK) {
        ngx_http_cometchat_token_redis_error(f, "lock failed");
        ngx_http_cometchat_token_local(f);
        return;
    }

    if (value->len == f->lock_value.len
        && ngx_strncmp(value->data, f->lock_value.data, value->len) == 0)
    {
        if (f->takeover) {
            ngx_log_error(NGX_LOG_INFO, f->log, 0,
                          NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "gave up waiting for another mint of \"%V\": "
                          "took over the lock of \"%V\"",
                          &f->uid, &f->holder);
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                       "cometchat token: \"%V\" locked", &f->uid);

        f->redis_lock = 1;
        f->holder.len = 0;

        ngx_add_timer(&f->renew_ev,
                      ngx_http_cometchat_lease(f->lcf) / 3 + 1);

        ngx_http_cometchat_token_check_retry(f);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, f->log, 0,
                   "cometchat token: \"%V\" being minted by \"%V\"",
                   &f->uid, value);

    /* a new holder: its lease starts now */

    len = ngx_min(value->len, NGX_HTTP_COMETCHAT_HOLDER_MAX);

    if (f->holder.len != len
        || ngx_strncmp(f->holder.data, value->data, len) != 0)
    {
        f->holder.data = f->holder_buf;
        f->holder.len = len;
        ngx_memcpy(f->holder_buf, value->data, len);
        f->held = ngx_current_msec;
    }

    ngx_http_cometchat_token_poll(f, NGX_HTTP_COMETCHAT_FLIGHT_POLL);
}


/* while our calls run, the lease is renewed; a dead worker stops that */

static void
ngx_http_cometchat_token_renew_handler(ngx_event_t *ev)
{
    u_char                        buf[NGX_INT_T_LEN];
    ngx_str_t                     args[6];
    ngx_http_cometchat_flight_t  *f;

    f = (ngx_http_cometchat_flight_t *)
            ((u_char *) ev - offsetof(ngx_http_cometchat_flight_t, renew_ev));

    if (!f->redis_lock) {
        return;
    }

    ngx_str_set(&args[0], "EVAL");
    args[1] = ngx_http_cometchat_renew_script;
    ngx_str_set(&args[2], "1");
    args[3] = f->lock_key;
    args[4] = f->lock_value;
    args[5].data = buf;
    args[5].len = ngx_sprintf(buf, "%M", ngx_http_cometchat_lease(f->lcf))
                  - buf;

    (void) ngx_http_cometchat_token_redis(NULL, NULL, 6, args);

    ngx_add_timer(&f->renew_ev, ngx_http_cometchat_lease(f->lcf) / 3 + 1);
}


/* a 429 seen by another worker or host holds for this one too */

static void
ngx_http_cometchat_token_check_retry(ngx_http_cometchat_flight_t *f)
{
    ngx_str_t  args[2];

    ngx_str_set(&args[0], "GET");
    args[1] = f->retry_key;

    f->state = NGX_HTTP_COMETCHAT_FLIGHT_RETRY;

    if (ngx_http_cometchat_token_redis(f,
                                       ngx_http_cometchat_token_retry_handler,
                                       2, args)
        == NULL)
    {
        ngx_http_cometchat_token_mint(f);
    }
}


static void
ngx_http_cometchat_token_retry_handler(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_http_cometchat_flight_t *f = data;

    time_t  retry;

    f->cmd = NULL;

    if (rc == NGX_OK) {
        retry = ngx_atotm(value->data, value->len);

        if (retry != NGX_ERROR && retry > ngx_time()) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, f->log, 0,
                           "cometchat token: \"%V\" rate limited for %T s",
                           &f->uid, retry - ngx_time());

            ngx_http_cometchat_cache_store(&f->sn.str, NULL, 0, retry, 0, 0);
            ngx_http_cometchat_token_unlock(f);
            ngx_http_cometchat_token_finish(f,
                                            NGX_HTTP_COMETCHAT_TOKEN_ERROR,
                                            NGX_HTTP_COMETCHAT_PART_COMETCHAT,
                                            NULL);
            return;
        }
    }

    if (rc == NGX_ERROR) {
        ngx_http_cometchat_token_redis_error(f, "GET failed");
    }

    ngx_http_cometchat_token_mint(f);
}


static void
ngx_http_cometchat_token_poll(ngx_http_cometchat_flight_t *f,
    ngx_uint_t state)
{
    if (f->deadline == 0) {
        /* as long as the winner's lock can last */
        f->deadline = ngx_current_msec + ngx_http_cometchat_lock_time(f->lcf)
                      + NGX_HTTP_COMETCHAT_POLL_MARGIN;
        if (f->deadline == 0) {
            f->deadline = 1;
        }
    }

    f->state = state;

    ngx_add_timer(&f->poll_ev, NGX_HTTP_COMETCHAT_POLL);
}


static void
ngx_http_cometchat_token_poll_handler(ngx_event_t *ev)
{
    ngx_http_cometchat_flight_t  *f;

    f = (ngx_http_cometchat_flight_t *)
            ((u_char *) ev - offsetof(ngx_http_cometchat_flight_t, poll_ev));

    if ((ngx_msec_int_t) (f->deadline - ngx_current_msec) <= 0) {
        /* the other mint takes too long or died: mint ourselves */

        ngx_log_error(NGX_LOG_INFO, f->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "gave up waiting for another mint of \"%V\"", &f->uid);

        if (f->state == NGX_HTTP_COMETCHAT_FLIGHT_POLL) {
            ngx_http_cometchat_token_check_retry(f);

        } else {
            ngx_http_cometchat_token_mint(f);
        }

        return;
    }

    if (f->state == NGX_HTTP_COMETCHAT_FLIGHT_LOCAL_POLL) {
        ngx_http_cometchat_token_local(f);
        return;
    }

    ngx_http_cometchat_token_get(f, NGX_HTTP_COMETCHAT_FLIGHT_POLL_GET,
                                 ngx_http_cometchat_token_poll_get_handler);
}


static void
ngx_http_cometchat_token_poll_get_handler(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_http_cometchat_flight_t *f = data;

    f->cmd = NULL;

    if (rc == NGX_OK && value[0].len
        && value[0].len <= NGX_HTTP_COMETCHAT_TOKEN_MAX)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                       "cometchat token: \"%V\" minted elsewhere", &f->uid);

        f->polled = 1;
        ngx_http_cometchat_cache_copy(&f->sn.str, &value[0],
                           ngx_http_cometchat_cache_until(f->lcf, ngx_time()));
        ngx_http_cometchat_profile_check(f->lcf, &f->sn.str, &f->name,
                                         &f->avatar, &value[1]);
        ngx_http_cometchat_token_finish(f, NGX_HTTP_COMETCHAT_TOKEN_HIT,
                                        NGX_HTTP_COMETCHAT_PART_NONE,
                                        &value[0]);
        return;
    }

    if (rc == NGX_ERROR) {
        ngx_http_cometchat_token_redis_error(f, "GET failed");
        ngx_http_cometchat_token_local(f);
        return;
    }

    /* still nothing: the lock is free again if the other mint failed */

    if (ngx_http_cometchat_token_paused(f, rc, value)) {
        return;
    }

    ngx_http_cometchat_token_lock(f);
}


/* without Redis: the per-host zone is both the cache and the lock */

static void
ngx_http_cometchat_token_local(ngx_http_cometchat_flight_t *f)
{
    u_char      tbuf[NGX_HTTP_COMETCHAT_TOKEN_MAX];
    time_t      expire;
    ngx_str_t   token;
    ngx_uint_t  rc;

    token.data = tbuf;

    rc = ngx_http_cometchat_cache_lookup(&f->sn.str, &token, &expire,
                                         ngx_http_cometchat_lock_time(f->lcf),
                                         0);

    switch (rc) {

    case NGX_HTTP_COMETCHAT_CACHE_TOKEN:
    case NGX_HTTP_COMETCHAT_CACHE_FRESH:
        if (f->state == NGX_HTTP_COMETCHAT_FLIGHT_LOCAL_POLL) {
            f->polled = 1;
        }

        ngx_http_cometchat_profile_check(f->lcf, &f->sn.str, &f->name,
                                         &f->avatar, NULL);

        ngx_http_cometchat_token_finish(f, NGX_HTTP_COMETCHAT_TOKEN_HIT,
                                        NGX_HTTP_COMETCHAT_PART_NONE,
                                        &token);
        return;

    case NGX_HTTP_COMETCHAT_CACHE_RETRY:
        ngx_http_cometchat_token_finish(f, NGX_HTTP_COMETCHAT_TOKEN_ERROR,
                                        NGX_HTTP_COMETCHAT_PART_COMETCHAT,
                                        NULL);
        return;

    case NGX_HTTP_COMETCHAT_CACHE_BUSY:
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                       "cometchat token: \"%V\" being minted by another "
                       "worker", &f->uid);

        if (!f->missed) {
            f->missed = 1;
            ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_CACHE_MISSES);
        }

        ngx_http_cometchat_token_poll(f,
                                      NGX_HTTP_COMETCHAT_FLIGHT_LOCAL_POLL);
        return;

    default: /* NGX_HTTP_COMETCHAT_CACHE_LOCKED */
        if (!f->missed) {
            f->missed = 1;
            ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_CACHE_MISSES);
        }

        f->local_lock = 1;
        ngx_http_cometchat_token_mint(f);
        return;
    }
}


static void
ngx_http_cometchat_token_mint(ngx_http_cometchat_flight_t *f)
{
    ngx_http_cometchat_mint_t  *mint;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                   "cometchat token: minting for \"%V\"", &f->uid);

    f->state = NGX_HTTP_COMETCHAT_FLIGHT_MINT;

    mint = ngx_http_cometchat_api_mint_start(f->lcf, &f->uid, &f->name,
                                    &f->avatar,
                                    ngx_http_cometchat_token_mint_handler,
                                    f, f->log);
    if (mint == NULL) {
        ngx_http_cometchat_token_unlock(f);
        ngx_http_cometchat_token_finish(f, NGX_HTTP_COMETCHAT_TOKEN_ERROR,
                                        NGX_HTTP_COMETCHAT_PART_COMETCHAT,
                                        NULL);
        return;
    }

    /* its handler never runs from inside mint_start() */

    f->mint = mint;
}


static void
ngx_http_cometchat_token_mint_handler(void *data,
    ngx_http_cometchat_mint_result_t *result)
{
    ngx_http_cometchat_flight_t *f = data;

    u_char      buf[NGX_TIME_T_LEN], val[NGX_TIME_T_LEN];
    time_t      now, ttl, local;
    ngx_str_t   args[5];
    ngx_uint_t  saved;

    f->mint = NULL;

    now = ngx_time();

    if (result->rc == NGX_OK && result->token.len
        && result->token.len <= NGX_HTTP_COMETCHAT_TOKEN_MAX)
    {
        ttl = f->lcf->token_ttl > 0 ? f->lcf->token_ttl : 1;

        /*
         * minted without Redis: not fresh, so that the next request finds
         * Redis when it is back and writes the token back at once
         */

        local = f->local_lock ? 0 : ngx_http_cometchat_cache_until(f->lcf,
                                                                   now);

        ngx_str_set(&args[0], "SET");
        args[1] = f->token_key;
        args[2] = result->token;
        ngx_str_set(&args[3], "EX");
        args[4].data = buf;
        args[4].len = ngx_sprintf(buf, "%T", ttl) - buf;

        /* a token that did not reach Redis is written back once it can */

        saved = ngx_http_cometchat_redis_configured()
                && ngx_http_cometchat_token_redis(NULL, NULL, 5, args)
                   != NULL;

        ngx_http_cometchat_cache_store(&f->sn.str, &result->token, now + ttl,
                                       0, local, saved);
        f->local_lock = 0;

        /* a user created now has the profile it was created with */

        if (result->user_created) {
            ngx_http_cometchat_profile_created(f->lcf, &f->sn.str, &f->name,
                                               &f->avatar);

        } else {
            ngx_http_cometchat_profile_check(f->lcf, &f->sn.str, &f->name,
                                             &f->avatar, NULL);
        }

        ngx_http_cometchat_token_unlock(f);
        ngx_http_cometchat_token_finish(f, NGX_HTTP_COMETCHAT_TOKEN_MINTED,
                                        NGX_HTTP_COMETCHAT_PART_NONE,
                                        &result->token);
        return;
    }

    if (result->rc == NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, f->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "the token minted for \"%V\" is %s", &f->uid,
                      result->token.len ? "too long" : "empty");

    } else if (result->retry_after > now) {

        /* no call for this user until then, from any worker or host */

        ngx_http_cometchat_cache_store(&f->sn.str, NULL, 0,
                                       result->retry_after, 0, 0);
        f->local_lock = 0;

        ngx_str_set(&args[0], "SET");
        args[1] = f->retry_key;
        args[2].data = val;
        args[2].len = ngx_sprintf(val, "%T", result->retry_after) - val;
        ngx_str_set(&args[3], "PX");
        args[4].data = buf;
        args[4].len = ngx_sprintf(buf, "%T",
                                  (result->retry_after - now) * 1000)
                      - buf;

        if (ngx_http_cometchat_redis_configured()) {
            (void) ngx_http_cometchat_token_redis(NULL, NULL, 5, args);

            /* the app's pause, for the other hosts (quota.c) */
            args[1] = f->pause_key;
            (void) ngx_http_cometchat_token_redis(NULL, NULL, 5, args);
        }

        if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_LOG_RATE_LIMIT))
        {
            ngx_log_error(NGX_LOG_WARN, f->log, 0,
                          NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "%V; no CometChat call for \"%V\" for %T s",
                          &result->error, &f->uid,
                          result->retry_after - now);
        }

    } else if (!result->logged
               && ngx_http_cometchat_log_allowed(
                                         NGX_HTTP_COMETCHAT_PART_COMETCHAT))
    {
        ngx_log_error(NGX_LOG_ERR, f->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX "%V", &result->error);
    }

    ngx_http_cometchat_token_unlock(f);
    ngx_http_cometchat_token_finish(f, NGX_HTTP_COMETCHAT_TOKEN_ERROR,
                                    NGX_HTTP_COMETCHAT_PART_COMETCHAT, NULL);
}


static void
ngx_http_cometchat_token_unlock(ngx_http_cometchat_flight_t *f)
{
    ngx_str_t  args[5];

    if (f->local_lock) {
        f->local_lock = 0;
        ngx_http_cometchat_cache_unlock(&f->sn.str);
    }

    if (!f->redis_lock) {
        return;
    }

    f->redis_lock = 0;

    if (f->renew_ev.timer_set) {
        ngx_del_timer(&f->renew_ev);
    }

    /* if the lock expired and another took it, it is not ours to delete */

    ngx_str_set(&args[0], "EVAL");
    args[1] = ngx_http_cometchat_unlock_script;
    ngx_str_set(&args[2], "1");
    args[3] = f->lock_key;
    args[4] = f->lock_value;

    (void) ngx_http_cometchat_token_redis(NULL, NULL, 5, args);
}


static void
ngx_http_cometchat_token_finish(ngx_http_cometchat_flight_t *f,
    ngx_uint_t status, ngx_uint_t part, ngx_str_t *token)
{
    if (f->state == NGX_HTTP_COMETCHAT_FLIGHT_DONE) {
        return;
    }

    f->state = NGX_HTTP_COMETCHAT_FLIGHT_DONE;
    f->status = status;
    f->part = part;

    if (token) {
        f->token.data = ngx_alloc(token->len, f->log);

        if (f->token.data == NULL) {
            f->status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
            f->part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;

        } else {
            ngx_memcpy(f->token.data, token->data, token->len);
            f->token.len = token->len;
        }
    }

    /*
     * The requests are resumed from a posted event, not from inside a
     * Redis or curl callback; until then, new lookups for this user still
     * join this flight and share its answer.
     */

    ngx_post_event(&f->wake_ev, &ngx_posted_events);
}


static void
ngx_http_cometchat_token_wake_handler(ngx_event_t *ev)
{
    ngx_uint_t                     hits;
    ngx_queue_t                   *q;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_cometchat_ctx_t      *ctx;
    ngx_http_cometchat_waiter_t   *w;
    ngx_http_cometchat_flight_t   *f;

    f = (ngx_http_cometchat_flight_t *)
            ((u_char *) ev - offsetof(ngx_http_cometchat_flight_t, wake_ev));

    /* out of reach first: resumed requests may look this user up again */

    ngx_rbtree_delete(&ngx_http_cometchat_flights, &f->sn.node);
    ngx_queue_remove(&f->all);

    ngx_http_cometchat_token_stop(f);

    hits = 0;

    while (!ngx_queue_empty(&f->waiters)) {
        q = ngx_queue_head(&f->waiters);
        w = ngx_queue_data(q, ngx_http_cometchat_waiter_t, queue);

        ngx_queue_remove(q);

        r = w->request;
        ctx = w->ctx;
        c = r->connection;

        ctx->waiter = NULL;
        ctx->token_status = f->status;
        ctx->error_part = f->part;

        if (f->status != NGX_HTTP_COMETCHAT_TOKEN_ERROR) {
            ctx->token.data = ngx_pnalloc(r->pool, f->token.len);

            if (ctx->token.data == NULL) {
                ctx->token.len = 0;
                ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
                ctx->error_part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;

            } else {
                ngx_memcpy(ctx->token.data, f->token.data, f->token.len);
                ctx->token.len = f->token.len;
            }
        }

        if (ctx->token_status == NGX_HTTP_COMETCHAT_TOKEN_HIT) {
            hits++;

            if (f->polled && !w->joined) {
                /* it waited for a mint in another worker or host */
                ngx_http_cometchat_status_inc(
                                           NGX_HTTP_COMETCHAT_STAT_COALESCED);
            }
        }

        ctx->done = 1;

        ngx_http_set_log_request(c->log, r);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "cometchat token: resuming \"%V?%V\"",
                       &r->uri, &r->args);

        r->main->blocked--;
        r->write_event_handler(r);

        ngx_http_run_posted_requests(c);
    }

    if (hits) {
        ngx_http_cometchat_status_add(NGX_HTTP_COMETCHAT_STAT_CACHE_HITS, hits);
    }

    if (f->token.data) {
        ngx_free(f->token.data);
    }

    ngx_free(f);
}


/* cancels whatever the flight still waits for */

static void
ngx_http_cometchat_token_stop(ngx_http_cometchat_flight_t *f)
{
    if (f->cmd) {
        ngx_http_cometchat_redis_cancel(f->cmd);
        f->cmd = NULL;
    }

    if (f->mint) {
        ngx_http_cometchat_api_mint_cancel(f->mint);
        f->mint = NULL;
    }

    if (f->poll_ev.timer_set) {
        ngx_del_timer(&f->poll_ev);
    }

    if (f->renew_ev.timer_set) {
        ngx_del_timer(&f->renew_ev);
    }

    if (f->wake_ev.posted) {
        ngx_delete_posted_event(&f->wake_ev);
    }
}


static void
ngx_http_cometchat_token_redis_error(ngx_http_cometchat_flight_t *f,
    const char *what)
{
    /*
     * a kind of its own: the connection's failure, logged in the main
     * error_log just before, must not silence this line in the server's
     */

    if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_LOG_NO_REDIS)) {
        ngx_log_error(NGX_LOG_ERR, f->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "redis %s, using the local token cache and minting "
                      "without the shared lock", what);
    }
}


/*
 * f == NULL: nobody waits for the reply; else the flight waits for it in
 * f->cmd, which is set before the handler can run (never from inside
 * ngx_http_cometchat_redis_command())
 */

static ngx_http_cometchat_redis_cmd_t *
ngx_http_cometchat_token_redis(ngx_http_cometchat_flight_t *f,
    ngx_http_cometchat_redis_handler_pt h, int argc, ngx_str_t *args)
{
    int          i;
    size_t       argvlen[7];
    const char  *argv[7];

    if (argc > 7) {
        return NULL;
    }

    for (i = 0; i < argc; i++) {
        argv[i] = (const char *) args[i].data;
        argvlen[i] = args[i].len;
    }

    if (f == NULL) {
        return ngx_http_cometchat_redis_command(
                   ngx_http_cometchat_token_redis_ignore, NULL, ngx_cycle->log,
                   argc, argv, argvlen);
    }

    f->cmd = ngx_http_cometchat_redis_command(h, f, f->log, argc, argv,
                                              argvlen);

    return f->cmd;
}


static void
ngx_http_cometchat_token_redis_ignore(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat token: redis write done: %i", rc);
}
