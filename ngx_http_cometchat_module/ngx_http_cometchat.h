
/*
 * ngx_http_cometchat_module: shared declarations.
 *
 * One file per concern:
 *   ngx_http_cometchat_module.c    directives, configuration, variables
 *   ngx_http_cometchat_status.c    shared-memory counters, status handler
 *   ngx_http_cometchat_json.c      yajl helpers (dot paths, reply fields)
 *   ngx_http_cometchat_redis.c     hiredis async on nginx events
 *   ngx_http_cometchat_rest.c      libcurl multi on nginx events
 *   ngx_http_cometchat_api.c       CometChat REST calls: the mint flow
 *   ngx_http_cometchat_session.c   access handler, session subrequest
 *   ngx_http_cometchat_token.c     cache lookup, coalescing, local cache
 *   ngx_http_cometchat_endpoint.c  token endpoint content handler
 *   ngx_http_cometchat_snippet.c   widget parameters, snippet templates
 *   ngx_http_cometchat_filter.c    header and body filters (injection)
 */


#ifndef _NGX_HTTP_COMETCHAT_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_COMETCHAT_LOG_PREFIX   "cometchat: "

/* CometChat limits (shared/spec/cometchat.md) */
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
    NGX_HTTP_COMETCHAT_STAT_REDIS_UP,       /* gauge: workers connected */
    NGX_HTTP_COMETCHAT_STAT_N
} ngx_http_cometchat_stat_e;


typedef struct {
    /* cometchat_redis */
    ngx_str_t                   redis_name;     /* as written, for logs */
    ngx_addr_t                 *redis_addr;     /* NULL: no redis */
    ngx_str_t                   redis_host;     /* IP text, or unix path */
    in_port_t                   redis_port;     /* 0 for unix: */
    ngx_uint_t                  redis_db;
    ngx_str_t                   redis_password;
    ngx_msec_t                  redis_timeout;

    ngx_shm_zone_t             *shm_zone;       /* counters + local cache */
    ngx_uint_t                  enabled;        /* any location uses it */
} ngx_http_cometchat_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_flag_t                  inject;
    ngx_flag_t                  token_endpoint;

    ngx_str_t                   app_id;
    ngx_str_t                   region;
    ngx_str_t                   api_key;        /* never logged, never sent
                                                   to a client */
    ngx_str_t                   api_key_file;   /* for messages only */
    ngx_str_t                   api_url;        /* no trailing slash */
    ngx_msec_t                  api_timeout;

    ngx_str_t                   session_uri;    /* empty: off */
    ngx_http_cometchat_source_t uid_src;
    ngx_http_cometchat_source_t name_src;
    ngx_http_cometchat_source_t avatar_src;
    ngx_str_t                   uid_prefix;     /* lowercased */

    time_t                      token_ttl;
    time_t                      token_local_ttl;    /* 0: off */

    ngx_hash_t                  types;
    ngx_array_t                *types_keys;

    /* owned by ngx_http_cometchat_snippet.c */
    void                       *widget;         /* parsed cometchat_widget */
    ngx_str_t                   snippet_file;
    void                       *snippet;        /* compiled template */
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


/* ngx_http_cometchat_module.c */
ngx_http_cometchat_ctx_t *ngx_http_cometchat_get_ctx(ngx_http_request_t *r);
ngx_http_cometchat_ctx_t *ngx_http_cometchat_create_ctx(ngx_http_request_t *r);
ngx_int_t ngx_http_cometchat_valid_uid(ngx_str_t *uid);
ngx_int_t ngx_http_cometchat_parse_source(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_cometchat_source_t *src);
char *ngx_http_cometchat_read_conf_file(ngx_conf_t *cf, char *directive,
    ngx_str_t *path, size_t max, ngx_pool_t *pool, ngx_str_t *text);

/*
 * Error logs are rate-limited per kind and worker: at most one line per
 * NGX_HTTP_COMETCHAT_LOG_INTERVAL seconds.  Kinds are the PART_* values
 * above and the ones below.
 */
#define NGX_HTTP_COMETCHAT_LOG_INTERVAL     10
#define NGX_HTTP_COMETCHAT_LOG_CONFIG       4   /* bad api key, bad uid */
#define NGX_HTTP_COMETCHAT_LOG_RATE_LIMIT   5
#define NGX_HTTP_COMETCHAT_LOG_API_KEY      6   /* key rejected */
#define NGX_HTTP_COMETCHAT_LOG_KINDS        16
ngx_uint_t ngx_http_cometchat_log_allowed(ngx_uint_t kind);

