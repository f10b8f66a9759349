
/*
 * Counters shared by all workers, and the cometchat_status handler.
 *
 * Each counter is one ngx_atomic_t in a small shared memory zone, updated
 * with ngx_atomic_fetch_add(): no lock on the request path, exact totals
 * once traffic stops.
 *
 * cometchat_redis_up is not one of them: a worker that dies cannot take
 * back what it added.  Each worker owns a slot instead (by
 * ngx_process_slot, which a respawned worker takes over) holding its pid
 * while its Redis connection is ready, and the handler counts the slots
 * whose process still exists.  After the counters and the slots comes the
 * identity of the Redis master last followed, so that a failover every
 * worker follows is counted once.
 */


#include "ngx_http_cometchat_quota.h"
#include "ngx_http_cometchat_status.h"
#include "ngx_http_cometchat_version.h"

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <yajl/yajl_version.h>


#define NGX_HTTP_COMETCHAT_STATUS_ZONE_SIZE  (8 * ngx_pagesize)


typedef struct {
    const char                *name;
    const char                *type;
    const char                *help;
    const char                *label;     /* NULL: no label */
} ngx_http_cometchat_metric_t;


static ngx_int_t ngx_http_cometchat_status_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);


static size_t ngx_http_cometchat_status_build_info(u_char *p);
static void ngx_http_cometchat_status_set_zone(ngx_atomic_t *stats);
static ngx_atomic_int_t ngx_http_cometchat_status_redis_up_value(void);
static ngx_int_t ngx_http_cometchat_status_handler(ngx_http_request_t *r);


static ngx_atomic_t  *ngx_http_cometchat_stats;
static ngx_atomic_t  *ngx_http_cometchat_stats_up;      /* worker slots */
static ngx_atomic_t  *ngx_http_cometchat_stats_master;


/* in the order of ngx_http_cometchat_stat_e */
static ngx_http_cometchat_metric_t  ngx_http_cometchat_metrics[] = {
    { "cometchat_requests_total", "counter",
      "Requests the pipeline ran for.", NULL },
    { "cometchat_anonymous_total", "counter",
      "Requests whose session said: not signed in.", NULL },
    { "cometchat_cache_hits_total", "counter",
      "Tokens served from the cache.", NULL },
    { "cometchat_cache_misses_total", "counter",
      "Token lookups that missed the cache.", NULL },
    { "cometchat_tokens_minted_total", "counter",
      "Auth tokens created through the CometChat REST API.", NULL },
    { "cometchat_coalesced_total", "counter",
      "Requests that waited for another request's mint.", NULL },
    { "cometchat_api_calls_total", "counter",
      "CometChat REST API calls by outcome.", "outcome=\"ok\"" },
    { "cometchat_api_calls_total", "counter", NULL,
      "outcome=\"client_error\"" },
    { "cometchat_api_calls_total", "counter", NULL,
      "outcome=\"user_missing\"" },
    { "cometchat_api_calls_total", "counter", NULL,
      "outcome=\"rate_limited\"" },
    { "cometchat_api_calls_total", "counter", NULL,
      "outcome=\"server_error\"" },
    { "cometchat_api_calls_total", "counter", NULL,
      "outcome=\"transport_error\"" },
    { "cometchat_users_created_total", "counter",
      "CometChat users created.", NULL },
    { "cometchat_redis_errors_total", "counter",
      "Redis commands that failed or timed out.", NULL },
    { "cometchat_session_errors_total", "counter",
      "Session subrequests that failed.", NULL },
    { "cometchat_errors_total", "counter",
      "Requests whose pipeline ended in an error.", NULL },
    { "cometchat_snippets_injected_total", "counter",
      "Responses the widget snippet was injected into.", NULL },
    { "cometchat_token_endpoint_total", "counter",
      "Token endpoint answers.", NULL },
    { "cometchat_profile_updates_total", "counter",
      "CometChat users whose name or avatar was updated.", NULL },
    { "cometchat_redis_up", "gauge",
      "Workers with a ready Redis connection.", NULL },
    { "cometchat_redis_failovers_total", "counter",
      "Changes of the Redis master address that workers followed.", NULL },
    { "cometchat_redis_redirects_total", "counter",
      "Redis Cluster MOVED and ASK redirections followed.", NULL }
};


