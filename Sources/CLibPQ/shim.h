#ifndef NIGHTSHIFT_CLIBPQ_SHIM_H
#define NIGHTSHIFT_CLIBPQ_SHIM_H
#include <postgresql/libpq-fe.h>
#endif
