
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
 */


#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_redis.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


#define NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MAX  5000


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
    ngx_str_t                            name;
    char                                *host;
    int                                  port;
    ngx_str_t                            db;
    ngx_str_t                            password;
    ngx_msec_t                           timeout;

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


static void ngx_http_cometchat_redis_connect(ngx_http_cometchat_redis_t *rd);
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
static ngx_int_t ngx_http_cometchat_redis_array(
    ngx_http_cometchat_redis_cmd_t *cmd, redisReply *reply);
static void ngx_http_cometchat_redis_timer_handler(ngx_event_t *ev);
static void ngx_http_cometchat_redis_retry_handler(ngx_event_t *ev);
static void ngx_http_cometchat_redis_read_handler(ngx_event_t *rev);
static void ngx_http_cometchat_redis_write_handler(ngx_event_t *wev);
static void ngx_http_cometchat_redis_add_read(void *privdata);
static void ngx_http_cometchat_redis_del_read(void *privdata);
static void ngx_http_cometchat_redis_add_write(void *privdata);
static void ngx_http_cometchat_redis_del_write(void *privdata);
static void ngx_http_cometchat_redis_add(ngx_event_t *ev, ngx_int_t event);
static void ngx_http_cometchat_redis_del(ngx_event_t *ev, ngx_int_t event);
static void ngx_http_cometchat_redis_cleanup(void *privdata);
static const char *ngx_http_cometchat_redis_errstr(
    const redisAsyncContext *ac);


static ngx_http_cometchat_redis_t  *ngx_http_cometchat_redis;


ngx_int_t
ngx_http_cometchat_redis_init_process(ngx_cycle_t *cycle)
{
    u_char                          *p;
    size_t                           len;
    ngx_http_cometchat_redis_t      *rd;
    ngx_http_cometchat_main_conf_t  *cmcf;

    ngx_http_cometchat_redis = NULL;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_cometchat_module);

    if (cmcf == NULL || cmcf->redis_addr == NULL || !cmcf->enabled) {
        return NGX_OK;
    }

    len = sizeof(ngx_http_cometchat_redis_t)
          + cmcf->redis_name.len
          + cmcf->redis_host.len + 1
          + NGX_INT_T_LEN
          + cmcf->redis_password.len;

    /* a worker without Redis still serves pages: never fail the worker */

    rd = ngx_calloc(len, cycle->log);
    if (rd == NULL) {
        return NGX_OK;
    }

    p = (u_char *) rd + sizeof(ngx_http_cometchat_redis_t);

    rd->name.data = p;
    rd->name.len = cmcf->redis_name.len;
    p = ngx_cpymem(p, cmcf->redis_name.data, cmcf->redis_name.len);

    rd->host = (char *) p;
    p = ngx_cpymem(p, cmcf->redis_host.data, cmcf->redis_host.len);
    *p++ = '\0';

    rd->port = cmcf->redis_port;

    if (cmcf->redis_db) {
        rd->db.data = p;
        p = ngx_sprintf(p, "%ui", cmcf->redis_db);
        rd->db.len = p - rd->db.data;
    }

    if (cmcf->redis_password.len) {
        rd->password.data = p;
        rd->password.len = cmcf->redis_password.len;
        ngx_memcpy(p, cmcf->redis_password.data, cmcf->redis_password.len);
    }

    rd->timeout = cmcf->redis_timeout;
    rd->fd = (ngx_socket_t) -1;
    rd->backoff = NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MIN;

    ngx_queue_init(&rd->cmds);

    /* the events' log is set when armed: ngx_cycle may change on reload */

    rd->timer.handler = ngx_http_cometchat_redis_timer_handler;
    rd->timer.data = rd;

    rd->retry.handler = ngx_http_cometchat_redis_retry_handler;
    rd->retry.data = rd;
    rd->retry.cancelable = 1;

    ngx_http_cometchat_redis = rd;

    ngx_http_cometchat_redis_connect(rd);

    return NGX_OK;
}


