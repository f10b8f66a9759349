
/*
 * libFuzzer harness for Redis replies as the module sees them: hiredis'
 * reply reader fed random bytes, in chunks as they come off a socket,
 * and every reply read goes to
 *
 *   - ngx_http_cometchat_redis_event_value(), the reply-to-value
 *     conversion of every command (ngx_http_cometchat_redis_event.c);
 *   - the Sentinel readers of SENTINEL get-master-addr-by-name and ROLE
 *     (ngx_http_cometchat_redis_sentinel.c);
 *   - the cluster's reply handler (ngx_http_cometchat_redis_cluster.c),
 *     once as the answer to CLUSTER SLOTS (the slot map) and once as the
 *     answer to a command (MOVED and ASK redirections).
 *
 * The three files are compiled into the harness (#include) to reach the
 * cluster's statics; hiredis' async calls are test doubles (a connection
 * to a redirection's node fails, as if refused), its reader is the real
 * one.  An input is
 *
 *     CHUNK(1) then the bytes from the server
 *
 * fed CHUNK + 1 bytes at a time.  The cluster state (nodes, slot map)
 * lives for one input, which starts with one seed node.
 *
 * Oracles: no crash; each value points into the reply it came from, at
 * most its length, and an integer is its decimal; a master address is
 * the reply's IP and port; the ROLE message stays in its buffer; every
 * node of the map or of a redirection is an IP:port that was in the
 * reply, every slot of the map points at a known node, a redirection
 * moves at most its one slot (< 16384, the number in the reply) and the
 * command's handler runs exactly once.
 *
 * Built and run by tools/fuzz/run.
 */


#include "fuzz_ngx.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


/* the hiredis calls that would open connections: test doubles below */

#define redisAsyncConnect             fuzz_redisAsyncConnect
#define redisAsyncFree                fuzz_redisAsyncFree
#define redisAsyncCommand             fuzz_redisAsyncCommand
#define redisAsyncCommandArgv         fuzz_redisAsyncCommandArgv
#define redisAsyncSetConnectCallback  fuzz_redisAsyncSetConnectCallback
#define redisAsyncHandleRead          fuzz_redisAsyncHandleRead
#define redisAsyncHandleWrite         fuzz_redisAsyncHandleWrite
#define redisBufferWrite              fuzz_redisBufferWrite

redisAsyncContext *fuzz_redisAsyncConnect(const char *ip, int port);
void fuzz_redisAsyncFree(redisAsyncContext *ac);
int fuzz_redisAsyncCommand(redisAsyncContext *ac, redisCallbackFn *fn,
    void *privdata, const char *format, ...);
int fuzz_redisAsyncCommandArgv(redisAsyncContext *ac, redisCallbackFn *fn,
    void *privdata, int argc, const char **argv, const size_t *argvlen);
int fuzz_redisAsyncSetConnectCallback(redisAsyncContext *ac,
    redisConnectCallback *fn);
void fuzz_redisAsyncHandleRead(redisAsyncContext *ac);
void fuzz_redisAsyncHandleWrite(redisAsyncContext *ac);
int fuzz_redisBufferWrite(redisContext *c, int *done);


#include "../../ngx_http_cometchat_module/ngx_http_cometchat_redis_event.c"
#include "../../ngx_http_cometchat_module/ngx_http_cometchat_redis_sentinel.c"
#include "../../ngx_http_cometchat_module/ngx_http_cometchat_redis_cluster.c"


#define SEED_HOST  "10.0.0.1"
#define SEED_PORT  7000


static ngx_uint_t         connects;
static ngx_uint_t         handled;
static ngx_int_t          handled_rc;

ngx_atomic_t             *ngx_connection_counter;
ngx_event_actions_t       ngx_event_actions;
ngx_rbtree_t              ngx_event_timer_rbtree;
static ngx_rbtree_node_t  fuzz_timer_sentinel;
sig_atomic_t              ngx_terminate;
ngx_uint_t                ngx_exiting;
ngx_uint_t                ngx_worker;


/* test doubles for the nginx and module calls of the three files */

ngx_connection_t *
ngx_get_connection(ngx_socket_t s, ngx_log_t *log)
{
    return NULL;
}


void
ngx_free_connection(ngx_connection_t *c)
{
}


void
ngx_http_cometchat_status_add(ngx_http_cometchat_stat_e stat,
    ngx_atomic_int_t n)
{
}


