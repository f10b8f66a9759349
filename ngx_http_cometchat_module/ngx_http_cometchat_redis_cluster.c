
/*
 * ngx_http_cometchat_module: Redis Cluster, hiredis async on nginx events.
 *
 * "cometchat_redis cluster HOST:PORT ...": every command goes to the
 * primary that serves the slot of its key (CRC16 of the key, or of its
 * {hash tag}, modulo 16384).  The slot map comes from CLUSTER SLOTS,
 * asked of the seeds (and later of any known node) in turn: at start,
 * soon after a MOVED or a lost node, and every 30 seconds.  Each node
 * has one connection per worker, opened when a command first goes to it
 * and kept open; the event glue is ngx_http_cometchat_redis_event.c.
 *
 * A MOVED reply is followed at once: the slot points at the named node
 * from then on, the command is sent there, and the whole map is asked
 * for again.  An ASK reply (a slot being migrated) sends ASKING and the
 * command to the named node, leaving the map alone.  A command follows
 * at most five redirections.
 *
 * Until the first map is known, and while the node of a slot is backing
 * off after an error, commands fail at once: the callers fall back to
 * the per-host cache rather than wait.  The contract of a command (one
 * handler call, never from inside the call that gave it; cancel) is that
 * of ngx_http_cometchat_redis_command(), which hands cluster commands
 * here.  Node addresses must be IPs: a name would have hiredis resolve
 * it with a blocking getaddrinfo() on the event loop.
 *
 * It reads best whole: nodes, the slot map and redirections are one state
 * machine over ngx_http_cometchat_redis_cluster_t, as in redis.c; the
 * event glue and the reading of replies are apart.
 */


#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_redis_event.h"
#include "ngx_http_cometchat_redis_sentinel.h"
#include "ngx_http_cometchat_redis_cluster.h"


#define NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SLOTS      16384
#define NGX_HTTP_COMETCHAT_REDIS_CLUSTER_NODES      64
#define NGX_HTTP_COMETCHAT_REDIS_CLUSTER_REDIRECTS  5

/* milliseconds: map refresh, refresh after a change, node backoff */
#define NGX_HTTP_COMETCHAT_REDIS_CLUSTER_REFRESH    30000
#define NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SOON       100
#define NGX_HTTP_COMETCHAT_REDIS_CLUSTER_BACKOFF    1000

/* as NGX_HTTP_COMETCHAT_REDIS_ARRAY */
#define NGX_HTTP_COMETCHAT_REDIS_CLUSTER_ARRAY      4

/* what a command is for */
#define NGX_HTTP_COMETCHAT_REDIS_CLUSTER_CALLER     0
#define NGX_HTTP_COMETCHAT_REDIS_CLUSTER_MAP        1


typedef struct ngx_http_cometchat_redis_cluster_s
    ngx_http_cometchat_redis_cluster_t;


typedef struct {
    /*
     * the timer's ev->data: debug logging reads an fd at this place, as
     * in ngx_connection_t
     */
    void                                *data;
    ngx_event_t                         *read;
    ngx_event_t                         *write;
    ngx_socket_t                         fd;

    ngx_http_cometchat_redis_cluster_t  *cluster;
    ngx_http_cometchat_redis_peer_t      peer;
    redisAsyncContext                   *ac;        /* NULL: none */
    ngx_queue_t                          cmds;      /* in reply order */
    ngx_uint_t                           live;      /* not cancelled */
    ngx_uint_t                           broken;    /* event add failed */
    ngx_uint_t                           failed;    /* backing off */
    ngx_msec_t                           down;      /* until then */
    ngx_event_t                          timer;     /* deadlines */
} ngx_http_cometchat_redis_cluster_node_t;


struct ngx_http_cometchat_redis_cluster_cmd_s {
    ngx_queue_t                          queue;
    ngx_http_cometchat_redis_cluster_handler_pt  handler;  /* NULL: mute */
    void                                *data;
    ngx_log_t                           *log;
    ngx_msec_t                           deadline;
    ngx_http_cometchat_redis_cluster_node_t  *node;     /* waited on */
    ngx_uint_t                           kind;
    ngx_uint_t                           redirects;
    int                                  argc;
    const char                         **argv;      /* kept to resend */
    size_t                              *argvlen;
    u_char                               integer[NGX_INT64_LEN];
    ngx_str_t                array[NGX_HTTP_COMETCHAT_REDIS_CLUSTER_ARRAY];
};


struct ngx_http_cometchat_redis_cluster_s {
    /* copied from the main conf: a reload must not leave them dangling */
    ngx_str_t                            username;
    ngx_str_t                            password;
    ngx_msec_t                           timeout;

    ngx_uint_t                           nnodes;    /* seeds first */
    ngx_uint_t                           next;      /* to ask for the map */
    ngx_uint_t                           known;     /* a map was read */
    ngx_uint_t                           asking;    /* CLUSTER SLOTS sent */
    ngx_uint_t                           exiting;
    ngx_event_t                          refresh;

    /* node index + 1; 0: no node known for the slot */
    u_char                   slots[NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SLOTS];

