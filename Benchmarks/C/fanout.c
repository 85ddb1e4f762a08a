/*
 * fanout: a WebSocket fan-out load generator that shares no code with LWSKit, libwebsockets
 * or the reference servers.
 *
 * It opens N subscriber connections and one publisher to a mirror server (every message a
 * client sends goes to every client, the sender included), performing RFC 6455's opening
 * handshake itself. The publisher sends M binary messages of S bytes, keeping at most D of its
 * own in flight (it counts a message done when its own copy comes back). Every connection
 * checks every message it receives: its sequence number must be the next one (no gap, no
 * reordering, no duplicate) and its bytes the pattern of that number. Each read takes up to
 * 256 KiB and parses every frame in it, so the generator is not limited to one frame per read.
 *
 * Message layout: 8 bytes sequence number, 8 bytes send time (CLOCK_MONOTONIC ns), then bytes
 * derived from the sequence number.
 *
 * With -q K, K more subscribers join that never read after their handshake (a slow-subscriber
 * policy at work); they are not counted.
 *
 * With -e PORT2,PORT3,... the subscribers are dealt in turn over PORT and those ports (nodes
 * sharing the room through a broker); the publisher stays on PORT. -P then takes every node's
 * pid, comma-separated: CPU and RSS are their sums.
 *
 * It prints one line of key=value pairs: deliveries/s (messages received by all connections),
 * publish-to-receipt latency p50/p99 (every 8th delivery sampled), errors, and with the
 * server's pid (-P) the server's CPU use and peak RSS over the run and its own CPU use.
 *
 * usage: fanout HOST PORT [-c subscribers] [-d in_flight] [-s size] [-n messages] [-t seconds]
 *               [-p subprotocol] [-P server_pid[,pid...]] [-q never_reading_subscribers]
 *               [-e port,...]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

static void fail(const char *what) {
    fprintf(stderr, "fanout: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static uint8_t pattern_byte(uint64_t sequence, size_t index) { return (uint8_t)(sequence * 31 + index * 7); }

/* One connection: its socket, unparsed input, the message being reassembled, and the next
 * sequence number it expects. */
struct connection {
    int fd;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *message;
    size_t message_len, message_cap;
    uint64_t expected;
};

static uint64_t *samples;
static size_t sample_count, sample_cap;
static long errors, deliveries;
static size_t message_size;

static void record_sample(uint64_t ns) {
    if (sample_count == sample_cap) {
        sample_cap = sample_cap ? sample_cap * 2 : 1 << 16;
        samples = realloc(samples, sample_cap * sizeof *samples);
    }
    samples[sample_count++] = ns;
}

/* The pattern of message `sequence`, built once for all the connections that receive it (a
 * small cache: they receive each message at about the same time). */
static uint8_t *expected_payload(uint64_t sequence) {
    enum { slots = 256 };
    static uint8_t *payloads[slots];
    static uint64_t keys[slots];
    static int valid[slots];
    size_t slot = sequence % slots;
    if (!payloads[slot]) payloads[slot] = malloc(message_size);
    if (!valid[slot] || keys[slot] != sequence) {
        for (size_t i = 16; i < message_size; i++) payloads[slot][i] = pattern_byte(sequence, i);
        keys[slot] = sequence;
        valid[slot] = 1;
    }
    return payloads[slot];
}

/* A whole message arrived on `c`. Returns its sequence number. */
static uint64_t check_message(struct connection *c, const uint8_t *p, size_t len) {
    if (len != message_size || len < 16) {
        if (errors++ < 5) fprintf(stderr, "fanout: message of %zu bytes, expected %zu\n", len, message_size);
        return c->expected++;
    }
    uint64_t sequence, sent;
    memcpy(&sequence, p, 8);
    memcpy(&sent, p + 8, 8);
    if (sequence != c->expected) {
        if (errors++ < 5) fprintf(stderr, "fanout: expected message %lu, got %lu\n", (unsigned long)c->expected, (unsigned long)sequence);
    } else if (memcmp(p + 16, expected_payload(sequence) + 16, len - 16)) {
        if (errors++ < 5) fprintf(stderr, "fanout: message %lu corrupted\n", (unsigned long)sequence);
    }
    c->expected = sequence + 1;
    deliveries++;
    if ((sequence & 7) == 0) record_sample(now_ns() - sent);
    return sequence;
}

