
/*
 * CometChat REST calls with libcurl's multi interface, driven entirely by
 * nginx events and timers: one multi handle per worker, no threads of our
 * own (name lookups use curl's threaded resolver), nothing ever waits.
 *
 * Sockets.  The module opens and closes curl's sockets itself
 * (CURLOPT_OPENSOCKETFUNCTION / CURLOPT_CLOSESOCKETFUNCTION), so an nginx
 * connection lives exactly as long as its fd, whatever order curl's
 * CURL_POLL_REMOVE comes in (curl issues #1776, #3597, #16026, #17949:
 * late, twice or never).  Sockets are found by fd, never by the pointer
 * curl keeps for them, which can outlive the socket.  The few sockets curl
 * opens without the callback (the threaded resolver's socket pair) are
 * wrapped when first seen and let go on CURL_POLL_REMOVE.
 *
 * Events are level-triggered: curl does not promise to read a socket dry.
 */


#include "ngx_http_cometchat_json.h"
#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_rest.h"


#define NGX_HTTP_COMETCHAT_REST_BODY_MAX  NGX_HTTP_COMETCHAT_JSON_MAX

/* a Retry-After beyond this is treated as this: a broken header must not
 * stop chat for a day */
#define NGX_HTTP_COMETCHAT_REST_RETRY_MAX  3600


typedef struct {
    ngx_connection_t           *c;
    ngx_uint_t                  owned;      /* opened by our callback */
    dev_t                       dev;        /* foreign: what the fd was */
    ino_t                       ino;
} ngx_http_cometchat_rest_sock_t;


struct ngx_http_cometchat_rest_call_s {
    CURL                       *easy;
    struct curl_slist          *headers;

    ngx_http_cometchat_rest_handler_pt  handler;
    void                               *data;
    ngx_http_cometchat_egress_t        *egress;     /* configuration's */

    ngx_queue_t                 queue;

    u_char                     *body;       /* request body, owned */
    size_t                      body_len;

    u_char                     *buf;        /* reply body */
    size_t                      len;
    size_t                      size;

    time_t                      retry_after;    /* Retry-After, seconds */
    time_t                      reset;          /* X-Rate-Limit-Reset */

    unsigned                    too_big:1;
    unsigned                    in_handler:1;

    char                        errbuf[CURL_ERROR_SIZE];
    u_char                      error[CURL_ERROR_SIZE + 256];   /* logged */
};


static int ngx_http_cometchat_rest_socket(CURL *easy, curl_socket_t s,
    int what, void *userp, void *socketp);
static int ngx_http_cometchat_rest_timer(CURLM *multi, long timeout_ms,
    void *userp);
static curl_socket_t ngx_http_cometchat_rest_open(void *clientp,
    curlsocktype purpose, struct curl_sockaddr *addr);
static int ngx_http_cometchat_rest_close(void *clientp, curl_socket_t s);
static ngx_http_cometchat_rest_sock_t *ngx_http_cometchat_rest_sock(
    ngx_socket_t s, ngx_uint_t create);
static ngx_int_t ngx_http_cometchat_rest_wrap(ngx_socket_t s,
    ngx_uint_t owned);
static void ngx_http_cometchat_rest_forget(ngx_http_cometchat_rest_sock_t *sk,
    ngx_uint_t fd_gone);
static void ngx_http_cometchat_rest_event_handler(ngx_event_t *ev);
static void ngx_http_cometchat_rest_timer_handler(ngx_event_t *ev);
static void ngx_http_cometchat_rest_action(curl_socket_t s, int mask);
static void ngx_http_cometchat_rest_done(ngx_http_cometchat_rest_call_t *call,
    CURLcode rc);
static void ngx_http_cometchat_rest_free(ngx_http_cometchat_rest_call_t *call);
static size_t ngx_http_cometchat_rest_write(char *ptr, size_t size,
    size_t nmemb, void *userdata);
static size_t ngx_http_cometchat_rest_header(char *ptr, size_t size,
    size_t nmemb, void *userdata);
static time_t ngx_http_cometchat_rest_seconds(u_char *p, u_char *last,
    ngx_uint_t epoch);