    ngx_http_cometchat_redis_cluster_node_t
                             nodes[NGX_HTTP_COMETCHAT_REDIS_CLUSTER_NODES];
};


static ngx_uint_t ngx_http_cometchat_redis_cluster_key_slot(int argc,
    const char **argv, const size_t *argvlen);
static ngx_http_cometchat_redis_cluster_node_t *
    ngx_http_cometchat_redis_cluster_node(
    ngx_http_cometchat_redis_cluster_t *cl, u_char *host, size_t len,
    ngx_int_t port);
static ngx_int_t ngx_http_cometchat_redis_cluster_send(
    ngx_http_cometchat_redis_cluster_node_t *node,
    ngx_http_cometchat_redis_cluster_cmd_t *cmd, ngx_uint_t asking);
static ngx_int_t ngx_http_cometchat_redis_cluster_connect(
    ngx_http_cometchat_redis_cluster_node_t *node);
static void ngx_http_cometchat_redis_cluster_connect_handler(
    const redisAsyncContext *ac, int status);
static void ngx_http_cometchat_redis_cluster_auth_handler(
    redisAsyncContext *ac, void *r, void *privdata);
static void ngx_http_cometchat_redis_cluster_asking_handler(
    redisAsyncContext *ac, void *r, void *privdata);
static void ngx_http_cometchat_redis_cluster_reply_handler(
    redisAsyncContext *ac, void *r, void *privdata);
static ngx_int_t ngx_http_cometchat_redis_cluster_redirect(
    ngx_http_cometchat_redis_cluster_t *cl,
    ngx_http_cometchat_redis_cluster_cmd_t *cmd, redisReply *reply);
static void ngx_http_cometchat_redis_cluster_map(
    ngx_http_cometchat_redis_cluster_t *cl,
    ngx_http_cometchat_redis_cluster_node_t *node, redisReply *reply);
static void ngx_http_cometchat_redis_cluster_ask_map(
    ngx_http_cometchat_redis_cluster_t *cl);
static void ngx_http_cometchat_redis_cluster_refresh_in(
    ngx_http_cometchat_redis_cluster_t *cl, ngx_msec_t delay);
static void ngx_http_cometchat_redis_cluster_refresh_handler(ngx_event_t *ev);
static void ngx_http_cometchat_redis_cluster_lost(
    ngx_http_cometchat_redis_cluster_node_t *node, const char *what,
    const char *detail);
static void ngx_http_cometchat_redis_cluster_close(
    ngx_http_cometchat_redis_cluster_node_t *node, const char *what,
    const char *detail);
static void ngx_http_cometchat_redis_cluster_arm(
    ngx_http_cometchat_redis_cluster_node_t *node);
static void ngx_http_cometchat_redis_cluster_timer_handler(ngx_event_t *ev);
static void ngx_http_cometchat_redis_cluster_gone(redisAsyncContext *ac);
static void ngx_http_cometchat_redis_cluster_closing(redisAsyncContext *ac);
static void ngx_http_cometchat_redis_cluster_broken(redisAsyncContext *ac);


static ngx_http_cometchat_redis_cluster_t  *ngx_http_cometchat_redis_cluster;

static const char  *ngx_http_cometchat_redis_cluster_slots_argv[] = {
    "CLUSTER", "SLOTS"
};

static size_t  ngx_http_cometchat_redis_cluster_slots_argvlen[] = {
    sizeof("CLUSTER") - 1, sizeof("SLOTS") - 1
};

static ngx_http_cometchat_redis_event_handlers_t
    ngx_http_cometchat_redis_cluster_events = {
    ngx_http_cometchat_redis_cluster_gone,
    ngx_http_cometchat_redis_cluster_closing,
    ngx_http_cometchat_redis_cluster_broken
};


/* a worker without Redis still serves pages: never fail the worker */

ngx_int_t
ngx_http_cometchat_redis_cluster_init(ngx_cycle_t *cycle,
    ngx_http_cometchat_main_conf_t *cmcf)
{
    u_char                              *p;
    size_t                               len;
    ngx_uint_t                           i;
    ngx_addr_t                          *addr;
    ngx_http_cometchat_redis_cluster_t  *cl;

    ngx_http_cometchat_redis_cluster = NULL;

    len = sizeof(ngx_http_cometchat_redis_cluster_t)
          + cmcf->redis_username.len + cmcf->redis_password.len;

    cl = ngx_calloc(len, cycle->log);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    p = (u_char *) cl + sizeof(ngx_http_cometchat_redis_cluster_t);

    cl->username.data = p;
    cl->username.len = cmcf->redis_username.len;
    p = ngx_cpymem(p, cmcf->redis_username.data, cmcf->redis_username.len);

    cl->password.data = p;
    cl->password.len = cmcf->redis_password.len;
    ngx_memcpy(p, cmcf->redis_password.data, cmcf->redis_password.len);

    cl->timeout = cmcf->redis_timeout;

    addr = cmcf->redis_seeds->elts;

    for (i = 0; i < cmcf->redis_seeds->nelts; i++) {
        p = (u_char *) cl->nodes[cl->nnodes].peer.host;
        len = ngx_sock_ntop(addr[i].sockaddr, addr[i].socklen, p,
                            NGX_SOCKADDR_STRLEN, 0);

        (void) ngx_http_cometchat_redis_cluster_node(cl, p, len,
                                       ngx_inet_get_port(addr[i].sockaddr));
    }

    if (cl->nnodes == 0) {
        ngx_free(cl);
        return NGX_ERROR;
    }

    /* workers start with different seeds: the load is spread */
    cl->next = ngx_worker % cl->nnodes;

    /* the events' log is set when armed: ngx_cycle may change on reload */

    cl->refresh.handler = ngx_http_cometchat_redis_cluster_refresh_handler;
    cl->refresh.data = cl;
    cl->refresh.cancelable = 1;

    ngx_http_cometchat_redis_cluster = cl;

    ngx_http_cometchat_redis_event_init(
                                     &ngx_http_cometchat_redis_cluster_events);
    ngx_http_cometchat_redis_cluster_ask_map(cl);

    return NGX_OK;
}


