/* A TLS handshake load client for benchmarks/load (a test client, not part of the engine).
 *
 *   tls_handshake_client --port P [--host 127.0.0.1] [--sni localhost] [--duration S]
 *                        [--connections N] [--tls 1.2|1.3] [--resume] [--no-tickets]
 *                        [--groups X25519:P-256] [--alpn http/1.1] [--path /]
 *
 * Each of N concurrent slots loops: TCP connect, TLS handshake, one `GET PATH` with
 * `Connection: close`, read the response to EOF, close; then a new connection. With --resume
 * each slot offers the newest session (ticket) it received on its previous connection, so every
 * handshake after the first of a slot should resume; SSL_session_reused() counts those that did.
 * --no-tickets (TLS 1.2 only) offers no session ticket extension, so the server gives a session
 * ID and resumption goes through its session cache instead of a ticket.
 * No certificate verification: the client's share of a handshake is the key exchange and the
 * CertificateVerify/ServerKeyExchange signature check, nothing else, so one client core can
 * drive more handshakes than one proxy core can serve (the harness checks that anyway).
 *
 * Prints one JSON object on stdout: counts, what was negotiated, and the client's own CPU time.
 * Builds against OpenSSL 3 (default) or BoringSSL (-DWITH_BORINGSSL, for a cheaper client).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { IDLE, CONNECTING, HANDSHAKING, WRITING, READING };

struct slot {
  enum state state;
  int fd;
  SSL *ssl;
  SSL_SESSION *session; /* newest session received, offered on the next connection */
  size_t sent;
  char head[64]; /* first bytes of the response: the status line */
  size_t head_len;
};

struct options {
  const char *host, *sni, *alpn, *path, *groups;
  int port, connections, tls13, resume, no_tickets;
  double duration;
};

static struct {
  uint64_t handshakes, reused, responses_ok, connect_errors, tls_errors, http_errors;
  char protocol[32], cipher[64], group[32], alpn[32];
  char last_error[160];
} stats;

static int session_ex_index;
static char request[512];
static size_t request_len;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void) {
  fprintf(stderr, "usage: tls_handshake_client --port P [--host A] [--sni NAME] [--duration S] "
                  "[--connections N] [--tls 1.2|1.3] [--resume] [--no-tickets] [--groups LIST] [--alpn P] "
                  "[--path /]\n");
  exit(2);
}

/* Keeps the newest session of the connection's slot (TLS 1.3 tickets arrive after the handshake). */
static int on_new_session(SSL *ssl, SSL_SESSION *session) {
  struct slot *s = SSL_get_ex_data(ssl, session_ex_index);
  if (s == NULL) return 0;
  if (s->session) SSL_SESSION_free(s->session);
  s->session = session;
  return 1; /* we keep the reference */
}

static void record_error(const char *what) {
  unsigned long e = ERR_peek_last_error();
  char buf[120] = "";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  snprintf(stats.last_error, sizeof stats.last_error, "%s: %s%s", what, buf, e ? "" : strerror(errno));
  ERR_clear_error();
}

static void close_slot(int ep, struct slot *s) {
  if (s->ssl) {
    /* Marks the session as cleanly closed so it stays resumable, without sending close_notify. */
    SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(s->ssl);
    s->ssl = NULL;
  }
  if (s->fd >= 0) {
    epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    s->fd = -1;
  }
  s->state = IDLE;
}

static void watch(int ep, struct slot *s, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.ptr = s};
  epoll_ctl(ep, op, s->fd, &ev);
}

static void open_slot(int ep, SSL_CTX *ctx, struct slot *s, const struct sockaddr_in *addr,
                      const struct options *o) {
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) {
    stats.connect_errors++;
    record_error("socket");
    return;
  }
  int one = 1;
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  s->sent = 0;
  s->head_len = 0;
  s->ssl = SSL_new(ctx);
  SSL_set_ex_data(s->ssl, session_ex_index, s);
  SSL_set_fd(s->ssl, s->fd);
  SSL_set_connect_state(s->ssl);
  if (o->sni[0]) SSL_set_tlsext_host_name(s->ssl, o->sni);
  if (o->resume && s->session) SSL_set_session(s->ssl, s->session);
  if (connect(s->fd, (const struct sockaddr *)addr, sizeof *addr) == 0) {
    s->state = HANDSHAKING;
    watch(ep, s, EPOLLIN | EPOLLOUT, EPOLL_CTL_ADD);
  } else if (errno == EINPROGRESS) {
    s->state = CONNECTING;
    watch(ep, s, EPOLLOUT, EPOLL_CTL_ADD);
  } else {
    stats.connect_errors++;
    record_error("connect");
    close_slot(ep, s);
  }
}

