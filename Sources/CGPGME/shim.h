#ifndef NIGHTSHIFT_CGPGME_SHIM_H
#define NIGHTSHIFT_CGPGME_SHIM_H
#include <gpgme.h>

/* gpg_err_code() is an inline function on some versions and a macro on others. */
static inline unsigned int nightshift_gpg_err_code(gpgme_error_t err) { return (unsigned int)(err & 0xFFFF); }
static inline unsigned int nightshift_gpg_err_source(gpgme_error_t err) { return (unsigned int)((err >> 24) & 0x7F); }
#endif
