
/*
 * ngx_http_cometchat_module: hiredis async on nginx events.
 *
 * One connection per worker, opened in init_process and kept open: every
 * command of the worker is pipelined on it.  hiredis 0.14.1 has no timers,
 * so connect and command limits are nginx timers here; on any timeout or
 * error the connection is dropped (hiredis then calls every pending
 * callback with a NULL reply) and reopened with a growing delay.  From
 * the error until Redis answers again, ngx_http_cometchat_redis_command()
 * fails at once so that callers fall back without waiting; commands given
 * while the first connection of the worker is being opened are queued.
 *
 * Unless cancelled, the handler of a command that was accepted (not NULL)
 * is called exactly once, never from inside the call that gave it; the
 * command is freed right after, so its pointer must be forgotten then.
 * For an error reply, value holds Redis' message; for a timeout or a lost
 * connection, value is NULL.  "Ready" means Redis answered the connection's
 * AUTH/SELECT (or PING).  Handlers are not called when the worker exits.
 * cometchat_redis_timeout is never 0 (refused at configuration time).
 *
 * Where the connection goes is decided again on every (re)connect: with
 * "sentinel=", the sentinels are asked for the master in turn (one short
 * connection each, ngx_http_cometchat_redis_sentinel.c reads the replies)
 * and the master's ROLE is checked before any command goes to it; with a
 * name and an http "resolver", the name is resolved again through nginx's
 * resolver; otherwise the address resolved at configuration time is used.
 * A READONLY or MASTERDOWN reply means the master moved: the connection
 * is dropped and the next one asks again.
 *
 * With "cometchat_redis cluster", ngx_http_cometchat_redis_cluster.c holds
 * the connections instead: the functions here hand the commands over, and
 * ngx_http_cometchat_redis_key() puts the uid in a hash tag.
 *
 * It reads best whole: connect, handshake, up, lost and retry are one
 * state machine over the fields of ngx_http_cometchat_redis_t; the event
 * glue (ngx_http_cometchat_redis_event.c) and the reading of sentinels'
 * replies (ngx_http_cometchat_redis_sentinel.c) are apart.
 */


#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_redis_cluster.h"
#include "ngx_http_cometchat_redis_event.h"
#include "ngx_http_cometchat_redis_sentinel.h"
#include "ngx_http_cometchat_redis.h"


#define NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MAX  5000

/* a failover takes seconds: follow it sooner than a Redis that is down */
#define NGX_HTTP_COMETCHAT_REDIS_BACKOFF_SENTINEL  1000

/* what the connection is for */
#define NGX_HTTP_COMETCHAT_REDIS_DATA      0
#define NGX_HTTP_COMETCHAT_REDIS_SENTINEL  1


struct ngx_http_cometchat_redis_cmd_s {
    ngx_queue_t                          queue;
    ngx_http_cometchat_redis_handler_pt  handler;  /* NULL: cancelled */
    void                                *data;
    ngx_log_t                           *log;
    ngx_msec_t                           deadline;
    u_char                               integer[NGX_INT64_LEN];
    ngx_str_t                            array[NGX_HTTP_COMETCHAT_REDIS_ARRAY];
};


typedef struct {
    /*
     * the timers' ev->data: debug logging reads an fd at this place, as
     * in ngx_connection_t (ngx_resolver_t does the same)
     */
    void                                *data;
    ngx_event_t                         *read;
    ngx_event_t                         *write;
    ngx_socket_t                         fd;

    /* copied from the main conf: a reload must not leave them dangling */
    ngx_str_t                            conf_name;
    ngx_str_t                            db;
    ngx_str_t                            username;
    ngx_str_t                            password;
    ngx_msec_t                           timeout;
    ngx_str_t                            resolve;   /* name to resolve */
    ngx_str_t                            master;    /* sentinel=NAME */
    ngx_str_t                            sentinel_password;

    ngx_http_cometchat_redis_peer_t      peer;      /* the data Redis */
    ngx_http_cometchat_redis_peer_t      last;      /* last one up */
    ngx_http_cometchat_redis_peer_t     *sentinels;
    ngx_uint_t                           nsentinels;
    ngx_uint_t                           sentinel;  /* the one to ask */
    ngx_uint_t                           asked;     /* in this round */

    ngx_resolver_t                      *resolver;  /* NULL: none */
    ngx_msec_t                           resolver_timeout;
    ngx_resolver_ctx_t                  *rctx;      /* resolving */

    ngx_str_t                            name;      /* the peer, for logs */
    size_t                               name_size;

    ngx_uint_t                           phase;     /* DATA, SENTINEL */
    ngx_msec_t                           backoff_max;
    redisAsyncContext                   *ac;        /* NULL: none */
    ngx_uint_t                           up;        /* handshake answered */
    ngx_uint_t                           handshake; /* replies awaited */
    ngx_uint_t                           broken;    /* event add failed */
    ngx_uint_t                           exiting;
    ngx_uint_t                           logged;    /* failure was logged */
    ngx_uint_t                           failing;   /* not up since error */
    ngx_msec_t                           connect_deadline;
    ngx_msec_t                           backoff;

    ngx_queue_t                          cmds;      /* in reply order */
    ngx_uint_t                           live;      /* not cancelled */

    ngx_event_t                          timer;     /* deadlines */
    ngx_event_t                          retry;     /* reconnect */
} ngx_http_cometchat_redis_t;