/* ngx_http_cometchat_status.c */
ngx_int_t ngx_http_cometchat_status_init_zone(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf);
void ngx_http_cometchat_stat_add(ngx_http_cometchat_stat_e stat,
    ngx_atomic_int_t n);
#define ngx_http_cometchat_stat_inc(stat)                                    \
    ngx_http_cometchat_stat_add(stat, 1)
ngx_int_t ngx_http_cometchat_status_handler(ngx_http_request_t *r);

/* ngx_http_cometchat_json.c */
#define NGX_HTTP_COMETCHAT_JSON_MAX     65536   /* bytes of JSON parsed */

#define NGX_HTTP_COMETCHAT_JSON_ERR_LEN 256     /* json_find() err buffer */

#define NGX_HTTP_COMETCHAT_JSON_STRING  1       /* json_find(): no numbers */

/* a string or number by dot path; an error is described in err, not
 * logged, so that callers can rate-limit it */
ngx_int_t ngx_http_cometchat_json_find(ngx_pool_t *pool, ngx_str_t *json,
    ngx_array_t *path, ngx_uint_t flags, ngx_str_t *out, ngx_str_t *err);
/* JSON string body (no quotes), also safe in HTML <script>; invalid UTF-8
 * becomes U+FFFD; dst == NULL: returns the length needed */
size_t ngx_http_cometchat_json_escape(u_char *dst, u_char *src, size_t size);
/* the same without the HTML-safety escapes, for REST request bodies */
size_t ngx_http_cometchat_json_escape_body(u_char *dst, u_char *src,
    size_t size);
/* bytes in the first max_chars UTF-8 characters of src */
size_t ngx_http_cometchat_utf8_cut(u_char *src, size_t size,
    size_t max_chars);

/* ngx_http_cometchat_redis.c */
typedef struct ngx_http_cometchat_redis_cmd_s  ngx_http_cometchat_redis_cmd_t;

/*
 * rc: NGX_OK with a string/status reply in value; NGX_DECLINED for nil;
 * NGX_ERROR for an error reply, a timeout or a lost connection.
 * value points into hiredis memory valid only during the call.
 */
typedef void (*ngx_http_cometchat_redis_handler_pt)(void *data, ngx_int_t rc,
    ngx_str_t *value);

ngx_int_t ngx_http_cometchat_redis_init_process(ngx_cycle_t *cycle);
void ngx_http_cometchat_redis_exit_process(ngx_cycle_t *cycle);
ngx_flag_t ngx_http_cometchat_redis_configured(void);
ngx_flag_t ngx_http_cometchat_redis_ready(void);
ngx_http_cometchat_redis_cmd_t *ngx_http_cometchat_redis_command(
    ngx_http_cometchat_redis_handler_pt handler, void *data, ngx_log_t *log,
    int argc, const char **argv, const size_t *argvlen);
void ngx_http_cometchat_redis_cancel(ngx_http_cometchat_redis_cmd_t *cmd);

/* ngx_http_cometchat_rest.c */
typedef struct ngx_http_cometchat_rest_call_s  ngx_http_cometchat_rest_call_t;

typedef struct {
    ngx_uint_t                  status;     /* HTTP status, 0 on transport
                                               error */
    ngx_str_t                   body;
    time_t                      retry_after;    /* seconds, 0 if none */
    const char                 *error;      /* transport error text */
} ngx_http_cometchat_rest_reply_t;

typedef void (*ngx_http_cometchat_rest_handler_pt)(void *data,
    ngx_http_cometchat_rest_reply_t *reply);

ngx_int_t ngx_http_cometchat_rest_init_process(ngx_cycle_t *cycle);
void ngx_http_cometchat_rest_exit_process(ngx_cycle_t *cycle);
ngx_http_cometchat_rest_call_t *ngx_http_cometchat_rest_start(
    ngx_str_t *method, ngx_str_t *url, ngx_str_t *api_key, ngx_str_t *body,
    ngx_msec_t timeout, ngx_http_cometchat_rest_handler_pt handler,
    void *data, ngx_log_t *log);
void ngx_http_cometchat_rest_cancel(ngx_http_cometchat_rest_call_t *call);

/* ngx_http_cometchat_api.c */
typedef struct ngx_http_cometchat_mint_s  ngx_http_cometchat_mint_t;

typedef struct {
    ngx_int_t                   rc;         /* NGX_OK: token set */
    ngx_str_t                   token;
    ngx_uint_t                  user_created;
    time_t                      retry_after;    /* 429: no call before */
    ngx_str_t                   error;      /* for the log, no secrets */
    ngx_uint_t                  logged;     /* error logged already */
} ngx_http_cometchat_mint_result_t;