/* per worker */
static CURLM                           *ngx_http_cometchat_rest_multi;
static ngx_uint_t                       ngx_http_cometchat_rest_global;
static ngx_event_t                      ngx_http_cometchat_rest_tev;
static ngx_connection_t                 ngx_http_cometchat_rest_dummy;
static ngx_http_cometchat_rest_sock_t  *ngx_http_cometchat_rest_socks;
static ngx_uint_t                       ngx_http_cometchat_rest_nsocks;
static ngx_queue_t                      ngx_http_cometchat_rest_calls;
static ngx_uint_t                       ngx_http_cometchat_rest_ncalls;


ngx_int_t
ngx_http_cometchat_rest_init_process(ngx_cycle_t *cycle)
{
    CURLcode                         rc;
    curl_version_info_data          *vi;
    ngx_http_cometchat_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_cometchat_module);

    if (cmcf == NULL || !cmcf->enabled) {
        return NGX_OK;
    }

    /*
     * workers are single-threaded processes: curl_global_init() cannot
     * race here, and it runs once per worker, before any call.  A worker
     * without a REST client still serves pages, without chat.
     */

    rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "curl_global_init() failed: %s",
                      curl_easy_strerror(rc));
        return NGX_OK;
    }

    ngx_http_cometchat_rest_global = 1;

    (void) ngx_http_cometchat_egress_init_process(cycle);

    vi = curl_version_info(CURLVERSION_NOW);

    if (!(vi->features & CURL_VERSION_ASYNCHDNS)) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "libcurl %s resolves names synchronously: use an IP "
                      "address in \"cometchat_api_url\" or a libcurl with "
                      "AsynchDNS, or a name lookup will block the worker",
                      vi->version);
    }

    ngx_http_cometchat_rest_multi = curl_multi_init();
    if (ngx_http_cometchat_rest_multi == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "curl_multi_init() failed");
        return NGX_OK;
    }

    curl_multi_setopt(ngx_http_cometchat_rest_multi,
                      CURLMOPT_SOCKETFUNCTION,
                      ngx_http_cometchat_rest_socket);
    curl_multi_setopt(ngx_http_cometchat_rest_multi,
                      CURLMOPT_TIMERFUNCTION,
                      ngx_http_cometchat_rest_timer);

    /* idle connections kept for reuse */
    curl_multi_setopt(ngx_http_cometchat_rest_multi, CURLMOPT_MAXCONNECTS,
                      16L);

    ngx_queue_init(&ngx_http_cometchat_rest_calls);
    ngx_http_cometchat_rest_ncalls = 0;

    ngx_http_cometchat_rest_socks = NULL;
    ngx_http_cometchat_rest_nsocks = 0;

    /* ngx_add_timer() logs ((ngx_connection_t *) ev->data)->fd */
    ngx_memzero(&ngx_http_cometchat_rest_dummy, sizeof(ngx_connection_t));
    ngx_http_cometchat_rest_dummy.fd = (ngx_socket_t) -1;

    ngx_memzero(&ngx_http_cometchat_rest_tev, sizeof(ngx_event_t));
    ngx_http_cometchat_rest_tev.handler =
                                        ngx_http_cometchat_rest_timer_handler;
    ngx_http_cometchat_rest_tev.data = &ngx_http_cometchat_rest_dummy;
    ngx_http_cometchat_rest_tev.log = cycle->log;
    ngx_http_cometchat_rest_tev.cancelable = 1;

    return NGX_OK;
}


void
ngx_http_cometchat_rest_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_queue_t                     *q;
    ngx_http_cometchat_rest_call_t  *call;

    if (ngx_http_cometchat_rest_multi) {

        /* calls still in flight die with the worker, silently */

        while (!ngx_queue_empty(&ngx_http_cometchat_rest_calls)) {
            q = ngx_queue_head(&ngx_http_cometchat_rest_calls);
            call = ngx_queue_data(q, ngx_http_cometchat_rest_call_t, queue);
            ngx_http_cometchat_rest_free(call);
        }

        /* closes the cached connections through our close callback */
        curl_multi_cleanup(ngx_http_cometchat_rest_multi);
        ngx_http_cometchat_rest_multi = NULL;
    }

    if (ngx_http_cometchat_rest_tev.timer_set) {
        ngx_del_timer(&ngx_http_cometchat_rest_tev);
    }

    if (ngx_http_cometchat_rest_socks) {

        /* anything curl forgot to close or remove */

        for (i = 0; i < ngx_http_cometchat_rest_nsocks; i++) {
            if (ngx_http_cometchat_rest_socks[i].c) {
                if (ngx_http_cometchat_rest_socks[i].owned) {
                    ngx_close_connection(ngx_http_cometchat_rest_socks[i].c);
                    ngx_http_cometchat_rest_socks[i].c = NULL;

                } else {
                    ngx_http_cometchat_rest_forget(
                                     &ngx_http_cometchat_rest_socks[i], 0);
                }
            }
        }

        ngx_free(ngx_http_cometchat_rest_socks);
        ngx_http_cometchat_rest_socks = NULL;
        ngx_http_cometchat_rest_nsocks = 0;
    }

    ngx_http_cometchat_egress_exit_process();

    if (ngx_http_cometchat_rest_global) {
        curl_global_cleanup();
        ngx_http_cometchat_rest_global = 0;
    }
}


