
/*
 * ngx_http_cometchat_module: what Redis Sentinel answers.
 *
 * The connection side (asking the sentinels in turn, checking the master
 * before use) is in ngx_http_cometchat_redis.c; here the replies are read.
 * Each function returns NULL when the reply is what was asked for, else
 * a message for the log.
 */


#include "ngx_http_cometchat_redis_sentinel.h"


/*
 * SENTINEL get-master-addr-by-name: ["IP", "PORT"], or nil when the
 * sentinel does not monitor that name.  The address is an IP: sentinels
 * announce addresses, not names (unless resolve-hostnames is on, which
 * this module does not follow: it must not resolve on the event loop).
 */

const char *
ngx_http_cometchat_redis_sentinel_master(redisReply *reply,
    ngx_http_cometchat_redis_peer_t *peer)
{
    ngx_int_t    port;
    redisReply  *host, *p;
#if (NGX_HAVE_INET6)
    u_char       inaddr6[16];
#endif

    if (reply->type == REDIS_REPLY_NIL) {
        return "no such master on this sentinel";
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        return "unexpected reply";
    }

    host = reply->element[0];
    p = reply->element[1];

    if (host->type != REDIS_REPLY_STRING || p->type != REDIS_REPLY_STRING
        || host->len == 0 || host->len > NGX_SOCKADDR_STRLEN)
    {
        return "unexpected reply";
    }

    if (ngx_inet_addr((u_char *) host->str, host->len) == INADDR_NONE
#if (NGX_HAVE_INET6)
        /* it writes the address: a NULL here is written through */
        && ngx_inet6_addr((u_char *) host->str, host->len, inaddr6)
           != NGX_OK
#endif
       )
    {
        return "the master's address is not an IP address";
    }

    port = ngx_atoi((u_char *) p->str, p->len);

    if (port < 1 || port > 65535) {
        return "invalid port in reply";
    }

    ngx_memcpy(peer->host, host->str, host->len);
    peer->host[host->len] = '\0';
    peer->port = (int) port;

    return NULL;
}


/* ROLE: ["master", offset, [replicas]] on a master */

const char *
ngx_http_cometchat_redis_sentinel_role(redisReply *reply, u_char *buf,
    size_t size)
{
    redisReply  *role;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        return "unexpected reply to ROLE";
    }

    role = reply->element[0];

    if (role->len == 6 && ngx_strncmp(role->str, "master", 6) == 0) {
        return NULL;
    }

    *ngx_slprintf(buf, buf + size - 1, "not a master but a %*s",
                  ngx_min(role->len, 16), role->str) = '\0';

    return (const char *) buf;
}