void
ngx_http_cometchat_redis_cluster_exit(void)
{
    int                                       done;
    ngx_uint_t                                i, n;
    redisAsyncContext                        *ac;
    ngx_http_cometchat_redis_cluster_t       *cl;
    ngx_http_cometchat_redis_cluster_node_t  *node;

    cl = ngx_http_cometchat_redis_cluster;

    if (cl == NULL) {
        return;
    }

    /* the requests are gone with the worker: no handler is called now */

    cl->exiting = 1;

    if (cl->known) {
        ngx_http_cometchat_status_redis_up(0);
    }

    if (cl->refresh.timer_set) {
        ngx_del_timer(&cl->refresh);
    }

    for (i = 0; i < cl->nnodes; i++) {
        node = &cl->nodes[i];

        if (node->timer.timer_set) {
            ngx_del_timer(&node->timer);
        }

        if (node->ac == NULL) {
            continue;
        }

        ac = node->ac;
        node->ac = NULL;

        /* send what is queued (a flight's unlock), as in redis.c */

        done = 0;

        for (n = 0; n < 3 && !done && (ac->c.flags & REDIS_CONNECTED); n++) {
            if (redisBufferWrite(&ac->c, &done) == REDIS_ERR) {
                break;
            }
        }

        redisAsyncFree(ac);
    }

    ngx_http_cometchat_redis_cluster = NULL;

    ngx_free(cl);
}


ngx_flag_t
ngx_http_cometchat_redis_cluster_ready(void)
{
    return ngx_http_cometchat_redis_cluster != NULL
           && ngx_http_cometchat_redis_cluster->known;
}


ngx_http_cometchat_redis_cluster_cmd_t *
ngx_http_cometchat_redis_cluster_command(
    ngx_http_cometchat_redis_cluster_handler_pt handler, void *data,
    ngx_log_t *log, int argc, const char **argv, const size_t *argvlen)
{
    int                                       i;
    u_char                                   *p;
    size_t                                    size;
    ngx_uint_t                                slot;
    ngx_http_cometchat_redis_cluster_t       *cl;
    ngx_http_cometchat_redis_cluster_cmd_t   *cmd;
    ngx_http_cometchat_redis_cluster_node_t  *node;

    cl = ngx_http_cometchat_redis_cluster;

    if (cl == NULL || !cl->known || cl->exiting || argc < 1) {
        return NULL;
    }

    slot = ngx_http_cometchat_redis_cluster_key_slot(argc, argv, argvlen);

    if (cl->slots[slot] == 0) {
        /* a hole in the map: the cluster is being changed */
        ngx_http_cometchat_redis_cluster_refresh_in(cl,
                                      NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SOON);
        return NULL;
    }

    node = &cl->nodes[cl->slots[slot] - 1];

    /* outlives the request that gives it, with the arguments to resend */

    size = sizeof(ngx_http_cometchat_redis_cluster_cmd_t)
           + argc * (sizeof(const char *) + sizeof(size_t));

    for (i = 0; i < argc; i++) {
        size += argvlen[i];
    }

    cmd = ngx_alloc(size, log);
    if (cmd == NULL) {
        return NULL;
    }

    cmd->handler = handler;
    cmd->data = data;
    cmd->log = log;
    cmd->kind = NGX_HTTP_COMETCHAT_REDIS_CLUSTER_CALLER;
    cmd->redirects = 0;
    cmd->argc = argc;

    p = (u_char *) cmd + sizeof(ngx_http_cometchat_redis_cluster_cmd_t);

    cmd->argv = (const char **) p;
    p += argc * sizeof(const char *);

    cmd->argvlen = (size_t *) p;
    p += argc * sizeof(size_t);

    for (i = 0; i < argc; i++) {
        cmd->argv[i] = (const char *) p;
        cmd->argvlen[i] = argvlen[i];
        p = ngx_cpymem(p, argv[i], argvlen[i]);
    }

    if (ngx_http_cometchat_redis_cluster_send(node, cmd, 0) != NGX_OK) {
        ngx_free(cmd);
        return NULL;
    }

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, log, 0,
                   "cometchat redis: queued %*s for slot %ui on %s, cmd:%p",
                   argvlen[0], argv[0], slot, node->peer.host, cmd);

    return cmd;
}