void
ngx_http_cometchat_redis_exit_process(ngx_cycle_t *cycle)
{
    int                          done;
    ngx_uint_t                   n;
    redisAsyncContext           *ac;
    ngx_http_cometchat_redis_t  *rd;

    rd = ngx_http_cometchat_redis;

    if (rd == NULL) {
        return;
    }

    /* the requests are gone with the worker: no handler is called now */

    rd->exiting = 1;

    if (rd->up) {
        rd->up = 0;
        ngx_http_cometchat_status_add(NGX_HTTP_COMETCHAT_STAT_REDIS_UP, -1);
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
    return ngx_http_cometchat_redis != NULL;
}


ngx_flag_t
ngx_http_cometchat_redis_ready(void)
{
    return ngx_http_cometchat_redis != NULL && ngx_http_cometchat_redis->up;
}


ngx_http_cometchat_redis_cmd_t *
ngx_http_cometchat_redis_command(ngx_http_cometchat_redis_handler_pt handler,
    void *data, ngx_log_t *log, int argc, const char **argv,
    const size_t *argvlen)
{
    ngx_http_cometchat_redis_t      *rd;
    ngx_http_cometchat_redis_cmd_t  *cmd;

    rd = ngx_http_cometchat_redis;

    /*
     * no connection: backing off after an error, or exiting; and after an
     * error, a reconnect must be answered before commands wait on it
     */

    if (rd == NULL || rd->ac == NULL || rd->exiting || argc < 1
        || (rd->failing && !rd->up))
    {
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


static void
ngx_http_cometchat_redis_connect(ngx_http_cometchat_redis_t *rd)
{
    int                 argc;
    char               *what;
    const char         *argv[2];
    size_t              argvlen[2];
    ngx_log_t          *log;
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    log = ngx_cycle->log;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "cometchat redis: connect to %V", &rd->name);

    /* the address is numeric (resolved at configuration time) */

    if (rd->port) {
        ac = redisAsyncConnect(rd->host, rd->port);

    } else {
        ac = redisAsyncConnectUnix(rd->host);
    }

    if (ac == NULL) {
        ngx_http_cometchat_redis_lost(rd, "connect to", "out of memory");
        return;
    }

    if (ac->err) {
        ngx_http_cometchat_redis_lost(rd, "connect to",
                                      ngx_http_cometchat_redis_errstr(ac));
        redisAsyncFree(ac);
        return;
    }

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        ngx_http_cometchat_redis_lost(rd, "connect to",
                                      "no free connection");
        redisAsyncFree(ac);
        return;
    }

    c->data = ac;
    c->log = log;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    c->read->handler = ngx_http_cometchat_redis_read_handler;
    c->read->log = log;
    c->write->handler = ngx_http_cometchat_redis_write_handler;
    c->write->log = log;

    ac->data = rd;
    ac->ev.data = c;
    ac->ev.addRead = ngx_http_cometchat_redis_add_read;
    ac->ev.delRead = ngx_http_cometchat_redis_del_read;
    ac->ev.addWrite = ngx_http_cometchat_redis_add_write;
    ac->ev.delWrite = ngx_http_cometchat_redis_del_write;
    ac->ev.cleanup = ngx_http_cometchat_redis_cleanup;

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

    if (rd->password.len) {
        argv[0] = "AUTH";
        argvlen[0] = sizeof("AUTH") - 1;
        argv[1] = (const char *) rd->password.data;
        argvlen[1] = rd->password.len;

        if (redisAsyncCommandArgv(ac,
                                  ngx_http_cometchat_redis_handshake_handler,
                                  "AUTH on", 2, argv, argvlen)
            == REDIS_OK)
        {
            rd->handshake++;
        }
    }

    argc = 0;

    if (rd->db.len) {
        argv[0] = "SELECT";
        argvlen[0] = sizeof("SELECT") - 1;
        argv[1] = (const char *) rd->db.data;
        argvlen[1] = rd->db.len;
        argc = 2;
        what = "SELECT on";

    } else if (rd->password.len == 0) {
        argv[0] = "PING";
        argvlen[0] = sizeof("PING") - 1;
        argc = 1;
        what = "PING on";

    } else {
        what = NULL;
    }

    if (argc
        && redisAsyncCommandArgv(ac,
                                 ngx_http_cometchat_redis_handshake_handler,
                                 what, argc, argv, argvlen)
           == REDIS_OK)
    {
        rd->handshake++;
    }

    ngx_http_cometchat_redis_arm(rd);
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
                                      ngx_http_cometchat_redis_errstr(ac));
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
                                      ngx_http_cometchat_redis_errstr(ac));
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        /* Redis' message, never the password */
        ngx_http_cometchat_redis_close(rd, what, reply->str);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat redis: %s done", what);

    if (--rd->handshake == 0) {
        ngx_http_cometchat_redis_up(rd);
    }
}