static u_char *ngx_http_cometchat_redis_copy(ngx_str_t *dst, ngx_str_t *src,
    u_char *p);
static void ngx_http_cometchat_redis_connect(ngx_http_cometchat_redis_t *rd);
static void ngx_http_cometchat_redis_resolve(ngx_http_cometchat_redis_t *rd);
static void ngx_http_cometchat_redis_resolve_handler(ngx_resolver_ctx_t *ctx);
static void ngx_http_cometchat_redis_open(ngx_http_cometchat_redis_t *rd,
    ngx_uint_t phase, ngx_http_cometchat_redis_peer_t *peer);
static void ngx_http_cometchat_redis_handshake(ngx_http_cometchat_redis_t *rd,
    const char *what, int argc, const char **argv, const size_t *argvlen);
static ngx_int_t ngx_http_cometchat_redis_handshake_check(
    ngx_http_cometchat_redis_t *rd, const char *what, redisReply *reply);
static void ngx_http_cometchat_redis_connect_handler(
    const redisAsyncContext *ac, int status);
static void ngx_http_cometchat_redis_handshake_handler(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_cometchat_redis_reply_handler(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_cometchat_redis_up(ngx_http_cometchat_redis_t *rd);
static void ngx_http_cometchat_redis_lost(ngx_http_cometchat_redis_t *rd,
    const char *what, const char *detail);
static void ngx_http_cometchat_redis_close(ngx_http_cometchat_redis_t *rd,
    const char *what, const char *detail);
static void ngx_http_cometchat_redis_schedule_retry(
    ngx_http_cometchat_redis_t *rd);
static void ngx_http_cometchat_redis_arm(ngx_http_cometchat_redis_t *rd);
static void ngx_http_cometchat_redis_timer_handler(ngx_event_t *ev);
static void ngx_http_cometchat_redis_retry_handler(ngx_event_t *ev);
static void ngx_http_cometchat_redis_gone(redisAsyncContext *ac);
static void ngx_http_cometchat_redis_closing(redisAsyncContext *ac);
static void ngx_http_cometchat_redis_broken(redisAsyncContext *ac);


static ngx_http_cometchat_redis_t  *ngx_http_cometchat_redis;

/* "cometchat_redis cluster": ngx_http_cometchat_redis_cluster.c serves */
static ngx_uint_t                   ngx_http_cometchat_redis_cluster_mode;

/* handshake steps whose replies are read, told apart by address */
static const char  ngx_http_cometchat_redis_step_master[] =
    "SENTINEL get-master-addr-by-name on";
static const char  ngx_http_cometchat_redis_step_role[] = "ROLE on";

static ngx_http_cometchat_redis_event_handlers_t
    ngx_http_cometchat_redis_events = {
    ngx_http_cometchat_redis_gone,
    ngx_http_cometchat_redis_closing,
    ngx_http_cometchat_redis_broken
};


ngx_int_t
ngx_http_cometchat_redis_init_process(ngx_cycle_t *cycle)
{
    u_char                          *p;
    size_t                           len;
    ngx_str_t                        host;
    ngx_uint_t                       i;
    ngx_addr_t                      *addr;
    ngx_http_conf_ctx_t             *hctx;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_cometchat_redis_t      *rd;
    ngx_http_cometchat_main_conf_t  *cmcf;

    ngx_http_cometchat_redis = NULL;
    ngx_http_cometchat_redis_cluster_mode = 0;

    /* a respawned worker takes over the slot of the one that died */
    ngx_http_cometchat_status_redis_up(0);

    cmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_cometchat_module);

    if (cmcf == NULL || cmcf->redis_addr == NULL || !cmcf->enabled) {
        return NGX_OK;
    }

    if (cmcf->redis_seeds) {
        if (ngx_http_cometchat_redis_cluster_init(cycle, cmcf) == NGX_OK) {
            ngx_http_cometchat_redis_cluster_mode = 1;
        }

        return NGX_OK;
    }

    i = cmcf->redis_sentinels ? cmcf->redis_sentinels->nelts : 0;

    len = sizeof(ngx_http_cometchat_redis_t)
          + i * sizeof(ngx_http_cometchat_redis_peer_t)
          + cmcf->redis_name.len
          + NGX_INT_T_LEN
          + cmcf->redis_username.len
          + cmcf->redis_password.len
          + cmcf->redis_resolve.len
          + cmcf->redis_master.len
          + cmcf->redis_sentinel_password.len;

    /* "master NAME at ADDRESS", "NAME (ADDRESS)", "sentinel ADDRESS" */
    len += cmcf->redis_name.len + cmcf->redis_master.len
           + NGX_SOCKADDR_STRLEN + sizeof("sentinel master  at  ()");

    /* a worker without Redis still serves pages: never fail the worker */

    rd = ngx_calloc(len, cycle->log);
    if (rd == NULL) {
        return NGX_OK;
    }

    p = (u_char *) rd + sizeof(ngx_http_cometchat_redis_t);

    if (cmcf->redis_sentinels) {
        rd->sentinels = (ngx_http_cometchat_redis_peer_t *) p;
        rd->nsentinels = i;
        p += i * sizeof(ngx_http_cometchat_redis_peer_t);

        addr = cmcf->redis_sentinels->elts;

        for (i = 0; i < rd->nsentinels; i++) {
            len = ngx_sock_ntop(addr[i].sockaddr, addr[i].socklen,
                                (u_char *) rd->sentinels[i].host,
                                NGX_SOCKADDR_STRLEN, 0);
            rd->sentinels[i].host[len] = '\0';
            rd->sentinels[i].port = ngx_inet_get_port(addr[i].sockaddr);
        }

        /* workers start with different sentinels: the load is spread */
        rd->sentinel = ngx_worker % rd->nsentinels;

    } else {
        host.len = ngx_min(cmcf->redis_host.len, NGX_SOCKADDR_STRLEN);
        host.data = cmcf->redis_host.data;

        if (cmcf->redis_port == 0 && cmcf->redis_host.len > host.len) {
            /* a unix path longer than any sockaddr_un can hold */
            ngx_free(rd);
            return NGX_OK;
        }

        ngx_memcpy(rd->peer.host, host.data, host.len);
        rd->peer.port = cmcf->redis_port;
    }

    p = ngx_http_cometchat_redis_copy(&rd->conf_name, &cmcf->redis_name, p);

    if (cmcf->redis_db) {
        rd->db.data = p;
        p = ngx_sprintf(p, "%ui", cmcf->redis_db);
        rd->db.len = p - rd->db.data;
    }

    p = ngx_http_cometchat_redis_copy(&rd->username, &cmcf->redis_username,
                                      p);
    p = ngx_http_cometchat_redis_copy(&rd->password, &cmcf->redis_password,
                                      p);
    p = ngx_http_cometchat_redis_copy(&rd->resolve, &cmcf->redis_resolve, p);
    p = ngx_http_cometchat_redis_copy(&rd->master, &cmcf->redis_master, p);
    p = ngx_http_cometchat_redis_copy(&rd->sentinel_password,
                                      &cmcf->redis_sentinel_password, p);

    rd->name.data = p;
    rd->name_size = cmcf->redis_name.len + cmcf->redis_master.len
                    + NGX_SOCKADDR_STRLEN + sizeof("sentinel master  at  ()");

    rd->name.len = rd->conf_name.len;
    ngx_memcpy(rd->name.data, rd->conf_name.data, rd->conf_name.len);

    /*
     * the resolver of the http block; without a "resolver" directive
     * it has no servers and the name stays as resolved at load
     */

    hctx = (ngx_http_conf_ctx_t *) cycle->conf_ctx[ngx_http_module.index];
    clcf = hctx->loc_conf[ngx_http_core_module.ctx_index];

    if (rd->resolve.len && clcf->resolver
        && clcf->resolver->connections.nelts)
    {
        rd->resolver = clcf->resolver;

        /* set in http{} only if written there: unmerged at this level */
        rd->resolver_timeout = clcf->resolver_timeout == NGX_CONF_UNSET_MSEC
                               ? 30000 : clcf->resolver_timeout;
    }

    rd->timeout = cmcf->redis_timeout;
    rd->fd = (ngx_socket_t) -1;
    rd->backoff = NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MIN;
    rd->backoff_max = rd->nsentinels ? NGX_HTTP_COMETCHAT_REDIS_BACKOFF_SENTINEL
                                     : NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MAX;

    ngx_queue_init(&rd->cmds);

    /* the events' log is set when armed: ngx_cycle may change on reload */

    rd->timer.handler = ngx_http_cometchat_redis_timer_handler;
    rd->timer.data = rd;

    rd->retry.handler = ngx_http_cometchat_redis_retry_handler;
    rd->retry.data = rd;
    rd->retry.cancelable = 1;

    ngx_http_cometchat_redis = rd;

    ngx_http_cometchat_redis_event_init(&ngx_http_cometchat_redis_events);
    ngx_http_cometchat_redis_connect(rd);

    return NGX_OK;
}


static u_char *
ngx_http_cometchat_redis_copy(ngx_str_t *dst, ngx_str_t *src, u_char *p)
{
    if (src->len == 0) {
        return p;
    }

    dst->data = p;
    dst->len = src->len;

    return ngx_cpymem(p, src->data, src->len);
}


void
ngx_http_cometchat_redis_exit_process(ngx_cycle_t *cycle)
{
    int                          done;
    ngx_uint_t                   n;
    redisAsyncContext           *ac;
    ngx_http_cometchat_redis_t  *rd;

    if (ngx_http_cometchat_redis_cluster_mode) {
        ngx_http_cometchat_redis_cluster_exit();
        return;
    }

    rd = ngx_http_cometchat_redis;

    if (rd == NULL) {
        return;
    }

    /* the requests are gone with the worker: no handler is called now */

    rd->exiting = 1;

    if (rd->up) {
        rd->up = 0;
        ngx_http_cometchat_status_redis_up(0);
    }

    if (rd->rctx) {
        ngx_resolve_name_done(rd->rctx);
        rd->rctx = NULL;
    }

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (rd->retry.timer_set) {
        ngx_del_timer(&rd->retry);
    }

    if (rd->ac) {
        ac = rd->ac;
        rd->ac = NULL;

        /*
         * send what is queued (a flight's unlock) before the connection
         * goes: the socket is non-blocking, a few tries at most
         */

        done = 0;

        for (n = 0; n < 3 && !done && (ac->c.flags & REDIS_CONNECTED); n++) {
            if (redisBufferWrite(&ac->c, &done) == REDIS_ERR) {
                break;
            }
        }

        redisAsyncFree(ac);
    }

    ngx_http_cometchat_redis = NULL;

    ngx_free(rd);
}


ngx_flag_t
ngx_http_cometchat_redis_configured(void)
{
    return ngx_http_cometchat_redis != NULL
           || ngx_http_cometchat_redis_cluster_mode;
}


ngx_flag_t
ngx_http_cometchat_redis_ready(void)
{
    if (ngx_http_cometchat_redis_cluster_mode) {
        return ngx_http_cometchat_redis_cluster_ready();
    }

    return ngx_http_cometchat_redis != NULL && ngx_http_cometchat_redis->up;
}


ngx_flag_t
ngx_http_cometchat_redis_one_slot(void)
{
    return ngx_http_cometchat_redis_cluster_mode;
}


/*
 * "cometchat:APP_ID:KIND:UID"; in a cluster "cometchat:APP_ID:KIND:{UID}":
 * the hash tag puts the keys of one user in one slot, as the commands
 * naming several of them (MGET, EVAL) need.  Up to 2 bytes more than the
 * untagged name.  Without a uid, an app-wide key: "cometchat:APP_ID:KIND".
 */

u_char *
ngx_http_cometchat_redis_key(u_char *p, ngx_str_t *app_id, const char *kind,
    ngx_str_t *uid, ngx_str_t *key)
{
    key->data = p;

    if (uid == NULL) {
        p = ngx_sprintf(p, "cometchat:%V:%s", app_id, kind);

    } else if (ngx_http_cometchat_redis_cluster_mode) {
        p = ngx_sprintf(p, "cometchat:%V:%s:{%V}", app_id, kind, uid);

    } else {
        p = ngx_sprintf(p, "cometchat:%V:%s:%V", app_id, kind, uid);
    }

    key->len = p - key->data;

    return p;
}


ngx_http_cometchat_redis_cmd_t *
ngx_http_cometchat_redis_command(ngx_http_cometchat_redis_handler_pt handler,
    void *data, ngx_log_t *log, int argc, const char **argv,
    const size_t *argvlen)
{
    ngx_http_cometchat_redis_t      *rd;
    ngx_http_cometchat_redis_cmd_t  *cmd;

    if (ngx_http_cometchat_redis_cluster_mode) {
        /* a pointer the callers only hand back to cancel */
        return (ngx_http_cometchat_redis_cmd_t *)
                   ngx_http_cometchat_redis_cluster_command(handler, data, log,
                                                    argc, argv, argvlen);
    }

    rd = ngx_http_cometchat_redis;

    /*
     * no connection: backing off after an error, or exiting; and after an
     * error, a reconnect must be answered before commands wait on it
     */

    if (rd == NULL || rd->ac == NULL || rd->exiting || argc < 1
        || (rd->failing && !rd->up)
        || rd->phase != NGX_HTTP_COMETCHAT_REDIS_DATA
        || (rd->nsentinels && !rd->up))
    {
        /* with sentinels, not before ROLE said "master" */
        return NULL;
    }

    /* outlives the request that gives it: freed when the reply comes */

    cmd = ngx_alloc(sizeof(ngx_http_cometchat_redis_cmd_t), log);
    if (cmd == NULL) {
        return NULL;
    }

    cmd->handler = handler;
    cmd->data = data;
    cmd->log = log;
    cmd->deadline = ngx_current_msec + rd->timeout;

    if (redisAsyncCommandArgv(rd->ac, ngx_http_cometchat_redis_reply_handler,
                              cmd, argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, log, 0,
                       "cometchat redis: command not queued");
        ngx_free(cmd);
        return NULL;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "cometchat redis: queued %*s, cmd:%p",
                   argvlen[0], argv[0], cmd);

    ngx_queue_insert_tail(&rd->cmds, &cmd->queue);
    rd->live++;

    ngx_http_cometchat_redis_arm(rd);

    return cmd;
}


void
ngx_http_cometchat_redis_cancel(ngx_http_cometchat_redis_cmd_t *cmd)
{
    ngx_http_cometchat_redis_t  *rd;

    if (ngx_http_cometchat_redis_cluster_mode) {
        ngx_http_cometchat_redis_cluster_cancel(
                              (ngx_http_cometchat_redis_cluster_cmd_t *) cmd);
        return;
    }

    if (cmd == NULL || cmd->handler == NULL) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cmd->log, 0,
                   "cometchat redis: cancel cmd:%p", cmd);

    /* the reply still has to be read: the command stays queued, mute */

    cmd->handler = NULL;
    cmd->data = NULL;
    cmd->log = ngx_cycle->log;

    rd = ngx_http_cometchat_redis;

    if (rd) {
        rd->live--;

        if (rd->live == 0) {
            rd->timer.cancelable = 1;
        }
    }
}