ngx_http_cometchat_rest_call_t *
ngx_http_cometchat_rest_start(ngx_str_t *method, ngx_str_t *url,
    ngx_str_t *api_key, ngx_str_t *body, ngx_msec_t timeout,
    ngx_http_cometchat_egress_t *egress,
    ngx_http_cometchat_rest_handler_pt handler, void *data, ngx_log_t *log)
{
    u_char                          *p, *tmp;
    size_t                           n;
    CURL                            *easy;
    CURLMcode                        mrc;
    struct curl_slist               *hl;
    ngx_http_cometchat_rest_call_t  *call;

    /*
     * no client when its start failed (logged then); the caller's error
     * line, rate-limited, says that the call could not be started.  The
     * key was checked for control characters at configuration time.
     */

    if (ngx_http_cometchat_rest_multi == NULL) {
        return NULL;
    }

    n = body ? body->len : 0;

    call = ngx_calloc(sizeof(ngx_http_cometchat_rest_call_t) + n + 1, log);
    if (call == NULL) {
        return NULL;
    }

    /* the body must outlive the caller's memory: curl reads it later */

    call->body = (u_char *) (call + 1);
    call->body_len = n;

    if (n) {
        ngx_memcpy(call->body, body->data, n);
    }

    call->handler = handler;
    call->data = data;
    call->egress = egress;

    easy = curl_easy_init();
    if (easy == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0, NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "curl_easy_init() failed");
        ngx_free(call);
        return NULL;
    }

    call->easy = easy;

    /* longest of the temporary strings: "apikey: KEY" or the URL */
    n = ngx_max(url->len, sizeof("apikey: ") - 1 + api_key->len) + 1;

    tmp = ngx_alloc(n, log);
    if (tmp == NULL) {
        goto failed;
    }

    /* curl copies string options and header lines */

    p = ngx_cpymem(tmp, url->data, url->len);
    *p = '\0';

    if (curl_easy_setopt(easy, CURLOPT_URL, tmp) != CURLE_OK) {
        ngx_free(tmp);
        ngx_log_error(NGX_LOG_ERR, log, 0, NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "bad CometChat URL \"%V\"", url);
        goto failed;
    }

    p = ngx_cpymem(tmp, "apikey: ", sizeof("apikey: ") - 1);
    p = ngx_cpymem(p, api_key->data, api_key->len);
    *p = '\0';

    hl = curl_slist_append(NULL, (char *) tmp);

    ngx_explicit_memzero(tmp, n);
    ngx_free(tmp);

    if (hl == NULL) {
        goto failed;
    }

    call->headers = hl;

    /* Expect: no 100-continue round trip */

    if (curl_slist_append(hl, "Content-Type: application/json") == NULL
        || curl_slist_append(hl, "Accept: application/json") == NULL
        || curl_slist_append(hl, "Expect:") == NULL)
    {
        goto failed;
    }

    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, call->headers);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, call);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, call->errbuf);

    /* the key is in a header: curl's own tracing must stay off */
    curl_easy_setopt(easy, CURLOPT_VERBOSE, 0L);

    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);

    /*
     * a call that times out or is cancelled while its name lookup runs
     * would otherwise join the resolver thread, blocking the worker until
     * getaddrinfo() returns; this leaves the thread to finish alone
     */
    curl_easy_setopt(easy, CURLOPT_QUICK_EXIT, 1L);

    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) timeout);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) timeout);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "ngx_http_cometchat_module");

    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                     ngx_http_cometchat_rest_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION,
                     ngx_http_cometchat_rest_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, call);

    /* before the key is sent: who the peer must be, and the way there */

    if (ngx_http_cometchat_egress_setopt(easy, egress, log) != NGX_OK) {
        goto failed;
    }

    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION,
                     ngx_http_cometchat_rest_open);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION,
                     ngx_http_cometchat_rest_close);

    if (method->len == 3 && ngx_strncmp(method->data, "GET", 3) == 0) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);

    } else {
        if (method->len == 4 && ngx_strncmp(method->data, "POST", 4) == 0) {
            curl_easy_setopt(easy, CURLOPT_POST, 1L);

        } else {
            p = ngx_alloc(method->len + 1, log);
            if (p == NULL) {
                goto failed;
            }

            ngx_memcpy(p, method->data, method->len);
            p[method->len] = '\0';

            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, p);

            ngx_free(p);
        }

        if (body || method->data[0] == 'P') {
            curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE,
                             (long) call->body_len);
            curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->body);
        }
    }

    mrc = curl_multi_add_handle(ngx_http_cometchat_rest_multi, easy);
    if (mrc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0, NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "curl_multi_add_handle() failed: %s",
                      curl_multi_strerror(mrc));
        goto failed;
    }

    ngx_queue_insert_tail(&ngx_http_cometchat_rest_calls, &call->queue);
    ngx_http_cometchat_rest_ncalls++;

    /* a call in flight holds a graceful shutdown until it ends */
    ngx_http_cometchat_rest_tev.cancelable = 0;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                   "cometchat rest: %p %V %V, %uz bytes", call, method, url,
                   call->body_len);

    return call;