/* Parses the complete frames in c->in; calls `on_message` for each whole data message.
 * Returns -1 on a close frame or a protocol error. */
static int parse_frames(struct connection *c, void (*on_message)(struct connection *, uint64_t)) {
    size_t at = 0;
    while (c->in_len - at >= 2) {
        uint8_t *f = c->in + at;
        int fin = f[0] & 0x80, opcode = f[0] & 0x0F;
        uint64_t len = f[1] & 0x7F;
        size_t header = 2;
        if (f[1] & 0x80) { errno = 0; fail("masked frame from the server"); }
        if (len == 126) {
            if (c->in_len - at < 4) break;
            len = (uint64_t)f[2] << 8 | f[3];
            header = 4;
        } else if (len == 127) {
            if (c->in_len - at < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | f[2 + i];
            header = 10;
        }
        if (c->in_len - at < header + len) break;
        const uint8_t *payload = f + header;
        if (opcode == 0x8) return -1;
        if (opcode == 0x1 || opcode == 0x2 || opcode == 0x0) {
            if (fin && opcode != 0 && !c->message_len) {
                on_message(c, check_message(c, payload, len));
            } else {
                /* a fragment: reassembled */
                if (c->message_len + len > c->message_cap) {
                    c->message_cap = (c->message_len + len) * 2;
                    c->message = realloc(c->message, c->message_cap);
                }
                memcpy(c->message + c->message_len, payload, len);
                c->message_len += len;
                if (fin) {
                    on_message(c, check_message(c, c->message, c->message_len));
                    c->message_len = 0;
                }
            }
        }
        at += header + len;
    }
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
    return 0;
}

static void open_connection(struct connection *c, const struct addrinfo *ai, const char *host, const char *port,
                            const char *protocol) {
    c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen)) fail("connect");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char request[512];
    int n = snprintf(request, sizeof request,
                     "GET / HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: %s\r\n\r\n", host, port, protocol);
    if (write(c->fd, request, n) != n) fail("handshake write");
    c->in_cap = 1 << 18;
    c->in = malloc(c->in_cap);
    for (;;) {
        ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (r <= 0) fail("handshake read");
        c->in_len += r;
        uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end) continue;
        if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 101", 12)) { errno = 0; fail("handshake refused"); }
        size_t head = end + 4 - c->in;
        memmove(c->in, c->in + head, c->in_len - head);
        c->in_len -= head;
        break;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
}

static struct connection *publisher;
static long in_flight, to_send, sent_count, own_received;
static uint8_t *frame;
static size_t frame_len;
static int epoll_fd;
/* What the publisher's socket has not taken yet: it never blocks (a publisher spinning on a full
 * socket would stop reading its subscribers, and a server that stops reading a publisher whose
 * copies it cannot deliver would wait for it: a deadlock of the load generator's making). */
static uint8_t *unsent;
static size_t unsent_len, unsent_cap;

static void watch_publisher(int writable) {
    struct epoll_event event = {.events = EPOLLIN | (writable ? EPOLLOUT : 0), .data.ptr = publisher};
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, publisher->fd, &event);
}

/* Writes what the publisher's socket takes of `unsent`. */
static void flush_publisher(void) {
    size_t done = 0;
    while (done < unsent_len) {
        ssize_t w = write(publisher->fd, unsent + done, unsent_len - done);
        if (w > 0) done += w;
        else if (w < 0 && errno == EINTR) continue;
        else if (w < 0 && errno == EAGAIN) break;
        else fail("publish");
    }
    memmove(unsent, unsent + done, unsent_len - done);
    unsent_len -= done;
    watch_publisher(unsent_len > 0);
}