void
ngx_http_cometchat_redis_cluster_cancel(
    ngx_http_cometchat_redis_cluster_cmd_t *cmd)
{
    ngx_http_cometchat_redis_cluster_node_t  *node;

    if (cmd == NULL || cmd->handler == NULL) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cmd->log, 0,
                   "cometchat redis: cancel cmd:%p", cmd);

    /* the reply still has to be read: the command stays queued, mute */

    cmd->handler = NULL;
    cmd->data = NULL;
    cmd->log = ngx_cycle->log;

    node = cmd->node;

    if (--node->live == 0) {
        node->timer.cancelable = 1;
    }
}


/*
 * The key is the first argument, or the first of KEYS for EVAL; the
 * module's commands with several keys name keys of one hash tag.
 */

static ngx_uint_t
ngx_http_cometchat_redis_cluster_key_slot(int argc, const char **argv,
    const size_t *argvlen)
{
    u_char      *key, *open, *close;
    size_t       len, i;
    ngx_uint_t   crc, bit;

    if (argvlen[0] >= 4 && ngx_strncasecmp((u_char *) argv[0],
                                           (u_char *) "EVAL", 4) == 0)
    {
        if (argc < 4 || (argvlen[2] == 1 && argv[2][0] == '0')) {
            return 0;
        }

        key = (u_char *) argv[3];
        len = argvlen[3];

    } else if (argc >= 2) {
        key = (u_char *) argv[1];
        len = argvlen[1];

    } else {
        return 0;
    }

    open = ngx_strlchr(key, key + len, '{');

    if (open) {
        close = ngx_strlchr(open + 1, key + len, '}');

        if (close && close > open + 1) {
            key = open + 1;
            len = close - key;
        }
    }

    /* CRC16/XMODEM, as Redis Cluster computes it */

    crc = 0;

    for (i = 0; i < len; i++) {
        crc ^= (ngx_uint_t) key[i] << 8;

        for (bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) : (crc << 1);
        }

        crc &= 0xffff;
    }

    return crc & (NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SLOTS - 1);
}


/* the node at an IP and port, added if new; NULL if not an IP, or full */

static ngx_http_cometchat_redis_cluster_node_t *
ngx_http_cometchat_redis_cluster_node(ngx_http_cometchat_redis_cluster_t *cl,
    u_char *host, size_t len, ngx_int_t port)
{
    ngx_uint_t                                i;
    ngx_http_cometchat_redis_cluster_node_t  *node;
#if (NGX_HAVE_INET6)
    u_char                                    inaddr6[16];
#endif

    if (len == 0 || len > NGX_SOCKADDR_STRLEN || port <= 0 || port > 65535) {
        return NULL;
    }

    if (ngx_inet_addr(host, len) == INADDR_NONE
#if (NGX_HAVE_INET6)
        /* it writes the address: a NULL here is written through */
        && ngx_inet6_addr(host, len, inaddr6) != NGX_OK
#endif
       )
    {
        return NULL;
    }

    for (i = 0; i < cl->nnodes; i++) {
        node = &cl->nodes[i];

        if (node->peer.port == port
            && ngx_strlen(node->peer.host) == len
            && ngx_strncmp(node->peer.host, host, len) == 0)
        {
            return node;
        }
    }

    if (cl->nnodes == NGX_HTTP_COMETCHAT_REDIS_CLUSTER_NODES) {
        return NULL;
    }

    node = &cl->nodes[cl->nnodes++];

    /* host may be this node's own buffer (a seed): memmove */
    ngx_memmove(node->peer.host, host, len);
    node->peer.host[len] = '\0';
    node->peer.port = (int) port;

    node->cluster = cl;
    node->fd = (ngx_socket_t) -1;
    ngx_queue_init(&node->cmds);

    node->timer.handler = ngx_http_cometchat_redis_cluster_timer_handler;
    node->timer.data = node;

    return node;
}


/* NGX_DECLINED: the node backs off; NGX_ERROR: it could not be reached */

