
/*
 * How REST calls leave this host: TLS verification and the CA bundle, an
 * egress proxy, TLS session and DNS caching (docs/operations.md, "Egress").
 *
 * Verification is always explicit: peer and host name, against the
 * system's CA store (libcurl's default) or the bundle named by
 * cometchat_api_ssl_trusted_certificate, which then replaces it, as
 * proxy_ssl_trusted_certificate does.  A failed check ends the call
 * before a byte of HTTP, so the REST API key is never sent to a peer that
 * is not CometChat.
 *
 * Connections are cached by the worker's multi handle (rest.c); what is
 * shared here is the TLS session cache, so that a connection that had to
 * be made again resumes its session instead of a full handshake.
 *
 * Proxy credentials are curl's to use and nobody's to see: every message
 * shows the proxy with its user information replaced by "***".
 *
 * The directives that say where calls go and with which key
 * (cometchat_api_url, cometchat_api_key, cometchat_api_key_file) are
 * read here too.
 */


#include "ngx_http_cometchat_util.h"
#include "ngx_http_cometchat_egress.h"


/* curl's default, made explicit: a changed address of the CometChat host
 * is used for new connections after at most this long */
#define NGX_HTTP_COMETCHAT_EGRESS_DNS_TTL   60

/* a kept-alive connection is not reused after this long, so that a busy
 * worker too follows an address change */
#define NGX_HTTP_COMETCHAT_EGRESS_CONN_MAX  300

/* how much of a CA bundle is searched for its first certificate */
#define NGX_HTTP_COMETCHAT_EGRESS_PEM_SCAN  65536


static ngx_http_cometchat_egress_t *ngx_http_cometchat_egress_get(
    ngx_conf_t *cf, ngx_http_cometchat_loc_conf_t *lcf);
static void ngx_http_cometchat_egress_defaults(
    ngx_http_cometchat_egress_t *eg);
static ngx_int_t ngx_http_cometchat_egress_check_key(u_char *p, u_char *last);
static ngx_int_t ngx_http_cometchat_egress_check_pem(ngx_conf_t *cf,
    ngx_str_t *path);
static ngx_int_t ngx_http_cometchat_egress_mask(ngx_pool_t *pool,
    ngx_str_t *url, ngx_str_t *shown, ngx_str_t *hostport);
static void ngx_http_cometchat_egress_host(char *url, u_char **host,
    size_t *len);


static ngx_http_cometchat_egress_t  ngx_http_cometchat_egress_default = {
    1, ngx_string(""), ngx_string(""), ngx_string("")
};

/* per worker */
static CURLSH  *ngx_http_cometchat_egress_share;


char *
ngx_http_cometchat_egress_conf_api_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    ngx_str_t  *value;

    if (cclcf->api_key.data != NULL) {
        if (cclcf->api_key_file.data != NULL) {
            return "conflicts with \"cometchat_api_key_file\" "
                   "at the same level";
        }

        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "is empty";
    }

    if (ngx_http_cometchat_egress_check_key(value[1].data,
                                          value[1].data + value[1].len)
        != NGX_OK)
    {
        return "contains control characters";
    }

    cclcf->api_key = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_cometchat_egress_conf_api_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    u_char     *p, *last;
    size_t      n;
    ngx_str_t  *value, path, text;

    if (cclcf->api_key.data != NULL) {
        if (cclcf->api_key_file.data == NULL) {
            return "conflicts with \"cometchat_api_key\" at the same level";
        }

        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_http_cometchat_read_conf_file(cf, "cometchat_api_key_file", &path,
                                          4096, cf->pool, &text)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = text.data;
    n = text.len;

    /* one line, surrounding whitespace trimmed */

    last = p + n;

    while (p < last && (*p == ' ' || *p == '\t' || *p == CR || *p == LF)) {
        p++;
    }

    while (last > p
           && (last[-1] == ' ' || last[-1] == '\t'
               || last[-1] == CR || last[-1] == LF))
    {
        last--;
    }

    if (p == last) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_key_file\": \"%V\" is empty",
                           &path);
        return NGX_CONF_ERROR;
    }

    if (ngx_strlchr(p, last, LF) || ngx_strlchr(p, last, CR)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_key_file\": \"%V\" must hold "
                           "one line", &path);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cometchat_egress_check_key(p, last) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_key_file\": \"%V\" contains "
                           "control characters", &path);
        return NGX_CONF_ERROR;
    }

    cclcf->api_key.data = p;
    cclcf->api_key.len = last - p;
    cclcf->api_key_file = path;

    return NGX_CONF_OK;
}