/* where to: asks a sentinel, resolves the name, or goes to the address */

static void
ngx_http_cometchat_redis_connect(ngx_http_cometchat_redis_t *rd)
{
    if (rd->nsentinels) {
        ngx_http_cometchat_redis_open(rd, NGX_HTTP_COMETCHAT_REDIS_SENTINEL,
                                      &rd->sentinels[rd->sentinel]);
        return;
    }

    if (rd->resolver) {
        ngx_http_cometchat_redis_resolve(rd);
        return;
    }

    ngx_http_cometchat_redis_open(rd, NGX_HTTP_COMETCHAT_REDIS_DATA,
                                  &rd->peer);
}


static void
ngx_http_cometchat_redis_resolve(ngx_http_cometchat_redis_t *rd)
{
    ngx_resolver_ctx_t  *ctx;

    ctx = ngx_resolve_start(rd->resolver, NULL);

    if (ctx == NULL || ctx == NGX_NO_RESOLVER) {
        ngx_http_cometchat_redis_open(rd, NGX_HTTP_COMETCHAT_REDIS_DATA,
                                      &rd->peer);
        return;
    }

    ctx->name = rd->resolve;
    ctx->handler = ngx_http_cometchat_redis_resolve_handler;
    ctx->data = rd;
    ctx->timeout = rd->resolver_timeout;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat redis: resolving %V", &rd->resolve);

    rd->rctx = ctx;

    /* the handler may run before this returns, with a cached answer */

    if (ngx_resolve_name(ctx) != NGX_OK) {
        /* ctx is freed */
        rd->rctx = NULL;
        ngx_http_cometchat_redis_open(rd, NGX_HTTP_COMETCHAT_REDIS_DATA,
                                      &rd->peer);
    }
}


