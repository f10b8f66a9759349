
/*
 * libFuzzer harness for the mint flow's reading of CometChat's REST
 * replies (ngx_http_cometchat_api.c): success, error, garbage, huge.
 *
 * api.c is compiled into the harness (#include) so that its static reply
 * handling runs as the module runs it; the REST client is a test double
 * that records each call and answers it with the next reply of the
 * input.  An input is
 *
 *     MODE UIDLEN UID NAMELEN NAME  then replies:
 *     STATUS(2 bytes, % 600) RETRY(1) BODYLEN(2) BODY
 *
 * MODE bit 0: update user instead of mint; bit 1: keep a rejected key
 * from an earlier input (the backoff path).  Replies run out: the mint is
 * cancelled, as a request that goes away cancels it.
 *
 * Oracles: the handler runs exactly once (never after a cancel); an
 * accepted token obeys the valid-token rule, written here again; the
 * error text stays in its 512 bytes and never holds the REST key; at most
 * three calls per mint (token, create, token again); every request body
 * the module sends is valid JSON.
 *
 * Built and run by tools/fuzz/run.
 */


#include "fuzz_ngx.h"

#include "../../ngx_http_cometchat_module/ngx_http_cometchat_api.c"

#include <yajl/yajl_parse.h>


#define API_KEY  "rest-key-secret-lowercase"


typedef struct {
    ngx_http_cometchat_rest_handler_pt  handler;
    void                               *data;
    ngx_uint_t                          active;
    ngx_uint_t                          calls;
} fake_rest_t;


static fake_rest_t  fake_rest;
static int          fake_call_object;

static ngx_uint_t                        done;
static ngx_http_cometchat_mint_result_t  result;
static u_char                            token_copy[2048];
static u_char                            error_copy[1024];


/* test doubles for what api.c calls outside json.c and escape.c */

void
ngx_http_cometchat_status_add(ngx_http_cometchat_stat_e stat,
    ngx_atomic_int_t n)
{
}


ngx_uint_t
ngx_http_cometchat_log_allowed(ngx_uint_t kind)
{
    return 1;
}


/* no shared zone: no pause and no cap, as quota.c does without one */

ngx_int_t
ngx_http_cometchat_quota_enter(ngx_str_t *app_id, time_t *until,
    ngx_uint_t take)
{
    return NGX_OK;
}


void
ngx_http_cometchat_quota_leave(void)
{
}


void
ngx_http_cometchat_quota_pause(ngx_str_t *app_id, time_t until)
{
}


static int
valid_json(ngx_str_t *s)
{
    yajl_handle  h;
    yajl_status  st;

    h = yajl_alloc(NULL, NULL, NULL);
    st = yajl_parse(h, s->data, s->len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }
    yajl_free(h);

    return st == yajl_status_ok;
}


ngx_http_cometchat_rest_call_t *
ngx_http_cometchat_rest_start(ngx_str_t *method, ngx_str_t *url,
    ngx_str_t *api_key, ngx_str_t *body, ngx_msec_t timeout,
    ngx_http_cometchat_egress_t *egress,
    ngx_http_cometchat_rest_handler_pt handler, void *data, ngx_log_t *log)
{
    if (fake_rest.active) {
        fuzz_fail("a second call while one is running");
    }

    if (++fake_rest.calls > 3) {
        fuzz_fail("call %lu for one mint", (unsigned long) fake_rest.calls);
    }

    if (!valid_json(body)) {
        fuzz_fail("request body is not JSON: %.*s", (int) body->len,
                  body->data);
    }

    fake_rest.handler = handler;
    fake_rest.data = data;
    fake_rest.active = 1;

    return (ngx_http_cometchat_rest_call_t *) &fake_call_object;
}


void
ngx_http_cometchat_rest_cancel(ngx_http_cometchat_rest_call_t *call)
{
    if (!fake_rest.active
        || call != (ngx_http_cometchat_rest_call_t *) &fake_call_object)
    {
        fuzz_fail("cancel of a call that is not running");
    }

    fake_rest.active = 0;
}


static void
handler(void *data, ngx_http_cometchat_mint_result_t *res)
{
    if (done++) {
        fuzz_fail("mint handler called twice");
    }

    result = *res;

    /* the strings live in the mint's pool, gone after the handler */

    if (res->token.len > sizeof(token_copy)
        || res->error.len > sizeof(error_copy))
    {
        fuzz_fail("token %zu or error %zu bytes", res->token.len,
                  res->error.len);
    }

    if (res->token.len) {
        ngx_memcpy(token_copy, res->token.data, res->token.len);
    }

    if (res->error.len) {
        ngx_memcpy(error_copy, res->error.data, res->error.len);
    }

    result.token.data = token_copy;
    result.error.data = error_copy;
}


static int
token_rule(ngx_str_t *t)
{
    size_t  i;

    if (t->len < 1 || t->len > 1024) {
        return 0;
    }

    for (i = 0; i < t->len; i++) {
        if (t->data[i] < 0x21 || t->data[i] > 0x7e
            || strchr("\"'\\<>&`", t->data[i]) != NULL)
        {
            return 0;
        }
    }

    return 1;
}