static void note_negotiated(SSL *ssl) {
  snprintf(stats.protocol, sizeof stats.protocol, "%s", SSL_get_version(ssl));
  snprintf(stats.cipher, sizeof stats.cipher, "%s", SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
#ifdef WITH_BORINGSSL
  const char *group = SSL_get_curve_name(SSL_get_curve_id(ssl));
#else
  const char *group = OBJ_nid2sn(SSL_get_negotiated_group(ssl));
#endif
  snprintf(stats.group, sizeof stats.group, "%s", group ? group : "?");
  const unsigned char *alpn = NULL;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  snprintf(stats.alpn, sizeof stats.alpn, "%.*s", (int)alpn_len, alpn ? (const char *)alpn : "");
}

/* Drives one slot as far as it can go without blocking. Returns 1 when the slot is done. */
static int advance(int ep, struct slot *s) {
  for (;;) {
    switch (s->state) {
      case CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          errno = err;
          stats.connect_errors++;
          record_error("connect");
          return 1;
        }
        s->state = HANDSHAKING;
        watch(ep, s, EPOLLIN, EPOLL_CTL_MOD);
        break;
      }
      case HANDSHAKING: {
        int r = SSL_do_handshake(s->ssl);
        if (r == 1) {
          stats.handshakes++;
          if (SSL_session_reused(s->ssl)) stats.reused++;
          if (stats.protocol[0] == 0 || (stats.handshakes & 1023) == 0) note_negotiated(s->ssl);
          s->state = WRITING;
          break;
        }
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return watch(ep, s, EPOLLIN, EPOLL_CTL_MOD), 0;
        if (e == SSL_ERROR_WANT_WRITE) return watch(ep, s, EPOLLOUT, EPOLL_CTL_MOD), 0;
        stats.tls_errors++;
        record_error("handshake");
        return 1;
      }
      case WRITING: {
        int r = SSL_write(s->ssl, request + s->sent, (int)(request_len - s->sent));
        if (r > 0) {
          s->sent += (size_t)r;
          if (s->sent == request_len) {
            s->state = READING;
            watch(ep, s, EPOLLIN, EPOLL_CTL_MOD);
          }
          break;
        }
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return watch(ep, s, EPOLLIN, EPOLL_CTL_MOD), 0;
        if (e == SSL_ERROR_WANT_WRITE) return watch(ep, s, EPOLLOUT, EPOLL_CTL_MOD), 0;
        stats.tls_errors++;
        record_error("write");
        return 1;
      }
      case READING: {
        char buf[16384];
        int r = SSL_read(s->ssl, buf, sizeof buf);
        if (r > 0) {
          size_t take = sizeof s->head - 1 - s->head_len;
          if (take > (size_t)r) take = (size_t)r;
          memcpy(s->head + s->head_len, buf, take);
          s->head_len += take;
          continue;
        }
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return 0;
        if (e == SSL_ERROR_WANT_WRITE) return watch(ep, s, EPOLLOUT, EPOLL_CTL_MOD), 0;
        /* EOF (close_notify or a plain close): the response is complete. */
        s->head[s->head_len] = 0;
        if (strncmp(s->head, "HTTP/1.1 200", 12) == 0 || strncmp(s->head, "HTTP/1.0 200", 12) == 0) {
          stats.responses_ok++;
        } else {
          stats.http_errors++;
          snprintf(stats.last_error, sizeof stats.last_error, "response: %.40s", s->head);
        }
        ERR_clear_error();
        return 1;
      }
      case IDLE:
        return 1;
    }
  }
}

static void json_string(const char *key, const char *value, int comma) {
  printf("\"%s\": \"", key);
  for (const char *p = value; *p; ++p) {
    if (*p == '"' || *p == '\\') putchar('\\');
    putchar((unsigned char)*p >= 0x20 ? *p : '?');
  }
  printf("\"%s", comma ? ", " : "");
}

