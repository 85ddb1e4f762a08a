/*
 * loadgen: a WebSocket echo load generator that shares no code with LWSKit, libwebsockets or
 * SwiftNIO.
 *
 * It implements the client side of RFC 6455 itself, over plain TCP or TLS (OpenSSL) and epoll:
 * the opening handshake (checking Sec-WebSocket-Accept and the subprotocol), masked frames,
 * messages sent in continuation frames when asked (-f), reassembly of fragmented replies,
 * pongs for the server's pings, and a closing handshake at the end. C connections each keep D
 * messages of S bytes in flight until N messages have been echoed or T seconds have passed;
 * every echoed byte is checked against what was sent.
 *
 * It prints one line of key=value pairs: messages/s, MB/s (echoed payload, one direction),
 * round-trip p50/p99/max, errors, and, given the server's pid (-P), the server's CPU use and
 * RSS over the run and the load generator's own CPU use (which of the two was the limit).
 *
 * Idle mode (-i N) opens N connections, completes each handshake, and reports the server's RSS
 * growth per connection (-P needed).
 *
 * usage: loadgen HOST PORT [-c connections] [-d in_flight] [-s size] [-n messages] [-t seconds]
 *                [-f fragment_size] [-p subprotocol] [-S] [-P server_pid] [-i idle_connections]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "process_stats.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what) {
    fprintf(stderr, "loadgen: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- byte buffers ---------------------------------------------------------------------- */

/* A growable byte buffer; bytes before `start` are consumed. */
struct buffer { uint8_t *data; size_t len, cap, start; };

static void buffer_reserve(struct buffer *b, size_t more) {
    if (b->start && b->start == b->len) b->start = b->len = 0;
    if (b->len + more <= b->cap) return;
    if (b->start) {
        memmove(b->data, b->data + b->start, b->len - b->start);
        b->len -= b->start;
        b->start = 0;
        if (b->len + more <= b->cap) return;
    }
    b->cap = (b->len + more) * 2;
    b->data = realloc(b->data, b->cap);
    if (!b->data) fail("out of memory");
}

/* ---- connections ------------------------------------------------------------------------ */

struct connection {
    int fd;
    SSL *ssl;                 /* NULL on plain TCP */
    struct buffer out, in;    /* masked frames to write; bytes read and not yet parsed */
    long sent, received;      /* messages of this connection */
    size_t message_offset;    /* bytes of the current reply checked so far */
    uint8_t sequence[8];      /* the current reply's first 8 bytes (its sequence number) */
    int closing;              /* our close frame is queued: only the server's close is awaited */
    int closed;               /* the server's close frame arrived, or the connection ended */
};

struct settings {
    const char *host, *port, *protocol;
    long connections, in_flight, size, total, fragment, idle, server_pid;
    double seconds;
    int tls;
};

static SSL_CTX *tls_context;