/* Frames the next message and hands it to the publisher's socket (or keeps it for later). */
static void publish_next(void) {
    uint64_t sequence = sent_count++, t = now_ns();
    size_t header = message_size < 126 ? 6 : message_size < 65536 ? 8 : 14;
    uint8_t *mask = frame + header - 4, *payload = frame + header;
    uint8_t plain[16];
    memcpy(plain, &sequence, 8);
    memcpy(plain + 8, &t, 8);
    const uint8_t *pattern = expected_payload(sequence);
    for (size_t i = 0; i < message_size; i++) payload[i] = (i < 16 ? plain[i] : pattern[i]) ^ mask[i & 3];
    if (unsent_len + frame_len > unsent_cap) {
        unsent_cap = (unsent_len + frame_len) * 2;
        unsent = realloc(unsent, unsent_cap);
    }
    memcpy(unsent + unsent_len, frame, frame_len);
    unsent_len += frame_len;
    flush_publisher();
}

/* The publisher keeps `in_flight` of its messages unanswered: one it receives, and any
 * before it that it never will (a server that dropped them for it), are done. */
static void on_message(struct connection *c, uint64_t sequence) {
    if (c != publisher) return;
    if ((long)sequence + 1 > own_received) own_received = (long)sequence + 1;
    while (sent_count < to_send && sent_count - own_received < in_flight) publish_next();
}