void
ngx_http_cometchat_status_redis_up(ngx_uint_t up)
{
}


ngx_uint_t
ngx_http_cometchat_log_allowed(ngx_uint_t kind)
{
    return 1;
}


redisAsyncContext *
fuzz_redisAsyncConnect(const char *ip, int port)
{
    /* "out of memory": the node backs off, as after a refused connect */
    connects++;
    return NULL;
}


void
fuzz_redisAsyncFree(redisAsyncContext *ac)
{
    fuzz_fail("redisAsyncFree() without a connection");
}


int
fuzz_redisAsyncCommand(redisAsyncContext *ac, redisCallbackFn *fn,
    void *privdata, const char *format, ...)
{
    fuzz_fail("a command without a connection");
    return REDIS_ERR;
}


int
fuzz_redisAsyncCommandArgv(redisAsyncContext *ac, redisCallbackFn *fn,
    void *privdata, int argc, const char **argv, const size_t *argvlen)
{
    fuzz_fail("a command without a connection");
    return REDIS_ERR;
}


int
fuzz_redisAsyncSetConnectCallback(redisAsyncContext *ac,
    redisConnectCallback *fn)
{
    return REDIS_OK;
}


void
fuzz_redisAsyncHandleRead(redisAsyncContext *ac)
{
}


void
fuzz_redisAsyncHandleWrite(redisAsyncContext *ac)
{
}


int
fuzz_redisBufferWrite(redisContext *c, int *done)
{
    return REDIS_ERR;
}


/* every string and integer of a reply, to find a node's address in */

static void
in_reply(redisReply *r, u_char *host, size_t len, long long port,
    ngx_uint_t *found_host, ngx_uint_t *found_port)
{
    size_t  i;

    switch (r->type) {

    case REDIS_REPLY_INTEGER:
        if (r->integer == port) {
            *found_port = 1;
        }
        return;

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        if (r->len == len && ngx_memcmp(r->str, host, len) == 0) {
            *found_host = 1;
        }
        return;

    case REDIS_REPLY_ARRAY:
        for (i = 0; i < r->elements; i++) {
            in_reply(r->element[i], host, len, port, found_host, found_port);
        }
        return;

    default:
        return;
    }
}


static void
check_value(redisReply *reply, size_t n)
{
    u_char      integer[NGX_INT64_LEN], expect[32];
    size_t      i, len;
    ngx_int_t   rc;
    ngx_str_t   array[8], *v;

    ngx_memset(array, 0xa5, sizeof(array));
    ngx_memset(integer, 0xa5, sizeof(integer));

    rc = ngx_http_cometchat_redis_event_value(reply, integer, array, n, &v);

    for (i = n; i < 8; i++) {
        if (array[i].len != (size_t) 0xa5a5a5a5a5a5a5a5ULL) {
            fuzz_fail("array[%zu] of %zu written", i, n);
        }
    }

    switch (reply->type) {

    case REDIS_REPLY_NIL:
        if (rc != NGX_DECLINED || v != NULL) {
            fuzz_fail("nil: rc %ld", (long) rc);
        }
        break;

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        if (rc != (reply->type == REDIS_REPLY_ERROR ? NGX_ERROR : NGX_OK)
            || v != &array[0] || v->data != (u_char *) reply->str
            || v->len != reply->len)
        {
            fuzz_fail("string: rc %ld", (long) rc);
        }
        break;

    case REDIS_REPLY_INTEGER:
        len = snprintf((char *) expect, sizeof(expect), "%lld",
                       reply->integer);

        if (rc != NGX_OK || v != &array[0] || v->data != integer
            || v->len != len || ngx_memcmp(v->data, expect, len) != 0)
        {
            fuzz_fail("integer %lld: rc %ld \"%.*s\"", reply->integer,
                      (long) rc, v ? (int) v->len : 0,
                      v ? (char *) v->data : "");
        }
        break;

    case REDIS_REPLY_ARRAY:
        if (rc == NGX_OK) {
            if (reply->elements > n || v != array) {
                fuzz_fail("array of %zu taken", reply->elements);
            }

            for (i = 0; i < n; i++) {
                if (i >= reply->elements
                    || reply->element[i]->type == REDIS_REPLY_NIL)
                {
                    if (array[i].len || array[i].data) {
                        fuzz_fail("array[%zu] not empty", i);
                    }

                    continue;
                }

                if (reply->element[i]->type != REDIS_REPLY_STRING
                    || array[i].data != (u_char *) reply->element[i]->str
                    || array[i].len != reply->element[i]->len)
                {
                    fuzz_fail("array[%zu] is not the element", i);
                }
            }

            break;
        }

        if (rc != NGX_ERROR || v != NULL) {
            fuzz_fail("array: rc %ld", (long) rc);
        }

        for (i = 0; i < n; i++) {
            if (array[i].len || array[i].data) {
                fuzz_fail("refused array, array[%zu] set", i);
            }
        }
        break;

    default:
        if (rc != NGX_ERROR || v != NULL) {
            fuzz_fail("type %d: rc %ld", reply->type, (long) rc);
        }
    }
}


