
/* PLACEHOLDER: the owner of this file replaces it. */


#include "ngx_http_cometchat.h"


ngx_int_t
ngx_http_cometchat_access_handler(ngx_http_request_t *r)
{
    return NGX_DECLINED;
}
