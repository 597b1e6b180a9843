// libsrtp2 for river: SRTP/SRTCP protect and unprotect with keys exported from DTLS (RFC 5764).
#ifndef RIVER_CSRTP_SHIM_H
#define RIVER_CSRTP_SHIM_H
#include <srtp2/srtp.h>
#endif