static const uint8_t *
take(const uint8_t **p, const uint8_t *last, size_t n)
{
    const uint8_t  *r;

    if ((size_t) (last - *p) < n) {
        return NULL;
    }

    r = *p;
    *p += n;

    return r;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                            n;
    u_char                           *body;
    ngx_log_t                         log;
    ngx_str_t                         uid, name;
    ngx_uint_t                        mode, replies;
    ngx_queue_t                      *q;
    ngx_event_t                      *ev;
    const uint8_t                    *p, *last, *h;
    ngx_http_cometchat_mint_t        *mint;
    ngx_http_cometchat_loc_conf_t     lcf;
    ngx_http_cometchat_rest_reply_t   reply;

    fuzz_ngx_init();

    p = data;
    last = data + size;

    if ((h = take(&p, last, 2)) == NULL) {
        return 0;
    }

    mode = h[0];
    uid.len = h[1] % 101;

    if ((h = take(&p, last, uid.len)) == NULL || uid.len == 0) {
        return 0;
    }

    uid.data = (u_char *) h;

    if ((h = take(&p, last, 1)) == NULL) {
        return 0;
    }

    name.len = h[0];

    if ((h = take(&p, last, name.len)) == NULL) {
        return 0;
    }

    name.data = (u_char *) h;

    if (!(mode & 2)) {
        ngx_http_cometchat_api_key_rejected = 0;
    }

    ngx_memzero(&lcf, sizeof(lcf));
    ngx_str_set(&lcf.api_url, "https://testapp.api-us.cometchat.io/v3");
    ngx_str_set(&lcf.api_key, API_KEY);
    lcf.api_timeout = 5000;

    log = *ngx_cycle->log;

    ngx_memzero(&fake_rest, sizeof(fake_rest));
    done = 0;
    ngx_memzero(&result, sizeof(result));

    if (mode & 1) {
        mint = ngx_http_cometchat_api_update_start(&lcf, &uid, &name, &name,
                                                   handler, NULL, &log);
    } else {
        mint = ngx_http_cometchat_api_mint_start(&lcf, &uid, &name, &name,
                                                 handler, NULL, &log);
    }

    if (mint == NULL) {
        fuzz_fail("mint_start() failed");
    }

    if (done) {
        fuzz_fail("handler called from inside mint_start()");
    }

    replies = 0;

    while (!done) {

        if (!ngx_queue_empty(&ngx_posted_events)) {
            /* a failure at start, reported from the event loop */
            q = ngx_queue_head(&ngx_posted_events);
            ev = ngx_queue_data(q, ngx_event_t, queue);
            ngx_delete_posted_event(ev);
            ev->handler(ev);
            break;
        }

        if (!fake_rest.active) {
            fuzz_fail("mint waits for nothing");
        }

        if ((h = take(&p, last, 5)) == NULL) {
            /* the request went away */
            ngx_http_cometchat_api_mint_cancel(mint);

            if (fake_rest.active) {
                fuzz_fail("cancel left the call running");
            }

            return 0;
        }

        n = (h[3] << 8) | h[4];
        n = ngx_min(n, (size_t) (last - p));

        /* exactly the body's size: over-reads are ASan's to see */
        body = malloc(n ? n : 1);
        if (n) {
            memcpy(body, p, n);
        }

        p += n;

        ngx_memzero(&reply, sizeof(reply));
        reply.status = ((h[0] << 8) | h[1]) % 600;
        reply.retry_after = h[2];
        reply.body.data = body;
        reply.body.len = n;

        if (reply.status == 0) {
            reply.error = "transport error";
        }

        fake_rest.active = 0;
        replies++;

        fake_rest.handler(fake_rest.data, &reply);

        free(body);
    }

    if (!done) {
        fuzz_fail("mint ended without its handler");
    }

    if (result.rc == NGX_OK && !(mode & 1) && !token_rule(&result.token)) {
        fuzz_fail("token \"%.*s\" accepted", (int) result.token.len,
                  result.token.data);
    }

    if (result.rc == NGX_OK && replies == 0) {
        fuzz_fail("success without a reply");
    }

    if (result.rc != NGX_OK && result.token.len) {
        fuzz_fail("a token with a failure");
    }

    if (result.rc != NGX_OK && result.error.len == 0) {
        fuzz_fail("a failure without an error text");
    }

    if (result.error.len > NGX_HTTP_COMETCHAT_API_ERROR_LEN) {
        fuzz_fail("error text of %zu bytes", result.error.len);
    }

    if (ngx_strlcasestrn(result.error.data,
                         result.error.data + result.error.len,
                         (u_char *) API_KEY, sizeof(API_KEY) - 2)
        != NULL)
    {
        fuzz_fail("the REST key in the error text");
    }

    if (result.retry_after && result.retry_after < ngx_time()) {
        fuzz_fail("retry_after in the past");
    }

    return 0;
}
