
/*
 * The per-host token cache: a shared zone ("cometchat_tokens", 1 MiB,
 * least recently used entries go first when full) with one node per
 * (app id, uid).  A node keeps a token with its real expiry, how long it
 * may answer without Redis, whether Redis has had it, a 429 answer's
 * Retry-After, and a "minting" marker that plays the lock when there is
 * no Redis.  The flights in ngx_http_cometchat_token.c decide when to use
 * it; this file only keeps it.  A reload keeps the zone.
 *
 * Next to the token, a node keeps the profile fingerprint last sent to
 * CometChat for that user and an "updating" marker, for
 * ngx_http_cometchat_profile.c: a hit compares the profile in memory.
 */


#include "ngx_http_cometchat_cache.h"


#define NGX_HTTP_COMETCHAT_CACHE_SIZE         (1024 * 1024)
#define NGX_HTTP_COMETCHAT_CACHE_ROOM         64


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   lru;
} ngx_http_cometchat_cache_sh_t;


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
    ngx_msec_t                    profiling;  /* update marker until */
    u_char                        profile[NGX_HTTP_COMETCHAT_PROFILE_LEN];
    size_t                        room;
    ngx_str_t                     token;
    u_char                        data[1];
} ngx_http_cometchat_cache_node_t;


static ngx_int_t ngx_http_cometchat_cache_init_shm(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_cometchat_cache_sh_t *ngx_http_cometchat_cache_shared(
    ngx_slab_pool_t **shpool);
static ngx_http_cometchat_cache_node_t *ngx_http_cometchat_cache_find(
    ngx_http_cometchat_cache_sh_t *sh, ngx_str_t *key, uint32_t hash);
static ngx_http_cometchat_cache_node_t *ngx_http_cometchat_cache_get(
    ngx_http_cometchat_cache_sh_t *sh, ngx_slab_pool_t *shpool,
    ngx_str_t *key, size_t room);
static void ngx_http_cometchat_cache_expire(
    ngx_http_cometchat_cache_sh_t *sh, ngx_slab_pool_t *shpool,
    ngx_uint_t force);
static void ngx_http_cometchat_cache_free(ngx_http_cometchat_cache_sh_t *sh,
    ngx_slab_pool_t *shpool, ngx_http_cometchat_cache_node_t *tn);



static ngx_str_t  ngx_http_cometchat_cache_zone_name =
    ngx_string("cometchat_tokens");

/* the zone as found in the current cycle, per process */
static ngx_cycle_t                      *ngx_http_cometchat_cache_cycle;
static ngx_shm_zone_t                   *ngx_http_cometchat_cache_zone;

ngx_int_t
ngx_http_cometchat_cache_init_zone(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf)
{
    ngx_shm_zone_t  *shm_zone;

    if (!cmcf->enabled) {
        return NGX_OK;
    }

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_cometchat_cache_zone_name,
                                     NGX_HTTP_COMETCHAT_CACHE_SIZE,
                                     &ngx_http_cometchat_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_cometchat_cache_init_shm;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_cache_init_shm(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t                 *shpool;
    ngx_http_cometchat_cache_sh_t   *sh;

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

    sh = ngx_slab_alloc(shpool, sizeof(ngx_http_cometchat_cache_sh_t));
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

static ngx_http_cometchat_cache_sh_t *
ngx_http_cometchat_cache_shared(ngx_slab_pool_t **shpool)
{
    ngx_uint_t       i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *zone;

    if (ngx_http_cometchat_cache_cycle != ngx_cycle) {
        ngx_http_cometchat_cache_cycle = (ngx_cycle_t *) ngx_cycle;
        ngx_http_cometchat_cache_zone = NULL;

        part = &ngx_http_cometchat_cache_cycle->shared_memory.part;
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
                   == ngx_http_cometchat_cache_zone_name.len
                && ngx_strncmp(zone[i].shm.name.data,
                               ngx_http_cometchat_cache_zone_name.data,
                               zone[i].shm.name.len)
                   == 0)
            {
                ngx_http_cometchat_cache_zone = &zone[i];
                break;
            }
        }
    }

    if (ngx_http_cometchat_cache_zone == NULL
        || ngx_http_cometchat_cache_zone->data == NULL)
    {
        return NULL;
    }

    *shpool = (ngx_slab_pool_t *) ngx_http_cometchat_cache_zone->shm.addr;

    return ngx_http_cometchat_cache_zone->data;
}


static ngx_http_cometchat_cache_node_t *
ngx_http_cometchat_cache_find(ngx_http_cometchat_cache_sh_t *sh,
    ngx_str_t *key, uint32_t hash)
{
    ngx_str_node_t                    *sn;
    ngx_http_cometchat_cache_node_t   *tn;

    sn = ngx_str_rbtree_lookup(&sh->rbtree, key, hash);

    if (sn == NULL) {
        return NULL;
    }

    tn = (ngx_http_cometchat_cache_node_t *) sn;

    ngx_queue_remove(&tn->queue);
    ngx_queue_insert_head(&sh->lru, &tn->queue);

    return tn;
}


/* the node for key, created when missing; the shpool mutex is held */

static ngx_http_cometchat_cache_node_t *
ngx_http_cometchat_cache_get(ngx_http_cometchat_cache_sh_t *sh,
    ngx_slab_pool_t *shpool, ngx_str_t *key, size_t room)
{
    size_t                             size;
    u_char                             profile[NGX_HTTP_COMETCHAT_PROFILE_LEN];
    time_t                             expire, retry;
    uint32_t                           hash;
    ngx_msec_t                         minting, profiling;
    ngx_http_cometchat_cache_node_t   *tn;

    hash = ngx_crc32_short(key->data, key->len);

    tn = ngx_http_cometchat_cache_find(sh, key, hash);

    expire = 0;
    retry = 0;
    minting = ngx_current_msec;
    profiling = ngx_current_msec;
    profile[0] = '\0';

    if (tn) {
        if (tn->room >= room) {
            return tn;
        }

        /* a longer token than the node holds: the caller replaces it */

        expire = tn->expire;
        retry = tn->retry;
        minting = tn->minting;
        profiling = tn->profiling;
        ngx_memcpy(profile, tn->profile, NGX_HTTP_COMETCHAT_PROFILE_LEN);

        ngx_http_cometchat_cache_free(sh, shpool, tn);
    }

    if (room < NGX_HTTP_COMETCHAT_CACHE_ROOM) {
        room = NGX_HTTP_COMETCHAT_CACHE_ROOM;
    }

    ngx_http_cometchat_cache_expire(sh, shpool, 0);

    size = offsetof(ngx_http_cometchat_cache_node_t, data) + key->len + room;

    tn = ngx_slab_alloc_locked(shpool, size);

    if (tn == NULL) {
        /* full: the least recently used entries go first */
        ngx_http_cometchat_cache_expire(sh, shpool, 1);

        tn = ngx_slab_alloc_locked(shpool, size);

        if (tn == NULL) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "the \"%V\" zone is full",
                          &ngx_http_cometchat_cache_zone_name);
            return NULL;
        }
    }

    ngx_memzero(tn, offsetof(ngx_http_cometchat_cache_node_t, data));

    ngx_memcpy(tn->data, key->data, key->len);

    tn->sn.node.key = hash;
    tn->sn.str.len = key->len;
    tn->sn.str.data = tn->data;
    tn->room = room;
    tn->token.data = tn->data + key->len;
    tn->expire = expire;
    tn->retry = retry;
    tn->minting = minting;
    tn->profiling = profiling;
    ngx_memcpy(tn->profile, profile, NGX_HTTP_COMETCHAT_PROFILE_LEN);

    ngx_rbtree_insert(&sh->rbtree, &tn->sn.node);
    ngx_queue_insert_head(&sh->lru, &tn->queue);

    return tn;
}


