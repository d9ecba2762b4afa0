#ifndef NIGHTSHIFT_CARCHIVE_SHIM_H
#define NIGHTSHIFT_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>

/* AE_IFREG is a macro Swift cannot import. */
static inline unsigned int nightshift_ae_ifreg(void) { return AE_IFREG; }
#endif
