
/* PLACEHOLDER: the owner of this file replaces it. */


#include "ngx_http_cometchat.h"


ngx_int_t
ngx_http_cometchat_filter_init(ngx_conf_t *cf)
{
    return NGX_OK;
}
