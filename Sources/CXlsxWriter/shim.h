#ifndef NIGHTSHIFT_CXLSXWRITER_SHIM_H
#define NIGHTSHIFT_CXLSXWRITER_SHIM_H
#include <xlsxwriter.h>
#endif
