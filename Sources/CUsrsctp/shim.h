// usrsctp for river: SCTP in AF_CONN mode over DTLS (RFC 8261), data channels (RFC 8831/8832).
#ifndef RIVER_CUSRSCTP_SHIM_H
#define RIVER_CUSRSCTP_SHIM_H
#ifndef INET
#define INET 1
#endif
#ifndef INET6
#define INET6 1
#endif
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

/// Starts usrsctp without its timer and raw-socket receive threads, and without a debug printf:
/// the printf hook is variadic, which Swift cannot implement. The caller drives timers with
/// `usrsctp_handle_timers`.
static inline void river_usrsctp_init_nothreads(
    int (*conn_output)(void *addr, void *buffer, size_t length, uint8_t tos, uint8_t set_df)) {
    usrsctp_init_nothreads(0, conn_output, NULL);
}

/// Asks the peer to reset one of our outgoing streams (RFC 6525 §5.1.2), which is how a data
/// channel is closed (RFC 8831 §6.7). `struct sctp_reset_streams` ends in a flexible array member,
/// which Swift cannot build. Returns 0 or -1 with errno set.
static inline int river_usrsctp_reset_outgoing_stream(struct socket *so, uint16_t stream) {
    size_t len = sizeof(struct sctp_reset_streams) + sizeof(uint16_t);
    struct sctp_reset_streams *srs = (struct sctp_reset_streams *)calloc(1, len);
    if (srs == NULL) {
        errno = ENOMEM;
        return -1;
    }
    srs->srs_assoc_id = SCTP_ALL_ASSOC;
    srs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
    srs->srs_number_streams = 1;
    srs->srs_stream_list[0] = stream;
    int rc = usrsctp_setsockopt(so, IPPROTO_SCTP, SCTP_RESET_STREAMS, srs, (socklen_t)len);
    int saved = errno;
    free(srs);
    errno = saved;
    return rc;
}

#endif