static void
ngx_http_cometchat_redis_resolve_handler(ngx_resolver_ctx_t *ctx)
{
    ngx_http_cometchat_redis_t *rd = ctx->data;

    size_t  len;

    rd->rctx = NULL;

    if (ctx->state || ctx->naddrs == 0) {
        /* the last address known is better than none */

        ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_REDIS_ERRORS);

        if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS)) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "redis: \"%V\" could not be resolved (%i: %s), "
                          "using %s", &ctx->name, ctx->state,
                          ngx_resolver_strerror(ctx->state), rd->peer.host);
        }

    } else {
        len = ngx_sock_ntop(ctx->addrs[0].sockaddr, ctx->addrs[0].socklen,
                            (u_char *) rd->peer.host, NGX_SOCKADDR_STRLEN, 0);
        rd->peer.host[len] = '\0';
    }

    ngx_resolve_name_done(ctx);

    if (rd->exiting || rd->ac) {
        return;
    }

    ngx_http_cometchat_redis_open(rd, NGX_HTTP_COMETCHAT_REDIS_DATA,
                                  &rd->peer);
}


static void
ngx_http_cometchat_redis_open(ngx_http_cometchat_redis_t *rd,
    ngx_uint_t phase, ngx_http_cometchat_redis_peer_t *peer)
{
    int                 argc;
    u_char             *p, *last;
    const char         *argv[3];
    size_t              argvlen[3];
    ngx_log_t          *log;
    redisAsyncContext  *ac;

    log = ngx_cycle->log;

    rd->phase = phase;

    /* for the log: which peer, and what it is */

    p = rd->name.data;
    last = p + rd->name_size;

    if (phase == NGX_HTTP_COMETCHAT_REDIS_SENTINEL) {
        p = ngx_slprintf(p, last, "sentinel %s:%d", peer->host, peer->port);

    } else if (rd->nsentinels) {
        p = ngx_slprintf(p, last, "master %V at %s:%d",
                         &rd->master, peer->host, peer->port);

    } else if (rd->resolver) {
        p = ngx_slprintf(p, last, "%V (%s)", &rd->conf_name, peer->host);

    } else {
        p = ngx_slprintf(p, last, "%V", &rd->conf_name);
    }

    rd->name.len = p - rd->name.data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "cometchat redis: connect to %V", &rd->name);

    /* the address is numeric (resolved already) */

    if (peer->port) {
        ac = redisAsyncConnect(peer->host, peer->port);

    } else {
        ac = redisAsyncConnectUnix(peer->host);
    }

    if (ac == NULL) {
        ngx_http_cometchat_redis_lost(rd, "connect to", "out of memory");
        return;
    }

    if (ac->err) {
        ngx_http_cometchat_redis_lost(rd, "connect to",
                                     ngx_http_cometchat_redis_event_errstr(ac));
        redisAsyncFree(ac);
        return;
    }

    if (ngx_http_cometchat_redis_event_attach(ac, log) != NGX_OK) {
        ngx_http_cometchat_redis_lost(rd, "connect to",
                                      "no free connection");
        redisAsyncFree(ac);
        return;
    }

    ac->data = rd;

    rd->ac = ac;
    rd->up = 0;
    rd->handshake = 0;
    rd->broken = 0;
    rd->connect_deadline = ngx_current_msec + rd->timeout;

    redisAsyncSetConnectCallback(ac, ngx_http_cometchat_redis_connect_handler);

    /*
     * pipelined behind the connect: the connection counts as up once Redis
     * has answered them, so a server that accepts but does not answer
     * is not "up"; PING when there is nothing else to ask
     */

    if (phase == NGX_HTTP_COMETCHAT_REDIS_SENTINEL) {
        if (rd->sentinel_password.len) {
            argv[0] = "AUTH";
            argvlen[0] = sizeof("AUTH") - 1;
            argv[1] = (const char *) rd->sentinel_password.data;
            argvlen[1] = rd->sentinel_password.len;
            ngx_http_cometchat_redis_handshake(rd, "AUTH on", 2, argv,
                                               argvlen);
        }

        argv[0] = "SENTINEL";
        argvlen[0] = sizeof("SENTINEL") - 1;
        argv[1] = "get-master-addr-by-name";
        argvlen[1] = sizeof("get-master-addr-by-name") - 1;
        argv[2] = (const char *) rd->master.data;
        argvlen[2] = rd->master.len;
        ngx_http_cometchat_redis_handshake(rd,
                                           ngx_http_cometchat_redis_step_master,
                                           3, argv, argvlen);
        goto done;
    }

    if (rd->password.len) {
        argc = 0;
        argv[argc] = "AUTH";
        argvlen[argc++] = sizeof("AUTH") - 1;

        if (rd->username.len) {
            argv[argc] = (const char *) rd->username.data;
            argvlen[argc++] = rd->username.len;
        }

        argv[argc] = (const char *) rd->password.data;
        argvlen[argc++] = rd->password.len;

        ngx_http_cometchat_redis_handshake(rd, "AUTH on", argc, argv,
                                           argvlen);
    }

    if (rd->db.len) {
        argv[0] = "SELECT";
        argvlen[0] = sizeof("SELECT") - 1;
        argv[1] = (const char *) rd->db.data;
        argvlen[1] = rd->db.len;
        ngx_http_cometchat_redis_handshake(rd, "SELECT on", 2, argv,
                                           argvlen);
    }

    if (rd->nsentinels) {
        /* a sentinel's answer may be stale: never write to a replica */
        argv[0] = "ROLE";
        argvlen[0] = sizeof("ROLE") - 1;
        ngx_http_cometchat_redis_handshake(rd,
                                           ngx_http_cometchat_redis_step_role,
                                           1, argv, argvlen);

    } else if (rd->handshake == 0) {
        argv[0] = "PING";
        argvlen[0] = sizeof("PING") - 1;
        ngx_http_cometchat_redis_handshake(rd, "PING on", 1, argv, argvlen);
    }