static ngx_int_t
ngx_http_cometchat_redis_cluster_send(
    ngx_http_cometchat_redis_cluster_node_t *node,
    ngx_http_cometchat_redis_cluster_cmd_t *cmd, ngx_uint_t asking)
{
    if (node->ac == NULL) {
        if (node->failed
            && (ngx_msec_int_t) (node->down - ngx_current_msec) > 0)
        {
            return NGX_DECLINED;
        }

        if (ngx_http_cometchat_redis_cluster_connect(node) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* ASKING holds for the next command of this connection only */

    if (asking
        && redisAsyncCommand(node->ac,
                             ngx_http_cometchat_redis_cluster_asking_handler,
                             NULL, "ASKING")
           != REDIS_OK)
    {
        return NGX_ERROR;
    }

    if (redisAsyncCommandArgv(node->ac,
                              ngx_http_cometchat_redis_cluster_reply_handler,
                              cmd, cmd->argc, cmd->argv, cmd->argvlen)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    cmd->node = node;
    cmd->deadline = ngx_current_msec + node->cluster->timeout;

    ngx_queue_insert_tail(&node->cmds, &cmd->queue);

    if (cmd->handler) {
        node->live++;
    }

    ngx_http_cometchat_redis_cluster_arm(node);

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_redis_cluster_connect(
    ngx_http_cometchat_redis_cluster_node_t *node)
{
    int                                  argc;
    const char                          *argv[3];
    size_t                               argvlen[3];
    redisAsyncContext                   *ac;
    ngx_http_cometchat_redis_cluster_t  *cl;

    cl = node->cluster;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat redis: connect to cluster node %s:%d",
                   node->peer.host, node->peer.port);

    /* the address is numeric: see ngx_http_cometchat_redis_cluster_node() */

    ac = redisAsyncConnect(node->peer.host, node->peer.port);

    if (ac == NULL) {
        ngx_http_cometchat_redis_cluster_lost(node, "connect to",
                                              "out of memory");
        return NGX_ERROR;
    }

    if (ac->err) {
        ngx_http_cometchat_redis_cluster_lost(node, "connect to",
                                     ngx_http_cometchat_redis_event_errstr(ac));
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    if (ngx_http_cometchat_redis_event_attach(ac, ngx_cycle->log) != NGX_OK) {
        ngx_http_cometchat_redis_cluster_lost(node, "connect to",
                                              "no free connection");
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    ac->data = node;

    node->ac = ac;
    node->broken = 0;

    redisAsyncSetConnectCallback(ac,
                             ngx_http_cometchat_redis_cluster_connect_handler);

    /*
     * commands are pipelined behind AUTH; were it refused, they would be
     * refused too, and the connection is closed
     */

    if (cl->password.len) {
        argc = 0;
        argv[argc] = "AUTH";
        argvlen[argc++] = sizeof("AUTH") - 1;

        if (cl->username.len) {
            argv[argc] = (const char *) cl->username.data;
            argvlen[argc++] = cl->username.len;
        }

        argv[argc] = (const char *) cl->password.data;
        argvlen[argc++] = cl->password.len;

        (void) redisAsyncCommandArgv(ac,
                                 ngx_http_cometchat_redis_cluster_auth_handler,
                                 NULL, argc, argv, argvlen);
    }

    return NGX_OK;
}


static void
ngx_http_cometchat_redis_cluster_connect_handler(const redisAsyncContext *ac,
    int status)
{
    ngx_http_cometchat_redis_cluster_node_t  *node = ac->data;

    if (status == REDIS_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "cometchat redis: connected to cluster node %s:%d",
                       node->peer.host, node->peer.port);
        return;
    }

    /* hiredis frees the context right after this returns */

    if (node->ac == ac) {
        ngx_http_cometchat_redis_cluster_lost(node, "connect to",
                                     ngx_http_cometchat_redis_event_errstr(ac));
    }
}


static void
ngx_http_cometchat_redis_cluster_auth_handler(redisAsyncContext *ac,
    void *r, void *privdata)
{
    redisReply                               *reply = r;
    ngx_http_cometchat_redis_cluster_node_t  *node = ac->data;

    if (node->ac != ac || reply == NULL
        || reply->type != REDIS_REPLY_ERROR)
    {
        return;
    }

    /* Redis' message, never the password */

    ngx_http_cometchat_redis_cluster_close(node, "AUTH on", reply->str);
}


static void
ngx_http_cometchat_redis_cluster_asking_handler(redisAsyncContext *ac,
    void *r, void *privdata)
{
    /* the command after it tells */
}


static void
ngx_http_cometchat_redis_cluster_reply_handler(redisAsyncContext *ac,
    void *r, void *privdata)
{
    ngx_http_cometchat_redis_cluster_cmd_t *cmd = privdata;

    ngx_int_t                                 rc;
    ngx_str_t                                *v;
    ngx_log_t                                *log;
    redisReply                               *reply = r;
    ngx_http_cometchat_redis_cluster_t       *cl;
    ngx_http_cometchat_redis_cluster_node_t  *node;

    node = ac->data;
    cl = node->cluster;

    ngx_queue_remove(&cmd->queue);

    if (cmd->handler) {
        node->live--;
    }

    log = cmd->log;
    v = NULL;

    if (reply == NULL) {
        /* the connection is going: the first callback tells, once */

        if (node->ac == ac) {
            ngx_http_cometchat_redis_cluster_lost(node, "connection to",
                                     ngx_http_cometchat_redis_event_errstr(ac));
        }

        if (cmd->kind == NGX_HTTP_COMETCHAT_REDIS_CLUSTER_MAP) {
            cl->asking = 0;
        }

        rc = NGX_ERROR;
        goto done;
    }

    node->failed = 0;

    if (node->ac == ac) {
        ngx_http_cometchat_redis_cluster_arm(node);
    }

    if (cmd->kind == NGX_HTTP_COMETCHAT_REDIS_CLUSTER_MAP) {
        ngx_http_cometchat_redis_cluster_map(cl, node, reply);
        ngx_free(cmd);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR && cmd->handler && !cl->exiting
        && ngx_http_cometchat_redis_cluster_redirect(cl, cmd, reply) == NGX_OK)
    {
        /* waits on another node now */
        return;
    }

    rc = ngx_http_cometchat_redis_event_value(reply, cmd->integer, cmd->array,
                                    NGX_HTTP_COMETCHAT_REDIS_CLUSTER_ARRAY, &v);

    if (rc == NGX_ERROR) {
        ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_REDIS_ERRORS);

        if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS)) {
            if (v) {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              NGX_HTTP_COMETCHAT_LOG_PREFIX
                              "redis command on cluster node %s:%d "
                              "failed: %V%s", node->peer.host,
                              node->peer.port, v,
                              ngx_strncmp(v->data, "NOPERM", 6) == 0
                              ? " (the ACL user lacks a command or key "
                                "pattern the module needs)" : "");

            } else {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              NGX_HTTP_COMETCHAT_LOG_PREFIX
                              "redis command on cluster node %s:%d "
                              "failed: unexpected reply type %d",
                              node->peer.host, node->peer.port, reply->type);
            }
        }
    }