failed:

    curl_easy_cleanup(easy);

    if (call->headers) {
        curl_slist_free_all(call->headers);
    }

    ngx_free(call);

    return NULL;
}


void
ngx_http_cometchat_rest_cancel(ngx_http_cometchat_rest_call_t *call)
{
    if (call == NULL || call->in_handler) {
        /* the call is ending anyway and is freed after its handler */
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat rest: %p cancelled", call);

    ngx_http_cometchat_rest_free(call);
}


static void
ngx_http_cometchat_rest_free(ngx_http_cometchat_rest_call_t *call)
{
    ngx_queue_remove(&call->queue);
    ngx_http_cometchat_rest_ncalls--;

    if (ngx_http_cometchat_rest_ncalls == 0) {
        ngx_http_cometchat_rest_tev.cancelable = 1;
    }

    /* may close the socket: our close callback, not this call, frees it */
    curl_multi_remove_handle(ngx_http_cometchat_rest_multi, call->easy);
    curl_easy_cleanup(call->easy);

    curl_slist_free_all(call->headers);

    if (call->buf) {
        ngx_free(call->buf);
    }

    ngx_free(call);
}


static int
ngx_http_cometchat_rest_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp)
{
    ngx_event_t                     *rev, *wev;
    ngx_connection_t                *c;
    ngx_http_cometchat_rest_sock_t  *sk;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat rest: socket %d, action %d", (int) s, what);

    sk = ngx_http_cometchat_rest_sock(s, 0);

    if (what == CURL_POLL_REMOVE) {
        if (sk == NULL || sk->c == NULL) {
            /* already closed through our callback */
            return 0;
        }

        if (sk->owned) {
            /* stays open in curl's connection cache: watch nothing */
            c = sk->c;

            if (c->read->active) {
                ngx_del_event(c->read, NGX_READ_EVENT, 0);
            }

            if (c->write->active) {
                ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
            }

            return 0;
        }

        /* curl closes its foreign sockets itself, maybe already */

        ngx_http_cometchat_rest_forget(sk,
                                       fcntl(s, F_GETFD) == -1
                                       && ngx_errno == NGX_EBADF);
        return 0;
    }

    if (sk == NULL || sk->c == NULL) {
        if (ngx_http_cometchat_rest_wrap(s, 0) != NGX_OK) {
            return -1;
        }

        sk = ngx_http_cometchat_rest_sock(s, 0);
    }

    c = sk->c;
    rev = c->read;
    wev = c->write;

    if (what & CURL_POLL_IN) {
        if (!rev->active
            && ngx_add_event(rev, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
        {
            return -1;
        }

    } else if (rev->active) {
        if (ngx_del_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
            return -1;
        }
    }

    if (what & CURL_POLL_OUT) {
        if (!wev->active
            && ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
        {
            return -1;
        }

    } else if (wev->active) {
        if (ngx_del_event(wev, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return -1;
        }
    }

    return 0;
}


static int
ngx_http_cometchat_rest_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_event_t  *tev;

    /* curl may not be called from here: its timer only wakes us */

    tev = &ngx_http_cometchat_rest_tev;

    if (tev->timer_set) {
        /* ngx_add_timer() would keep an old timer up to 300 ms off */
        ngx_del_timer(tev);
    }

    if (timeout_ms >= 0) {
        ngx_add_timer(tev, (ngx_msec_t) timeout_ms);
    }

    return 0;
}


static curl_socket_t
ngx_http_cometchat_rest_open(void *clientp, curlsocktype purpose,
    struct curl_sockaddr *addr)
{
    ngx_socket_t  s;

    s = ngx_socket(addr->family, addr->socktype, addr->protocol);

    if (s == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, ngx_socket_errno,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "socket() for CometChat failed");
        return CURL_SOCKET_BAD;
    }

    if (ngx_http_cometchat_rest_wrap(s, 1) != NGX_OK) {
        ngx_close_socket(s);
        return CURL_SOCKET_BAD;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat rest: socket %d opened", (int) s);

    return s;
}


static int
ngx_http_cometchat_rest_close(void *clientp, curl_socket_t s)
{
    ngx_http_cometchat_rest_sock_t  *sk;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat rest: socket %d closed", (int) s);

    sk = ngx_http_cometchat_rest_sock(s, 0);

    if (sk && sk->c && sk->owned) {
        /* deletes its events, timers and posted events, closes the fd */
        ngx_close_connection(sk->c);
        sk->c = NULL;
        return 0;
    }

    return ngx_close_socket(s);
}


static ngx_http_cometchat_rest_sock_t *
ngx_http_cometchat_rest_sock(ngx_socket_t s, ngx_uint_t create)
{
    ngx_uint_t                       n;
    ngx_http_cometchat_rest_sock_t  *socks;

    if (s < 0) {
        return NULL;
    }

    if ((ngx_uint_t) s < ngx_http_cometchat_rest_nsocks) {
        return &ngx_http_cometchat_rest_socks[s];
    }

    if (!create) {
        return NULL;
    }

    for (n = ngx_max(ngx_http_cometchat_rest_nsocks, 64); n <= (ngx_uint_t) s;
         n *= 2)
    {
        /* void */
    }

    socks = ngx_calloc(n * sizeof(ngx_http_cometchat_rest_sock_t),
                       ngx_cycle->log);
    if (socks == NULL) {
        return NULL;
    }

    if (ngx_http_cometchat_rest_socks) {
        ngx_memcpy(socks, ngx_http_cometchat_rest_socks,
                   ngx_http_cometchat_rest_nsocks
                   * sizeof(ngx_http_cometchat_rest_sock_t));
        ngx_free(ngx_http_cometchat_rest_socks);
    }

    ngx_http_cometchat_rest_socks = socks;
    ngx_http_cometchat_rest_nsocks = n;

    return &socks[s];
}


static ngx_int_t
ngx_http_cometchat_rest_wrap(ngx_socket_t s, ngx_uint_t owned)
{
    struct stat                      st;
    ngx_connection_t                *c;
    ngx_http_cometchat_rest_sock_t  *sk;

    sk = ngx_http_cometchat_rest_sock(s, 1);
    if (sk == NULL) {
        return NGX_ERROR;
    }

    if (sk->c) {
        /*
         * the fd number was closed behind our back (a foreign socket
         * curl closed without a REMOVE) and has been reused: the kernel
         * already dropped its old registration
         */
        ngx_http_cometchat_rest_forget(sk, 1);
    }

    if (!owned) {
        if (fstat(s, &st) == -1) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, ngx_errno,
                          NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "fstat(%d) of a curl socket failed", (int) s);
            return NGX_ERROR;
        }

        sk->dev = st.st_dev;
        sk->ino = st.st_ino;
    }

    c = ngx_get_connection(s, ngx_cycle->log);
    if (c == NULL) {
        /* ngx_get_connection() has logged "worker_connections are not
         * enough" */
        return NGX_ERROR;
    }

    c->log = ngx_cycle->log;
    c->read->log = c->log;
    c->write->log = c->log;
    c->read->handler = ngx_http_cometchat_rest_event_handler;
    c->write->handler = ngx_http_cometchat_rest_event_handler;
    c->data = NULL;

    sk->c = c;
    sk->owned = owned;

    return NGX_OK;
}


static void
ngx_http_cometchat_rest_forget(ngx_http_cometchat_rest_sock_t *sk,
    ngx_uint_t fd_gone)
{
    ngx_connection_t  *c;

    c = sk->c;
    sk->c = NULL;

    if (fd_gone) {
        /* closing the fd removed it from epoll; no syscall on its number */
        c->read->active = 0;
        c->write->active = 0;

    } else {
        if (c->read->active) {
            ngx_del_event(c->read, NGX_READ_EVENT, 0);
        }

        if (c->write->active) {
            ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
        }
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /* the fd is curl's: free the connection, leave the fd alone */
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}


static void
ngx_http_cometchat_rest_event_handler(ngx_event_t *ev)
{
    struct stat                      st;
    ngx_socket_t                     s;
    ngx_connection_t                *c;
    ngx_http_cometchat_rest_sock_t  *sk;

    c = ev->data;
    s = c->fd;

    sk = ngx_http_cometchat_rest_sock(s, 0);

    if (sk && sk->c == c && !sk->owned
        && (fstat(s, &st) == -1
            || st.st_dev != sk->dev || st.st_ino != sk->ino))
    {
        /* a foreign socket curl closed: its number now names another
         * file, which must not be touched */
        ngx_http_cometchat_rest_forget(sk, 1);
        return;
    }

    /* c may be freed by curl's close callback from here on */

    ngx_http_cometchat_rest_action(s, ev->write ? CURL_CSELECT_OUT
                                                : CURL_CSELECT_IN);
}


static void
ngx_http_cometchat_rest_timer_handler(ngx_event_t *ev)
{
    ngx_http_cometchat_rest_action(CURL_SOCKET_TIMEOUT, 0);
}


/* lets curl act on a socket or a timeout, then ends the calls it finished */

static void
ngx_http_cometchat_rest_action(curl_socket_t s, int mask)
{
    int                              left, running;
    CURL                            *easy;
    CURLMsg                         *msg;
    CURLcode                         rc;
    CURLMcode                        mrc;
    ngx_http_cometchat_rest_call_t  *call;

    mrc = curl_multi_socket_action(ngx_http_cometchat_rest_multi, s, mask,
                                   &running);
    if (mrc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "curl_multi_socket_action() failed: %s",
                      curl_multi_strerror(mrc));
    }

    while (ngx_http_cometchat_rest_multi
           && (msg = curl_multi_info_read(ngx_http_cometchat_rest_multi,
                                          &left)))
    {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        /* msg dies with the handle's removal */
        easy = msg->easy_handle;
        rc = msg->data.result;

        call = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &call);

        if (call == NULL) {
            curl_multi_remove_handle(ngx_http_cometchat_rest_multi, easy);
            continue;
        }

        ngx_http_cometchat_rest_done(call, rc);
    }
}