static void
ngx_http_cometchat_redis_reply_handler(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_cometchat_redis_cmd_t *cmd = privdata;

    ngx_int_t                    rc;
    ngx_str_t                    value, *v;
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
                                          ngx_http_cometchat_redis_errstr(ac));
        }

        rc = NGX_ERROR;

    } else {

        switch (reply->type) {

        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
            value.data = (u_char *) reply->str;
            value.len = reply->len;
            v = &value;
            rc = NGX_OK;
            break;

        case REDIS_REPLY_INTEGER:
            value.data = cmd->integer;
            value.len = ngx_sprintf(cmd->integer, "%L", reply->integer)
                        - cmd->integer;
            v = &value;
            rc = NGX_OK;
            break;

        case REDIS_REPLY_NIL:
            rc = NGX_DECLINED;
            break;

        case REDIS_REPLY_ERROR:
            value.data = (u_char *) reply->str;
            value.len = reply->len;
            v = &value;
            rc = NGX_ERROR;

            ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_REDIS_ERRORS);

            if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS))
            {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              NGX_HTTP_COMETCHAT_LOG_PREFIX
                              "redis command on \"%V\" failed: %V",
                              &rd->name, &value);
            }

            break;

        case REDIS_REPLY_ARRAY:
            if (ngx_http_cometchat_redis_array(cmd, reply) == NGX_OK) {
                v = cmd->array;
                rc = NGX_OK;
                break;
            }

            /* fall through */

        default:
            rc = NGX_ERROR;

            ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_REDIS_ERRORS);

            if (ngx_http_cometchat_log_allowed(NGX_HTTP_COMETCHAT_PART_REDIS))
            {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              NGX_HTTP_COMETCHAT_LOG_PREFIX
                              "redis command on \"%V\" failed: "
                              "unexpected reply type %d",
                              &rd->name, reply->type);
            }

            break;
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
    rd->up = 1;
    rd->failing = 0;
    rd->backoff = NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MIN;

    ngx_http_cometchat_status_add(NGX_HTTP_COMETCHAT_STAT_REDIS_UP, 1);

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
 * Pending commands still get their NULL replies from hiredis.
 */