/* Reads up to `len` bytes: > 0 read, 0 would block, -1 closed or failed. */
static ssize_t connection_read(struct connection *c, uint8_t *p, size_t len) {
    if (!c->ssl) {
        ssize_t r = read(c->fd, p, len);
        if (r > 0) return r;
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
        return -1;
    }
    int r = SSL_read(c->ssl, p, (int)len);
    if (r > 0) return r;
    int e = SSL_get_error(c->ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* Writes up to `len` bytes: >= 0 written, -1 failed. */
static ssize_t connection_write(struct connection *c, const uint8_t *p, size_t len) {
    if (!c->ssl) {
        ssize_t w = write(c->fd, p, len);
        if (w >= 0) return w;
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    int w = SSL_write(c->ssl, p, (int)(len > (1 << 30) ? (1 << 30) : len));
    if (w > 0) return w;
    int e = SSL_get_error(c->ssl, w);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* Blocking write of everything, for the handshake. */
static void connection_write_all(struct connection *c, const void *p, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t w = connection_write(c, (const uint8_t *)p + done, len - done);
        if (w < 0) fail("handshake write");
        done += w;
    }
}

/* Connects, completes TLS if asked, and performs the opening handshake (blocking). Bytes read
 * past the handshake's end stay in c->in. */
static void connection_open(struct connection *c, const struct settings *s, const struct addrinfo *ai) {
    c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen)) fail("connect");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (s->tls) {
        c->ssl = SSL_new(tls_context);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_tlsext_host_name(c->ssl, s->host);
        SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (SSL_connect(c->ssl) != 1) { errno = 0; ERR_print_errors_fp(stderr); fail("TLS handshake"); }
    }

    unsigned char key_raw[16], key[32], accept_expected[64], digest[SHA_DIGEST_LENGTH];
    for (int i = 0; i < 16; i++) key_raw[i] = (unsigned char)rand();
    EVP_EncodeBlock(key, key_raw, 16);
    char request[1024];
    int n = snprintf(request, sizeof request,
                     "GET / HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     s->host, s->port, key, s->protocol ? "Sec-WebSocket-Protocol: " : "",
                     s->protocol ? s->protocol : "", s->protocol ? "\r\n" : "");
    connection_write_all(c, request, n);

    /* Read until the blank line; whatever follows it is the first frames. */
    char *end = NULL;
    while (!end) {
        buffer_reserve(&c->in, 4096);
        ssize_t r = connection_read(c, c->in.data + c->in.len, 4095); /* room for the terminator */
        if (r < 0 || (r == 0 && !c->ssl)) fail("handshake read");
        c->in.len += r;
        c->in.data[c->in.len] = 0;
        end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
        if (!end && c->in.len > 16384) { errno = 0; fail("handshake response too long"); }
    }
    *end = 0;
    char *response = (char *)c->in.data;
    if (strncmp(response, "HTTP/1.1 101", 12)) { errno = 0; fprintf(stderr, "%s\n", response); fail("server did not answer 101"); }
    char concat[128];
    snprintf(concat, sizeof concat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    SHA1((unsigned char *)concat, strlen(concat), digest);
    EVP_EncodeBlock(accept_expected, digest, SHA_DIGEST_LENGTH);
    char *accept = strcasestr(response, "\r\nSec-WebSocket-Accept:");
    if (!accept) { errno = 0; fail("no Sec-WebSocket-Accept"); }
    accept += strlen("\r\nSec-WebSocket-Accept:");
    while (*accept == ' ') accept++;
    if (strncmp(accept, (char *)accept_expected, strlen((char *)accept_expected))) { errno = 0; fail("wrong Sec-WebSocket-Accept"); }
    if (s->protocol) {
        char *chosen = strcasestr(response, "\r\nSec-WebSocket-Protocol:");
        if (!chosen) { errno = 0; fail("the server chose no subprotocol"); }
        chosen += strlen("\r\nSec-WebSocket-Protocol:");
        while (*chosen == ' ') chosen++;
        if (strncmp(chosen, s->protocol, strlen(s->protocol))) { errno = 0; fail("the server chose another subprotocol"); }
    }
    c->in.start = (size_t)(end + 4 - (char *)c->in.data);
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
}

/* Appends one masked client frame: FIN when `fin`, `opcode` (0 for a continuation). */
static void append_frame(struct buffer *out, int opcode, int fin, const uint8_t *payload, size_t len) {
    buffer_reserve(out, len + 14);
    uint8_t *h = out->data + out->len;
    size_t hl = 2;
    h[0] = (fin ? 0x80 : 0) | opcode;
    if (len < 126) h[1] = 0x80 | len;
    else if (len < 65536) { h[1] = 0x80 | 126; h[2] = len >> 8; h[3] = len; hl = 4; }
    else { h[1] = 0x80 | 127; for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)(len >> (56 - 8 * i)); hl = 10; }
    uint8_t mask[4];
    uint32_t r = (uint32_t)rand();
    memcpy(mask, &r, 4);
    memcpy(h + hl, mask, 4);
    hl += 4;
    uint8_t *p = h + hl;
    uint64_t mask64;
    memcpy(&mask64, mask, 4);
    memcpy((uint8_t *)&mask64 + 4, mask, 4);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, payload + i, 8);
        word ^= mask64;
        memcpy(p + i, &word, 8);
    }
    for (; i < len; i++) p[i] = payload[i] ^ mask[i & 3];
    out->len += hl + len;
}

