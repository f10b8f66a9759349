
/*
 * Outbound limits on CometChat calls, per host, in a shared zone of their
 * own ("cometchat_quota"):
 *
 *   - the app's pause: CometChat counts its rate limit per app, so after
 *     a 429 no worker calls it for that app until Retry-After has passed.
 *     The pause-until time is kept here per app id, and in Redis
 *     ("cometchat:APP_ID:pause", PX the pause) for the other hosts, which
 *     read it with the lookup a new user makes anyway (token.c's MGET,
 *     profile.c's lock script); a cached user's page never looks at it;
 *   - a cap on calls in flight (cometchat_api_max_concurrent): a flood of
 *     new users must not open unbounded connections and memory.  A mint
 *     holds one place for all its calls, which run one after another.
 *     Each worker counts its own places in a slot of its own (by
 *     ngx_process_slot, which a respawned worker takes over and clears),
 *     next to their sum: a worker that dies with calls in flight leaks
 *     nothing for long.  When the cap is reached, the slots of processes
 *     that no longer exist are cleared before a call is refused, which
 *     also covers an old worker that died during a reload.
 *
 * Both refuse at once: the page is served without the widget, and the
 * refusals are counted for cometchat_status.
 */


#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_quota.h"


#define NGX_HTTP_COMETCHAT_QUOTA_ZONE_SIZE  (16 * ngx_pagesize)
#define NGX_HTTP_COMETCHAT_QUOTA_APPS       16
#define NGX_HTTP_COMETCHAT_QUOTA_APP_MAX    64


typedef struct {
    time_t                        until;
    size_t                        len;
    u_char                        app[NGX_HTTP_COMETCHAT_QUOTA_APP_MAX];
} ngx_http_cometchat_quota_pause_t;


typedef struct {
    ngx_pid_t                     pid;
    ngx_uint_t                    calls;
} ngx_http_cometchat_quota_slot_t;


typedef struct {
    ngx_atomic_t                  paused;     /* calls refused: a pause */
    ngx_atomic_t                  full;       /* calls refused: the cap */
    ngx_uint_t                    calls;      /* sum of the slots */
    ngx_http_cometchat_quota_pause_t  apps[NGX_HTTP_COMETCHAT_QUOTA_APPS];
    ngx_http_cometchat_quota_slot_t   slots[NGX_MAX_PROCESSES];
} ngx_http_cometchat_quota_sh_t;


