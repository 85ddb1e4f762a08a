/*
 * loadgen: a WebSocket echo load generator that shares no code with LWSKit or libwebsockets.
 *
 * It implements the client side of RFC 6455 itself over one TCP socket and poll(): the
 * handshake (checking Sec-WebSocket-Accept), masked frames, reassembly of fragmented replies,
 * and a close. It keeps D messages of S bytes in flight, checks every echoed byte, and prints
 * one line: messages/s, MB/s (echoed payload, one direction), round-trip percentiles, errors.
 *
 * usage: loadgen HOST PORT [-d in_flight] [-s size] [-n messages] [-t seconds] [-p subprotocol]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what) {
    fprintf(stderr, "loadgen: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

/* Every payload: its sequence number in the first 8 bytes, then a fixed pseudo-random
 * pattern, so an echo is checked byte for byte with one memcmp. */
static void fill_pattern(uint8_t *p, size_t size) {
    uint32_t state = 2654435761u;
    for (size_t i = 0; i < size; i++) {
        state = state * 1103515245u + 12345u;
        p[i] = (uint8_t)(state >> 16);
    }
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A growable byte buffer. */
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

static void connect_and_handshake(int fd, const char *host, const char *port, const char *protocol) {
    unsigned char key_raw[16], key[32], accept_expected[64], digest[SHA_DIGEST_LENGTH];
    for (int i = 0; i < 16; i++) key_raw[i] = (unsigned char)rand();
    EVP_EncodeBlock(key, key_raw, 16);
    char request[1024];
    int n = snprintf(request, sizeof request,
                     "GET / HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     host, port, key, protocol ? "Sec-WebSocket-Protocol: " : "", protocol ? protocol : "",
                     protocol ? "\r\n" : "");
    if (write(fd, request, n) != n) fail("handshake write");

    char response[4096];
    size_t got = 0;
    while (got < sizeof response - 1) {
        ssize_t r = read(fd, response + got, 1); /* byte by byte: frames may follow the headers */
        if (r <= 0) fail("handshake read");
        got += r;
        response[got] = 0;
        if (got >= 4 && !memcmp(response + got - 4, "\r\n\r\n", 4)) break;
    }
    if (strncmp(response, "HTTP/1.1 101", 12)) { errno = 0; fail("server did not answer 101"); }
    char concat[128];
    snprintf(concat, sizeof concat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    SHA1((unsigned char *)concat, strlen(concat), digest);
    EVP_EncodeBlock(accept_expected, digest, SHA_DIGEST_LENGTH);
    char *accept = strcasestr(response, "Sec-WebSocket-Accept:");
    if (!accept) { errno = 0; fail("no Sec-WebSocket-Accept"); }
    accept += strlen("Sec-WebSocket-Accept:");
    while (*accept == ' ') accept++;
    if (strncmp(accept, (char *)accept_expected, strlen((char *)accept_expected))) {
        errno = 0;
        fail("wrong Sec-WebSocket-Accept");
    }
}

/* Appends one masked client frame carrying `payload`. */
static void append_frame(struct buffer *out, int opcode, const uint8_t *payload, size_t len) {
    buffer_reserve(out, len + 14);
    uint8_t *h = out->data + out->len;
    size_t hl = 2;
    h[0] = 0x80 | opcode;
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

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: loadgen HOST PORT [-d in_flight] [-s size] [-n messages] [-t seconds] [-p subprotocol]\n");
        return 2;
    }
    const char *host = argv[1], *port = argv[2], *protocol = "daniel";
    long in_flight = 64, size = 64, total = 200000;
    double seconds = 10;
    int opt;
    optind = 3;
    while ((opt = getopt(argc, argv, "d:s:n:t:p:")) != -1) {
        switch (opt) {
        case 'd': in_flight = atol(optarg); break;
        case 's': size = atol(optarg); break;
        case 'n': total = atol(optarg); break;
        case 't': seconds = atof(optarg); break;
        case 'p': protocol = *optarg ? optarg : NULL; break;
        default: return 2;
        }
    }
    if (size < 8) size = 8;
    srand((unsigned)time(NULL));

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, port, &hints, &ai)) { errno = 0; fail("cannot resolve host"); }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) fail("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connect_and_handshake(fd, host, port, protocol);
    fcntl(fd, F_SETFL, O_NONBLOCK);

    uint8_t *payload = malloc(size);
    fill_pattern(payload, size);
    double *sent_at = calloc(total, sizeof(double)), *rtt = calloc(total, sizeof(double));
    struct buffer out = {0}, in = {0}, message = {0};
    long sent = 0, received = 0, errors = 0;
    double start = now_seconds(), deadline = start + seconds;

    while (received < total) {
        while (sent < total && sent - received < in_flight) {
            uint64_t seq = (uint64_t)sent;
            memcpy(payload, &seq, 8);
            sent_at[sent] = now_seconds();
            append_frame(&out, 2, payload, size);
            sent++;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN | (out.len > out.start ? POLLOUT : 0)};
        if (poll(&p, 1, 1000) < 0) fail("poll");
        if (now_seconds() > deadline) break;
        if (p.revents & POLLOUT) {
            ssize_t w = write(fd, out.data + out.start, out.len - out.start);
            if (w < 0 && errno != EAGAIN) fail("write");
            if (w > 0) out.start += w;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            buffer_reserve(&in, 1 << 20);
            ssize_t r = read(fd, in.data + in.len, in.cap - in.len);
            if (r == 0) { errno = 0; fail("server closed the connection"); }
            if (r < 0 && errno != EAGAIN) fail("read");
            if (r > 0) in.len += r;
        }
        /* Parse every complete server frame in the input. */
        for (;;) {
            size_t avail = in.len - in.start;
            uint8_t *h = in.data + in.start;
            if (avail < 2) break;
            size_t hl = 2, len = h[1] & 0x7f;
            if (h[1] & 0x80) { errno = 0; fail("server frame is masked"); }
            if (len == 126) { if (avail < 4) break; len = (h[2] << 8) | h[3]; hl = 4; }
            else if (len == 127) {
                if (avail < 10) break;
                len = 0;
                for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i];
                hl = 10;
            }
            if (avail < hl + len) break;
            int opcode = h[0] & 0x0f, fin = h[0] & 0x80;
            if (opcode == 8) { errno = 0; fail("server sent close"); }
            if (opcode == 1 || opcode == 2 || opcode == 0) {
                buffer_reserve(&message, len);
                memcpy(message.data + message.len, h + hl, len);
                message.len += len;
                if (fin) {
                    if ((long)message.len != size) errors++;
                    else {
                        uint64_t seq;
                        memcpy(&seq, message.data, 8);
                        if (seq >= (uint64_t)sent || memcmp(payload + 8, message.data + 8, size - 8)) errors++;
                        else rtt[received] = now_seconds() - sent_at[seq];
                    }
                    received++;
                    message.len = 0;
                }
            }
            in.start += hl + len;
        }
    }
    double elapsed = now_seconds() - start;
    /* Close politely; the server's answer is not awaited. */
    fcntl(fd, F_SETFL, 0);
    uint8_t code[2] = {0x03, 0xe8};
    out.start = out.len = 0;
    append_frame(&out, 8, code, 2);
    if (write(fd, out.data, out.len) < 0) { /* the result line matters more than the close */ }
    close(fd);

    qsort(rtt, received, sizeof(double), compare_doubles);
    double p50 = received ? rtt[received / 2] : 0, p99 = received ? rtt[(long)(received * 0.99)] : 0;
    double max = received ? rtt[received - 1] : 0;
    printf("messages=%ld seconds=%.3f msgs_per_s=%.0f MB_per_s=%.1f p50_us=%.0f p99_us=%.0f max_us=%.0f errors=%ld%s\n",
           received, elapsed, received / elapsed, received * (double)size / elapsed / 1e6, p50 * 1e6, p99 * 1e6,
           max * 1e6, errors + (received < total ? total - received : 0), received < total ? " (timed out)" : "");
    return errors || received < total;
}