done:

    ngx_http_cometchat_redis_arm(rd);
}


static void
ngx_http_cometchat_redis_handshake(ngx_http_cometchat_redis_t *rd,
    const char *what, int argc, const char **argv, const size_t *argvlen)
{
    if (redisAsyncCommandArgv(rd->ac,
                              ngx_http_cometchat_redis_handshake_handler,
                              (void *) what, argc, argv, argvlen)
        == REDIS_OK)
    {
        rd->handshake++;
    }
}


static void
ngx_http_cometchat_redis_connect_handler(const redisAsyncContext *ac,
    int status)
{
    ngx_http_cometchat_redis_t  *rd = ac->data;

    if (status == REDIS_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "cometchat redis: connected to %V", &rd->name);
        return;
    }

    /* hiredis frees the context right after this returns */

    if (rd->ac == ac) {
        ngx_http_cometchat_redis_lost(rd, "connect to",
                                     ngx_http_cometchat_redis_event_errstr(ac));
    }
}


static void
ngx_http_cometchat_redis_handshake_handler(redisAsyncContext *ac, void *r,
    void *privdata)
{
    const char  *what = privdata;

    redisReply                  *reply = r;
    ngx_http_cometchat_redis_t  *rd;

    rd = ac->data;

    if (rd->ac != ac) {
        return;
    }

    if (reply == NULL) {
        ngx_http_cometchat_redis_lost(rd, "connect to",
                                     ngx_http_cometchat_redis_event_errstr(ac));
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        /* Redis' message, never the password */
        ngx_http_cometchat_redis_close(rd, what, reply->str);
        return;
    }

    if (ngx_http_cometchat_redis_handshake_check(rd, what, reply) != NGX_OK) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat redis: %s done", what);

    if (--rd->handshake == 0) {
        ngx_http_cometchat_redis_up(rd);
    }
}