static ngx_int_t ngx_http_cometchat_quota_init_shm(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_cometchat_quota_slot_t *ngx_http_cometchat_quota_slot(void);
static void ngx_http_cometchat_quota_clear(
    ngx_http_cometchat_quota_slot_t *slot);
static ngx_uint_t ngx_http_cometchat_quota_reap(void);
static time_t ngx_http_cometchat_quota_until(ngx_str_t *app_id);


static ngx_str_t  ngx_http_cometchat_quota_zone_name =
    ngx_string("cometchat_quota");

static ngx_http_cometchat_quota_sh_t  *ngx_http_cometchat_quota_sh;
static ngx_slab_pool_t                *ngx_http_cometchat_quota_shpool;
static ngx_uint_t                      ngx_http_cometchat_quota_max;


ngx_int_t
ngx_http_cometchat_quota_init_zone(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf)
{
    ngx_shm_zone_t  *shm_zone;

    ngx_http_cometchat_quota_max = cmcf->api_max_concurrent;

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_cometchat_quota_zone_name,
                                     NGX_HTTP_COMETCHAT_QUOTA_ZONE_SIZE,
                                     &ngx_http_cometchat_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_cometchat_quota_init_shm;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_quota_init_shm(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t                *shpool;
    ngx_http_cometchat_quota_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data) {
        /* a reload keeps the pauses and the calls in flight */
        shm_zone->data = data;
        sh = data;

    } else if (shm_zone->shm.exists) {
        sh = shpool->data;
        shm_zone->data = sh;

    } else {
        sh = ngx_slab_calloc(shpool, sizeof(ngx_http_cometchat_quota_sh_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        shpool->data = sh;
        shm_zone->data = sh;
    }

    ngx_http_cometchat_quota_sh = sh;
    ngx_http_cometchat_quota_shpool = shpool;

    return NGX_OK;
}


/* a respawned worker clears what the one it replaces left behind */

void
ngx_http_cometchat_quota_init_process(ngx_cycle_t *cycle)
{
    ngx_http_cometchat_quota_slot_t  *slot;

    slot = ngx_http_cometchat_quota_slot();

    if (slot == NULL) {
        return;
    }

    ngx_shmtx_lock(&ngx_http_cometchat_quota_shpool->mutex);

    ngx_http_cometchat_quota_clear(slot);
    slot->pid = ngx_pid;

    ngx_shmtx_unlock(&ngx_http_cometchat_quota_shpool->mutex);
}


/* the calls still in flight die with the worker */

void
ngx_http_cometchat_quota_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_cometchat_quota_slot_t  *slot;

    slot = ngx_http_cometchat_quota_slot();

    if (slot == NULL) {
        return;
    }

    ngx_shmtx_lock(&ngx_http_cometchat_quota_shpool->mutex);

    ngx_http_cometchat_quota_clear(slot);
    slot->pid = 0;

    ngx_shmtx_unlock(&ngx_http_cometchat_quota_shpool->mutex);
}


/*
 * Before a CometChat call for app_id: NGX_BUSY while the app is paused
 * (*until: the end of the pause), else, with take, NGX_DECLINED when the
 * host has cometchat_api_max_concurrent calls in flight, or NGX_OK with a
 * place taken, to be given back with ngx_http_cometchat_quota_leave().
 */

ngx_int_t
ngx_http_cometchat_quota_enter(ngx_str_t *app_id, time_t *until,
    ngx_uint_t take)
{
    ngx_int_t                         rc;
    ngx_http_cometchat_quota_sh_t    *sh;
    ngx_http_cometchat_quota_slot_t  *slot;

    sh = ngx_http_cometchat_quota_sh;

    if (sh == NULL) {
        return NGX_OK;
    }

    *until = ngx_http_cometchat_quota_until(app_id);

    if (*until) {
        (void) ngx_atomic_fetch_add(&sh->paused, 1);
        return NGX_BUSY;
    }

    if (!take) {
        return NGX_OK;
    }

    slot = ngx_http_cometchat_quota_slot();

    if (slot == NULL) {
        return NGX_OK;
    }

    rc = NGX_OK;

    ngx_shmtx_lock(&ngx_http_cometchat_quota_shpool->mutex);

    if (sh->calls >= ngx_http_cometchat_quota_max
        && ngx_http_cometchat_quota_reap() == 0)
    {
        rc = NGX_DECLINED;

    } else {
        sh->calls++;
        slot->calls++;
        slot->pid = ngx_pid;
    }

    ngx_shmtx_unlock(&ngx_http_cometchat_quota_shpool->mutex);

    if (rc == NGX_DECLINED) {
        (void) ngx_atomic_fetch_add(&sh->full, 1);
    }

    return rc;
}


void
ngx_http_cometchat_quota_leave(void)
{
    ngx_http_cometchat_quota_slot_t  *slot;

    slot = ngx_http_cometchat_quota_slot();

    if (slot == NULL) {
        return;
    }

    ngx_shmtx_lock(&ngx_http_cometchat_quota_shpool->mutex);

    /* nothing to give back after the slot was cleared */

    if (slot->calls) {
        slot->calls--;

        if (ngx_http_cometchat_quota_sh->calls) {
            ngx_http_cometchat_quota_sh->calls--;
        }
    }

    ngx_shmtx_unlock(&ngx_http_cometchat_quota_shpool->mutex);
}


/*
 * A 429 for app_id: no call for it from this host until "until".  The
 * other hosts learn of it from "cometchat:APP_ID:pause", which the flights
 * (token.c, profile.c) write and read with the commands they send anyway.
 * A pause only ever grows: an older, shorter Retry-After read later does
 * not end it early.
 */

void
ngx_http_cometchat_quota_pause(ngx_str_t *app_id, time_t until)
{
    time_t                             now;
    ngx_uint_t                         i;
    ngx_http_cometchat_quota_sh_t     *sh;
    ngx_http_cometchat_quota_pause_t  *ap, *old;

    sh = ngx_http_cometchat_quota_sh;
    now = ngx_time();

    if (sh == NULL || until <= now
        || app_id->len > NGX_HTTP_COMETCHAT_QUOTA_APP_MAX)
    {
        return;
    }

    ngx_shmtx_lock(&ngx_http_cometchat_quota_shpool->mutex);

    ap = NULL;
    old = &sh->apps[0];

    for (i = 0; i < NGX_HTTP_COMETCHAT_QUOTA_APPS; i++) {
        if (sh->apps[i].len == app_id->len
            && ngx_memcmp(sh->apps[i].app, app_id->data, app_id->len) == 0)
        {
            ap = &sh->apps[i];
            break;
        }

        if (sh->apps[i].until < old->until) {
            old = &sh->apps[i];
        }
    }

    if (ap == NULL) {
        /* the pause that ends first makes room, ended ones first */
        ap = old;
        ap->until = 0;
        ap->len = app_id->len;
        ngx_memcpy(ap->app, app_id->data, app_id->len);
    }

    if (ap->until < until) {
        ap->until = until;
    }

    ngx_shmtx_unlock(&ngx_http_cometchat_quota_shpool->mutex);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat quota: app \"%V\" paused for %T s",
                   app_id, until - now);
}


/*
 * Before a new user's mint: the pause read from Redis with the lookup
 * (shared: the value of "cometchat:APP_ID:pause", data NULL for none) is
 * kept here, and 1 is returned while the app is paused: the call that
 * would have been made is counted and skipped.
 */

ngx_uint_t
ngx_http_cometchat_quota_skip(ngx_str_t *app_id, ngx_str_t *shared,
    ngx_log_t *log)
{
    time_t  until;

    if (shared && shared->data && shared->len) {
        until = ngx_atotm(shared->data, shared->len);

        if (until != NGX_ERROR) {
            ngx_http_cometchat_quota_pause(app_id, until);
        }
    }

    if (ngx_http_cometchat_quota_enter(app_id, &until, 0) != NGX_BUSY) {
        return 0;
    }

    if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_LOG_RATE_LIMIT)) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "CometChat calls for app \"%V\" paused for %T s "
                      "after a 429; no token minted",
                      app_id, until - ngx_time());
    }

    return 1;
}