/*
 * force == 0 deletes up to two dead entries from the tail,
 * force == 1 also deletes the least recently used live entry
 */

static void
ngx_http_cometchat_cache_expire(ngx_http_cometchat_cache_sh_t *sh,
    ngx_slab_pool_t *shpool, ngx_uint_t force)
{
    time_t                             now;
    ngx_uint_t                         n;
    ngx_queue_t                       *q;
    ngx_http_cometchat_cache_node_t   *tn;

    now = ngx_time();

    for (n = 0; n < 3; n++) {

        if (ngx_queue_empty(&sh->lru)) {
            return;
        }

        q = ngx_queue_last(&sh->lru);
        tn = ngx_queue_data(q, ngx_http_cometchat_cache_node_t, queue);

        if (tn->expire > now || tn->retry > now
            || (ngx_msec_int_t) (tn->minting - ngx_current_msec) > 0
            || (ngx_msec_int_t) (tn->profiling - ngx_current_msec) > 0)
        {
            if (!force) {
                return;
            }

            force = 0;
        }

        ngx_http_cometchat_cache_free(sh, shpool, tn);
    }
}


static void
ngx_http_cometchat_cache_free(ngx_http_cometchat_cache_sh_t *sh,
    ngx_slab_pool_t *shpool, ngx_http_cometchat_cache_node_t *tn)
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