static void
ngx_http_cometchat_rest_done(ngx_http_cometchat_rest_call_t *call,
    CURLcode rc)
{
    long                             code;
    const char                      *reason;
    ngx_http_cometchat_stat_e        stat;
    ngx_http_cometchat_rest_reply_t  reply;

    ngx_memzero(&reply, sizeof(ngx_http_cometchat_rest_reply_t));

    code = 0;

    if (rc == CURLE_OK) {
        curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &code);
    }

    if (rc != CURLE_OK || code < 100 || code > 999) {
        stat = NGX_HTTP_COMETCHAT_STAT_API_TRANSPORT_ERROR;

        if (call->too_big) {
            reason = "reply body too big";

        } else if (rc == CURLE_OK) {
            reason = "no HTTP status in reply";

        } else if (rc == CURLE_OPERATION_TIMEDOUT) {
            reason = "timed out";

        } else {
            reason = call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc);
        }

        reply.error = ngx_http_cometchat_egress_error(call->easy, rc,
                                                      call->egress, reason,
                                                      call->error,
                                                      sizeof(call->error));

    } else {
        reply.status = (ngx_uint_t) code;
        reply.body.data = call->buf ? call->buf : (u_char *) "";
        reply.body.len = call->len;

        reply.retry_after = call->retry_after ? call->retry_after
                                              : call->reset;

        if (code == 429) {
            stat = NGX_HTTP_COMETCHAT_STAT_API_RATE_LIMITED;

        } else if (code >= 500) {
            stat = NGX_HTTP_COMETCHAT_STAT_API_SERVER_ERROR;

        } else if (code >= 400) {
            stat = NGX_HTTP_COMETCHAT_STAT_API_CLIENT_ERROR;

        } else {
            stat = NGX_HTTP_COMETCHAT_STAT_API_OK;
        }
    }

    ngx_http_cometchat_status_inc(stat);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "cometchat rest: %p done, status %ui, %uz bytes, %s",
                   call, reply.status, reply.body.len,
                   reply.error ? reply.error : "ok");

    /* hand the connection back to curl's cache before the handler runs */

    curl_multi_remove_handle(ngx_http_cometchat_rest_multi, call->easy);

    call->in_handler = 1;

    call->handler(call->data, &reply);

    ngx_http_cometchat_rest_free(call);
}