ngx_int_t
ngx_http_cometchat_status_init_zone(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf)
{
    ngx_str_t  name = ngx_string("cometchat_status");

    cmcf->shm_zone = ngx_shared_memory_add(cf, &name,
                                           NGX_HTTP_COMETCHAT_STATUS_ZONE_SIZE,
                                           &ngx_http_cometchat_module);
    if (cmcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    cmcf->shm_zone->init = ngx_http_cometchat_status_zone_init;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cometchat_status_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* a reload keeps the counters */
        shm_zone->data = data;
        ngx_http_cometchat_status_set_zone(data);
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_http_cometchat_status_set_zone(shpool->data);
        return NGX_OK;
    }

    ngx_http_cometchat_stats = ngx_slab_calloc(shpool,
                                   (NGX_HTTP_COMETCHAT_STAT_N
                                    + NGX_MAX_PROCESSES + 1)
                                   * sizeof(ngx_atomic_t));
    if (ngx_http_cometchat_stats == NULL) {
        return NGX_ERROR;
    }

    ngx_http_cometchat_status_set_zone(ngx_http_cometchat_stats);

    shpool->data = (void *) ngx_http_cometchat_stats;
    shm_zone->data = (void *) ngx_http_cometchat_stats;

    return NGX_OK;
}


void
ngx_http_cometchat_status_add(ngx_http_cometchat_stat_e stat,
    ngx_atomic_int_t n)
{
    if (ngx_http_cometchat_stats == NULL || stat >= NGX_HTTP_COMETCHAT_STAT_N) {
        return;
    }

    (void) ngx_atomic_fetch_add(&ngx_http_cometchat_stats[stat], n);
}


static void
ngx_http_cometchat_status_set_zone(ngx_atomic_t *stats)
{
    ngx_http_cometchat_stats = stats;
    ngx_http_cometchat_stats_up = stats + NGX_HTTP_COMETCHAT_STAT_N;
    ngx_http_cometchat_stats_master = ngx_http_cometchat_stats_up
                                      + NGX_MAX_PROCESSES;
}


/* this worker's Redis connection became ready (1) or not (0) */

void
ngx_http_cometchat_status_redis_up(ngx_uint_t up)
{
    if (ngx_http_cometchat_stats == NULL
        || ngx_process_slot < 0 || ngx_process_slot >= NGX_MAX_PROCESSES)
    {
        return;
    }

    ngx_http_cometchat_stats_up[ngx_process_slot] = up ? ngx_pid : 0;
}


/*
 * The worker now talks to the Redis master "id" (a hash of its address):
 * counts a failover when another worker has not done so for the same
 * change already.  The first master after start-up is no failover.
 */

void
ngx_http_cometchat_status_redis_master(uint32_t id)
{
    ngx_atomic_uint_t  old;

    if (ngx_http_cometchat_stats == NULL) {
        return;
    }

    /* 0 means "none yet" in the zone */
    id |= 1;

    for ( ;; ) {
        old = *ngx_http_cometchat_stats_master;

        if (old == id) {
            return;
        }

        if (ngx_atomic_cmp_set(ngx_http_cometchat_stats_master, old, id)) {
            break;
        }
    }

    if (old != 0) {
        ngx_http_cometchat_status_inc(NGX_HTTP_COMETCHAT_STAT_REDIS_FAILOVERS);
    }
}


static ngx_atomic_int_t
ngx_http_cometchat_status_redis_up_value(void)
{
    ngx_pid_t         pid;
    ngx_uint_t        i;
    ngx_atomic_int_t  n;

    n = 0;

    for (i = 0; i < NGX_MAX_PROCESSES; i++) {
        pid = (ngx_pid_t) ngx_http_cometchat_stats_up[i];

        if (pid == 0) {
            continue;
        }

        /* a worker killed while up: its slot is stale until respawned */

        if (pid == ngx_pid || kill(pid, 0) == 0 || ngx_errno == NGX_EPERM) {
            n++;
        }
    }

    return n;
}