static void
ngx_http_cometchat_redis_lost(ngx_http_cometchat_redis_t *rd,
    const char *what, const char *detail)
{
    rd->ac = NULL;

    if (rd->up) {
        rd->up = 0;
        ngx_http_cometchat_status_add(NGX_HTTP_COMETCHAT_STAT_REDIS_UP, -1);
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

    if (rd->backoff > NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MAX) {
        rd->backoff = NGX_HTTP_COMETCHAT_REDIS_BACKOFF_MAX;
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


/* MGET: a short array of strings and nils, as consecutive ngx_str_t */

static ngx_int_t
ngx_http_cometchat_redis_array(ngx_http_cometchat_redis_cmd_t *cmd,
    redisReply *reply)
{
    size_t       i;
    redisReply  *e;

    if (reply->elements > NGX_HTTP_COMETCHAT_REDIS_ARRAY) {
        return NGX_ERROR;
    }

    ngx_memzero(cmd->array, sizeof(cmd->array));

    for (i = 0; i < reply->elements; i++) {
        e = reply->element[i];

        if (e->type == REDIS_REPLY_NIL) {
            continue;
        }

        if (e->type != REDIS_REPLY_STRING) {
            return NGX_ERROR;
        }

        cmd->array[i].data = (u_char *) e->str;
        cmd->array[i].len = e->len;
    }

    return NGX_OK;
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

    if (rd->ac || rd->exiting || ngx_exiting || ngx_terminate) {
        return;
    }

    ngx_http_cometchat_redis_connect(rd);
}


static void
ngx_http_cometchat_redis_read_handler(ngx_event_t *rev)
{
    ngx_connection_t            *c;
    redisAsyncContext           *ac;
    ngx_http_cometchat_redis_t  *rd;

    c = rev->data;
    ac = c->data;

    if (c->close) {
        /* worker_shutdown_timeout: every connection is being closed */
        rd = ac->data;

        /* pending handlers are called: their requests are still open */

        if (rd->ac == ac) {
            ngx_http_cometchat_redis_close(rd, NULL, NULL);
        }

        return;
    }

    /*
     * hiredis reads 16 KiB per call; the event is level-triggered, so
     * whatever is left raises it again.  ac and c may be freed on return.
     */

    redisAsyncHandleRead(ac);
}


static void
ngx_http_cometchat_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t  *c;

    c = wev->data;

    redisAsyncHandleWrite(c->data);
}


static void
ngx_http_cometchat_redis_add_read(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_http_cometchat_redis_add(c->read, NGX_READ_EVENT);
}


static void
ngx_http_cometchat_redis_del_read(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_http_cometchat_redis_del(c->read, NGX_READ_EVENT);
}


static void
ngx_http_cometchat_redis_add_write(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_http_cometchat_redis_add(c->write, NGX_WRITE_EVENT);
}


static void
ngx_http_cometchat_redis_del_write(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_http_cometchat_redis_del(c->write, NGX_WRITE_EVENT);
}


static void
ngx_http_cometchat_redis_add(ngx_event_t *ev, ngx_int_t event)
{
    ngx_connection_t            *c;
    redisAsyncContext           *ac;
    ngx_http_cometchat_redis_t  *rd;

    if (ev->active) {
        return;
    }

    /* level-triggered: see the read handler */

    if (ngx_add_event(ev, event, NGX_LEVEL_EVENT) == NGX_OK) {
        return;
    }

    /*
     * called from inside hiredis: the connection cannot be freed here,
     * the timer handler does it on the next turn of the loop
     */

    c = ev->data;
    ac = c->data;
    rd = ac->data;

    if (rd->ac == ac && !rd->broken) {
        rd->broken = 1;

        if (rd->timer.timer_set) {
            ngx_del_timer(&rd->timer);
        }

        rd->timer.log = ngx_cycle->log;
        ngx_add_timer(&rd->timer, 0);
    }
}


static void
ngx_http_cometchat_redis_del(ngx_event_t *ev, ngx_int_t event)
{
    if (ev->active) {
        (void) ngx_del_event(ev, event, 0);
    }
}


/* hiredis closes the fd itself, right after this */

static void
ngx_http_cometchat_redis_cleanup(void *privdata)
{
    ngx_connection_t *c = privdata;

    redisAsyncContext           *ac;
    ngx_http_cometchat_redis_t  *rd;

    ac = c->data;
    rd = ac->data;

    if (rd->ac == ac) {
        ngx_http_cometchat_redis_lost(rd, rd->up ? "connection to"
                                                 : "connect to",
                                      ngx_http_cometchat_redis_errstr(ac));
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "cometchat redis: cleanup fd:%d", c->fd);

    ngx_http_cometchat_redis_del(c->read, NGX_READ_EVENT);
    ngx_http_cometchat_redis_del(c->write, NGX_WRITE_EVENT);

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
}


static const char *
ngx_http_cometchat_redis_errstr(const redisAsyncContext *ac)
{
    /* ac->errstr is only copied from ac->c on some paths */

    if (ac->c.err && ac->c.errstr[0]) {
        return ac->c.errstr;
    }

    return "connection closed";
}