ngx_uint_t
ngx_http_cometchat_cache_lookup(ngx_str_t *key, ngx_str_t *token,
    time_t *expire, ngx_msec_t lock, ngx_uint_t own)
{
    time_t                             now;
    ngx_uint_t                         rc;
    ngx_slab_pool_t                   *shpool;
    ngx_http_cometchat_cache_sh_t     *sh;
    ngx_http_cometchat_cache_node_t   *tn;

    sh = ngx_http_cometchat_cache_shared(&shpool);

    if (sh == NULL) {
        return lock ? NGX_HTTP_COMETCHAT_CACHE_LOCKED
                    : NGX_HTTP_COMETCHAT_CACHE_NONE;
    }

    now = ngx_time();
    rc = NGX_HTTP_COMETCHAT_CACHE_NONE;

    ngx_shmtx_lock(&shpool->mutex);

    tn = ngx_http_cometchat_cache_find(sh, key,
                                        ngx_crc32_short(key->data, key->len));

    if (tn && tn->expire > now && tn->token.len
        && tn->token.len <= NGX_HTTP_COMETCHAT_TOKEN_MAX
        && !(own && tn->in_redis))
    {
        ngx_memcpy(token->data, tn->token.data, tn->token.len);
        token->len = tn->token.len;
        *expire = tn->expire;
        rc = (tn->local > now) ? NGX_HTTP_COMETCHAT_CACHE_FRESH
                               : NGX_HTTP_COMETCHAT_CACHE_TOKEN;
        goto done;
    }

    if (tn && tn->retry > now) {
        *expire = tn->retry;
        rc = NGX_HTTP_COMETCHAT_CACHE_RETRY;
        goto done;
    }

    if (!lock) {
        goto done;
    }

    if (tn && (ngx_msec_int_t) (tn->minting - ngx_current_msec) > 0) {
        rc = NGX_HTTP_COMETCHAT_CACHE_BUSY;
        goto done;
    }

    if (tn == NULL) {
        tn = ngx_http_cometchat_cache_get(sh, shpool, key, 0);
    }

    if (tn) {
        tn->minting = ngx_current_msec + lock;
    }

    /* no room for a marker: mint anyway, chat keeps working */

    rc = NGX_HTTP_COMETCHAT_CACHE_LOCKED;

done:

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


/* stores a token (token != NULL) or a 429 entry, and drops the marker */

void
ngx_http_cometchat_cache_store(ngx_str_t *key, ngx_str_t *token,
    time_t expire, time_t retry, time_t local, ngx_uint_t in_redis)
{
    ngx_slab_pool_t                   *shpool;
    ngx_http_cometchat_cache_sh_t     *sh;
    ngx_http_cometchat_cache_node_t   *tn;

    if (token && token->len > NGX_HTTP_COMETCHAT_TOKEN_MAX) {
        ngx_http_cometchat_cache_unlock(key);
        return;
    }

    sh = ngx_http_cometchat_cache_shared(&shpool);

    if (sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    tn = ngx_http_cometchat_cache_get(sh, shpool, key,
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

void
ngx_http_cometchat_cache_copy(ngx_str_t *key, ngx_str_t *token,
    time_t local)
{
    ngx_slab_pool_t                   *shpool;
    ngx_http_cometchat_cache_sh_t     *sh;
    ngx_http_cometchat_cache_node_t   *tn;

    if (local == 0 || token->len > NGX_HTTP_COMETCHAT_TOKEN_MAX) {
        return;
    }

    sh = ngx_http_cometchat_cache_shared(&shpool);

    if (sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    tn = ngx_http_cometchat_cache_get(sh, shpool, key, token->len);

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

time_t
ngx_http_cometchat_cache_until(ngx_http_cometchat_loc_conf_t *lcf,
    time_t now)
{
    time_t  ttl;

    ttl = ngx_min(lcf->token_local_ttl, lcf->token_ttl);

    return (ttl > 0) ? now + ttl : 0;
}


void
ngx_http_cometchat_cache_unlock(ngx_str_t *key)
{
    ngx_slab_pool_t                   *shpool;
    ngx_http_cometchat_cache_sh_t     *sh;
    ngx_http_cometchat_cache_node_t   *tn;

    sh = ngx_http_cometchat_cache_shared(&shpool);

    if (sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    tn = ngx_http_cometchat_cache_find(sh, key,
                                        ngx_crc32_short(key->data, key->len));
    if (tn) {
        tn->minting = ngx_current_msec;
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * The profile fingerprint kept for key, copied into fp->data
 * (NGX_HTTP_COMETCHAT_PROFILE_LEN bytes); fp->len is 0 when there is none.
 */

void
ngx_http_cometchat_cache_profile(ngx_str_t *key, ngx_str_t *fp)
{
    ngx_slab_pool_t                   *shpool;
    ngx_http_cometchat_cache_sh_t     *sh;
    ngx_http_cometchat_cache_node_t   *tn;

    fp->len = 0;

    sh = ngx_http_cometchat_cache_shared(&shpool);

    if (sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    tn = ngx_http_cometchat_cache_find(sh, key,
                                        ngx_crc32_short(key->data, key->len));

    if (tn && tn->profile[0]) {
        ngx_memcpy(fp->data, tn->profile, NGX_HTTP_COMETCHAT_PROFILE_LEN);
        fp->len = NGX_HTTP_COMETCHAT_PROFILE_LEN;
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * Before a profile update without Redis: RETRY while a 429 runs, SAME when
 * fp is what was last sent, BUSY while another worker updates, else takes
 * the marker for lock milliseconds: LOCKED.
 */

ngx_uint_t
ngx_http_cometchat_cache_profile_lock(ngx_str_t *key, ngx_str_t *fp,
    ngx_msec_t lock)
{
    ngx_uint_t                         rc;
    ngx_slab_pool_t                   *shpool;
    ngx_http_cometchat_cache_sh_t     *sh;
    ngx_http_cometchat_cache_node_t   *tn;

    sh = ngx_http_cometchat_cache_shared(&shpool);

    if (sh == NULL) {
        return NGX_HTTP_COMETCHAT_CACHE_LOCKED;
    }

    ngx_shmtx_lock(&shpool->mutex);

    tn = ngx_http_cometchat_cache_get(sh, shpool, key, 0);

    if (tn == NULL) {
        /* no room for a marker: update anyway */
        rc = NGX_HTTP_COMETCHAT_CACHE_LOCKED;

    } else if (tn->retry > ngx_time()) {
        rc = NGX_HTTP_COMETCHAT_CACHE_RETRY;

    } else if (fp->len == NGX_HTTP_COMETCHAT_PROFILE_LEN
               && ngx_memcmp(tn->profile, fp->data, fp->len) == 0)
    {
        rc = NGX_HTTP_COMETCHAT_CACHE_SAME;

    } else if ((ngx_msec_int_t) (tn->profiling - ngx_current_msec) > 0) {
        rc = NGX_HTTP_COMETCHAT_CACHE_BUSY;

    } else {
        tn->profiling = ngx_current_msec + lock;
        rc = NGX_HTTP_COMETCHAT_CACHE_LOCKED;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


/*
 * Stores the fingerprint last sent (fp != NULL) and drops the update
 * marker; or keeps a 429's Retry-After (retry != 0) for the user, as a
 * mint's 429 is kept: no CometChat call for that user until then.  A
 * failure stores neither: the marker stays until it expires, and the
 * update is retried after that.
 */

void
ngx_http_cometchat_cache_profile_store(ngx_str_t *key, ngx_str_t *fp,
    time_t retry)
{
    ngx_slab_pool_t                   *shpool;
    ngx_http_cometchat_cache_sh_t     *sh;
    ngx_http_cometchat_cache_node_t   *tn;

    if (fp && fp->len != NGX_HTTP_COMETCHAT_PROFILE_LEN) {
        return;
    }

    sh = ngx_http_cometchat_cache_shared(&shpool);

    if (sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    tn = ngx_http_cometchat_cache_get(sh, shpool, key, 0);

    if (tn) {
        if (fp) {
            ngx_memcpy(tn->profile, fp->data, fp->len);
            tn->profiling = ngx_current_msec;
        }

        if (retry) {
            tn->retry = retry;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}
