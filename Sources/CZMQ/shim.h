// libzmq for river's broker: ROUTER/DEALER sockets, multipart messages, zero-copy frames.
#ifndef RIVER_CZMQ_SHIM_H
#define RIVER_CZMQ_SHIM_H
#include <zmq.h>
#endif