done:

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "cometchat redis: reply cmd:%p rc:%i%s", cmd, rc,
                   cmd->handler ? "" : " (cancelled)");

    if (cmd->handler && !cl->exiting) {
        cmd->handler(cmd->data, rc, v);
    }

    ngx_free(cmd);
}


/*
 * "MOVED SLOT IP:PORT": the slot is served there for good;
 * "ASK SLOT IP:PORT": the slot is being migrated there, and the key
 * is not here (anymore).  NGX_OK: the command was sent there.
 */

static ngx_int_t
ngx_http_cometchat_redis_cluster_redirect(
    ngx_http_cometchat_redis_cluster_t *cl,
    ngx_http_cometchat_redis_cluster_cmd_t *cmd, redisReply *reply)
{
    u_char                                   *p, *last, *colon;
    ngx_int_t                                 slot, port;
    ngx_uint_t                                moved;
    ngx_http_cometchat_redis_cluster_node_t  *node;

    p = (u_char *) reply->str;
    last = p + reply->len;

    if (reply->len > 6 && ngx_strncmp(p, "MOVED ", 6) == 0) {
        moved = 1;
        p += 6;

    } else if (reply->len > 4 && ngx_strncmp(p, "ASK ", 4) == 0) {
        moved = 0;
        p += 4;

    } else {
        return NGX_DECLINED;
    }

    if (cmd->redirects++ == NGX_HTTP_COMETCHAT_REDIS_CLUSTER_REDIRECTS) {
        return NGX_DECLINED;
    }

    colon = ngx_strlchr(p, last, ' ');
    if (colon == NULL) {
        return NGX_DECLINED;
    }

    slot = ngx_atoi(p, colon - p);
    if (slot == NGX_ERROR || slot >= NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SLOTS) {
        return NGX_DECLINED;
    }

    p = colon + 1;

    /* the last colon: an IPv6 address has some */

    for (colon = last - 1; colon > p && *colon != ':'; colon--) {
        /* void */
    }

    port = ngx_atoi(colon + 1, last - colon - 1);

    node = ngx_http_cometchat_redis_cluster_node(cl, p, colon - p, port);

    if (node == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_REDIS_REDIRECTS);

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, cmd->log, 0,
                   "cometchat redis: %s slot %i to %s:%d, cmd:%p",
                   moved ? "MOVED" : "ASK", slot, node->peer.host,
                   node->peer.port, cmd);

    if (moved) {
        cl->slots[slot] = (u_char) (node - cl->nodes) + 1;
        ngx_http_cometchat_redis_cluster_refresh_in(cl,
                                      NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SOON);
    }

    return ngx_http_cometchat_redis_cluster_send(node, cmd, !moved);
}


/*
 * CLUSTER SLOTS: [[START, END, [IP, PORT, ID, ...], replicas...], ...];
 * the primary's IP is "" when it is the node asked, "?" when unknown.
 */