/* the key goes into an "apikey" request header line as it is */

static ngx_int_t
ngx_http_cometchat_egress_check_key(u_char *p, u_char *last)
{
    for ( /* void */ ; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


char *
ngx_http_cometchat_egress_conf_api_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cometchat_loc_conf_t *cclcf = conf;

    ngx_str_t  *value, url;

    if (cclcf->api_url.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    url = value[1];

    if (!((url.len > 7 && ngx_strncasecmp(url.data, (u_char *) "http://", 7)
                          == 0)
          || (url.len > 8
              && ngx_strncasecmp(url.data, (u_char *) "https://", 8) == 0)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_url\" must begin with "
                           "\"http://\" or \"https://\": \"%V\"", &url);
        return NGX_CONF_ERROR;
    }

    while (url.len && url.data[url.len - 1] == '/') {
        url.len--;
    }

    cclcf->api_url = url;

    return NGX_CONF_OK;
}


char *
ngx_http_cometchat_egress_conf_trusted(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                    *value, path;
    ngx_http_cometchat_egress_t  *eg;

    eg = ngx_http_cometchat_egress_get(cf, conf);
    if (eg == NULL) {
        return NGX_CONF_ERROR;
    }

    if (eg->trusted.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (path.len == 0) {
        return "is empty";
    }

    /* a full name is NUL-terminated, as curl wants it */

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cometchat_egress_check_pem(cf, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    eg->trusted = path;

    return NGX_CONF_OK;
}


char *
ngx_http_cometchat_egress_conf_verify(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                    *value;
    ngx_http_cometchat_egress_t  *eg;

    eg = ngx_http_cometchat_egress_get(cf, conf);
    if (eg == NULL) {
        return NGX_CONF_ERROR;
    }

    if (eg->verify != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcasecmp(value[1].data, (u_char *) "on") == 0) {
        eg->verify = 1;
        return NGX_CONF_OK;
    }

    if (ngx_strcasecmp(value[1].data, (u_char *) "off") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\", it must be "
                           "\"on\" or \"off\"", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "\"cometchat_api_ssl_verify off\": CometChat's "
                       "certificate is not checked; anyone on the network "
                       "path can pose as CometChat and read the REST API "
                       "key");

    eg->verify = 0;

    return NGX_CONF_OK;
}


char *
ngx_http_cometchat_egress_conf_proxy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    u_char                       *p, *last;
    ngx_str_t                    *value, url, shown, hostport;
    ngx_http_cometchat_egress_t  *eg;

    eg = ngx_http_cometchat_egress_get(cf, conf);
    if (eg == NULL) {
        return NGX_CONF_ERROR;
    }

    if (eg->proxy.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    url = value[1];

    if (ngx_strcmp(url.data, "off") == 0) {
        ngx_str_set(&eg->proxy, "");
        ngx_str_set(&eg->proxy_shown, "");
        return NGX_CONF_OK;
    }

    if (ngx_http_cometchat_egress_mask(cf->pool, &url, &shown, &hostport)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* messages from here on show the proxy masked, never as written */

    if (url.len <= 7
        || ngx_strncasecmp(url.data, (u_char *) "http://", 7) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_proxy\" must begin with "
                           "\"http://\": \"%V\"", &shown);
        return NGX_CONF_ERROR;
    }

    for (p = url.data; p < url.data + url.len; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"cometchat_api_proxy\" contains spaces or "
                               "control characters: \"%V\"", &shown);
            return NGX_CONF_ERROR;
        }
    }

    /* host:port, a port required: curl's default for proxies is 1080 */

    p = hostport.data;
    last = hostport.data + hostport.len;

    if (p < last && *p == '[') {
        p = ngx_strlchr(p, last, ']');
        p = p ? p + 1 : last;

    } else {
        p = ngx_strlchr(p, last, ':');
        if (p == NULL) {
            p = last;
        }
    }

    if (p == hostport.data || hostport.data[0] == ':'
        || p >= last || *p != ':' || p + 1 == last
        || ngx_atoi(p + 1, last - p - 1) == NGX_ERROR
        || ngx_atoi(p + 1, last - p - 1) > 65535)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_proxy\" must be "
                           "\"http://[user:password@]host:port\": \"%V\"",
                           &shown);
        return NGX_CONF_ERROR;
    }

    eg->proxy = url;
    eg->proxy_shown = shown;

    return NGX_CONF_OK;
}


