
/*
 * Token lookup: the Redis cache, the per-host cache and coalesced minting.
 *
 * Every needless mint can log another device of the user out (CometChat
 * keeps only the newest 100 tokens of a user), so a token is minted only on
 * a real miss, and by one request at a time:
 *
 *   - within a worker, all requests for one (app id, uid) share a "flight"
 *     that lives in worker memory; later requests join its wait list;
 *   - across workers and hosts, the flight that misses takes a short Redis
 *     lock (SET NX PX) before minting; the others poll the token key and
 *     take the lock over when it goes away;
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
 */


#include "ngx_http_cometchat_api.h"
#include "ngx_http_cometchat_redis.h"
#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_token.h"


#define NGX_HTTP_COMETCHAT_TOKENS_ZONE_SIZE   (1024 * 1024)
#define NGX_HTTP_COMETCHAT_TOKEN_MAX          1024
#define NGX_HTTP_COMETCHAT_TOKEN_ROOM         64
#define NGX_HTTP_COMETCHAT_POLL               50
#define NGX_HTTP_COMETCHAT_POLL_MARGIN        1000

/*
 * A mint makes at most three REST calls (token; user; token again after a
 * create race), each bounded by cometchat_api_timeout: the lock outlives
 * the slowest mint, and the waiters wait that long.
 */
#define NGX_HTTP_COMETCHAT_MINT_CALLS         3
#define ngx_http_cometchat_lock_time(lcf)                                    \
    (NGX_HTTP_COMETCHAT_MINT_CALLS * (lcf)->api_timeout)
#define NGX_HTTP_COMETCHAT_KEY_MAX                                            \
    (64 + 1 + NGX_HTTP_COMETCHAT_UID_MAX)


/* shared zone: one node per (app id, uid) */

typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   lru;
} ngx_http_cometchat_tokens_sh_t;


typedef struct {
    ngx_str_node_t                sn;         /* key "APP_ID:UID" */
    ngx_queue_t                   queue;
    time_t                        expire;     /* token valid until */
    time_t                        retry;      /* 429: no call until */
    ngx_msec_t                    minting;    /* marker valid until */
    time_t                        local;      /* no Redis needed until */
    ngx_uint_t                    in_redis;   /* read from or stored to
                                                 Redis: never written
                                                 back, its key may have
                                                 been deleted on purpose */
    size_t                        room;
    ngx_str_t                     token;
    u_char                        data[1];
} ngx_http_cometchat_tokens_node_t;


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
    ngx_log_t                      *log;

    ngx_str_t                       uid;
    ngx_str_t                       name;
    ngx_str_t                       avatar;
    ngx_str_t                       token_key;
    ngx_str_t                       lock_key;
    ngx_str_t                       retry_key;
    ngx_str_t                       lock_value;

    ngx_uint_t                      state;
    ngx_http_cometchat_redis_cmd_t *cmd;        /* the reply awaited */
    ngx_http_cometchat_mint_t      *mint;

    ngx_event_t                     poll_ev;
    ngx_event_t                     wake_ev;
    ngx_msec_t                      deadline;

    ngx_uint_t                      status;     /* result */
    ngx_uint_t                      part;
    ngx_str_t                       token;

    unsigned                        redis_lock:1;
    unsigned                        local_lock:1;
    unsigned                        missed:1;
    unsigned                        polled:1;
} ngx_http_cometchat_flight_t;


struct ngx_http_cometchat_waiter_s {
    ngx_queue_t                     queue;
    ngx_http_request_t             *request;
    ngx_http_cometchat_ctx_t       *ctx;
    ngx_http_cometchat_flight_t    *flight;
    unsigned                        joined:1;
};


static ngx_int_t ngx_http_cometchat_tokens_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_cometchat_tokens_sh_t *ngx_http_cometchat_tokens(
    ngx_slab_pool_t **shpool);
static ngx_http_cometchat_tokens_node_t *ngx_http_cometchat_tokens_find(
    ngx_http_cometchat_tokens_sh_t *sh, ngx_str_t *key, uint32_t hash);
static ngx_http_cometchat_tokens_node_t *ngx_http_cometchat_tokens_get(
    ngx_http_cometchat_tokens_sh_t *sh, ngx_slab_pool_t *shpool,
    ngx_str_t *key, size_t room);
static void ngx_http_cometchat_tokens_expire(
    ngx_http_cometchat_tokens_sh_t *sh, ngx_slab_pool_t *shpool,
    ngx_uint_t force);
static void ngx_http_cometchat_tokens_free(ngx_http_cometchat_tokens_sh_t *sh,
    ngx_slab_pool_t *shpool, ngx_http_cometchat_tokens_node_t *tn);

#define NGX_HTTP_COMETCHAT_LOCAL_NONE    0
#define NGX_HTTP_COMETCHAT_LOCAL_TOKEN   1
#define NGX_HTTP_COMETCHAT_LOCAL_RETRY   2
#define NGX_HTTP_COMETCHAT_LOCAL_BUSY    3
#define NGX_HTTP_COMETCHAT_LOCAL_LOCKED  4
#define NGX_HTTP_COMETCHAT_LOCAL_FRESH   5

static ngx_uint_t ngx_http_cometchat_local_lookup(ngx_str_t *key,
    ngx_str_t *token, time_t *expire, ngx_msec_t lock, ngx_uint_t own);