int main(int argc, char **argv) {
  struct options o = {.host = "127.0.0.1", .sni = "localhost", .alpn = "http/1.1", .path = "/",
                      .groups = "X25519:P-256", .port = 0, .connections = 32, .tls13 = 1, .duration = 10};
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--resume")) { o.resume = 1; continue; }
    if (!strcmp(a, "--no-tickets")) { o.no_tickets = 1; continue; }
    if (v == NULL) usage();
    ++i;
    if (!strcmp(a, "--host")) o.host = v;
    else if (!strcmp(a, "--port")) o.port = atoi(v);
    else if (!strcmp(a, "--sni")) o.sni = v;
    else if (!strcmp(a, "--alpn")) o.alpn = v;
    else if (!strcmp(a, "--path")) o.path = v;
    else if (!strcmp(a, "--groups")) o.groups = v;
    else if (!strcmp(a, "--duration")) o.duration = atof(v);
    else if (!strcmp(a, "--connections")) o.connections = atoi(v);
    else if (!strcmp(a, "--tls")) o.tls13 = !strcmp(v, "1.3");
    else usage();
  }
  if (o.port <= 0 || o.connections <= 0 || o.duration <= 0) usage();
  if (o.no_tickets && o.tls13) {
    fprintf(stderr, "tls_handshake_client: --no-tickets needs --tls 1.2 (TLS 1.3 resumes with tickets only)\n");
    return 2;
  }

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
  if (inet_pton(AF_INET, o.host, &addr.sin_addr) != 1) usage();
  request_len = (size_t)snprintf(request, sizeof request,
                                 "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", o.path, o.sni);

  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  int version = o.tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  if (o.no_tickets) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
#ifndef WITH_BORINGSSL
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
#ifdef WITH_BORINGSSL
  if (!SSL_CTX_set1_curves_list(ctx, o.groups)) {
#else
  if (!SSL_CTX_set1_groups_list(ctx, o.groups)) {
#endif
    fprintf(stderr, "tls_handshake_client: unknown groups '%s'\n", o.groups);
    return 2;
  }
  unsigned char alpn[64];
  size_t alpn_len = strlen(o.alpn);
  if (alpn_len == 0 || alpn_len > 62) usage();
  alpn[0] = (unsigned char)alpn_len;
  memcpy(alpn + 1, o.alpn, alpn_len);
  SSL_CTX_set_alpn_protos(ctx, alpn, (unsigned)alpn_len + 1);
  /* Sessions go to on_new_session only; the slot decides what to offer next time. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  session_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct slot *slots = calloc((size_t)o.connections, sizeof *slots);
  for (int i = 0; i < o.connections; ++i) slots[i].fd = -1;

  double start = now_s(), stop = start + o.duration, deadline = stop + 5;
  for (int i = 0; i < o.connections; ++i) open_slot(ep, ctx, &slots[i], &addr, &o);
  int open = 0;
  struct epoll_event events[256];
  for (;;) {
    double t = now_s();
    open = 0;
    for (int i = 0; i < o.connections; ++i) open += slots[i].state != IDLE;
    if ((t >= stop && open == 0) || t >= deadline) break;
    int n = epoll_wait(ep, events, 256, 50);
    for (int k = 0; k < n; ++k) {
      struct slot *s = events[k].data.ptr;
      if (!advance(ep, s)) continue;
      close_slot(ep, s);
      if (now_s() < stop) open_slot(ep, ctx, s, &addr, &o);
    }
    /* Slots that failed to open (connect errors) are retried while time remains. */
    if (now_s() < stop) {
      for (int i = 0; i < o.connections; ++i) {
        if (slots[i].state == IDLE) open_slot(ep, ctx, &slots[i], &addr, &o);
      }
    }
  }
  double elapsed = now_s() - start;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"handshakes\": %llu, \"reused\": %llu, \"responses_ok\": %llu, \"connect_errors\": %llu, "
         "\"tls_errors\": %llu, \"http_errors\": %llu, \"unfinished\": %d, \"seconds\": %.3f, "
         "\"cpu_user_s\": %.3f, \"cpu_sys_s\": %.3f, ",
         (unsigned long long)stats.handshakes, (unsigned long long)stats.reused,
         (unsigned long long)stats.responses_ok, (unsigned long long)stats.connect_errors,
         (unsigned long long)stats.tls_errors, (unsigned long long)stats.http_errors, open, elapsed,
         ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
  json_string("protocol", stats.protocol, 1);
  json_string("cipher", stats.cipher, 1);
  json_string("group", stats.group, 1);
  json_string("alpn", stats.alpn, 1);
#ifdef WITH_BORINGSSL
  json_string("library", "BoringSSL", 1);
#else
  json_string("library", OpenSSL_version(OPENSSL_VERSION), 1);
#endif
  json_string("last_error", stats.last_error, 0);
  printf("}\n");
  for (int i = 0; i < o.connections; ++i) {
    close_slot(ep, &slots[i]);
    if (slots[i].session) SSL_SESSION_free(slots[i].session);
  }
  free(slots);
  SSL_CTX_free(ctx);
  close(ep);
  return 0;
}
