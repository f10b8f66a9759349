/*
 * The module's version: the one place it is written down.
 *
 * tools/deb, the test suites and docs read NGX_HTTP_COMETCHAT_VERSION from
 * this file with sed; keep the #define lines in this form.
 */


#ifndef _NGX_HTTP_COMETCHAT_VERSION_H_INCLUDED_
#define _NGX_HTTP_COMETCHAT_VERSION_H_INCLUDED_


/* major * 1000000 + minor * 1000 + patch, as nginx_version */
#define NGX_HTTP_COMETCHAT_VERSION_NUM  2000
#define NGX_HTTP_COMETCHAT_VERSION      "0.2.0"


#endif /* _NGX_HTTP_COMETCHAT_VERSION_H_INCLUDED_ */