static void
check_sentinel(redisReply *reply)
{
    u_char                            buf[64], *s;
    long long                         port;
    const char                       *err;
    redisReply                       *h, *p;
    ngx_http_cometchat_redis_peer_t   peer;

    ngx_memset(&peer, 0xa5, sizeof(peer));

    err = ngx_http_cometchat_redis_sentinel_master(reply, &peer);

    if (err == NULL) {
        h = reply->element[0];
        p = reply->element[1];

        if (strlen(peer.host) != h->len
            || ngx_memcmp(peer.host, h->str, h->len) != 0)
        {
            fuzz_fail("master host \"%s\"", peer.host);
        }

        /* the decimal digits of the reply, nothing else */

        port = 0;
        for (s = (u_char *) p->str; s < (u_char *) p->str + p->len; s++) {
            if (*s < '0' || *s > '9' || port > 65535) {
                fuzz_fail("master port \"%.*s\" taken", (int) p->len, p->str);
            }

            port = port * 10 + (*s - '0');
        }

        if (port != peer.port || port < 1 || port > 65535) {
            fuzz_fail("master port %d", peer.port);
        }
    }

    ngx_memset(buf, 0xa5, sizeof(buf));

    err = ngx_http_cometchat_redis_sentinel_role(reply, buf, sizeof(buf));

    if (err == (const char *) buf) {
        if (ngx_strnlen(buf, sizeof(buf)) == sizeof(buf)) {
            fuzz_fail("ROLE message not terminated");
        }

    } else if (err != NULL && ngx_strlen(err) > 64) {
        fuzz_fail("ROLE message");
    }
}


static void
handler(void *data, ngx_int_t rc, ngx_str_t *value)
{
    handled++;
    handled_rc = rc;
}


/* the cluster's reply handler, with reply as the answer to cmd */