char *
ngx_http_cometchat_egress_merge(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *prev, ngx_http_cometchat_loc_conf_t *conf)
{
    ngx_http_cometchat_egress_t  *eg, *peg;

    eg = conf->egress;
    peg = prev->egress;

    /*
     * parents are merged before their children, except the http level,
     * which is never a child: what it left unset is the default
     */

    if (peg) {
        ngx_http_cometchat_egress_defaults(peg);
    }

    if (eg == NULL) {
        conf->egress = peg ? peg : &ngx_http_cometchat_egress_default;
        return NGX_CONF_OK;
    }

    if (peg) {
        ngx_conf_merge_value(eg->verify, peg->verify, 1);

        if (eg->trusted.data == NULL) {
            eg->trusted = peg->trusted;
        }

        if (eg->proxy.data == NULL) {
            eg->proxy = peg->proxy;
            eg->proxy_shown = peg->proxy_shown;
        }
    }

    ngx_http_cometchat_egress_defaults(eg);

    return NGX_CONF_OK;
}


static ngx_http_cometchat_egress_t *
ngx_http_cometchat_egress_get(ngx_conf_t *cf,
    ngx_http_cometchat_loc_conf_t *lcf)
{
    ngx_http_cometchat_egress_t  *eg;

    if (lcf->egress) {
        return lcf->egress;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     eg->trusted = { 0, NULL };
     *     eg->proxy = { 0, NULL };
     *     eg->proxy_shown = { 0, NULL };
     */

    eg = ngx_pcalloc(cf->pool, sizeof(ngx_http_cometchat_egress_t));
    if (eg == NULL) {
        return NULL;
    }

    eg->verify = NGX_CONF_UNSET;

    lcf->egress = eg;

    return eg;
}


static void
ngx_http_cometchat_egress_defaults(ngx_http_cometchat_egress_t *eg)
{
    if (eg == &ngx_http_cometchat_egress_default) {
        return;
    }

    if (eg->verify == NGX_CONF_UNSET) {
        eg->verify = 1;
    }

    if (eg->trusted.data == NULL) {
        ngx_str_set(&eg->trusted, "");
    }

    if (eg->proxy.data == NULL) {
        ngx_str_set(&eg->proxy, "");
        ngx_str_set(&eg->proxy_shown, "");
    }
}


/*
 * The master reads the bundle at "nginx -t"; curl reads it again in the
 * worker, as the worker's user, for every new connection.
 */

static ngx_int_t
ngx_http_cometchat_egress_check_pem(ngx_conf_t *cf, ngx_str_t *path)
{
    u_char           *buf;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"cometchat_api_ssl_trusted_certificate\": "
                           "cannot open \"%V\"", path);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR || !ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_ssl_trusted_certificate\": "
                           "\"%V\" is not a file", path);
        (void) ngx_close_file(fd);
        return NGX_ERROR;
    }

    buf = ngx_pnalloc(cf->temp_pool, NGX_HTTP_COMETCHAT_EGRESS_PEM_SCAN + 1);
    if (buf == NULL) {
        (void) ngx_close_file(fd);
        return NGX_ERROR;
    }

    n = ngx_read_fd(fd, buf, NGX_HTTP_COMETCHAT_EGRESS_PEM_SCAN);

    (void) ngx_close_file(fd);

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"cometchat_api_ssl_trusted_certificate\": "
                           "cannot read \"%V\"", path);
        return NGX_ERROR;
    }

    buf[n] = '\0';

    if (ngx_strnstr(buf, "-----BEGIN CERTIFICATE-----", n) == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_api_ssl_trusted_certificate\": "
                           "\"%V\" holds no PEM certificate", path);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The user information ("user:pass@") is shown as "***@"; hostport is
 * what follows it, up to the path.  Works on any text, so that a
 * malformed value is masked too.
 */