/* Appends one binary message, in frames of at most `fragment` bytes (0: one frame). */
static void append_message(struct buffer *out, const uint8_t *payload, size_t len, size_t fragment) {
    if (!fragment || fragment >= len) { append_frame(out, 2, 1, payload, len); return; }
    for (size_t at = 0; at < len; at += fragment) {
        size_t piece = len - at < fragment ? len - at : fragment;
        append_frame(out, at ? 0 : 2, at + piece == len, payload + at, piece);
    }
}

/* ---- the run ---------------------------------------------------------------------------- */

struct run {
    const struct settings *s;
    uint8_t *payload;         /* the message: 8 bytes of sequence number, then a fixed pattern */
    double *sent_at, *rtt;    /* by global sequence number; round trips in arrival order */
    long sent, received, errors;
};

/* Queues messages on `c` until it has `in_flight` outstanding or the run has sent them all. */
static void fill(struct run *run, struct connection *c) {
    while (!c->closing && run->sent < run->s->total && c->sent - c->received < run->s->in_flight) {
        uint64_t sequence = (uint64_t)run->sent;
        memcpy(run->payload, &sequence, 8);
        run->sent_at[run->sent] = now_seconds();
        append_message(&c->out, run->payload, run->s->size, run->s->fragment);
        run->sent++;
        c->sent++;
    }
}

/* Checks one piece of a reply's payload against what was sent; ends the message at `fin`. */
static void check_reply_piece(struct run *run, struct connection *c, const uint8_t *p, size_t len, int fin) {
    size_t size = run->s->size;
    while (len && c->message_offset < 8) { c->sequence[c->message_offset++] = *p++; len--; }
    if (c->message_offset + len > size) run->errors++;
    else if (len && memcmp(run->payload + c->message_offset, p, len)) run->errors++;
    c->message_offset += len;
    if (!fin) return;
    uint64_t sequence;
    memcpy(&sequence, c->sequence, 8);
    if (c->message_offset != size || sequence >= (uint64_t)run->sent) run->errors++;
    else run->rtt[run->received] = now_seconds() - run->sent_at[sequence];
    run->received++;
    c->received++;
    c->message_offset = 0;
}

/* Parses every complete server frame in c->in. Returns -1 on a protocol violation. */
static int parse_frames(struct run *run, struct connection *c) {
    for (;;) {
        size_t avail = c->in.len - c->in.start;
        uint8_t *h = c->in.data + c->in.start;
        if (avail < 2) return 0;
        size_t hl = 2, len = h[1] & 0x7f;
        if (h[1] & 0x80) { fprintf(stderr, "loadgen: the server masked a frame\n"); return -1; }
        if (h[0] & 0x70) { fprintf(stderr, "loadgen: RSV bits set\n"); return -1; }
        if (len == 126) { if (avail < 4) return 0; len = (h[2] << 8) | h[3]; hl = 4; }
        else if (len == 127) {
            if (avail < 10) return 0;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i];
            hl = 10;
        }
        if (avail < hl + len) return 0;
        int opcode = h[0] & 0x0f, fin = h[0] & 0x80;
        uint8_t *payload = h + hl;
        switch (opcode) {
        case 0: case 1: case 2:
            check_reply_piece(run, c, payload, len, fin);
            break;
        case 8:
            c->closed = 1;
            if (!c->closing) { fprintf(stderr, "loadgen: the server closed (%zu bytes of close payload)\n", len); return -1; }
            break;
        case 9: /* a ping: answer with its payload */
            append_frame(&c->out, 10, 1, payload, len);
            break;
        case 10:
            break;
        default:
            fprintf(stderr, "loadgen: unknown opcode %d\n", opcode);
            return -1;
        }
        c->in.start += hl + len;
    }
}