static void
cluster_reply(ngx_http_cometchat_redis_cluster_t *cl, redisReply *reply,
    ngx_uint_t kind)
{
    u_char                                    before[16384];
    long long                                 want_slot;
    ngx_uint_t                                i, nnodes, changed, port, host;
    ngx_uint_t                                redirect;
    redisAsyncContext                         ac;
    ngx_http_cometchat_redis_cluster_cmd_t   *cmd;
    ngx_http_cometchat_redis_cluster_node_t  *node, *n;

    static const char  *argv[] = { "GET", "k" };
    static size_t       argvlen[] = { 3, 1 };

    node = &cl->nodes[0];

    cmd = ngx_calloc(sizeof(ngx_http_cometchat_redis_cluster_cmd_t),
                     ngx_cycle->log);
    if (cmd == NULL) {
        fuzz_fail("out of memory");
    }

    cmd->handler = handler;
    cmd->log = ngx_cycle->log;
    cmd->kind = kind;
    cmd->argc = 2;
    cmd->argv = argv;
    cmd->argvlen = argvlen;
    cmd->node = node;
    ngx_queue_insert_tail(&node->cmds, &cmd->queue);
    node->live++;

    /* a context of its own: not the node's, so no timer is armed */

    ngx_memzero(&ac, sizeof(redisAsyncContext));
    ac.data = node;

    ngx_memcpy(before, cl->slots, sizeof(before));
    nnodes = cl->nnodes;
    handled = 0;
    connects = 0;

    redirect = (kind == NGX_HTTP_COMETCHAT_REDIS_CLUSTER_CALLER
                && reply->type == REDIS_REPLY_ERROR
                && ((reply->len > 6 && ngx_strncmp(reply->str, "MOVED ", 6)
                                       == 0)
                    || (reply->len > 4
                        && ngx_strncmp(reply->str, "ASK ", 4) == 0)));

    ngx_http_cometchat_redis_cluster_reply_handler(&ac, reply, cmd);

    if (kind == NGX_HTTP_COMETCHAT_REDIS_CLUSTER_MAP) {
        if (handled) {
            fuzz_fail("handler of the map command called");
        }

    } else if (handled != 1) {
        fuzz_fail("handler called %lu times", (unsigned long) handled);
    }

    if (cl->nnodes > NGX_HTTP_COMETCHAT_REDIS_CLUSTER_NODES
        || cl->nnodes < nnodes)
    {
        fuzz_fail("%lu nodes", (unsigned long) cl->nnodes);
    }

    /* new nodes: an IP and port of the reply */

    for (i = nnodes; i < cl->nnodes; i++) {
        n = &cl->nodes[i];
        port = 0;
        host = 0;

        if (n->peer.port < 1 || n->peer.port > 65535) {
            fuzz_fail("node port %d", n->peer.port);
        }

        if (kind == NGX_HTTP_COMETCHAT_REDIS_CLUSTER_MAP) {
            in_reply(reply, (u_char *) n->peer.host, strlen(n->peer.host),
                     n->peer.port, &host, &port);

            /* "" in the map is the node asked: the seed's IP */

            if (!host && strcmp(n->peer.host, SEED_HOST) == 0) {
                in_reply(reply, (u_char *) "", 0, -1, &host, &port);
            }

            if (!port || !host) {
                fuzz_fail("node %s:%d not in the map", n->peer.host,
                          n->peer.port);
            }

            continue;
        }

        if (!redirect) {
            fuzz_fail("a node from a reply that is no redirection");
        }

        /* "... HOST:PORT": the text after the last ":" and before it */

        {
            u_char     *a, *colon, *t;
            long long   want;

            a = (u_char *) reply->str + reply->len;
            colon = NULL;

            for (t = a - 1; t > (u_char *) reply->str; t--) {
                if (*t == ':' && colon == NULL) {
                    colon = t;
                }

                if (*t == ' ') {
                    break;
                }
            }

            want = 0;

            for (a = colon ? colon + 1 : a;
                 a < (u_char *) reply->str + reply->len; a++)
            {
                if (*a < '0' || *a > '9') {
                    fuzz_fail("port \"%.*s\" taken", (int) reply->len,
                              reply->str);
                }

                want = want * 10 + (*a - '0');

                if (want > 65535) {
                    fuzz_fail("port of \"%.*s\" taken", (int) reply->len,
                              reply->str);
                }
            }

            if (colon == NULL || want != n->peer.port
                || (size_t) (colon - t - 1) != strlen(n->peer.host)
                || ngx_memcmp(t + 1, n->peer.host, colon - t - 1) != 0)
            {
                fuzz_fail("node %s:%d is not the end of \"%.*s\"",
                          n->peer.host, n->peer.port, (int) reply->len,
                          reply->str);
            }
        }
    }

    if (ngx_memcmp(before, cl->slots, sizeof(before)) == 0) {
        return;
    }

    for (i = 0; i < NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SLOTS; i++) {
        if (cl->slots[i] > cl->nnodes) {
            fuzz_fail("slot %lu at node %d of %lu", (unsigned long) i,
                      cl->slots[i], (unsigned long) cl->nnodes);
        }
    }

    if (kind == NGX_HTTP_COMETCHAT_REDIS_CLUSTER_MAP) {
        return;
    }

    changed = 0;

    for (i = 0; i < NGX_HTTP_COMETCHAT_REDIS_CLUSTER_SLOTS; i++) {
        if (cl->slots[i] != before[i]) {
            changed++;

            want_slot = -1;
            if (redirect) {
                want_slot = strtoll(reply->str + 6, NULL, 10);
            }

            if (!redirect || ngx_strncmp(reply->str, "MOVED ", 6) != 0
                || want_slot != (long long) i)
            {
                fuzz_fail("slot %lu moved by \"%.*s\"", (unsigned long) i,
                          (int) reply->len, reply->str);
            }
        }
    }

    if (changed > 1) {
        fuzz_fail("%lu slots moved", (unsigned long) changed);
    }

    if (connects > 1) {
        fuzz_fail("%lu connects for one redirection",
                  (unsigned long) connects);
    }
}


