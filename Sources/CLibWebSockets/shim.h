/*
 * shim.h: the libwebsockets C API as LWSKit's Swift core sees it.
 *
 * Swift imports <libwebsockets.h> directly except for macros whose value is
 * an expression (LWS_PRE is a `?:`), composite option masks and function-like
 * macros. Each of those is re-exposed here as a static inline function with
 * the `lwskit_` prefix. Nothing but LWSKit's Core folder imports this module.
 */
#ifndef LWSKIT_SHIM_H
#define LWSKIT_SHIM_H

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <libwebsockets.h>
#include <sys/prctl.h>

/* Bytes of headroom lws needs in front of every buffer given to lws_write. */
static inline size_t lwskit_pre(void) { return LWS_PRE; }

/* The library version as one number, e.g. 4001006 for 4.1.6. */
static inline unsigned int lwskit_library_version_number(void) {
    return (unsigned int)(LWS_LIBRARY_VERSION_NUMBER);
}

/* Context / vhost options that are expressions or more than one bit. */
static inline uint64_t lwskit_option_allow_non_ssl_on_ssl_port(void) {
    return (uint64_t)LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT;
}
static inline uint64_t lwskit_option_redirect_http_to_https(void) {
    return (uint64_t)LWS_SERVER_OPTION_REDIRECT_HTTP_TO_HTTPS;
}
static inline uint64_t lwskit_option_require_valid_client_cert(void) {
    return (uint64_t)LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
}
static inline uint64_t lwskit_option_ssl_ecdh(void) {
    return (uint64_t)LWS_SERVER_OPTION_SSL_ECDH;
}
static inline uint64_t lwskit_option_explicit_vhosts(void) {
    return (uint64_t)LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
}
static inline uint64_t lwskit_option_validate_utf8(void) {
    return (uint64_t)LWS_SERVER_OPTION_VALIDATE_UTF8;
}
static inline uint64_t lwskit_option_ssl_global_init(void) {
    return (uint64_t)LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
}
static inline uint64_t lwskit_option_disable_os_ca_certs(void) {
    return (uint64_t)LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
}
static inline uint64_t lwskit_option_disable_ipv6(void) {
    return (uint64_t)LWS_SERVER_OPTION_DISABLE_IPV6;
}

/* lws_write() protocol values, typed as the enum lws_write expects. */
static inline enum lws_write_protocol lwskit_write_flags(int binary, int is_start, int is_end) {
    return (enum lws_write_protocol)lws_write_ws_flags(
        binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, is_start, is_end);
}
static inline enum lws_write_protocol lwskit_write_raw(void) { return LWS_WRITE_RAW; }
static inline enum lws_write_protocol lwskit_write_http(int is_final) {
    return is_final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP;
}

/* Client connection flags (LCCSCF_*) as the int ssl_connection field takes them. */
static inline int lwskit_client_tls_flags(int use_tls, int allow_self_signed, int skip_hostname_check) {
    return (use_tls ? LCCSCF_USE_SSL : 0) |
           (allow_self_signed ? LCCSCF_ALLOW_SELFSIGNED : 0) |
           (skip_hostname_check ? LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK : 0);
}

/* Content length meaning "unknown": the macro imports but does not compile. */
static inline lws_filepos_t lwskit_illegal_http_content_len(void) {
    return LWS_ILLEGAL_HTTP_CONTENT_LEN;
}

/* lws_ptr_diff() as a function. */
static inline long lwskit_ptr_diff(const void *head, const void *tail) {
    return (long)lws_ptr_diff(head, tail);
}

/* Logs one line through lws' own logging path (_lws_log is variadic: Swift cannot call it). */
static inline void lwskit_log(int level, const char *line) {
    _lws_log(level, "%s", line);
}

/* Names the calling thread (at most 15 bytes show) for ps, top and /proc. prctl is variadic. */
static inline void lwskit_name_current_thread(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

/* Takes a connection waiting on a listening socket: non-blocking and close-on-exec. -1 with
 * errno when none waits. (accept4 and sched_getaffinity are declared only with _GNU_SOURCE,
 * which this module must not define: its system headers would then differ from Swift's Glibc
 * module, fd_set among them, and a clean build fails. Their system calls need no header.) */
static inline int lwskit_accept(int listening) {
    return (int)syscall(SYS_accept4, listening, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/* The cores this process may run on (its CPU affinity: taskset, cgroup cpusets), at least 1. */
static inline int lwskit_available_cores(void) {
    unsigned long mask[64]; /* 4096 CPUs */
    long bytes = syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask);
    int count = 0;
    for (long i = 0; bytes > 0 && i < bytes / (long)sizeof(unsigned long); i++) count += __builtin_popcountl(mask[i]);
    if (count > 0) return count;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

/*
 * A timer whose firing makes lws_service return. LWSKit's timers only wake the service loop,
 * which does their work once lws_service has returned. A callback that does nothing is not
 * enough: a timer already due when lws_service starts is run before the poll, which then
 * waits with no timeout (one run in ten of a test saw a 200 ms timer wait 5 s). Writing to
 * lws' event pipe (lws_cancel_service) ends that poll at once.
 */
struct lwskit_wake_timer {
    lws_sorted_usec_list_t sul; /* first: lws hands the callback a pointer to it */
    struct lws_context *context;
};

static inline void lwskit_wake_timer_fired(lws_sorted_usec_list_t *sul) {
    lws_cancel_service(((struct lwskit_wake_timer *)sul)->context);
}

/* Arms (or re-arms) `timer` to wake `context`'s service loop in `us` microseconds. */
static inline void lwskit_wake_timer_schedule(struct lwskit_wake_timer *timer,
                                              struct lws_context *context, lws_usec_t us) {
    timer->context = context;
    lws_sul_schedule(context, 0, &timer->sul, lwskit_wake_timer_fired, us);
}

#endif