/* NGX_OK: go on; else the connection is closed or replaced */

static ngx_int_t
ngx_http_cometchat_redis_handshake_check(ngx_http_cometchat_redis_t *rd,
    const char *what, redisReply *reply)
{
    u_char                           buf[64];
    const char                      *err;
    ngx_http_cometchat_redis_peer_t  peer;

    if (what == ngx_http_cometchat_redis_step_role) {
        err = ngx_http_cometchat_redis_sentinel_role(reply, buf, sizeof(buf));

        if (err) {
            /* a replica, or a demoted master: the sentinels tell again */
            ngx_http_cometchat_redis_close(rd, what, err);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (what != ngx_http_cometchat_redis_step_master) {
        return NGX_OK;
    }

    err = ngx_http_cometchat_redis_sentinel_master(reply, &peer);

    if (err) {
        ngx_http_cometchat_redis_close(rd, what, err);
        return NGX_ERROR;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat redis: %V says master %V is %s:%d",
                   &rd->name, &rd->master, peer.host, peer.port);

    rd->peer = peer;
    rd->asked = 0;

    /* done with the sentinel: closed on purpose, the master is next */

    ngx_http_cometchat_redis_close(rd, NULL, NULL);
    ngx_http_cometchat_redis_open(rd, NGX_HTTP_COMETCHAT_REDIS_DATA,
                                  &rd->peer);

    return NGX_DECLINED;
}


static void
ngx_http_cometchat_redis_reply_handler(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_cometchat_redis_cmd_t *cmd = privdata;

    ngx_int_t                    rc;
    ngx_str_t                   *v;
    ngx_log_t                   *log;
    redisReply                  *reply = r;
    ngx_http_cometchat_redis_t  *rd;

    rd = ac->data;

    ngx_queue_remove(&cmd->queue);

    if (cmd->handler) {
        rd->live--;
    }

    log = cmd->log;
    v = NULL;

    if (reply == NULL) {
        /* the connection is going: the first callback tells, once */

        if (rd->ac == ac) {
            ngx_http_cometchat_redis_lost(rd, rd->up ? "connection to"
                                                     : "connect to",
                                     ngx_http_cometchat_redis_event_errstr(ac));
        }

        rc = NGX_ERROR;

    } else {
        rc = ngx_http_cometchat_redis_event_value(reply, cmd->integer,
                                          cmd->array,
                                          NGX_HTTP_COMETCHAT_REDIS_ARRAY, &v);

        if (rc == NGX_ERROR) {
            ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_REDIS_ERRORS);
        }

        if (rc == NGX_ERROR && v == NULL) {
            if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS))
            {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              NGX_HTTP_COMETCHAT_LOG_PREFIX
                              "redis command on \"%V\" failed: "
                              "unexpected reply type %d",
                              &rd->name, reply->type);
            }

        } else if (rc == NGX_ERROR) {
            if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS))
            {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              NGX_HTTP_COMETCHAT_LOG_PREFIX
                              "redis command on \"%V\" failed: %V%s",
                              &rd->name, v,
                              ngx_strncmp(v->data, "NOPERM", 6) == 0
                              ? " (the ACL user lacks a command or key "
                                "pattern the module needs)" : "");
            }

            /*
             * the master moved: a demoted master or a replica answered,
             * or the master lost its replicas; connect again, asking anew
             */

            if (rd->ac == ac
                && (ngx_strncmp(v->data, "READONLY", 8) == 0
                    || ngx_strncmp(v->data, "MASTERDOWN", 10) == 0))
            {
                rd->backoff = NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MIN;
                ngx_http_cometchat_redis_close(rd, "command on",
                                               reply->str);
            }
        }

        if (rd->ac == ac) {
            ngx_http_cometchat_redis_arm(rd);
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "cometchat redis: reply cmd:%p rc:%i%s", cmd, rc,
                   cmd->handler ? "" : " (cancelled)");

    if (cmd->handler && !rd->exiting) {
        cmd->handler(cmd->data, rc, v);
    }

    ngx_free(cmd);
}