static ngx_int_t
ngx_http_cometchat_egress_mask(ngx_pool_t *pool, ngx_str_t *url,
    ngx_str_t *shown, ngx_str_t *hostport)
{
    u_char  *p, *start, *end, *at, *last;

    last = url->data + url->len;

    start = ngx_strlcasestrn(url->data, last, (u_char *) "://", 3 - 1);
    start = start ? start + 3 : url->data;

    end = ngx_strlchr(start, last, '/');
    if (end == NULL) {
        end = last;
    }

    at = NULL;

    for (p = start; p < end; p++) {
        if (*p == '@') {
            at = p;
        }
    }

    hostport->data = at ? at + 1 : start;
    hostport->len = end - hostport->data;

    if (at == NULL) {
        *shown = *url;
        return NGX_OK;
    }

    shown->data = ngx_pnalloc(pool, url->len + sizeof("***") - 1);
    if (shown->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(shown->data, url->data, start - url->data);
    p = ngx_cpymem(p, "***", sizeof("***") - 1);
    p = ngx_cpymem(p, at, last - at);

    shown->len = p - shown->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_cometchat_egress_init_process(ngx_cycle_t *cycle)
{
    /*
     * only this worker's thread touches the share: curl's resolver threads
     * do not use TLS sessions, so no lock functions are needed
     */

    ngx_http_cometchat_egress_share = curl_share_init();

    if (ngx_http_cometchat_egress_share == NULL
        || curl_share_setopt(ngx_http_cometchat_egress_share,
                             CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)
           != CURLSHE_OK)
    {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "no shared TLS session cache: every new CometChat "
                      "connection makes a full TLS handshake");

        if (ngx_http_cometchat_egress_share) {
            curl_share_cleanup(ngx_http_cometchat_egress_share);
            ngx_http_cometchat_egress_share = NULL;
        }
    }

    return NGX_OK;
}


void
ngx_http_cometchat_egress_exit_process(void)
{
    /* after every easy handle and the multi handle are gone */

    if (ngx_http_cometchat_egress_share) {
        (void) curl_share_cleanup(ngx_http_cometchat_egress_share);
        ngx_http_cometchat_egress_share = NULL;
    }
}


ngx_int_t
ngx_http_cometchat_egress_setopt(CURL *easy, ngx_http_cometchat_egress_t *eg,
    ngx_log_t *log)
{
    if (eg == NULL) {
        eg = &ngx_http_cometchat_egress_default;
    }

    /* curl's defaults, set so that nothing depends on a build's choice */

    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, eg->verify ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, eg->verify ? 2L : 0L);

    if (eg->trusted.len) {
        /* the bundle replaces the system's store, CA path included */

        if (curl_easy_setopt(easy, CURLOPT_CAINFO, eg->trusted.data)
            != CURLE_OK)
        {
            ngx_log_error(NGX_LOG_ERR, log, 0, NGX_HTTP_COMETCHAT_LOG_PREFIX
                          "libcurl does not take "
                          "\"cometchat_api_ssl_trusted_certificate\"");
            return NGX_ERROR;
        }

        curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
    }

    /*
     * an empty proxy keeps curl from the http_proxy (and other) environment
     * variables:
     * the proxy is the configuration's to name (and nginx clears the
     * environment of its workers anyway, see the "env" directive)
     */

    if (curl_easy_setopt(easy, CURLOPT_PROXY,
                         eg->proxy.len ? (char *) eg->proxy.data : "")
        != CURLE_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0, NGX_HTTP_COMETCHAT_LOG_PREFIX
                      "libcurl does not take proxy \"%V\"",
                      &eg->proxy_shown);
        return NGX_ERROR;
    }

    if (eg->proxy.len) {
        /* https through a tunnel (curl does so anyway); plain http is
         * forwarded by the proxy as a request */
        curl_easy_setopt(easy, CURLOPT_PROXYTYPE, (long) CURLPROXY_HTTP);
        curl_easy_setopt(easy, CURLOPT_HTTPPROXYTUNNEL, 0L);
    }

    if (ngx_http_cometchat_egress_share) {
        curl_easy_setopt(easy, CURLOPT_SHARE,
                         ngx_http_cometchat_egress_share);
    }

    curl_easy_setopt(easy, CURLOPT_DNS_CACHE_TIMEOUT,
                     (long) NGX_HTTP_COMETCHAT_EGRESS_DNS_TTL);