/*
 * cometchat_status lines; with p == NULL only their length.  The pause
 * shown is the longest one still running on this host, of any app.
 */

size_t
ngx_http_cometchat_quota_metrics(u_char *p)
{
    time_t                          now, left;
    ngx_uint_t                      i, calls;
    ngx_atomic_int_t                paused, full;
    ngx_http_cometchat_quota_sh_t  *sh;

    static u_char  text[] =
        "# HELP cometchat_api_paused_seconds Seconds left of a pause of "
        "CometChat calls after a 429 (the longest, of any app).\n"
        "# TYPE cometchat_api_paused_seconds gauge\n"
        "cometchat_api_paused_seconds %T\n"
        "# HELP cometchat_api_in_flight CometChat calls (mints, profile "
        "updates) in flight on this host.\n"
        "# TYPE cometchat_api_in_flight gauge\n"
        "cometchat_api_in_flight %ui\n"
        "# HELP cometchat_api_calls_rejected_total CometChat calls not "
        "made, by reason.\n"
        "# TYPE cometchat_api_calls_rejected_total counter\n"
        "cometchat_api_calls_rejected_total{reason=\"paused\"} %A\n"
        "cometchat_api_calls_rejected_total{reason=\"concurrency\"} %A\n";

    if (p == NULL) {
        return sizeof(text) + NGX_TIME_T_LEN + 3 * NGX_ATOMIC_T_LEN;
    }

    sh = ngx_http_cometchat_quota_sh;
    left = 0;
    calls = 0;
    paused = 0;
    full = 0;

    if (sh) {
        now = ngx_time();

        ngx_shmtx_lock(&ngx_http_cometchat_quota_shpool->mutex);

        for (i = 0; i < NGX_HTTP_COMETCHAT_QUOTA_APPS; i++) {
            if (sh->apps[i].until - now > left) {
                left = sh->apps[i].until - now;
            }
        }

        calls = sh->calls;

        ngx_shmtx_unlock(&ngx_http_cometchat_quota_shpool->mutex);

        paused = (ngx_atomic_int_t) sh->paused;
        full = (ngx_atomic_int_t) sh->full;
    }

    return ngx_sprintf(p, (char *) text, left, calls, paused, full) - p;
}


static ngx_http_cometchat_quota_slot_t *
ngx_http_cometchat_quota_slot(void)
{
    if (ngx_http_cometchat_quota_sh == NULL
        || ngx_process_slot < 0 || ngx_process_slot >= NGX_MAX_PROCESSES)
    {
        return NULL;
    }

    return &ngx_http_cometchat_quota_sh->slots[ngx_process_slot];
}


/* the mutex is held */

static void
ngx_http_cometchat_quota_clear(ngx_http_cometchat_quota_slot_t *slot)
{
    ngx_http_cometchat_quota_sh_t  *sh;

    sh = ngx_http_cometchat_quota_sh;

    sh->calls = (sh->calls > slot->calls) ? sh->calls - slot->calls : 0;
    slot->calls = 0;
}


/* the mutex is held; the places of dead processes, given back */

static ngx_uint_t
ngx_http_cometchat_quota_reap(void)
{
    ngx_pid_t                         pid;
    ngx_uint_t                        i, n;
    ngx_http_cometchat_quota_slot_t  *slot;

    n = 0;

    for (i = 0; i < NGX_MAX_PROCESSES; i++) {
        slot = &ngx_http_cometchat_quota_sh->slots[i];
        pid = slot->pid;

        if (slot->calls == 0 || pid == ngx_pid) {
            continue;
        }

        if (pid == 0 || (kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH)) {
            n += slot->calls;
            ngx_http_cometchat_quota_clear(slot);
            slot->pid = 0;
        }
    }

    if (n) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "%ui CometChat calls of exited workers given back",
                      n);
    }

    return n;
}


/* the end of app_id's pause, 0 when it is not paused */

static time_t
ngx_http_cometchat_quota_until(ngx_str_t *app_id)
{
    time_t                          until, now;
    ngx_uint_t                      i;
    ngx_http_cometchat_quota_sh_t  *sh;

    sh = ngx_http_cometchat_quota_sh;
    now = ngx_time();
    until = 0;

    ngx_shmtx_lock(&ngx_http_cometchat_quota_shpool->mutex);

    for (i = 0; i < NGX_HTTP_COMETCHAT_QUOTA_APPS; i++) {
        if (sh->apps[i].until > now
            && sh->apps[i].len == app_id->len
            && ngx_memcmp(sh->apps[i].app, app_id->data, app_id->len) == 0)
        {
            until = sh->apps[i].until;
            break;
        }
    }

    ngx_shmtx_unlock(&ngx_http_cometchat_quota_shpool->mutex);

    return until;
}
