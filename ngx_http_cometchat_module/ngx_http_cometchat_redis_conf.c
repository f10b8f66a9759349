
/*
 * ngx_http_cometchat_module: the "cometchat_redis" directive.
 *
 * One Redis (an address or a name), a master found through sentinels
 * ("sentinel=NAME"), or the seed nodes of a Redis Cluster ("cluster"),
 * with the credentials to use.  What the workers do with it is in
 * ngx_http_cometchat_redis.c and ngx_http_cometchat_redis_cluster.c.
 */


#include "ngx_http_cometchat_redis_conf.h"


static ngx_int_t ngx_http_cometchat_redis_conf_addr(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf, ngx_url_t *u);


/* the one Redis of "cometchat_redis ADDRESS": numeric text for hiredis */

static ngx_int_t
ngx_http_cometchat_redis_conf_addr(ngx_conf_t *cf,
    ngx_http_cometchat_main_conf_t *cmcf, ngx_url_t *u)
{
    u_char           *p;
    size_t            len;
    struct sockaddr  *sa;

    cmcf->redis_addr = &u->addrs[0];
    sa = u->addrs[0].sockaddr;

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + u->host.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cmcf->redis_host.data = p;

    if (sa->sa_family == AF_UNIX) {
        len = ngx_cpymem(p, u->host.data, u->host.len) - p;  /* port 0 */

    } else {
        len = ngx_sock_ntop(sa, u->addrs[0].socklen, p, NGX_SOCKADDR_STRLEN,
                            0);
        cmcf->redis_port = ngx_inet_get_port(sa);
    }

    p[len] = '\0';
    cmcf->redis_host.len = len;

    /* a name, not an address: re-resolved on reconnects with a resolver */

    if (sa->sa_family != AF_UNIX && u->host.data[0] != '['
        && ngx_inet_addr(u->host.data, u->host.len) == INADDR_NONE)
    {
        cmcf->redis_resolve = u->host;
    }

    return NGX_OK;
}


char *
ngx_http_cometchat_redis_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cometchat_main_conf_t *cmcf = conf;

    u_char       *p;
    ngx_int_t     n;
    ngx_str_t    *value, *v;
    ngx_url_t     u;
    ngx_uint_t    i;
    ngx_addr_t   *addr;
    ngx_array_t  *list;

    if (cmcf->redis_name.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    cmcf->redis_name = value[1];

    i = 1;

    if (ngx_strncmp(value[1].data, "sentinel=", 9) == 0 && value[1].len > 9) {
        cmcf->redis_master.data = value[1].data + 9;
        cmcf->redis_master.len = value[1].len - 9;

        cmcf->redis_sentinels = ngx_array_create(cf->pool, 3,
                                                 sizeof(ngx_addr_t));
        if (cmcf->redis_sentinels == NULL) {
            return NGX_CONF_ERROR;
        }

        i = 2;

    } else if (value[1].len == 7
               && ngx_strncmp(value[1].data, "cluster", 7) == 0)
    {
        cmcf->redis_seeds = ngx_array_create(cf->pool, 3, sizeof(ngx_addr_t));
        if (cmcf->redis_seeds == NULL) {
            return NGX_CONF_ERROR;
        }

        i = 2;
    }

    /* the seeds of a cluster, or the sentinels: addresses, not one */

    list = cmcf->redis_sentinels ? cmcf->redis_sentinels : cmcf->redis_seeds;

    for ( /* void */ ; i < cf->args->nelts; i++) {

        v = &value[i];

        /* a cluster has one database */

        if (ngx_strncmp(v->data, "db=", 3) == 0 && cmcf->redis_seeds == NULL)
        {
            n = ngx_atoi(v->data + 3, v->len - 3);
            if (n == NGX_ERROR || n > 65535) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"cometchat_redis\": invalid db \"%V\"",
                                   v);
                return NGX_CONF_ERROR;
            }

            cmcf->redis_db = n;
            continue;
        }

        if (ngx_strncmp(v->data, "username=", 9) == 0 && v->len > 9) {
            cmcf->redis_username.data = v->data + 9;
            cmcf->redis_username.len = v->len - 9;
            continue;
        }

        if (ngx_strncmp(v->data, "password=", 9) == 0 && v->len > 9) {
            cmcf->redis_password.data = v->data + 9;
            cmcf->redis_password.len = v->len - 9;
            continue;
        }

        if (cmcf->redis_sentinels
            && ngx_strncmp(v->data, "sentinel_password=", 18) == 0
            && v->len > 18)
        {
            cmcf->redis_sentinel_password.data = v->data + 18;
            cmcf->redis_sentinel_password.len = v->len - 18;
            continue;
        }

        p = ngx_strlchr(v->data, v->data + v->len, '=');

        if (p == NULL && (list != NULL || cmcf->redis_addr == NULL)) {
            ngx_memzero(&u, sizeof(ngx_url_t));

            u.url = *v;
            u.default_port = cmcf->redis_sentinels ? 26379 : 6379;

            /* names are resolved here: hiredis would resolve them with a
             * blocking getaddrinfo() on the event loop */

            if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0
                || u.uri.len
                || (list && u.family == AF_UNIX))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"cometchat_redis\": invalid address "
                                   "\"%V\"%s%s", v, u.err ? ": " : "",
                                   u.err ? u.err : "");
                return NGX_CONF_ERROR;
            }

            if (list) {
                addr = ngx_array_push(list);
                if (addr == NULL) {
                    return NGX_CONF_ERROR;
                }

                *addr = u.addrs[0];
                cmcf->redis_addr = addr;
                continue;
            }

            if (ngx_http_cometchat_redis_conf_addr(cf, cmcf, &u) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        /* a mistyped "password=" must not put the password in the log */

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_redis\": invalid parameter "
                           "\"%*s%s\"",
                           p ? (size_t) (p - v->data) : v->len,
                           v->data, p ? "=..." : "");
        return NGX_CONF_ERROR;
    }

    if (cmcf->redis_addr == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cometchat_redis\": no %s address",
                           cmcf->redis_sentinels ? "sentinel"
                           : cmcf->redis_seeds ? "cluster node" : "Redis");
        return NGX_CONF_ERROR;
    }

    if (cmcf->redis_username.len && cmcf->redis_password.len == 0) {
        return "takes \"username=\" only with \"password=\"";
    }

    return NGX_CONF_OK;
}