static void
ngx_http_cometchat_redis_cluster_map(ngx_http_cometchat_redis_cluster_t *cl,
    ngx_http_cometchat_redis_cluster_node_t *node, redisReply *reply)
{
    u_char                                    map[
                                       NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SLOTS];
    u_char                                   *host;
    size_t                                    i, len;
    long long                                 start, end, s;
    ngx_uint_t                                covered;
    redisReply                               *e, *m;
    ngx_http_cometchat_redis_cluster_node_t  *primary;

    cl->asking = 0;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        goto failed;
    }

    ngx_memzero(map, sizeof(map));
    covered = 0;

    for (i = 0; i < reply->elements; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3
            || e->element[0]->type != REDIS_REPLY_INTEGER
            || e->element[1]->type != REDIS_REPLY_INTEGER
            || e->element[2]->type != REDIS_REPLY_ARRAY
            || e->element[2]->elements < 2)
        {
            goto failed;
        }

        start = e->element[0]->integer;
        end = e->element[1]->integer;
        m = e->element[2];

        if (start < 0 || end < start
            || end >= NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SLOTS
            || m->element[0]->type != REDIS_REPLY_STRING
            || m->element[1]->type != REDIS_REPLY_INTEGER)
        {
            goto failed;
        }

        host = (u_char *) m->element[0]->str;
        len = m->element[0]->len;

        if (len == 0) {
            host = (u_char *) node->peer.host;
            len = ngx_strlen(node->peer.host);
        }

        primary = ngx_http_cometchat_redis_cluster_node(cl, host, len,
                                                      m->element[1]->integer);

        if (primary == NULL) {
            /* a name, "?", or too many nodes: these slots stay unknown */
            continue;
        }

        for (s = start; s <= end; s++) {
            map[s] = (u_char) (primary - cl->nodes) + 1;
        }

        covered += end - start + 1;
    }

    ngx_memcpy(cl->slots, map, sizeof(map));

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat redis: cluster map from %s:%d, %ui slots, "
                   "%ui nodes", node->peer.host, node->peer.port, covered,
                   cl->nnodes);

    if (covered < NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SLOTS
        && ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS))
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "redis cluster map from %s:%d covers %ui of 16384 "
                      "slots (unserved slots, or primaries not announced "
                      "by IP); commands for the others fail",
                      node->peer.host, node->peer.port, covered);
    }

    if (!cl->known) {
        cl->known = 1;
        ngx_http_cometchat_status_redis_up(1);
    }

    ngx_http_cometchat_redis_cluster_refresh_in(cl,
                                   NGX_HTTP_COMETCHAT_REDIS_CLUSTER_REFRESH);
    return;

failed:

    ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_REDIS_ERRORS);

    if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS)) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "redis CLUSTER SLOTS on %s:%d failed: %s",
                      node->peer.host, node->peer.port,
                      reply->type == REDIS_REPLY_ERROR ? reply->str
                                                       : "unexpected reply");
    }

    ngx_http_cometchat_redis_cluster_refresh_in(cl,
                                   NGX_HTTP_COMETCHAT_REDIS_CLUSTER_BACKOFF);
}


/* CLUSTER SLOTS to the next node that is not backing off */

static void
ngx_http_cometchat_redis_cluster_ask_map(ngx_http_cometchat_redis_cluster_t *cl)
{
    ngx_uint_t                                n;
    ngx_http_cometchat_redis_cluster_cmd_t   *cmd;
    ngx_http_cometchat_redis_cluster_node_t  *node;

    if (cl->asking || cl->exiting || ngx_exiting || ngx_terminate) {
        return;
    }

    cmd = ngx_alloc(sizeof(ngx_http_cometchat_redis_cluster_cmd_t),
                    ngx_cycle->log);
    if (cmd == NULL) {
        ngx_http_cometchat_redis_cluster_refresh_in(cl,
                                   NGX_HTTP_COMETCHAT_REDIS_CLUSTER_BACKOFF);
        return;
    }

    /* no handler: a map asked for holds no shutting down worker */

    cmd->handler = NULL;
    cmd->data = NULL;
    cmd->log = ngx_cycle->log;
    cmd->kind = NGX_HTTP_COMETCHAT_REDIS_CLUSTER_MAP;
    cmd->redirects = 0;
    cmd->argc = 2;
    cmd->argv = ngx_http_cometchat_redis_cluster_slots_argv;
    cmd->argvlen = ngx_http_cometchat_redis_cluster_slots_argvlen;

    for (n = 0; n < cl->nnodes; n++) {
        node = &cl->nodes[cl->next];
        cl->next = (cl->next + 1) % cl->nnodes;

        if (ngx_http_cometchat_redis_cluster_send(node, cmd, 0) == NGX_OK) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "cometchat redis: CLUSTER SLOTS to %s:%d",
                           node->peer.host, node->peer.port);
            cl->asking = 1;
            return;
        }
    }

    ngx_free(cmd);

    ngx_http_cometchat_redis_cluster_refresh_in(cl,
                                   NGX_HTTP_COMETCHAT_REDIS_CLUSTER_BACKOFF);
}


/* the map is asked for in delay ms, unless it is to be asked sooner */

static void
ngx_http_cometchat_redis_cluster_refresh_in(
    ngx_http_cometchat_redis_cluster_t *cl, ngx_msec_t delay)
{
    if (cl->exiting || ngx_exiting || ngx_terminate) {
        return;
    }

    if (cl->refresh.timer_set) {
        if ((ngx_msec_int_t) (cl->refresh.timer.key
                              - (ngx_current_msec + delay)) <= 0)
        {
            return;
        }

        ngx_del_timer(&cl->refresh);
    }

    cl->refresh.log = ngx_cycle->log;
    ngx_add_timer(&cl->refresh, delay);
}


static void
ngx_http_cometchat_redis_cluster_refresh_handler(ngx_event_t *ev)
{
    ngx_http_cometchat_redis_cluster_t  *cl = ev->data;

    ngx_http_cometchat_redis_cluster_ask_map(cl);
}


/*
 * The node's connection is gone or going: commands for it fail until
 * its backoff ends; its pending commands get their NULL replies from
 * hiredis.  The cluster may have failed over: the map is asked for soon.
 */

