// pharos-demo-backend: a small, fast member server for the demo, the tests and the benchmarks.
//
//   pharos-demo-backend --port N [--address A] [--name NAME] [--tcp-echo]
//
// HTTP routes: /            "NAME\n" (keep-alive, Content-Length)
//              /echo        the request head as the member saw it (to check inserted headers)
//              /status/N    an empty response with status N
//              /delay/MS    "NAME\n" after MS milliseconds
//              /bytes/N     N bytes of body
//              /chunked/N   N bytes in chunked encoding
//              /health      "ok\n"
//              /cookie/C    "NAME\n" and Set-Cookie: C=NAME-<n> (a new session id each time)
// --tcp-echo: a plain TCP echo server instead (for TCP listeners).
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <arpa/inet.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

std::string g_name = "backend";

void send_text(evhttp_request* req, int code, const std::string& body) {
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, body.data(), body.size());
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
  evhttp_add_header(evhttp_request_get_output_headers(req), "X-Backend", g_name.c_str());
  evhttp_send_reply(req, code, code == 200 ? "OK" : "Status", out);
  evbuffer_free(out);
}

struct Delayed {
  evhttp_request* req;
  event* timer;
};

void on_delay(evutil_socket_t, short, void* arg) {
  auto* d = static_cast<Delayed*>(arg);
  send_text(d->req, 200, g_name + "\n");
  event_free(d->timer);
  delete d;
}

void handle(evhttp_request* req, void* arg) {
  auto* base = static_cast<event_base*>(arg);
  std::string uri = evhttp_request_get_uri(req);
  std::string path = uri.substr(0, uri.find('?'));
  if (path == "/echo") {
    std::string body;
    evkeyvalq* headers = evhttp_request_get_input_headers(req);
    for (evkeyval* h = headers->tqh_first; h; h = h->next.tqe_next) {
      body += std::string(h->key) + ": " + h->value + "\n";
    }
    body += "body-bytes: " + std::to_string(evbuffer_get_length(evhttp_request_get_input_buffer(req))) + "\n";
    send_text(req, 200, body);
  } else if (path.rfind("/status/", 0) == 0) {
    send_text(req, std::atoi(path.c_str() + 8), "");
  } else if (path.rfind("/delay/", 0) == 0) {
    auto* d = new Delayed{req, nullptr};
    d->timer = evtimer_new(base, on_delay, d);
    long ms = std::atol(path.c_str() + 7);
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    evtimer_add(d->timer, &tv);
  } else if (path.rfind("/bytes/", 0) == 0) {
    send_text(req, 200, std::string(std::strtoul(path.c_str() + 7, nullptr, 10), 'x'));
  } else if (path.rfind("/chunked/", 0) == 0) {
    size_t n = std::strtoul(path.c_str() + 9, nullptr, 10);
    evhttp_send_reply_start(req, 200, "OK");
    std::string piece(4096, 'y');
    evbuffer* chunk = evbuffer_new();
    for (size_t sent = 0; sent < n; sent += piece.size()) {
      evbuffer_add(chunk, piece.data(), std::min(piece.size(), n - sent));
      evhttp_send_reply_chunk(req, chunk);
    }
    evbuffer_free(chunk);
    evhttp_send_reply_end(req);
  } else if (path == "/health") {
    send_text(req, 200, "ok\n");
  } else if (path.rfind("/cookie/", 0) == 0) {
    static unsigned long sessions = 0;
    std::string cookie = path.substr(8) + "=" + g_name + "-" + std::to_string(++sessions) + "; Path=/";
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie.c_str());
    send_text(req, 200, g_name + "\n");
  } else {
    send_text(req, 200, g_name + "\n");
  }
}

void echo_read(bufferevent* bev, void*) {
  bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

void echo_event(bufferevent* bev, short events, void*) {
  if (events & BEV_EVENT_EOF) {
    // Half-close: finish writing what we have, then close our side too.
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) bufferevent_free(bev);
    else bufferevent_setcb(bev, nullptr, [](bufferevent* b, void*) { bufferevent_free(b); }, nullptr, nullptr);
    return;
  }
  bufferevent_free(bev);
}

void echo_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  bufferevent* bev = bufferevent_socket_new(static_cast<event_base*>(arg), fd, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev, echo_read, nullptr, echo_event, nullptr);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1";
  int port = 0;
  bool tcp_echo = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--port" && i + 1 < argc) port = std::atoi(argv[++i]);
    else if (arg == "--address" && i + 1 < argc) address = argv[++i];
    else if (arg == "--name" && i + 1 < argc) g_name = argv[++i];
    else if (arg == "--tcp-echo") tcp_echo = true;
    else {
      std::fprintf(stderr, "usage: pharos-demo-backend --port N [--address A] [--name NAME] [--tcp-echo]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  event_base* base = event_base_new();
  if (tcp_echo) {
    sockaddr_storage ss{};
    int len = sizeof(ss);
    std::string spec = (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + std::to_string(port);
    evutil_parse_sockaddr_port(spec.c_str(), reinterpret_cast<sockaddr*>(&ss), &len);
    evconnlistener* l = evconnlistener_new_bind(base, echo_accept, base, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, 1024,
                                                reinterpret_cast<sockaddr*>(&ss), len);
    if (!l) {
      std::perror("listen");
      return 1;
    }
  } else {
    evhttp* http = evhttp_new(base);
    evhttp_set_gencb(http, handle, base);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    if (evhttp_bind_socket(http, address.c_str(), static_cast<uint16_t>(port)) != 0) {
      std::perror("bind");
      return 1;
    }
  }
  std::fprintf(stderr, "pharos-demo-backend %s listening on %s:%d\n", g_name.c_str(), address.c_str(), port);
  event_base_dispatch(base);
  return 0;
}
