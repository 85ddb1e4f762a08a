// hiredis (Debian's libhiredis-dev 0.14) for LWSKitRedis, with the few helpers Swift cannot
// write itself: the context's error text (a C array) and switching a connected context to
// non-blocking I/O, which LWSKitRedis drives with poll(2) on a thread of its own.
#ifndef LWSKIT_CHIREDIS_SHIM_H
#define LWSKIT_CHIREDIS_SHIM_H

#include <fcntl.h>
#include <hiredis/hiredis.h>

/// The context's error text ("Connection refused", "Server closed the connection").
static inline const char *lwskit_redis_error_text(const redisContext *context) {
    return context->errstr;
}

/// Makes a connected context non-blocking: hiredis then reads and writes only what the
/// socket takes without waiting (redisBufferRead, redisBufferWrite) and redisGetReply only
/// parses what was read. Returns 0, or -1 with errno set.
static inline int lwskit_redis_make_nonblocking(redisContext *context) {
    int flags = fcntl(context->fd, F_GETFL);
    if (flags == -1 || fcntl(context->fd, F_SETFL, flags | O_NONBLOCK) == -1) return -1;
    context->flags &= ~REDIS_BLOCK;
    return 0;
}

#endif