static void watch(int epoll_fd, struct connection *c, int op) {
    struct epoll_event event = {.events = EPOLLIN | (c->out.len > c->out.start ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(epoll_fd, op, c->fd, &event)) fail("epoll_ctl");
}

/* Writes what is queued; returns -1 when the connection failed. */
static int flush_output(struct connection *c) {
    while (c->out.len > c->out.start) {
        ssize_t w = connection_write(c, c->out.data + c->out.start, c->out.len - c->out.start);
        if (w < 0) return -1;
        if (w == 0) break;
        c->out.start += w;
    }
    return 0;
}

/* Reads what the socket has; returns -1 when the connection ended. */
static int read_input(struct connection *c) {
    for (int rounds = 0; rounds < 16; rounds++) {
        buffer_reserve(&c->in, 256 << 10);
        ssize_t r = connection_read(c, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (r < 0) return -1;
        if (r == 0) return 0;
        c->in.len += r;
        if (!c->ssl && (size_t)r < c->in.cap - c->in.len) return 0;
    }
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen HOST PORT [-c connections] [-d in_flight] [-s size] [-n messages] [-t seconds]\n"
                    "               [-f fragment_size] [-p subprotocol] [-S] [-P server_pid] [-i idle_connections]\n");
    exit(2);
}

static void raise_file_limit(void) {
    struct rlimit limit;
    if (!getrlimit(RLIMIT_NOFILE, &limit) && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

/* Opens the connections, answers nothing, and reports the server's RSS growth per connection. */
static int run_idle(const struct settings *s, const struct addrinfo *ai) {
    if (s->server_pid <= 0) { errno = 0; fail("idle mode needs the server's pid (-P)"); }
    /* One connection first, so lazily allocated per-process state is not counted. */
    struct connection *connections = calloc(s->idle + 1, sizeof *connections);
    connection_open(&connections[0], s, ai);
    usleep(200000);
    long before = process_status_value(s->server_pid, "VmRSS");
    for (long i = 1; i <= s->idle; i++) connection_open(&connections[i], s, ai);
    usleep(500000);
    long after = process_status_value(s->server_pid, "VmRSS");
    printf("idle_connections=%ld server_rss_before_kb=%ld server_rss_after_kb=%ld bytes_per_connection=%.0f\n",
           s->idle, before, after, (after - before) * 1024.0 / s->idle);
    for (long i = 0; i <= s->idle; i++) close(connections[i].fd);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) usage();
    struct settings s = {.host = argv[1], .port = argv[2], .protocol = "daniel", .connections = 1, .in_flight = 64,
                         .size = 64, .total = 200000, .seconds = 10};
    int opt;
    optind = 3;
    while ((opt = getopt(argc, argv, "c:d:s:n:t:f:p:SP:i:")) != -1) {
        switch (opt) {
        case 'c': s.connections = atol(optarg); break;
        case 'd': s.in_flight = atol(optarg); break;
        case 's': s.size = atol(optarg); break;
        case 'n': s.total = atol(optarg); break;
        case 't': s.seconds = atof(optarg); break;
        case 'f': s.fragment = atol(optarg); break;
        case 'p': s.protocol = *optarg ? optarg : NULL; break;
        case 'S': s.tls = 1; break;
        case 'P': s.server_pid = atol(optarg); break;
        case 'i': s.idle = atol(optarg); break;
        default: usage();
        }
    }
    if (s.size < 8) s.size = 8;
    if (s.connections < 1 || s.in_flight < 1 || s.total < 1) usage();
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    raise_file_limit();
    if (s.tls) {
        /* A benchmark peer: the certificate is not verified (the servers use a test CA). */
        tls_context = SSL_CTX_new(TLS_client_method());
        if (!tls_context) fail("SSL_CTX_new");
        SSL_CTX_set_verify(tls_context, SSL_VERIFY_NONE, NULL);
    }

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(s.host, s.port, &hints, &ai)) { errno = 0; fail("cannot resolve host"); }
    if (s.idle) return run_idle(&s, ai);

    struct run run = {.s = &s};
    run.payload = malloc(s.size);
    uint32_t state = 2654435761u;
    for (long i = 0; i < s.size; i++) { state = state * 1103515245u + 12345u; run.payload[i] = (uint8_t)(state >> 16); }
    run.sent_at = calloc(s.total, sizeof(double));
    run.rtt = calloc(s.total, sizeof(double));

    struct connection *connections = calloc(s.connections, sizeof *connections);
    for (long i = 0; i < s.connections; i++) connection_open(&connections[i], &s, ai);
    int epoll_fd = epoll_create1(0);
    if (epoll_fd < 0) fail("epoll_create1");

    double server_cpu_start = s.server_pid > 0 ? process_cpu_seconds(s.server_pid) : -1;
    double own_cpu_start = own_cpu_seconds();
    double start = now_seconds(), deadline = start + s.seconds;
    for (long i = 0; i < s.connections; i++) {
        fill(&run, &connections[i]);
        watch(epoll_fd, &connections[i], EPOLL_CTL_ADD);
    }

    struct epoll_event events[256];
    long failed = 0;
    while (run.received < s.total && now_seconds() < deadline && failed < s.connections) {
        int n = epoll_wait(epoll_fd, events, 256, 100);
        if (n < 0 && errno != EINTR) fail("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct connection *c = events[i].data.ptr;
            if (c->closed) continue;
            int broken = 0;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                broken = read_input(c) < 0 || parse_frames(&run, c) < 0;
                /* TLS may hold decrypted bytes the socket no longer signals. */
                while (!broken && c->ssl && SSL_pending(c->ssl)) broken = read_input(c) < 0 || parse_frames(&run, c) < 0;
            }
            if (!broken) fill(&run, c);
            if (!broken) broken = flush_output(c) < 0;
            if (broken) {
                c->closed = 1;
                failed++;
                epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
                continue;
            }
            watch(epoll_fd, c, EPOLL_CTL_MOD);
        }
    }
    double elapsed = now_seconds() - start;
    double server_cpu = s.server_pid > 0 ? process_cpu_seconds(s.server_pid) - server_cpu_start : -1;
    double own_cpu = own_cpu_seconds() - own_cpu_start;
    long server_rss = s.server_pid > 0 ? process_status_value(s.server_pid, "VmRSS") : -1;
    long received = run.received;

    /* The closing handshake: 1000 from every connection, the server's close awaited (1 s). */
    uint8_t code[2] = {0x03, 0xe8};
    for (long i = 0; i < s.connections; i++) {
        struct connection *c = &connections[i];
        if (c->closed) continue;
        c->closing = 1;
        append_frame(&c->out, 8, 1, code, 2);
        if (flush_output(c) < 0) c->closed = 1;
        else watch(epoll_fd, c, EPOLL_CTL_MOD);
    }
    double close_deadline = now_seconds() + 1;
    long unclosed = 0;
    for (;;) {
        unclosed = 0;
        for (long i = 0; i < s.connections; i++) unclosed += !connections[i].closed;
        if (!unclosed || now_seconds() > close_deadline) break;
        int n = epoll_wait(epoll_fd, events, 256, 50);
        for (int i = 0; i < n; i++) {
            struct connection *c = events[i].data.ptr;
            if (c->closed) continue;
            if (read_input(c) < 0 || parse_frames(&run, c) < 0 || flush_output(c) < 0) c->closed = 1;
            else if (!c->closed) watch(epoll_fd, c, EPOLL_CTL_MOD);
        }
    }
    for (long i = 0; i < s.connections; i++) {
        if (connections[i].ssl) SSL_free(connections[i].ssl);
        close(connections[i].fd);
    }

    qsort(run.rtt, received, sizeof(double), compare_doubles);
    double p50 = received ? run.rtt[received / 2] : 0, p99 = received ? run.rtt[(long)(received * 0.99)] : 0;
    double max = received ? run.rtt[received - 1] : 0;
    long errors = run.errors + failed + (received < s.total ? s.total - received : 0);
    printf("connections=%ld messages=%ld seconds=%.3f msgs_per_s=%.0f MB_per_s=%.1f p50_us=%.0f p99_us=%.0f max_us=%.0f "
           "errors=%ld server_cpu_pct=%.0f server_rss_kb=%ld loadgen_cpu_pct=%.0f unclosed=%ld%s\n",
           s.connections, received, elapsed, received / elapsed, received * (double)s.size / elapsed / 1e6, p50 * 1e6,
           p99 * 1e6, max * 1e6, errors, server_cpu >= 0 ? server_cpu / elapsed * 100 : -1, server_rss,
           own_cpu / elapsed * 100, unclosed, received < s.total ? " (incomplete)" : "");
    return errors != 0;
}