static void
ngx_http_cometchat_redis_up(ngx_http_cometchat_redis_t *rd)
{
    size_t  len;

    rd->up = 1;
    rd->failing = 0;
    rd->backoff = NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MIN;

    ngx_http_cometchat_status_redis_up(1);

    len = ngx_strlen(rd->peer.host);

    ngx_http_cometchat_status_redis_master(
        ngx_crc32_short((u_char *) rd->peer.host, len) ^ rd->peer.port);

    if (rd->last.host[0]
        && (rd->last.port != rd->peer.port
            || ngx_strcmp(rd->last.host, rd->peer.host) != 0))
    {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "redis \"%V\" is now at %s:%d, was %s:%d",
                      rd->nsentinels ? &rd->master : &rd->conf_name,
                      rd->peer.host, rd->peer.port,
                      rd->last.host, rd->last.port);
    }

    rd->last = rd->peer;

    if (rd->logged) {
        rd->logged = 0;
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "redis connection to \"%V\" restored", &rd->name);

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "cometchat redis: up on %V", &rd->name);
    }

    ngx_http_cometchat_redis_arm(rd);
}


/*
 * The connection is gone or going (hiredis frees it, or the caller does
 * right after): new commands fail from here on, a reconnect is scheduled.
 * Pending commands still get their NULL replies from hiredis.  A sentinel
 * that fails is followed by the next one at once, until each was asked.
 */

static void
ngx_http_cometchat_redis_lost(ngx_http_cometchat_redis_t *rd,
    const char *what, const char *detail)
{
    rd->ac = NULL;

    if (rd->up) {
        rd->up = 0;
        ngx_http_cometchat_status_redis_up(0);
    }

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    /* what == NULL: closed on purpose, not a failure */

    if (rd->exiting || what == NULL) {
        return;
    }

    rd->failing = 1;

    ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_REDIS_ERRORS);

    if (rd->phase == NGX_HTTP_COMETCHAT_REDIS_SENTINEL
        && ++rd->asked < rd->nsentinels)
    {
        if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS)) {
            rd->logged = 1;
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "redis %s \"%V\" failed: %s, asking the next "
                          "sentinel", what, &rd->name, detail);
        }

        rd->sentinel = (rd->sentinel + 1) % rd->nsentinels;

        if (!rd->exiting && !ngx_exiting && !ngx_terminate) {
            if (rd->retry.timer_set) {
                ngx_del_timer(&rd->retry);
            }

            rd->retry.log = ngx_cycle->log;
            ngx_add_timer(&rd->retry, 0);
        }

        return;
    }

    if (rd->nsentinels) {
        /* each was asked, or the master failed: a new round */
        rd->asked = 0;

        if (rd->phase == NGX_HTTP_COMETCHAT_REDIS_SENTINEL) {
            rd->sentinel = (rd->sentinel + 1) % rd->nsentinels;
        }
    }

    if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS)) {
        rd->logged = 1;
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "redis %s \"%V\" failed: %s, retrying in %M ms",
                      what, &rd->name, detail, rd->backoff);
    }

    ngx_http_cometchat_redis_schedule_retry(rd);
}


