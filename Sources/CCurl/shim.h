#ifndef NIGHTSHIFT_CCURL_SHIM_H
#define NIGHTSHIFT_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
   wrapper per argument type. */
static inline CURLcode nightshift_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode nightshift_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode nightshift_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode nightshift_curl_set_list(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
typedef size_t (*nightshift_curl_io_callback)(char *buffer, size_t size, size_t count, void *context);
static inline CURLcode nightshift_curl_set_io_callback(CURL *handle, CURLoption option, nightshift_curl_io_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}
typedef int (*nightshift_curl_debug_callback)(CURL *handle, curl_infotype type, char *data, size_t size, void *context);
static inline CURLcode nightshift_curl_set_debug_callback(CURL *handle, nightshift_curl_debug_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, callback);
}
static inline CURLcode nightshift_curl_set_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode nightshift_curl_get_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode nightshift_curl_get_offset(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}
/* Deliver to the recipients the server accepts when it refuses some (all refused is still an
   error). The option was misspelt until curl 8.2. */
static inline CURLcode nightshift_curl_allow_refused_recipients(CURL *handle) {
#if LIBCURL_VERSION_NUM >= 0x080200
    return curl_easy_setopt(handle, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
#else
    return curl_easy_setopt(handle, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
#endif
}
/* CURL_GLOBAL_DEFAULT is a composed macro. */
static inline CURLcode nightshift_curl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }
static inline size_t nightshift_curl_read_abort(void) { return CURL_READFUNC_ABORT; }
#endif
