// usrsctp for river: SCTP in AF_CONN mode over DTLS (RFC 8261), data channels (RFC 8831/8832).
#ifndef RIVER_CUSRSCTP_SHIM_H
#define RIVER_CUSRSCTP_SHIM_H
#ifndef INET
#define INET 1
#endif
#ifndef INET6
#define INET6 1
#endif
#include <usrsctp.h>
#endif
