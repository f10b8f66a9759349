
/* PLACEHOLDER: the owner of this file replaces it. */


#include "ngx_http_cometchat.h"


ngx_int_t
ngx_http_cometchat_json_get(ngx_pool_t *pool, ngx_str_t *json,
    ngx_array_t *path, ngx_str_t *out, ngx_log_t *log)
{
    return NGX_ERROR;
}