#if (LIBCURL_VERSION_NUM >= 0x075000)
    curl_easy_setopt(easy, CURLOPT_MAXLIFETIME_CONN,
                     (long) NGX_HTTP_COMETCHAT_EGRESS_CONN_MAX);
#endif

    return NGX_OK;
}


/*
 * The text of a failed call for the log: TLS failures name the host and
 * curl's reason, a call through a proxy names the proxy, masked.
 */

const char *
ngx_http_cometchat_egress_error(CURL *easy, CURLcode rc,
    ngx_http_cometchat_egress_t *eg, const char *reason, u_char *buf,
    size_t size)
{
    char        *url, *scheme;
    u_char      *p, *last, *host;
    size_t       len;
    long         port;
    ngx_uint_t   https;
    curl_off_t   handshaken;

    if (eg == NULL) {
        eg = &ngx_http_cometchat_egress_default;
    }

    url = NULL;
    scheme = NULL;
    (void) curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url);
    (void) curl_easy_getinfo(easy, CURLINFO_SCHEME, &scheme);

    https = (scheme && ngx_strcasecmp((u_char *) scheme, (u_char *) "https")
                       == 0);

    ngx_http_cometchat_egress_host(url, &host, &len);

    p = buf;
    last = buf + size - 1;

    switch (rc) {

    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_INITFAILED:
        p = ngx_slprintf(p, last, "TLS with %*s: %s", len, host, reason);
        break;

    case CURLE_OPERATION_TIMEDOUT:

        /*
         * connected (a local port) but not handshaken; curl 7.88 sets its
         * connect time only once TLS is up too.  Through a proxy, the
         * connection is the proxy's: no telling which step stalled.
         */

        port = 0;
        handshaken = 0;
        (void) curl_easy_getinfo(easy, CURLINFO_LOCAL_PORT, &port);
        (void) curl_easy_getinfo(easy, CURLINFO_APPCONNECT_TIME_T,
                                 &handshaken);

        if (https && port > 0 && handshaken == 0 && eg->proxy.len == 0) {
            p = ngx_slprintf(p, last, "TLS handshake with %*s timed out",
                             len, host);
            break;
        }

        /* fall through */

    default:
        p = ngx_slprintf(p, last, "%s", reason);
    }

    if (eg->proxy.len) {
        p = ngx_slprintf(p, last, " (through proxy %V)", &eg->proxy_shown);
    }

    *p = '\0';

    return (const char *) buf;
}


static void
ngx_http_cometchat_egress_host(char *url, u_char **host, size_t *len)
{
    u_char  *p, *last, *at;

    if (url == NULL) {
        *host = (u_char *) "CometChat";
        *len = sizeof("CometChat") - 1;
        return;
    }

    p = (u_char *) url;
    last = p + ngx_strlen(p);

    at = ngx_strlcasestrn(p, last, (u_char *) "://", 3 - 1);
    p = at ? at + 3 : p;

    for (at = p; at < last && *at != '/' && *at != '?' && *at != '#'; at++) {
        if (*at == '@') {
            p = at + 1;
        }
    }

    *host = p;
    *len = at - p;
}
