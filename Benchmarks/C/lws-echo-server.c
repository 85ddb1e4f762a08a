/*
 * lws-echo-server: the reference for LWSKit's benchmarks, a plain C libwebsockets echo server
 * written the way lws documents it: subprotocol "daniel" (also the default), each message
 * reassembled from its RECEIVE chunks, queued, and written back with exactly one lws_write per
 * WRITEABLE, the last written buffer kept until the next WRITEABLE.
 *
 * usage: lws-echo-server [-p port] [-r rx_buffer_bytes] [-c cert.pem -k key.pem]
 *        (defaults: 28710, 65536, plain ws; with -c and -k the port speaks only TLS)
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct message {
    struct message *next;
    size_t len;
    int binary;
    unsigned char *buf; /* LWS_PRE bytes of headroom, then the payload */
};

struct session {
    struct message *head, *tail; /* echoes waiting to be written */
    struct message *last_written;
    unsigned char *rx;           /* the message being received */
    size_t rx_len, rx_cap;
};

static volatile int interrupted;

static void free_message(struct message *m) {
    if (!m) return;
    free(m->buf);
    free(m);
}

static int callback_daniel(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct session *s = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(s, 0, sizeof *s);
        break;
    case LWS_CALLBACK_RECEIVE: {
        if (lws_is_first_fragment(wsi)) s->rx_len = 0;
        size_t need = LWS_PRE + s->rx_len + len + lws_remaining_packet_payload(wsi);
        if (need > s->rx_cap) {
            s->rx = realloc(s->rx, need);
            s->rx_cap = need;
        }
        memcpy(s->rx + LWS_PRE + s->rx_len, in, len);
        s->rx_len += len;
        if (!lws_is_final_fragment(wsi)) break;
        struct message *m = malloc(sizeof *m);
        m->next = NULL;
        m->len = s->rx_len;
        m->binary = lws_frame_is_binary(wsi);
        m->buf = malloc(LWS_PRE + m->len + 1);
        memcpy(m->buf + LWS_PRE, s->rx + LWS_PRE, m->len);
        if (s->tail) s->tail->next = m; else s->head = m;
        s->tail = m;
        lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        free_message(s->last_written);
        s->last_written = NULL;
        struct message *m = s->head;
        if (!m) break;
        s->head = m->next;
        if (!s->head) s->tail = NULL;
        if (lws_write(wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < 0) {
            free_message(m);
            return -1;
        }
        s->last_written = m;
        if (s->head) lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_CLOSED:
        while (s->head) {
            struct message *next = s->head->next;
            free_message(s->head);
            s->head = next;
        }
        free_message(s->last_written);
        free(s->rx);
        memset(s, 0, sizeof *s);
        break;
    default:
        break;
    }
    return 0;
}

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

int main(int argc, char **argv) {
    int port = 28710, rx = 65536, opt;
    const char *cert = NULL, *key = NULL;
    while ((opt = getopt(argc, argv, "p:r:c:k:")) != -1) {
        if (opt == 'p') port = atoi(optarg);
        else if (opt == 'r') rx = atoi(optarg);
        else if (opt == 'c') cert = optarg;
        else if (opt == 'k') key = optarg;
        else return 2;
    }
    struct lws_protocols protocols[] = {
        {"daniel", callback_daniel, sizeof(struct session), (size_t)rx, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.protocols = protocols;
    info.pt_serv_buf_size = (unsigned int)rx;
    info.gid = -1;
    info.uid = -1;
    if (cert && key) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cert;
        info.ssl_private_key_filepath = key;
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    struct lws_context *context = lws_create_context(&info);
    if (!context) return 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("lws-echo-server: listening on %d\n", port);
    fflush(stdout);
    while (!interrupted && lws_service(context, 0) >= 0)
        ;
    lws_context_destroy(context);
    return 0;
}
