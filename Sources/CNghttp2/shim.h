#ifndef CNGHTTP2_SHIM_H
#define CNGHTTP2_SHIM_H
#include <nghttp2/nghttp2.h>

/* Macros and unions that Swift cannot use directly become small functions. */
static inline int cnghttp2_version_num(void) { return NGHTTP2_VERSION_NUM; }

static inline nghttp2_data_provider cnghttp2_data_provider(nghttp2_data_source_read_callback cb) {
    nghttp2_data_provider p;
    p.source.ptr = 0;
    p.read_callback = cb;
    return p;
}
#endif