static void ngx_http_cometchat_local_store(ngx_str_t *key, ngx_str_t *token,
    time_t expire, time_t retry, time_t local, ngx_uint_t in_redis);
static void ngx_http_cometchat_local_copy(ngx_http_cometchat_flight_t *f,
    ngx_str_t *token);
static time_t ngx_http_cometchat_local_until(
    ngx_http_cometchat_loc_conf_t *lcf, time_t now);
static void ngx_http_cometchat_local_unlock(ngx_str_t *key);

static ngx_http_cometchat_flight_t *ngx_http_cometchat_flight_create(
    ngx_http_request_t *r, ngx_http_cometchat_ctx_t *ctx,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_str_t *key, uint32_t hash);
static ngx_int_t ngx_http_cometchat_flight_wait(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx, ngx_http_cometchat_flight_t *f,
    ngx_uint_t joined);
static void ngx_http_cometchat_flight_start(ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_flight_get(ngx_http_cometchat_flight_t *f,
    ngx_uint_t state, ngx_http_cometchat_redis_handler_pt handler);
static void ngx_http_cometchat_flight_get_handler(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_cometchat_flight_lock(ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_flight_lock_handler(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_cometchat_flight_check_retry(
    ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_flight_retry_handler(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_cometchat_flight_poll(ngx_http_cometchat_flight_t *f,
    ngx_uint_t state);
static void ngx_http_cometchat_flight_poll_handler(ngx_event_t *ev);
static void ngx_http_cometchat_flight_poll_get_handler(void *data,
    ngx_int_t rc, ngx_str_t *value);
static void ngx_http_cometchat_flight_local(ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_flight_mint(ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_flight_mint_handler(void *data,
    ngx_http_cometchat_mint_result_t *result);
static void ngx_http_cometchat_flight_unlock(ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_flight_finish(ngx_http_cometchat_flight_t *f,
    ngx_uint_t status, ngx_uint_t part, ngx_str_t *token);
static void ngx_http_cometchat_flight_wake_handler(ngx_event_t *ev);
static void ngx_http_cometchat_flight_stop(ngx_http_cometchat_flight_t *f);
static void ngx_http_cometchat_flight_redis_error(
    ngx_http_cometchat_flight_t *f, const char *what);

static ngx_http_cometchat_redis_cmd_t *ngx_http_cometchat_token_redis(
    ngx_http_cometchat_flight_t *f, ngx_http_cometchat_redis_handler_pt h,
    int argc, ngx_str_t *args);
static void ngx_http_cometchat_redis_ignore(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_cometchat_token_init_flights(void);


static ngx_str_t  ngx_http_cometchat_tokens_zone_name =
    ngx_string("cometchat_tokens");

/* compare-and-delete: only the lock this worker took */
static ngx_str_t  ngx_http_cometchat_unlock_script = ngx_string(
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end");


/* the zone as found in the current cycle, per process */
static ngx_cycle_t                      *ngx_http_cometchat_tokens_cycle;
static ngx_shm_zone_t                   *ngx_http_cometchat_tokens_zone;

static ngx_rbtree_t                      ngx_http_cometchat_flights;
static ngx_rbtree_node_t                 ngx_http_cometchat_flights_sentinel;
static ngx_queue_t                       ngx_http_cometchat_flights_all;
static ngx_uint_t                        ngx_http_cometchat_flights_ready;
static ngx_uint_t                        ngx_http_cometchat_flights_seq;

/* timers log the fd of ev->data in debug builds */
static ngx_connection_t                  ngx_http_cometchat_token_dummy;


ngx_int_t
ngx_http_cometchat_token_init_zone(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf)
{
    ngx_shm_zone_t  *shm_zone;

    if (!cmcf->enabled) {
        return NGX_OK;
    }

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_cometchat_tokens_zone_name,
                                     NGX_HTTP_COMETCHAT_TOKENS_ZONE_SIZE,
                                     &ngx_http_cometchat_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_cometchat_tokens_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_tokens_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t                 *shpool;
    ngx_http_cometchat_tokens_sh_t  *sh;

    if (data) {
        /* a reload keeps the tokens */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(shpool, sizeof(ngx_http_cometchat_tokens_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, ngx_str_rbtree_insert_value);
    ngx_queue_init(&sh->lru);

    shpool->data = sh;
    shm_zone->data = sh;

    shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * The zone is looked up in the running cycle rather than remembered at
 * configuration time: a configuration that fails to load must not leave
 * the master pointing into a zone that was freed.
 */

static ngx_http_cometchat_tokens_sh_t *
ngx_http_cometchat_tokens(ngx_slab_pool_t **shpool)
{
    ngx_uint_t       i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *zone;

    if (ngx_http_cometchat_tokens_cycle != ngx_cycle) {
        ngx_http_cometchat_tokens_cycle = (ngx_cycle_t *) ngx_cycle;
        ngx_http_cometchat_tokens_zone = NULL;

        part = &ngx_http_cometchat_tokens_cycle->shared_memory.part;
        zone = part->elts;

        for (i = 0; /* void */ ; i++) {

            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                zone = part->elts;
                i = 0;
            }

            if (zone[i].tag == &ngx_http_cometchat_module
                && zone[i].shm.name.len
                   == ngx_http_cometchat_tokens_zone_name.len
                && ngx_strncmp(zone[i].shm.name.data,
                               ngx_http_cometchat_tokens_zone_name.data,
                               zone[i].shm.name.len)
                   == 0)
            {
                ngx_http_cometchat_tokens_zone = &zone[i];
                break;
            }
        }
    }

    if (ngx_http_cometchat_tokens_zone == NULL
        || ngx_http_cometchat_tokens_zone->data == NULL)
    {
        return NULL;
    }

    *shpool = (ngx_slab_pool_t *) ngx_http_cometchat_tokens_zone->shm.addr;

    return ngx_http_cometchat_tokens_zone->data;
}


static ngx_http_cometchat_tokens_node_t *
ngx_http_cometchat_tokens_find(ngx_http_cometchat_tokens_sh_t *sh,
    ngx_str_t *key, uint32_t hash)
{
    ngx_str_node_t                    *sn;
    ngx_http_cometchat_tokens_node_t  *tn;

    sn = ngx_str_rbtree_lookup(&sh->rbtree, key, hash);

    if (sn == NULL) {
        return NULL;
    }

    tn = (ngx_http_cometchat_tokens_node_t *) sn;

    ngx_queue_remove(&tn->queue);
    ngx_queue_insert_head(&sh->lru, &tn->queue);

    return tn;
}


/* the node for key, created when missing; the shpool mutex is held */

static ngx_http_cometchat_tokens_node_t *
ngx_http_cometchat_tokens_get(ngx_http_cometchat_tokens_sh_t *sh,
    ngx_slab_pool_t *shpool, ngx_str_t *key, size_t room)
{
    size_t                             size;
    time_t                             expire, retry;
    uint32_t                           hash;
    ngx_msec_t                         minting;
    ngx_http_cometchat_tokens_node_t  *tn;

    hash = ngx_crc32_short(key->data, key->len);

    tn = ngx_http_cometchat_tokens_find(sh, key, hash);

    expire = 0;
    retry = 0;
    minting = ngx_current_msec;

    if (tn) {
        if (tn->room >= room) {
            return tn;
        }

        /* a longer token than the node holds: the caller replaces it */

        expire = tn->expire;
        retry = tn->retry;
        minting = tn->minting;

        ngx_http_cometchat_tokens_free(sh, shpool, tn);
    }

    if (room < NGX_HTTP_COMETCHAT_TOKEN_ROOM) {
        room = NGX_HTTP_COMETCHAT_TOKEN_ROOM;
    }

    ngx_http_cometchat_tokens_expire(sh, shpool, 0);

    size = offsetof(ngx_http_cometchat_tokens_node_t, data) + key->len + room;

    tn = ngx_slab_alloc_locked(shpool, size);

    if (tn == NULL) {
        /* full: the least recently used entries go first */
        ngx_http_cometchat_tokens_expire(sh, shpool, 1);

        tn = ngx_slab_alloc_locked(shpool, size);

        if (tn == NULL) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "the \"%V\" zone is full",
                          &ngx_http_cometchat_tokens_zone_name);
            return NULL;
        }
    }

    ngx_memzero(tn, offsetof(ngx_http_cometchat_tokens_node_t, data));

    ngx_memcpy(tn->data, key->data, key->len);

    tn->sn.node.key = hash;
    tn->sn.str.len = key->len;
    tn->sn.str.data = tn->data;
    tn->room = room;
    tn->token.data = tn->data + key->len;
    tn->expire = expire;
    tn->retry = retry;
    tn->minting = minting;

    ngx_rbtree_insert(&sh->rbtree, &tn->sn.node);
    ngx_queue_insert_head(&sh->lru, &tn->queue);

    return tn;
}


/*
 * force == 0 deletes up to two dead entries from the tail,
 * force == 1 also deletes the least recently used live entry
 */

static void
ngx_http_cometchat_tokens_expire(ngx_http_cometchat_tokens_sh_t *sh,
    ngx_slab_pool_t *shpool, ngx_uint_t force)
{
    time_t                             now;
    ngx_uint_t                         n;
    ngx_queue_t                       *q;
    ngx_http_cometchat_tokens_node_t  *tn;

    now = ngx_time();

    for (n = 0; n < 3; n++) {

        if (ngx_queue_empty(&sh->lru)) {
            return;
        }

        q = ngx_queue_last(&sh->lru);
        tn = ngx_queue_data(q, ngx_http_cometchat_tokens_node_t, queue);

        if (tn->expire > now || tn->retry > now
            || (ngx_msec_int_t) (tn->minting - ngx_current_msec) > 0)
        {
            if (!force) {
                return;
            }

            force = 0;
        }

        ngx_http_cometchat_tokens_free(sh, shpool, tn);
    }
}


static void
ngx_http_cometchat_tokens_free(ngx_http_cometchat_tokens_sh_t *sh,
    ngx_slab_pool_t *shpool, ngx_http_cometchat_tokens_node_t *tn)
{
    ngx_queue_remove(&tn->queue);
    ngx_rbtree_delete(&sh->rbtree, &tn->sn.node);
    ngx_slab_free_locked(shpool, tn);
}


/*
 * Looks key up in the per-host zone: a live token (copied into token->data,
 * NGX_HTTP_COMETCHAT_TOKEN_MAX bytes, its expiry in *expire; FRESH while
 * it may answer without Redis), a 429 entry, or else, when lock is not 0,
 * takes the minting marker for lock milliseconds unless another worker
 * holds it.  With own, tokens read from Redis do not count.
 */

static ngx_uint_t
ngx_http_cometchat_local_lookup(ngx_str_t *key, ngx_str_t *token,
    time_t *expire, ngx_msec_t lock, ngx_uint_t own)
{
    time_t                             now;
    ngx_uint_t                         rc;
    ngx_slab_pool_t                   *shpool;
    ngx_http_cometchat_tokens_sh_t    *sh;
    ngx_http_cometchat_tokens_node_t  *tn;

    sh = ngx_http_cometchat_tokens(&shpool);

    if (sh == NULL) {
        return lock ? NGX_HTTP_COMETCHAT_LOCAL_LOCKED
                    : NGX_HTTP_COMETCHAT_LOCAL_NONE;
    }

    now = ngx_time();
    rc = NGX_HTTP_COMETCHAT_LOCAL_NONE;

    ngx_shmtx_lock(&shpool->mutex);

    tn = ngx_http_cometchat_tokens_find(sh, key,
                                        ngx_crc32_short(key->data, key->len));

    if (tn && tn->expire > now && tn->token.len
        && tn->token.len <= NGX_HTTP_COMETCHAT_TOKEN_MAX
        && !(own && tn->in_redis))
    {
        ngx_memcpy(token->data, tn->token.data, tn->token.len);
        token->len = tn->token.len;
        *expire = tn->expire;
        rc = (tn->local > now) ? NGX_HTTP_COMETCHAT_LOCAL_FRESH
                               : NGX_HTTP_COMETCHAT_LOCAL_TOKEN;
        goto done;
    }

    if (tn && tn->retry > now) {
        *expire = tn->retry;
        rc = NGX_HTTP_COMETCHAT_LOCAL_RETRY;
        goto done;
    }

    if (!lock) {
        goto done;
    }

    if (tn && (ngx_msec_int_t) (tn->minting - ngx_current_msec) > 0) {
        rc = NGX_HTTP_COMETCHAT_LOCAL_BUSY;
        goto done;
    }

    if (tn == NULL) {
        tn = ngx_http_cometchat_tokens_get(sh, shpool, key, 0);
    }

    if (tn) {
        tn->minting = ngx_current_msec + lock;
    }

    /* no room for a marker: mint anyway, chat keeps working */

    rc = NGX_HTTP_COMETCHAT_LOCAL_LOCKED;

done:

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


/* stores a token (token != NULL) or a 429 entry, and drops the marker */

static void
ngx_http_cometchat_local_store(ngx_str_t *key, ngx_str_t *token,
    time_t expire, time_t retry, time_t local, ngx_uint_t in_redis)
{
    ngx_slab_pool_t                   *shpool;
    ngx_http_cometchat_tokens_sh_t    *sh;
    ngx_http_cometchat_tokens_node_t  *tn;

    if (token && token->len > NGX_HTTP_COMETCHAT_TOKEN_MAX) {
        ngx_http_cometchat_local_unlock(key);
        return;
    }

    sh = ngx_http_cometchat_tokens(&shpool);

    if (sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    tn = ngx_http_cometchat_tokens_get(sh, shpool, key,
                                       token ? token->len : 0);

    if (tn) {
        tn->minting = ngx_current_msec;

        if (token) {
            ngx_memcpy(tn->token.data, token->data, token->len);
            tn->token.len = token->len;
            tn->expire = expire;
            tn->local = local;
            tn->in_redis = in_redis;
            tn->retry = 0;

        } else {
            tn->retry = retry;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * Keeps a token read from Redis for cometchat_token_local_ttl.  A token
 * this host minted stays as it is, with its real expiry; the minting marker
 * is left alone: it guards a mint without Redis.
 */

static void
ngx_http_cometchat_local_copy(ngx_http_cometchat_flight_t *f,
    ngx_str_t *token)
{
    time_t                             local;
    ngx_slab_pool_t                   *shpool;
    ngx_http_cometchat_tokens_sh_t    *sh;
    ngx_http_cometchat_tokens_node_t  *tn;

    local = ngx_http_cometchat_local_until(f->lcf, ngx_time());

    if (local == 0 || token->len > NGX_HTTP_COMETCHAT_TOKEN_MAX) {
        return;
    }

    sh = ngx_http_cometchat_tokens(&shpool);

    if (sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    tn = ngx_http_cometchat_tokens_get(sh, shpool, &f->sn.str, token->len);

    if (tn) {
        if (tn->expire > local
            && tn->token.len == token->len
            && ngx_memcmp(tn->token.data, token->data, token->len) == 0)
        {
            tn->local = local;
            tn->in_redis = 1;

        } else {
            ngx_memcpy(tn->token.data, token->data, token->len);
            tn->token.len = token->len;
            tn->expire = local;
            tn->local = local;
            tn->in_redis = 1;
            tn->retry = 0;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/* 0: the zone does not answer without Redis */

static time_t
ngx_http_cometchat_local_until(ngx_http_cometchat_loc_conf_t *lcf,
    time_t now)
{
    time_t  ttl;

    ttl = ngx_min(lcf->token_local_ttl, lcf->token_ttl);

    return (ttl > 0) ? now + ttl : 0;
}


static void
ngx_http_cometchat_local_unlock(ngx_str_t *key)
{
    ngx_slab_pool_t                   *shpool;
    ngx_http_cometchat_tokens_sh_t    *sh;
    ngx_http_cometchat_tokens_node_t  *tn;

    sh = ngx_http_cometchat_tokens(&shpool);

    if (sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    tn = ngx_http_cometchat_tokens_find(sh, key,
                                        ngx_crc32_short(key->data, key->len));
    if (tn) {
        tn->minting = ngx_current_msec;
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


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

        if (ngx_http_cometchat_flight_wait(r, ctx, f, 1) != NGX_AGAIN) {
            ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
            ctx->error_part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;
            return NGX_ERROR;
        }

        ngx_http_cometchat_stat_inc(NGX_HTTP_COMETCHAT_STAT_COALESCED);

        return NGX_AGAIN;
    }

    /*
     * the per-host zone answers at once for a 429 still running, for a
     * token within cometchat_token_local_ttl, and for a token when Redis
     * cannot
     */

    token.data = tbuf;

    rc = ngx_http_cometchat_local_lookup(&key, &token, &expire, 0, 0);

    if (rc == NGX_HTTP_COMETCHAT_LOCAL_RETRY) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "cometchat token: \"%V\" rate limited for %T s",
                       &ctx->uid, expire - ngx_time());

        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
        ctx->error_part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;
        return NGX_ERROR;
    }

    if (rc == NGX_HTTP_COMETCHAT_LOCAL_FRESH && lcf->token_local_ttl == 0) {
        rc = NGX_HTTP_COMETCHAT_LOCAL_TOKEN;
    }

    if (rc == NGX_HTTP_COMETCHAT_LOCAL_FRESH
        || (rc == NGX_HTTP_COMETCHAT_LOCAL_TOKEN
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

        ngx_http_cometchat_stat_inc(NGX_HTTP_COMETCHAT_STAT_CACHE_HITS);

        ctx->token.len = token.len;
        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_HIT;
        ctx->done = 1;

        return NGX_OK;
    }

    f = ngx_http_cometchat_flight_create(r, ctx, lcf, &key, hash);
    if (f == NULL) {
        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
        ctx->error_part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;
        return NGX_ERROR;
    }

    if (ngx_http_cometchat_flight_wait(r, ctx, f, 0) != NGX_AGAIN) {
        ngx_rbtree_delete(&ngx_http_cometchat_flights, &f->sn.node);
        ngx_queue_remove(&f->all);
        ngx_free(f);

        ctx->token_status = NGX_HTTP_COMETCHAT_TOKEN_ERROR;
        ctx->error_part = NGX_HTTP_COMETCHAT_PART_COMETCHAT;
        return NGX_ERROR;
    }

    ngx_http_cometchat_flight_start(f);

    return NGX_AGAIN;
}


void
ngx_http_cometchat_token_cancel(ngx_http_cometchat_ctx_t *ctx)
{
    ngx_http_cometchat_waiter_t  *w;

    w = ctx->waiter;

    if (w == NULL) {
        return;
    }

    /* the flight goes on: its token is still worth caching */

    ngx_queue_remove(&w->queue);
    ctx->waiter = NULL;
}


void
ngx_http_cometchat_token_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t                  *q;
    ngx_http_cometchat_waiter_t  *w;
    ngx_http_cometchat_flight_t  *f;

    if (!ngx_http_cometchat_flights_ready) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_cometchat_flights_all)) {
        q = ngx_queue_head(&ngx_http_cometchat_flights_all);
        f = ngx_queue_data(q, ngx_http_cometchat_flight_t, all);

        ngx_queue_remove(q);
        ngx_rbtree_delete(&ngx_http_cometchat_flights, &f->sn.node);

        ngx_http_cometchat_flight_stop(f);

        if (f->local_lock) {
            ngx_http_cometchat_local_unlock(&f->sn.str);
        }

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
ngx_http_cometchat_flight_create(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx, ngx_http_cometchat_loc_conf_t *lcf,
    ngx_str_t *key, uint32_t hash)
{
    u_char                       *p;
    size_t                        size, klen;
    ngx_http_cometchat_flight_t  *f;

    /* "cometchat:" APP_ID ":token:" UID, and the same for lock and retry */
    klen = sizeof("cometchat:") - 1 + lcf->app_id.len + sizeof(":token:") - 1
           + ctx->uid.len;

    size = sizeof(ngx_http_cometchat_flight_t)
           + key->len + ctx->name.len + ctx->avatar.len + 3 * klen
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

    f->token_key.data = p;
    p = ngx_sprintf(p, "cometchat:%V:token:%V", &lcf->app_id, &f->uid);
    f->token_key.len = p - f->token_key.data;

    f->lock_key.data = p;
    p = ngx_sprintf(p, "cometchat:%V:lock:%V", &lcf->app_id, &f->uid);
    f->lock_key.len = p - f->lock_key.data;

    f->retry_key.data = p;
    p = ngx_sprintf(p, "cometchat:%V:retry:%V", &lcf->app_id, &f->uid);
    f->retry_key.len = p - f->retry_key.data;

    /* unique across hosts, workers and flights */
    f->lock_value.data = p;
    p = ngx_sprintf(p, "%V:%P:%ui", &ngx_cycle->hostname, ngx_pid,
                    ++ngx_http_cometchat_flights_seq);
    f->lock_value.len = p - f->lock_value.data;

    f->lcf = lcf;
    f->log = ngx_cycle->log;
    f->state = NGX_HTTP_COMETCHAT_FLIGHT_GET;

    ngx_queue_init(&f->waiters);

    f->poll_ev.handler = ngx_http_cometchat_flight_poll_handler;
    f->poll_ev.data = &ngx_http_cometchat_token_dummy;
    f->poll_ev.log = f->log;

    f->wake_ev.handler = ngx_http_cometchat_flight_wake_handler;
    f->wake_ev.data = &ngx_http_cometchat_token_dummy;
    f->wake_ev.log = f->log;

    ngx_rbtree_insert(&ngx_http_cometchat_flights, &f->sn.node);
    ngx_queue_insert_tail(&ngx_http_cometchat_flights_all, &f->all);

    return f;
}


static ngx_int_t
ngx_http_cometchat_flight_wait(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx, ngx_http_cometchat_flight_t *f,
    ngx_uint_t joined)
{
    ngx_http_cometchat_waiter_t  *w;

    w = ngx_palloc(r->pool, sizeof(ngx_http_cometchat_waiter_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->request = r;
    w->ctx = ctx;
    w->flight = f;
    w->joined = joined;

    ngx_queue_insert_tail(&f->waiters, &w->queue);

    ctx->waiter = w;
    r->main->blocked++;

    return NGX_AGAIN;
}


static void
ngx_http_cometchat_flight_start(ngx_http_cometchat_flight_t *f)
{
    if (!ngx_http_cometchat_redis_configured()) {
        ngx_http_cometchat_flight_local(f);
        return;
    }

    ngx_http_cometchat_flight_get(f, NGX_HTTP_COMETCHAT_FLIGHT_GET,
                                  ngx_http_cometchat_flight_get_handler);
}


/* GET the token key; when Redis cannot take it, the per-host zone answers */

static void
ngx_http_cometchat_flight_get(ngx_http_cometchat_flight_t *f,
    ngx_uint_t state, ngx_http_cometchat_redis_handler_pt handler)
{
    ngx_str_t  args[2];

    ngx_str_set(&args[0], "GET");
    args[1] = f->token_key;

    f->state = state;

    if (ngx_http_cometchat_token_redis(f, handler, 2, args) == NULL) {
        ngx_http_cometchat_flight_redis_error(f, "unavailable");
        ngx_http_cometchat_flight_local(f);
    }
}


static void
ngx_http_cometchat_flight_get_handler(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_http_cometchat_flight_t *f = data;

    u_char      buf[NGX_TIME_T_LEN];
    u_char      tbuf[NGX_HTTP_COMETCHAT_TOKEN_MAX];
    time_t      expire, now;
    ngx_str_t   token, args[5];
    ngx_uint_t  lrc;

    f->cmd = NULL;

    if (rc == NGX_OK && value->len
        && value->len <= NGX_HTTP_COMETCHAT_TOKEN_MAX)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                       "cometchat token: \"%V\" from redis", &f->uid);

        ngx_http_cometchat_local_copy(f, value);
        ngx_http_cometchat_flight_finish(f, NGX_HTTP_COMETCHAT_TOKEN_HIT,
                                         NGX_HTTP_COMETCHAT_PART_NONE, value);
        return;
    }

    if (rc == NGX_ERROR) {
        ngx_http_cometchat_flight_redis_error(f, "GET failed");
        ngx_http_cometchat_flight_local(f);
        return;
    }

    /*
     * a miss in Redis; a token this host minted while Redis was down is
     * still valid: put it back rather than mint another
     */

    token.data = tbuf;

    lrc = ngx_http_cometchat_local_lookup(&f->sn.str, &token, &expire, 0, 1);

    if (lrc == NGX_HTTP_COMETCHAT_LOCAL_TOKEN
        || lrc == NGX_HTTP_COMETCHAT_LOCAL_FRESH)
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
            ngx_http_cometchat_local_store(&f->sn.str, &token, expire, 0,
                                   ngx_http_cometchat_local_until(f->lcf, now),
                                   1);
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                       "cometchat token: \"%V\" from the local cache, "
                       "written back to redis", &f->uid);

        ngx_http_cometchat_flight_finish(f, NGX_HTTP_COMETCHAT_TOKEN_HIT,
                                         NGX_HTTP_COMETCHAT_PART_NONE,
                                         &token);
        return;
    }

    if (lrc == NGX_HTTP_COMETCHAT_LOCAL_RETRY) {
        ngx_http_cometchat_flight_finish(f, NGX_HTTP_COMETCHAT_TOKEN_ERROR,
                                         NGX_HTTP_COMETCHAT_PART_COMETCHAT,
                                         NULL);
        return;
    }

    if (!f->missed) {
        f->missed = 1;
        ngx_http_cometchat_stat_inc(NGX_HTTP_COMETCHAT_STAT_CACHE_MISSES);
    }

    ngx_http_cometchat_flight_lock(f);
}


static void
ngx_http_cometchat_flight_lock(ngx_http_cometchat_flight_t *f)
{
    u_char     buf[NGX_INT_T_LEN];
    ngx_str_t  args[6];

    ngx_str_set(&args[0], "SET");
    args[1] = f->lock_key;
    args[2] = f->lock_value;
    ngx_str_set(&args[3], "NX");
    ngx_str_set(&args[4], "PX");
    args[5].data = buf;
    args[5].len = ngx_sprintf(buf, "%M", ngx_http_cometchat_lock_time(f->lcf))
                  - buf;

    f->state = NGX_HTTP_COMETCHAT_FLIGHT_LOCK;

    if (ngx_http_cometchat_token_redis(f,
                                       ngx_http_cometchat_flight_lock_handler,
                                       6, args)
        == NULL)
    {
        ngx_http_cometchat_flight_redis_error(f, "unavailable");
        ngx_http_cometchat_flight_local(f);
    }
}


static void
ngx_http_cometchat_flight_lock_handler(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_http_cometchat_flight_t *f = data;

    f->cmd = NULL;

    switch (rc) {

    case NGX_OK:
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                       "cometchat token: \"%V\" locked", &f->uid);

        f->redis_lock = 1;
        ngx_http_cometchat_flight_check_retry(f);
        return;

    case NGX_DECLINED:
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                       "cometchat token: \"%V\" being minted elsewhere",
                       &f->uid);

        ngx_http_cometchat_flight_poll(f, NGX_HTTP_COMETCHAT_FLIGHT_POLL);
        return;

    default:
        ngx_http_cometchat_flight_redis_error(f, "SET NX failed");
        ngx_http_cometchat_flight_local(f);
        return;
    }
}


/* a 429 seen by another worker or host holds for this one too */

static void
ngx_http_cometchat_flight_check_retry(ngx_http_cometchat_flight_t *f)
{
    ngx_str_t  args[2];

    ngx_str_set(&args[0], "GET");
    args[1] = f->retry_key;

    f->state = NGX_HTTP_COMETCHAT_FLIGHT_RETRY;

    if (ngx_http_cometchat_token_redis(f,
                                       ngx_http_cometchat_flight_retry_handler,
                                       2, args)
        == NULL)
    {
        ngx_http_cometchat_flight_mint(f);
    }
}


static void
ngx_http_cometchat_flight_retry_handler(void *data, ngx_int_t rc,
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

            ngx_http_cometchat_local_store(&f->sn.str, NULL, 0, retry, 0, 0);
            ngx_http_cometchat_flight_unlock(f);
            ngx_http_cometchat_flight_finish(f,
                                             NGX_HTTP_COMETCHAT_TOKEN_ERROR,
                                             NGX_HTTP_COMETCHAT_PART_COMETCHAT,
                                             NULL);
            return;
        }
    }

    if (rc == NGX_ERROR) {
        ngx_http_cometchat_flight_redis_error(f, "GET failed");
    }

    ngx_http_cometchat_flight_mint(f);
}


static void
ngx_http_cometchat_flight_poll(ngx_http_cometchat_flight_t *f,
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
ngx_http_cometchat_flight_poll_handler(ngx_event_t *ev)
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
            ngx_http_cometchat_flight_check_retry(f);

        } else {
            ngx_http_cometchat_flight_mint(f);
        }

        return;
    }

    if (f->state == NGX_HTTP_COMETCHAT_FLIGHT_LOCAL_POLL) {
        ngx_http_cometchat_flight_local(f);
        return;
    }

    ngx_http_cometchat_flight_get(f, NGX_HTTP_COMETCHAT_FLIGHT_POLL_GET,
                                  ngx_http_cometchat_flight_poll_get_handler);
}


static void
ngx_http_cometchat_flight_poll_get_handler(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_http_cometchat_flight_t *f = data;

    f->cmd = NULL;

    if (rc == NGX_OK && value->len
        && value->len <= NGX_HTTP_COMETCHAT_TOKEN_MAX)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                       "cometchat token: \"%V\" minted elsewhere", &f->uid);

        f->polled = 1;
        ngx_http_cometchat_local_copy(f, value);
        ngx_http_cometchat_flight_finish(f, NGX_HTTP_COMETCHAT_TOKEN_HIT,
                                         NGX_HTTP_COMETCHAT_PART_NONE, value);
        return;
    }

    if (rc == NGX_ERROR) {
        ngx_http_cometchat_flight_redis_error(f, "GET failed");
        ngx_http_cometchat_flight_local(f);
        return;
    }

    /* still nothing: the lock is free again if the other mint failed */

    ngx_http_cometchat_flight_lock(f);
}


/* without Redis: the per-host zone is both the cache and the lock */

static void
ngx_http_cometchat_flight_local(ngx_http_cometchat_flight_t *f)
{
    u_char      tbuf[NGX_HTTP_COMETCHAT_TOKEN_MAX];
    time_t      expire;
    ngx_str_t   token;
    ngx_uint_t  rc;

    token.data = tbuf;

    rc = ngx_http_cometchat_local_lookup(&f->sn.str, &token, &expire,
                                         ngx_http_cometchat_lock_time(f->lcf),
                                         0);

    switch (rc) {

    case NGX_HTTP_COMETCHAT_LOCAL_TOKEN:
    case NGX_HTTP_COMETCHAT_LOCAL_FRESH:
        if (f->state == NGX_HTTP_COMETCHAT_FLIGHT_LOCAL_POLL) {
            f->polled = 1;
        }

        ngx_http_cometchat_flight_finish(f, NGX_HTTP_COMETCHAT_TOKEN_HIT,
                                         NGX_HTTP_COMETCHAT_PART_NONE,
                                         &token);
        return;

    case NGX_HTTP_COMETCHAT_LOCAL_RETRY:
        ngx_http_cometchat_flight_finish(f, NGX_HTTP_COMETCHAT_TOKEN_ERROR,
                                         NGX_HTTP_COMETCHAT_PART_COMETCHAT,
                                         NULL);
        return;

    case NGX_HTTP_COMETCHAT_LOCAL_BUSY:
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                       "cometchat token: \"%V\" being minted by another "
                       "worker", &f->uid);

        if (!f->missed) {
            f->missed = 1;
            ngx_http_cometchat_stat_inc(NGX_HTTP_COMETCHAT_STAT_CACHE_MISSES);
        }

        ngx_http_cometchat_flight_poll(f,
                                       NGX_HTTP_COMETCHAT_FLIGHT_LOCAL_POLL);
        return;

    default: /* NGX_HTTP_COMETCHAT_LOCAL_LOCKED */
        if (!f->missed) {
            f->missed = 1;
            ngx_http_cometchat_stat_inc(NGX_HTTP_COMETCHAT_STAT_CACHE_MISSES);
        }

        f->local_lock = 1;
        ngx_http_cometchat_flight_mint(f);
        return;
    }
}


static void
ngx_http_cometchat_flight_mint(ngx_http_cometchat_flight_t *f)
{
    ngx_http_cometchat_mint_t  *mint;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                   "cometchat token: minting for \"%V\"", &f->uid);

    f->state = NGX_HTTP_COMETCHAT_FLIGHT_MINT;

    mint = ngx_http_cometchat_mint_start(f->lcf, &f->uid, &f->name,
                                         &f->avatar,
                                         ngx_http_cometchat_flight_mint_handler,
                                         f, f->log);
    if (mint == NULL) {
        ngx_http_cometchat_flight_unlock(f);
        ngx_http_cometchat_flight_finish(f, NGX_HTTP_COMETCHAT_TOKEN_ERROR,
                                         NGX_HTTP_COMETCHAT_PART_COMETCHAT,
                                         NULL);
        return;
    }

    /* its handler never runs from inside mint_start() */

    f->mint = mint;
}


static void
ngx_http_cometchat_flight_mint_handler(void *data,
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

        local = f->local_lock ? 0 : ngx_http_cometchat_local_until(f->lcf,
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

        ngx_http_cometchat_local_store(&f->sn.str, &result->token, now + ttl,
                                       0, local, saved);
        f->local_lock = 0;

        ngx_http_cometchat_flight_unlock(f);
        ngx_http_cometchat_flight_finish(f, NGX_HTTP_COMETCHAT_TOKEN_MINTED,
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

        ngx_http_cometchat_local_store(&f->sn.str, NULL, 0,
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

    ngx_http_cometchat_flight_unlock(f);
    ngx_http_cometchat_flight_finish(f, NGX_HTTP_COMETCHAT_TOKEN_ERROR,
                                     NGX_HTTP_COMETCHAT_PART_COMETCHAT, NULL);
}


static void
ngx_http_cometchat_flight_unlock(ngx_http_cometchat_flight_t *f)
{
    ngx_str_t  args[5];

    if (f->local_lock) {
        f->local_lock = 0;
        ngx_http_cometchat_local_unlock(&f->sn.str);
    }

    if (!f->redis_lock) {
        return;
    }

    f->redis_lock = 0;

    /* if the lock expired and another took it, it is not ours to delete */

    ngx_str_set(&args[0], "EVAL");
    args[1] = ngx_http_cometchat_unlock_script;
    ngx_str_set(&args[2], "1");
    args[3] = f->lock_key;
    args[4] = f->lock_value;

    (void) ngx_http_cometchat_token_redis(NULL, NULL, 5, args);
}


static void
ngx_http_cometchat_flight_finish(ngx_http_cometchat_flight_t *f,
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
ngx_http_cometchat_flight_wake_handler(ngx_event_t *ev)
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

    ngx_http_cometchat_flight_stop(f);

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
                ngx_http_cometchat_stat_inc(
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
        ngx_http_cometchat_stat_add(NGX_HTTP_COMETCHAT_STAT_CACHE_HITS, hits);
    }

    if (f->token.data) {
        ngx_free(f->token.data);
    }

    ngx_free(f);
}


/* cancels whatever the flight still waits for */

static void
ngx_http_cometchat_flight_stop(ngx_http_cometchat_flight_t *f)
{
    if (f->cmd) {
        ngx_http_cometchat_redis_cancel(f->cmd);
        f->cmd = NULL;
    }

    if (f->mint) {
        ngx_http_cometchat_mint_cancel(f->mint);
        f->mint = NULL;
    }

    if (f->poll_ev.timer_set) {
        ngx_del_timer(&f->poll_ev);
    }

    if (f->wake_ev.posted) {
        ngx_delete_posted_event(&f->wake_ev);
    }
}


static void
ngx_http_cometchat_flight_redis_error(ngx_http_cometchat_flight_t *f,
    const char *what)
{
    if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS)) {
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
    size_t       argvlen[6];
    const char  *argv[6];

    if (argc > 6) {
        return NULL;
    }

    for (i = 0; i < argc; i++) {
        argv[i] = (const char *) args[i].data;
        argvlen[i] = args[i].len;
    }

    if (f == NULL) {
        return ngx_http_cometchat_redis_command(
                   ngx_http_cometchat_redis_ignore, NULL, ngx_cycle->log,
                   argc, argv, argvlen);
    }

    f->cmd = ngx_http_cometchat_redis_command(h, f, f->log, argc, argv,
                                              argvlen);

    return f->cmd;
}


static void
ngx_http_cometchat_redis_ignore(void *data, ngx_int_t rc, ngx_str_t *value)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat token: redis write done: %i", rc);
}
