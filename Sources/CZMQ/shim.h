// libzmq for river's broker: ROUTER/DEALER sockets, multipart messages, zero-copy frames.
#ifndef RIVER_CZMQ_SHIM_H
#define RIVER_CZMQ_SHIM_H
#include <zmq.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

// A non-blocking eventfd that wakes a broker I/O thread out of zmq_poll (the EFD_* flags are
// macros Swift cannot always see through Glibc).
static inline int river_wakeup_fd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

// Names the calling thread (shown in /proc and by top -H); prctl is variadic, which Swift cannot call.
static inline void river_name_thread(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }
#endif
