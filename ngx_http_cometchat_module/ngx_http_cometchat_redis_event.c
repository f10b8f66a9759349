
/*
 * ngx_http_cometchat_module: hiredis async contexts on nginx events.
 *
 * Each context gets an ngx_connection_t for its fd; hiredis' add/del
 * hooks become level-triggered nginx events, and its cleanup hook frees
 * the connection.  What a context is for is its owner's business
 * (ngx_http_cometchat_redis.c): the owner hears through the handlers
 * given to ngx_http_cometchat_redis_event_init() when a context goes.
 */


#include "ngx_http_cometchat_redis_event.h"


static void ngx_http_cometchat_redis_event_read_handler(ngx_event_t *rev);
static void ngx_http_cometchat_redis_event_write_handler(ngx_event_t *wev);
static void ngx_http_cometchat_redis_event_add_read(void *privdata);
static void ngx_http_cometchat_redis_event_del_read(void *privdata);
static void ngx_http_cometchat_redis_event_add_write(void *privdata);
static void ngx_http_cometchat_redis_event_del_write(void *privdata);
static void ngx_http_cometchat_redis_event_add(ngx_event_t *ev,
    ngx_int_t event);
static void ngx_http_cometchat_redis_event_del(ngx_event_t *ev,
    ngx_int_t event);
static void ngx_http_cometchat_redis_event_cleanup(void *privdata);


static ngx_http_cometchat_redis_event_handlers_t
    *ngx_http_cometchat_redis_event_handlers;


void
ngx_http_cometchat_redis_event_init(
    ngx_http_cometchat_redis_event_handlers_t *handlers)
{
    ngx_http_cometchat_redis_event_handlers = handlers;
}


/* NGX_ERROR: ac is the caller's to free */

ngx_int_t
ngx_http_cometchat_redis_event_attach(redisAsyncContext *ac, ngx_log_t *log)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->log = log;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    c->read->handler = ngx_http_cometchat_redis_event_read_handler;
    c->read->log = log;
    c->write->handler = ngx_http_cometchat_redis_event_write_handler;
    c->write->log = log;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_cometchat_redis_event_add_read;
    ac->ev.delRead = ngx_http_cometchat_redis_event_del_read;
    ac->ev.addWrite = ngx_http_cometchat_redis_event_add_write;
    ac->ev.delWrite = ngx_http_cometchat_redis_event_del_write;
    ac->ev.cleanup = ngx_http_cometchat_redis_event_cleanup;

    return NGX_OK;
}


static void
ngx_http_cometchat_redis_event_read_handler(ngx_event_t *rev)
{
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    c = rev->data;
    ac = c->data;

    if (c->close) {
        /* worker_shutdown_timeout: every connection is being closed */
        ngx_http_cometchat_redis_event_handlers->closing(ac);
        return;
    }

    /*
     * hiredis reads 16 KiB per call; the event is level-triggered, so
     * whatever is left raises it again.  ac and c may be freed on return.
     */

    redisAsyncHandleRead(ac);
}


static void
ngx_http_cometchat_redis_event_write_handler(ngx_event_t *wev)
{
    ngx_connection_t  *c;

    c = wev->data;

    redisAsyncHandleWrite(c->data);
}


static void
ngx_http_cometchat_redis_event_add_read(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_http_cometchat_redis_event_add(c->read, NGX_READ_EVENT);
}


static void
ngx_http_cometchat_redis_event_del_read(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_http_cometchat_redis_event_del(c->read, NGX_READ_EVENT);
}


static void
ngx_http_cometchat_redis_event_add_write(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_http_cometchat_redis_event_add(c->write, NGX_WRITE_EVENT);
}


static void
ngx_http_cometchat_redis_event_del_write(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_http_cometchat_redis_event_del(c->write, NGX_WRITE_EVENT);
}


static void
ngx_http_cometchat_redis_event_add(ngx_event_t *ev, ngx_int_t event)
{
    ngx_connection_t  *c;

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

    ngx_http_cometchat_redis_event_handlers->broken(c->data);
}


static void
ngx_http_cometchat_redis_event_del(ngx_event_t *ev, ngx_int_t event)
{
    if (ev->active) {
        (void) ngx_del_event(ev, event, 0);
    }
}


/* hiredis closes the fd itself, right after this */

static void
ngx_http_cometchat_redis_event_cleanup(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_http_cometchat_redis_event_handlers->gone(c->data);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "cometchat redis: cleanup fd:%d", c->fd);

    ngx_http_cometchat_redis_event_del(c->read, NGX_READ_EVENT);
    ngx_http_cometchat_redis_event_del(c->write, NGX_WRITE_EVENT);

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


const char *
ngx_http_cometchat_redis_event_errstr(const redisAsyncContext *ac)
{
    /* ac->errstr is only copied from ac->c on some paths */

    if (ac->c.err && ac->c.errstr[0]) {
        return ac->c.errstr;
    }

    return "connection closed";
}


/*
 * What a reply means to the callers of ngx_http_cometchat_redis_command()
 * (see ngx_http_cometchat_redis.h): a string, status or integer (printed
 * into integer, NGX_INT64_LEN bytes) is array[0]; an array of up to n
 * strings and nils fills array.  An error reply is NGX_ERROR with its
 * message in *value; a reply of another shape is NGX_ERROR with *value
 * NULL.
 */

ngx_int_t
ngx_http_cometchat_redis_event_value(redisReply *reply, u_char *integer,
    ngx_str_t *array, size_t n, ngx_str_t **value)
{
    u_char      *p;
    size_t       i;
    uint64_t     u;
    redisReply  *e;

    *value = NULL;

    ngx_memzero(array, n * sizeof(ngx_str_t));

    switch (reply->type) {

    case REDIS_REPLY_NIL:
        return NGX_DECLINED;

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        array[0].data = (u_char *) reply->str;
        array[0].len = reply->len;
        *value = &array[0];
        return reply->type == REDIS_REPLY_ERROR ? NGX_ERROR : NGX_OK;

    case REDIS_REPLY_INTEGER:

        /* "%L" negates the number: not -9223372036854775808 */

        p = integer;
        u = (uint64_t) reply->integer;

        if (reply->integer < 0) {
            *p++ = '-';
            u = 0 - u;
        }

        array[0].data = integer;
        array[0].len = ngx_sprintf(p, "%uL", u) - integer;
        *value = &array[0];
        return NGX_OK;

    case REDIS_REPLY_ARRAY:
        if (reply->elements > n) {
            return NGX_ERROR;
        }

        for (i = 0; i < reply->elements; i++) {
            e = reply->element[i];

            if (e->type == REDIS_REPLY_NIL) {
                continue;
            }

            if (e->type != REDIS_REPLY_STRING) {
                ngx_memzero(array, n * sizeof(ngx_str_t));
                return NGX_ERROR;
            }

            array[i].data = (u_char *) e->str;
            array[i].len = e->len;
        }

        *value = array;
        return NGX_OK;

    default:
        return NGX_ERROR;
    }
}
