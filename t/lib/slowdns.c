/*
 * LD_PRELOAD shim for t/045-nonblocking.t: getaddrinfo() of any name under
 * "slowdns.test" sleeps SLOWDNS_SECONDS (default 10) and then fails, as a
 * stalled DNS server would; every other name goes to the real resolver.
 *
 *   cc -shared -fPIC -o slowdns.so slowdns.c -ldl
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*getaddrinfo_pt)(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res);


int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
    size_t          n;
    const char     *s;
    getaddrinfo_pt  real;

    static const char  suffix[] = "slowdns.test";

    n = node ? strlen(node) : 0;

    if (n >= sizeof(suffix) - 1
        && strcmp(node + n - (sizeof(suffix) - 1), suffix) == 0)
    {
        s = getenv("SLOWDNS_SECONDS");
        sleep(s ? (unsigned) atoi(s) : 10);
        return EAI_AGAIN;
    }

    real = (getaddrinfo_pt) dlsym(RTLD_NEXT, "getaddrinfo");
    if (real == NULL) {
        return EAI_SYSTEM;
    }

    return real(node, service, hints, res);
}