/* drops the connection on this side: timeouts, refused handshakes */

static void
ngx_http_cometchat_redis_close(ngx_http_cometchat_redis_t *rd,
    const char *what, const char *detail)
{
    redisAsyncContext  *ac;

    ac = rd->ac;

    if (ac == NULL) {
        return;
    }

    ngx_http_cometchat_redis_lost(rd, what, detail);

    /* deferred by hiredis until its callback returns, when called in one */

    redisAsyncFree(ac);
}


static void
ngx_http_cometchat_redis_schedule_retry(ngx_http_cometchat_redis_t *rd)
{
    if (rd->exiting || ngx_exiting || ngx_terminate) {
        return;
    }

    if (rd->retry.timer_set) {
        ngx_del_timer(&rd->retry);
    }

    rd->retry.log = ngx_cycle->log;
    ngx_add_timer(&rd->retry, rd->backoff);

    rd->backoff *= 2;

    if (rd->backoff > rd->backoff_max) {
        rd->backoff = rd->backoff_max;
    }
}


/*
 * One timer for the nearest deadline: the connect (and handshake) while
 * not up, else the oldest command, since replies come in order.  It holds
 * a shutting down worker only while a request waits for a reply.
 */

static void
ngx_http_cometchat_redis_arm(ngx_http_cometchat_redis_t *rd)
{
    ngx_msec_t                       deadline;
    ngx_msec_int_t                   delay;
    ngx_http_cometchat_redis_cmd_t  *cmd;

    if (rd->broken) {
        return;
    }

    if (rd->ac == NULL) {
        goto none;
    }

    if (!rd->up) {
        deadline = rd->connect_deadline;

    } else if (!ngx_queue_empty(&rd->cmds)) {
        cmd = ngx_queue_data(ngx_queue_head(&rd->cmds),
                             ngx_http_cometchat_redis_cmd_t, queue);
        deadline = cmd->deadline;

    } else {
        goto none;
    }

    rd->timer.cancelable = (rd->live == 0);

    if (rd->timer.timer_set) {
        if (rd->timer.timer.key == deadline) {
            return;
        }

        ngx_del_timer(&rd->timer);
    }

    delay = (ngx_msec_int_t) (deadline - ngx_current_msec);

    rd->timer.log = ngx_cycle->log;
    ngx_add_timer(&rd->timer, delay > 0 ? (ngx_msec_t) delay : 0);

    return;

none:

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }
}


static void
ngx_http_cometchat_redis_timer_handler(ngx_event_t *ev)
{
    u_char                           buf[NGX_INT_T_LEN + 32];
    ngx_http_cometchat_redis_t      *rd = ev->data;
    ngx_http_cometchat_redis_cmd_t  *cmd;

    if (rd->ac == NULL) {
        return;
    }

    if (rd->broken) {
        ngx_http_cometchat_redis_close(rd, "connection to",
                                       "event registration failed");
        return;
    }

    ngx_sprintf(buf, "timed out after %M ms%Z", rd->timeout);

    if (!rd->up) {
        if ((ngx_msec_int_t) (rd->connect_deadline - ngx_current_msec) <= 0) {
            ngx_http_cometchat_redis_close(rd, "connect to", (char *) buf);
            return;
        }

    } else if (!ngx_queue_empty(&rd->cmds)) {
        cmd = ngx_queue_data(ngx_queue_head(&rd->cmds),
                             ngx_http_cometchat_redis_cmd_t, queue);

        if ((ngx_msec_int_t) (cmd->deadline - ngx_current_msec) <= 0) {
            /* hiredis cannot drop one command: drop the connection */
            ngx_http_cometchat_redis_close(rd, "command on", (char *) buf);
            return;
        }
    }

    ngx_http_cometchat_redis_arm(rd);
}


static void
ngx_http_cometchat_redis_retry_handler(ngx_event_t *ev)
{
    ngx_http_cometchat_redis_t  *rd = ev->data;

    if (rd->ac || rd->rctx || rd->exiting || ngx_exiting || ngx_terminate) {
        return;
    }

    ngx_http_cometchat_redis_connect(rd);
}


/* the event layer's handlers */

static void
ngx_http_cometchat_redis_gone(redisAsyncContext *ac)
{
    ngx_http_cometchat_redis_t *rd = ac->data;

    if (rd->ac == ac) {
        ngx_http_cometchat_redis_lost(rd, rd->up ? "connection to"
                                                 : "connect to",
                                     ngx_http_cometchat_redis_event_errstr(ac));
    }
}


static void
ngx_http_cometchat_redis_closing(redisAsyncContext *ac)
{
    ngx_http_cometchat_redis_t *rd = ac->data;

    /* pending handlers are called: their requests are still open */

    if (rd->ac == ac) {
        ngx_http_cometchat_redis_close(rd, NULL, NULL);
    }
}


static void
ngx_http_cometchat_redis_broken(redisAsyncContext *ac)
{
    ngx_http_cometchat_redis_t *rd = ac->data;

    /* the timer handler closes it, outside of hiredis */

    if (rd->ac == ac && !rd->broken) {
        rd->broken = 1;

        if (rd->timer.timer_set) {
            ngx_del_timer(&rd->timer);
        }

        rd->timer.log = ngx_cycle->log;
        ngx_add_timer(&rd->timer, 0);
    }
}
