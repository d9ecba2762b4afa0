#ifndef NIGHTSHIFT_CLIBCRYPTO_SHIM_H
#define NIGHTSHIFT_CLIBCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#endif