static void
ngx_http_cometchat_redis_cluster_lost(
    ngx_http_cometchat_redis_cluster_node_t *node, const char *what,
    const char *detail)
{
    ngx_http_cometchat_redis_cluster_t  *cl;

    cl = node->cluster;

    node->ac = NULL;

    if (node->timer.timer_set) {
        ngx_del_timer(&node->timer);
    }

    /* what == NULL: closed on purpose, not a failure */

    if (cl->exiting || what == NULL) {
        return;
    }

    node->failed = 1;
    node->down = ngx_current_msec + NGX_HTTP_COMETCHAT_REDIS_CLUSTER_BACKOFF;

    ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_REDIS_ERRORS);

    if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS)) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "redis %s cluster node %s:%d failed: %s, retrying "
                      "in %d ms", what, node->peer.host, node->peer.port,
                      detail, NGX_HTTP_COMETCHAT_REDIS_CLUSTER_BACKOFF);
    }

    ngx_http_cometchat_redis_cluster_refresh_in(cl,
                                      NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SOON);
}


static void
ngx_http_cometchat_redis_cluster_close(
    ngx_http_cometchat_redis_cluster_node_t *node, const char *what,
    const char *detail)
{
    redisAsyncContext  *ac;

    ac = node->ac;

    if (ac == NULL) {
        return;
    }

    ngx_http_cometchat_redis_cluster_lost(node, what, detail);

    /* deferred by hiredis until its callback returns, when called in one */

    redisAsyncFree(ac);
}


/* one timer per node for its oldest command, since replies come in order */

static void
ngx_http_cometchat_redis_cluster_arm(
    ngx_http_cometchat_redis_cluster_node_t *node)
{
    ngx_msec_int_t                           delay;
    ngx_http_cometchat_redis_cluster_cmd_t  *cmd;

    if (node->broken) {
        return;
    }

    if (node->ac == NULL || ngx_queue_empty(&node->cmds)) {
        if (node->timer.timer_set) {
            ngx_del_timer(&node->timer);
        }

        return;
    }

    cmd = ngx_queue_data(ngx_queue_head(&node->cmds),
                         ngx_http_cometchat_redis_cluster_cmd_t, queue);

    node->timer.cancelable = (node->live == 0);

    if (node->timer.timer_set) {
        if (node->timer.timer.key == cmd->deadline) {
            return;
        }

        ngx_del_timer(&node->timer);
    }

    delay = (ngx_msec_int_t) (cmd->deadline - ngx_current_msec);

    node->timer.log = ngx_cycle->log;
    ngx_add_timer(&node->timer, delay > 0 ? (ngx_msec_t) delay : 0);
}


static void
ngx_http_cometchat_redis_cluster_timer_handler(ngx_event_t *ev)
{
    u_char                                    buf[NGX_INT_T_LEN + 32];
    ngx_http_cometchat_redis_cluster_cmd_t   *cmd;
    ngx_http_cometchat_redis_cluster_node_t  *node = ev->data;

    if (node->ac == NULL) {
        return;
    }

    if (node->broken) {
        ngx_http_cometchat_redis_cluster_close(node, "connection to",
                                               "event registration failed");
        return;
    }

    if (!ngx_queue_empty(&node->cmds)) {
        cmd = ngx_queue_data(ngx_queue_head(&node->cmds),
                             ngx_http_cometchat_redis_cluster_cmd_t, queue);

        if ((ngx_msec_int_t) (cmd->deadline - ngx_current_msec) <= 0) {
            /* hiredis cannot drop one command: drop the connection */
            ngx_sprintf(buf, "timed out after %M ms%Z",
                        node->cluster->timeout);
            ngx_http_cometchat_redis_cluster_close(node, "command on",
                                                   (char *) buf);
            return;
        }
    }

    ngx_http_cometchat_redis_cluster_arm(node);
}


/* the event layer's handlers */

static void
ngx_http_cometchat_redis_cluster_gone(redisAsyncContext *ac)
{
    ngx_http_cometchat_redis_cluster_node_t *node = ac->data;

    if (node->ac == ac) {
        ngx_http_cometchat_redis_cluster_lost(node, "connection to",
                                     ngx_http_cometchat_redis_event_errstr(ac));
    }
}


static void
ngx_http_cometchat_redis_cluster_closing(redisAsyncContext *ac)
{
    ngx_http_cometchat_redis_cluster_node_t *node = ac->data;

    /* pending handlers are called: their requests are still open */

    if (node->ac == ac) {
        ngx_http_cometchat_redis_cluster_close(node, NULL, NULL);
    }
}


static void
ngx_http_cometchat_redis_cluster_broken(redisAsyncContext *ac)
{
    ngx_http_cometchat_redis_cluster_node_t *node = ac->data;

    /* the timer handler closes it, outside of hiredis */

    if (node->ac == ac && !node->broken) {
        node->broken = 1;

        if (node->timer.timer_set) {
            ngx_del_timer(&node->timer);
        }

        node->timer.log = ngx_cycle->log;
        ngx_add_timer(&node->timer, 0);
    }
}