static ngx_int_t
ngx_http_cometchat_status_handler(ngx_http_request_t *r)
{
    size_t                        size;
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_uint_t                    i;
    ngx_chain_t                   out;
    ngx_atomic_int_t              value;
    ngx_http_cometchat_metric_t  *m;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    size = 0;

    for (i = 0; i < NGX_HTTP_COMETCHAT_STAT_N; i++) {
        m = &ngx_http_cometchat_metrics[i];

        if (m->help) {
            size += sizeof("# HELP  \n") - 1 + ngx_strlen(m->name)
                    + ngx_strlen(m->help)
                    + sizeof("# TYPE  \n") - 1 + ngx_strlen(m->name)
                    + ngx_strlen(m->type);
        }

        size += ngx_strlen(m->name) + sizeof("{} \n") - 1
                + (m->label ? ngx_strlen(m->label) : 0) + NGX_ATOMIC_T_LEN;
    }

    size += ngx_http_cometchat_quota_metrics(NULL);
    size += ngx_http_cometchat_status_build_info(NULL);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < NGX_HTTP_COMETCHAT_STAT_N; i++) {
        m = &ngx_http_cometchat_metrics[i];

        if (ngx_http_cometchat_stats == NULL) {
            value = 0;

        } else if (i == NGX_HTTP_COMETCHAT_STAT_REDIS_UP) {
            value = ngx_http_cometchat_status_redis_up_value();

        } else {
            value = (ngx_atomic_int_t) ngx_http_cometchat_stats[i];
        }

        if (m->help) {
            b->last = ngx_sprintf(b->last, "# HELP %s %s\n# TYPE %s %s\n",
                                  m->name, m->help, m->name, m->type);
        }

        if (m->label) {
            b->last = ngx_sprintf(b->last, "%s{%s} %A\n",
                                  m->name, m->label, value);

        } else {
            b->last = ngx_sprintf(b->last, "%s %A\n", m->name, value);
        }
    }

    b->last += ngx_http_cometchat_quota_metrics(b->last);
    b->last += ngx_http_cometchat_status_build_info(b->last);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    if (r->method == NGX_HTTP_HEAD) {
        return ngx_http_send_header(r);
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


/*
 * cometchat_build_info: a gauge that is always 1, with the versions of the
 * module, nginx and the libraries it runs with as labels.  With p == NULL
 * only the length is computed.  Label values are version strings: digits,
 * letters, dots and dashes, nothing that needs escaping.
 */

static size_t
ngx_http_cometchat_status_build_info(u_char *p)
{
    int                     yv;
    u_char                  yajl[NGX_INT_T_LEN * 3 + 2];
    u_char                  hiredis[NGX_INT_T_LEN * 3 + 2];
    size_t                  n;
    ngx_str_t               curl;
    curl_version_info_data *vi;

    static u_char  help[] =
        "# HELP cometchat_build_info Versions of the module, nginx and the "
        "libraries in use; always 1.\n"
        "# TYPE cometchat_build_info gauge\n";

    vi = curl_version_info(CURLVERSION_NOW);
    curl.data = (u_char *) (vi && vi->version ? vi->version : "unknown");
    curl.len = ngx_strlen(curl.data);

    yv = yajl_version();
    *ngx_sprintf(yajl, "%d.%d.%d", yv / 10000, yv / 100 % 100, yv % 100) = '\0';
    *ngx_sprintf(hiredis, "%d.%d.%d",
                 HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH) = '\0';

    n = sizeof(help) - 1
        + sizeof("cometchat_build_info{version=\"\",nginx=\"\",hiredis=\"\","
                 "libcurl=\"\",yajl=\"\"} 1\n") - 1
        + sizeof(NGX_HTTP_COMETCHAT_VERSION) - 1
        + sizeof(NGINX_VERSION) - 1
        + ngx_strlen(hiredis) + curl.len + ngx_strlen(yajl);

    if (p == NULL) {
        return n;
    }

    p = ngx_cpymem(p, help, sizeof(help) - 1);
    (void) ngx_sprintf(p, "cometchat_build_info{version=\"%s\",nginx=\"%s\","
                       "hiredis=\"%s\",libcurl=\"%V\",yajl=\"%s\"} 1\n",
                       NGX_HTTP_COMETCHAT_VERSION, NGINX_VERSION, hiredis,
                       &curl, yajl);

    return n;
}


/*
 * init_module: runs in the master once per configuration read, i.e. once
 * at start-up and once per reload (and for "nginx -t"), after the new
 * error_log is open; the version goes there at notice level.
 */

ngx_int_t
ngx_http_cometchat_status_init_module(ngx_cycle_t *cycle)
{
    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "cometchat module version " NGX_HTTP_COMETCHAT_VERSION
                  " (nginx " NGINX_VERSION ")");

    return NGX_OK;
}


char *
ngx_http_cometchat_status_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_cometchat_status_handler;

    return NGX_CONF_OK;
}
