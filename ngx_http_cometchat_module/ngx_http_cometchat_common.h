/*
 * ngx_http_cometchat_module: the types every file shares (configuration,
 * the request context, status values).  Each .c file declares what it
 * exports in a header of its own name; docs/architecture.md has the map.
 */


#ifndef _NGX_HTTP_COMETCHAT_COMMON_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_COMMON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_COMETCHAT_LOG_PREFIX   "cometchat: "

/* CometChat limits (docs/cometchat-api.md) */
#define NGX_HTTP_COMETCHAT_UID_MAX      100
#define NGX_HTTP_COMETCHAT_NAME_MAX     100
#define NGX_HTTP_COMETCHAT_URL_MAX      3000


/* where an identity field is read from in the session response */
#define NGX_HTTP_COMETCHAT_SRC_NONE     0
#define NGX_HTTP_COMETCHAT_SRC_HEADER   1
#define NGX_HTTP_COMETCHAT_SRC_JSON     2

typedef struct {
    ngx_uint_t                  type;
    ngx_str_t                   name;     /* header name, or "a.b.c" path */
    ngx_array_t                *path;     /* json: ngx_str_t per component */
} ngx_http_cometchat_source_t;


/* $cometchat_token_status */
#define NGX_HTTP_COMETCHAT_TOKEN_NONE       0   /* pipeline did not run */
#define NGX_HTTP_COMETCHAT_TOKEN_HIT        1
#define NGX_HTTP_COMETCHAT_TOKEN_MINTED     2
#define NGX_HTTP_COMETCHAT_TOKEN_ANONYMOUS  3
#define NGX_HTTP_COMETCHAT_TOKEN_ERROR      4

/* which part failed, for the token endpoint's 503 and the logs */
#define NGX_HTTP_COMETCHAT_PART_NONE        0
#define NGX_HTTP_COMETCHAT_PART_SESSION     1
#define NGX_HTTP_COMETCHAT_PART_REDIS       2
#define NGX_HTTP_COMETCHAT_PART_COMETCHAT   3


/* counters in shared memory (ngx_http_cometchat_status.c) */
typedef enum {
    NGX_HTTP_COMETCHAT_STAT_REQUESTS = 0,   /* pipeline runs */
    NGX_HTTP_COMETCHAT_STAT_ANONYMOUS,
    NGX_HTTP_COMETCHAT_STAT_CACHE_HITS,     /* redis or local cache */
    NGX_HTTP_COMETCHAT_STAT_CACHE_MISSES,
    NGX_HTTP_COMETCHAT_STAT_TOKENS_MINTED,
    NGX_HTTP_COMETCHAT_STAT_COALESCED,      /* waited on another's mint */
    NGX_HTTP_COMETCHAT_STAT_API_OK,         /* REST calls by outcome */
    NGX_HTTP_COMETCHAT_STAT_API_CLIENT_ERROR,   /* 4xx except 429 */
    NGX_HTTP_COMETCHAT_STAT_API_USER_MISSING,   /* 404 of a first mint */
    NGX_HTTP_COMETCHAT_STAT_API_RATE_LIMITED,   /* 429 */
    NGX_HTTP_COMETCHAT_STAT_API_SERVER_ERROR,   /* 5xx */
    NGX_HTTP_COMETCHAT_STAT_API_TRANSPORT_ERROR, /* connect, timeout, bad
                                                    reply */
    NGX_HTTP_COMETCHAT_STAT_USERS_CREATED,
    NGX_HTTP_COMETCHAT_STAT_REDIS_ERRORS,
    NGX_HTTP_COMETCHAT_STAT_SESSION_ERRORS,
    NGX_HTTP_COMETCHAT_STAT_PIPELINE_ERRORS,
    NGX_HTTP_COMETCHAT_STAT_INJECTED,
    NGX_HTTP_COMETCHAT_STAT_ENDPOINT,       /* token endpoint answers */
    NGX_HTTP_COMETCHAT_STAT_PROFILE_UPDATES,    /* users' names, avatars */
    NGX_HTTP_COMETCHAT_STAT_REDIS_UP,       /* gauge: workers connected */
    NGX_HTTP_COMETCHAT_STAT_REDIS_FAILOVERS, /* master address changes */
    NGX_HTTP_COMETCHAT_STAT_REDIS_REDIRECTS, /* cluster MOVED and ASK */
    NGX_HTTP_COMETCHAT_STAT_N
} ngx_http_cometchat_stat_e;