static ngx_http_cometchat_redis_cluster_t *
cluster_new(void)
{
    ngx_http_cometchat_redis_cluster_t  *cl;

    cl = ngx_calloc(sizeof(ngx_http_cometchat_redis_cluster_t),
                    ngx_cycle->log);
    if (cl == NULL) {
        fuzz_fail("out of memory");
    }

    cl->timeout = 1000;
    cl->refresh.handler = ngx_http_cometchat_redis_cluster_refresh_handler;
    cl->refresh.data = cl;
    cl->refresh.cancelable = 1;

    if (ngx_http_cometchat_redis_cluster_node(cl, (u_char *) SEED_HOST,
                                              sizeof(SEED_HOST) - 1,
                                              SEED_PORT)
        == NULL)
    {
        fuzz_fail("no seed node");
    }

    return cl;
}


static void
cluster_free(ngx_http_cometchat_redis_cluster_t *cl)
{
    ngx_uint_t  i;

    if (cl->refresh.timer_set) {
        ngx_del_timer(&cl->refresh);
    }

    for (i = 0; i < cl->nnodes; i++) {
        if (cl->nodes[i].timer.timer_set) {
            ngx_del_timer(&cl->nodes[i].timer);
        }

        if (!ngx_queue_empty(&cl->nodes[i].cmds)) {
            fuzz_fail("node %lu waits on commands", (unsigned long) i);
        }
    }

    if (ngx_event_timer_rbtree.root != &fuzz_timer_sentinel) {
        fuzz_fail("timers left");
    }

    ngx_free(cl);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                                  rc;
    size_t                               chunk, n;
    void                                *r;
    ngx_uint_t                           replies;
    redisReply                          *reply;
    redisReader                         *reader;
    const uint8_t                       *p, *last, *s, *t;
    ngx_http_cometchat_redis_cluster_t  *cl;

    fuzz_ngx_init();

    if (ngx_event_timer_rbtree.root == NULL) {
        ngx_rbtree_init(&ngx_event_timer_rbtree, &fuzz_timer_sentinel,
                        ngx_rbtree_insert_timer_value);
    }

    if (size < 1) {
        return 0;
    }

    chunk = (size_t) data[0] + 1;
    p = data + 1;
    last = data + size;

    /*
     * hiredis 0.14 callocs the element pointers of an array as soon as
     * it reads "*N", for any N: gigabytes, which are hiredis' business
     * (in nginx the allocation fails or maps lazily, and an allocation
     * failure is a reader error that closes the connection).  Such
     * inputs are left out.
     */

    for (s = p; s < last; s++) {
        if (*s != '*') {
            continue;
        }

        for (n = 0, t = s + 1; t < last && *t >= '0' && *t <= '9'; t++) {
            n = n * 10 + (*t - '0');

            if (n > 65536) {
                return 0;
            }
        }
    }

    reader = redisReaderCreate();
    if (reader == NULL) {
        fuzz_fail("out of memory");
    }

    cl = cluster_new();
    replies = 0;

    while (p < last) {
        n = ngx_min(chunk, (size_t) (last - p));

        if (redisReaderFeed(reader, (const char *) p, n) != REDIS_OK) {
            fuzz_fail("feed failed");
        }

        p += n;

        for ( ;; ) {
            r = NULL;
            rc = redisReaderGetReply(reader, &r);

            if (rc != REDIS_OK) {
                /* a protocol error: hiredis closes the connection */
                goto done;
            }

            if (r == NULL) {
                break;
            }

            reply = r;

            /* more replies find nothing new: the input stops here */

            if (++replies > 32) {
                freeReplyObject(reply);
                goto done;
            }

            check_value(reply, 1);
            check_value(reply, NGX_HTTP_COMETCHAT_REDIS_CLUSTER_ARRAY);
            check_sentinel(reply);

            cluster_reply(cl, reply, NGX_HTTP_COMETCHAT_REDIS_CLUSTER_MAP);
            cluster_reply(cl, reply, NGX_HTTP_COMETCHAT_REDIS_CLUSTER_CALLER);

            freeReplyObject(reply);
        }
    }

done:

    cluster_free(cl);
    redisReaderFree(reader);

    return 0;
}