static size_t
ngx_http_cometchat_rest_write(char *ptr, size_t size, size_t nmemb,
    void *userdata)
{
    ngx_http_cometchat_rest_call_t *call = userdata;

    u_char  *p;
    size_t   n, want;

    n = size * nmemb;

    if (call->len + n > NGX_HTTP_COMETCHAT_REST_BODY_MAX) {
        call->too_big = 1;
        return 0;
    }

    if (call->len + n > call->size) {
        want = ngx_max(call->size * 2, 1024);

        while (want < call->len + n) {
            want *= 2;
        }

        want = ngx_min(want, NGX_HTTP_COMETCHAT_REST_BODY_MAX);

        p = ngx_alloc(want, ngx_cycle->log);
        if (p == NULL) {
            return 0;
        }

        if (call->buf) {
            ngx_memcpy(p, call->buf, call->len);
            ngx_free(call->buf);
        }

        call->buf = p;
        call->size = want;
    }

    ngx_memcpy(call->buf + call->len, ptr, n);
    call->len += n;

    return n;
}


static size_t
ngx_http_cometchat_rest_header(char *ptr, size_t size, size_t nmemb,
    void *userdata)
{
    ngx_http_cometchat_rest_call_t *call = userdata;

    u_char  *p, *last, *colon;
    size_t   n;

    n = size * nmemb;
    p = (u_char *) ptr;
    last = p + n;

    if (n > 5 && ngx_strncmp(p, "HTTP/", 5) == 0) {
        /* a new response (after a 1xx): forget the last one's headers */
        call->retry_after = 0;
        call->reset = 0;
        return n;
    }

    colon = ngx_strlchr(p, last, ':');
    if (colon == NULL) {
        return n;
    }

    while (last > colon && (last[-1] == '\r' || last[-1] == '\n'
                            || last[-1] == ' ' || last[-1] == '\t'))
    {
        last--;
    }

    if (colon - p == sizeof("Retry-After") - 1
        && ngx_strncasecmp(p, (u_char *) "Retry-After", colon - p) == 0)
    {
        call->retry_after = ngx_http_cometchat_rest_seconds(colon + 1, last,
                                                            0);

    } else if ((colon - p == sizeof("X-Rate-Limit-Reset") - 1
                && ngx_strncasecmp(p, (u_char *) "X-Rate-Limit-Reset",
                                   colon - p) == 0)
               || (colon - p == sizeof("X-RateLimit-Reset") - 1
                   && ngx_strncasecmp(p, (u_char *) "X-RateLimit-Reset",
                                      colon - p) == 0))
    {
        call->reset = ngx_http_cometchat_rest_seconds(colon + 1, last, 1);
    }

    return n;
}


/*
 * Seconds from now: Retry-After is a delay or an HTTP-date; a reset header
 * is an epoch, or a delay when it is too small to be one.  0: unusable.
 */

static time_t
ngx_http_cometchat_rest_seconds(u_char *p, u_char *last, ngx_uint_t epoch)
{
    time_t  t, now;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (p == last) {
        return 0;
    }

    now = ngx_time();

    if (*p >= '0' && *p <= '9') {
        t = ngx_atotm(p, last - p);

        if (t == NGX_ERROR) {
            return 0;
        }

        if (epoch && t > 1000000000) {
            t = t - now;
        }

    } else {
        if (epoch) {
            return 0;
        }

        t = ngx_parse_http_time(p, last - p);

        if (t == NGX_ERROR) {
            return 0;
        }

        t = t - now;
    }

    if (t <= 0) {
        /* "now" or in the past: still wait a moment */
        return 1;
    }

    return ngx_min(t, NGX_HTTP_COMETCHAT_REST_RETRY_MAX);
}