typedef void (*ngx_http_cometchat_mint_handler_pt)(void *data,
    ngx_http_cometchat_mint_result_t *result);

ngx_http_cometchat_mint_t *ngx_http_cometchat_mint_start(
    ngx_http_cometchat_loc_conf_t *lcf, ngx_str_t *uid, ngx_str_t *name,
    ngx_str_t *avatar, ngx_http_cometchat_mint_handler_pt handler,
    void *data, ngx_log_t *log);
void ngx_http_cometchat_mint_cancel(ngx_http_cometchat_mint_t *mint);

/* ngx_http_cometchat_session.c */
ngx_int_t ngx_http_cometchat_access_handler(ngx_http_request_t *r);

/* ngx_http_cometchat_token.c */
ngx_int_t ngx_http_cometchat_token_init_zone(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf);
ngx_int_t ngx_http_cometchat_token_lookup(ngx_http_request_t *r,
    ngx_http_cometchat_ctx_t *ctx);
void ngx_http_cometchat_token_cancel(ngx_http_cometchat_ctx_t *ctx);
void ngx_http_cometchat_token_exit_process(ngx_cycle_t *cycle);

/* ngx_http_cometchat_endpoint.c */
ngx_int_t ngx_http_cometchat_endpoint_handler(ngx_http_request_t *r);

/* ngx_http_cometchat_snippet.c */
char *ngx_http_cometchat_widget(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cometchat_snippet_merge(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *prev, ngx_http_cometchat_loc_conf_t *conf);
ngx_int_t ngx_http_cometchat_snippet_render(ngx_http_request_t *r,
    ngx_http_cometchat_loc_conf_t *lcf, ngx_http_cometchat_ctx_t *ctx,
    ngx_str_t *nonce, ngx_str_t *out);

/* ngx_http_cometchat_filter.c */
ngx_int_t ngx_http_cometchat_filter_init(ngx_conf_t *cf);

/*
 * ngx_http_cometchat_match.c: the streaming "</body>" matcher, free of
 * nginx buffers so that tools/fuzz can drive it.  The snippet goes before
 * the last "</body>" (any case) if at most NGX_HTTP_COMETCHAT_TAIL_MAX
 * bytes follow it, so only that much is ever held back; otherwise, and
 * when there is none, it is appended to a response that starts like an
 * HTML document (NGX_HTTP_COMETCHAT_DOC_* below).
 */
#define NGX_HTTP_COMETCHAT_TAIL_MAX     32768
#define NGX_HTTP_COMETCHAT_DOC_LIMIT    1024    /* bytes looked at */

#define NGX_HTTP_COMETCHAT_DOC_UNKNOWN  0
#define NGX_HTTP_COMETCHAT_DOC_YES      1
#define NGX_HTTP_COMETCHAT_DOC_NO       2
#define NGX_HTTP_COMETCHAT_DOC_LATER    3   /* the caller checks it with
                                               ..._match_doc() if needed */

typedef struct {
    off_t                       max_tail;
    off_t                       held;       /* bytes held back */
    off_t                       tail;       /* bytes after the candidate
                                               "</body>"; -1: none */
    off_t                       seen;       /* bytes of the response */
    ngx_uint_t                  partial;    /* "</body" bytes ending it */
    ngx_uint_t                  pcase;      /* their upper-case letters */
    ngx_uint_t                  doc;        /* NGX_HTTP_COMETCHAT_DOC_* */
    ngx_uint_t                  doc_state;
    ngx_uint_t                  doc_len;
    u_char                      doc_name[8];
} ngx_http_cometchat_match_t;

/* the bytes [start, end) of the buffer being matched; NULL on error */
typedef u_char *(*ngx_http_cometchat_window_pt)(void *data, off_t start,
    off_t end);

typedef struct {
    off_t                       release;    /* held bytes passed on first */
    off_t                       pass;       /* then the buffer's first
                                               bytes; the rest is held */
} ngx_http_cometchat_step_t;

void ngx_http_cometchat_match_init(ngx_http_cometchat_match_t *m,
    off_t max_tail);
ngx_int_t ngx_http_cometchat_match_step(ngx_http_cometchat_match_t *m,
    off_t len, ngx_http_cometchat_window_pt window, void *data,
    size_t wsize, ngx_http_cometchat_step_t *step);
void ngx_http_cometchat_match_end(ngx_http_cometchat_match_t *m);
void ngx_http_cometchat_match_doc(ngx_http_cometchat_match_t *m, u_char *p,
    size_t len);
u_char *ngx_http_cometchat_match_partial(ngx_http_cometchat_match_t *m);


#endif /* _NGX_HTTP_COMETCHAT_H_INCLUDED_ */