/* The CPU seconds the servers have used, together. */
static double servers_cpu_seconds(const long *pids, long count) {
    double total = 0;
    for (long i = 0; i < count; i++) total += process_cpu_seconds(pids[i]);
    return total;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: fanout HOST PORT [-c subscribers] [-d in_flight] [-s size] [-n messages] [-t seconds] [-p subprotocol] [-P server_pid[,pid...]] [-q never_reading] [-e port,...]\n"); return 2; }
    const char *host = argv[1], *protocol = "daniel";
    const char *ports[16] = {argv[2]};
    int port_count = 1;
    long server_pids[16], server_pid_count = 0, quiet = 0, subscribers = 100;
    double seconds = 30;
    in_flight = 16;
    to_send = 20000;
    message_size = 64;
    int option;
    optind = 3;
    while ((option = getopt(argc, argv, "c:d:s:n:t:p:P:q:e:")) != -1) {
        switch (option) {
        case 'c': subscribers = atol(optarg); break;
        case 'd': in_flight = atol(optarg); break;
        case 's': message_size = atol(optarg); break;
        case 'n': to_send = atol(optarg); break;
        case 't': seconds = atof(optarg); break;
        case 'p': protocol = optarg; break;
        case 'P':
            for (char *pid = strtok(optarg, ","); pid && server_pid_count < 16; pid = strtok(NULL, ","))
                server_pids[server_pid_count++] = atol(pid);
            break;
        case 'q': quiet = atol(optarg); break;
        case 'e':
            for (char *extra = strtok(optarg, ","); extra && port_count < 16; extra = strtok(NULL, ","))
                ports[port_count++] = extra;
            break;
        default: return 2;
        }
    }
    if (message_size < 16) { fprintf(stderr, "fanout: -s must be at least 16\n"); return 2; }
    struct rlimit limit = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &limit);

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai[16];
    for (int i = 0; i < port_count; i++)
        if (getaddrinfo(host, ports[i], &hints, &ai[i])) fail("resolve");
    long total = subscribers + 1;
    struct connection *connections = calloc(total, sizeof *connections);
    for (long i = 0; i < total; i++) open_connection(&connections[i], ai[i % port_count], host, ports[i % port_count], protocol);
    publisher = &connections[0];
    struct connection *silent = calloc(quiet ? quiet : 1, sizeof *silent);
    for (long i = 0; i < quiet; i++) open_connection(&silent[i], ai[0], host, ports[0], protocol);
    /* Let the server finish subscribing everyone before the first publish. */
    usleep(300 * 1000);

    size_t header = message_size < 126 ? 6 : message_size < 65536 ? 8 : 14;
    frame_len = header + message_size;
    frame = malloc(frame_len);
    frame[0] = 0x82;
    if (message_size < 126) frame[1] = 0x80 | message_size;
    else if (message_size < 65536) { frame[1] = 0x80 | 126; frame[2] = message_size >> 8; frame[3] = message_size & 0xFF; }
    else { frame[1] = 0x80 | 127; for (int i = 0; i < 8; i++) frame[2 + i] = (uint8_t)((uint64_t)message_size >> (56 - 8 * i)); }
    memcpy(frame + header - 4, "\x12\x34\x56\x78", 4);

    epoll_fd = epoll_create1(0);
    for (long i = 0; i < total; i++) {
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = &connections[i]};
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, connections[i].fd, &event);
    }
    double server_cpu0 = servers_cpu_seconds(server_pids, server_pid_count), own_cpu0 = own_cpu_seconds();
    long peak_rss = 0;
    uint64_t start = now_ns(), deadline = start + (uint64_t)(seconds * 1e9), next_rss = start;
    for (long i = 0; i < in_flight && i < to_send; i++) publish_next();

    struct epoll_event events[256];
    long expected_deliveries = to_send * total;
    int timed_out = 0;
    long last_deliveries = 0;
    uint64_t last_progress = start;
    while (deliveries + errors < expected_deliveries) {
        uint64_t now = now_ns();
        if (now > deadline) { timed_out = 1; break; }
        /* Everything sent and nothing arriving for 2 s: what is missing was dropped. */
        if (deliveries != last_deliveries) { last_deliveries = deliveries; last_progress = now; }
        if (sent_count == to_send && now - last_progress > 2000000000u) { timed_out = 1; break; }
        if (server_pid_count && now >= next_rss) {
            long rss = 0;
            for (long i = 0; i < server_pid_count; i++) rss += process_status_value(server_pids[i], "VmRSS");
            if (rss > peak_rss) peak_rss = rss;
            next_rss = now + 50 * 1000000u;
        }
        int ready = epoll_wait(epoll_fd, events, 256, 100);
        for (int e = 0; e < ready; e++) {
            struct connection *c = events[e].data.ptr;
            if ((events[e].events & EPOLLOUT) && c == publisher) flush_publisher();
            if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            for (;;) {
                if (c->in_cap - c->in_len < (1 << 16)) {
                    c->in_cap *= 2;
                    c->in = realloc(c->in, c->in_cap);
                }
                ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { errno = 0; fail("a connection ended"); }
                if (r < 0) break;
                c->in_len += r;
                if (parse_frames(c, on_message) < 0) { errno = 0; fail("the server closed a connection"); }
                if ((size_t)r < c->in_cap - c->in_len) break;
            }
        }
    }
    double elapsed = (now_ns() - start) / 1e9;
    double server_cpu = server_pid_count ? servers_cpu_seconds(server_pids, server_pid_count) - server_cpu0 : -1;
    double own_cpu = own_cpu_seconds() - own_cpu0;
    qsort(samples, sample_count, sizeof *samples, compare_u64);
    double p50 = sample_count ? samples[sample_count / 2] / 1e3 : -1;
    double p99 = sample_count ? samples[sample_count * 99 / 100] / 1e3 : -1;
    long missing = timed_out ? expected_deliveries - deliveries : 0;
    printf("deliveries_per_s=%.0f p50_us=%.0f p99_us=%.0f deliveries=%ld missing=%ld errors=%ld seconds=%.2f "
           "server_cpu_pct=%.0f server_peak_rss_mib=%.1f loadgen_cpu_pct=%.0f\n",
           deliveries / elapsed, p50, p99, deliveries, missing, errors, elapsed,
           server_cpu >= 0 ? 100 * server_cpu / elapsed : -1, peak_rss / 1024.0, 100 * own_cpu / elapsed);
    return errors || missing ? 1 : 0;
}