typedef struct {
    /* cometchat_redis */
    ngx_str_t                   redis_name;     /* as written, for logs */
    ngx_addr_t                 *redis_addr;     /* NULL: no redis */
    ngx_str_t                   redis_host;     /* IP text, or unix path */
    in_port_t                   redis_port;     /* 0 for unix: */
    ngx_uint_t                  redis_db;
    ngx_str_t                   redis_username;
    ngx_str_t                   redis_password;
    ngx_msec_t                  redis_timeout;
    ngx_str_t                   redis_resolve;  /* the name, if one */
    ngx_str_t                   redis_master;   /* sentinel=NAME */
    ngx_array_t                *redis_sentinels;    /* of ngx_addr_t */
    ngx_str_t                   redis_sentinel_password;
    ngx_array_t                *redis_seeds;    /* cluster: of ngx_addr_t */

    ngx_shm_zone_t             *shm_zone;       /* counters (status.c) */
    ngx_uint_t                  api_max_concurrent; /* quota.c */
    ngx_uint_t                  enabled;        /* any location uses it */
} ngx_http_cometchat_main_conf_t;


/* where a directive stands, for errors found when merging */
typedef struct {
    ngx_str_t                   file;
    ngx_uint_t                  line;
} ngx_http_cometchat_conf_where_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_flag_t                  inject;
    ngx_flag_t                  token_endpoint;
    ngx_flag_t                  documents_only; /* session.c decides */
    ngx_http_complex_value_t   *when;           /* cometchat_when */
    ngx_http_cometchat_conf_where_t  enable_where;
    ngx_http_cometchat_conf_where_t  endpoint_where;

    ngx_str_t                   app_id;
    ngx_str_t                   region;
    ngx_str_t                   api_key;        /* never logged, never sent
                                                   to a client */
    ngx_str_t                   api_key_file;   /* for messages only */
    ngx_str_t                   api_url;        /* no trailing slash */
    ngx_msec_t                  api_timeout;
    void                       *egress;         /* TLS and proxy, owned by
                                                   egress.c */

    ngx_str_t                   session_uri;    /* empty: off */
    ngx_http_cometchat_source_t uid_src;
    ngx_http_cometchat_source_t name_src;
    ngx_http_cometchat_source_t avatar_src;
    ngx_str_t                   uid_prefix;     /* lowercased */
    ngx_uint_t                  uid_map;        /* ..._UID_MAP_* (uid.h) */

    time_t                      token_ttl;
    time_t                      token_local_ttl;    /* 0: off */
    ngx_flag_t                  profile_sync;

    ngx_hash_t                  types;
    ngx_array_t                *types_keys;

    /* owned by ngx_http_cometchat_widget.c and _template.c */
    void                       *widget;         /* parsed cometchat_widget */
    ngx_str_t                   snippet_file;
    void                       *snippet;        /* compiled template */
    ngx_str_t                   signout;        /* sign-out snippet */
} ngx_http_cometchat_loc_conf_t;


typedef struct ngx_http_cometchat_inject_s   ngx_http_cometchat_inject_t;
typedef struct ngx_http_cometchat_waiter_s   ngx_http_cometchat_waiter_t;


/*
 * Per request.  Kept across internal redirects (which zero r->ctx):
 * ngx_http_cometchat_get_ctx() finds it again through its pool cleanup.
 */
typedef struct {
    ngx_uint_t                  done;           /* pipeline finished */
    ngx_uint_t                  token_status;   /* NGX_HTTP_COMETCHAT_TOKEN_* */
    ngx_uint_t                  error_part;     /* NGX_HTTP_COMETCHAT_PART_* */
    ngx_uint_t                  uid_refused;    /* the app's id maps to no
                                                   uid: a session error */

    ngx_str_t                   uid;            /* CometChat uid */
    ngx_str_t                   name;
    ngx_str_t                   avatar;
    ngx_str_t                   token;

    /* session subrequest */
    ngx_http_request_t         *subrequest;
    ngx_uint_t                  session_started;

    /* token lookup in flight; NULL when not waiting */
    ngx_http_cometchat_waiter_t *waiter;

    /* body filter state; NULL when this response is not injected */
    ngx_http_cometchat_inject_t *inject;
} ngx_http_cometchat_ctx_t;


extern ngx_module_t  ngx_http_cometchat_module;


#endif /* _NGX_HTTP_COMETCHAT_COMMON_H_INCLUDED_ */
