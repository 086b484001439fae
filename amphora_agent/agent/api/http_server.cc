#include "amphora_agent/agent/api/http_server.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <boost/asio/ssl.hpp>
#include <cpprest/http_listener.h>
#include <openssl/ssl.h>

#include "amphora_agent/agent/log.h"

namespace pharos::agent::api {
namespace {

using web::http::http_request;
using web::http::http_response;
using web::http::experimental::listener::http_listener;
using web::http::experimental::listener::http_listener_config;

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return !out.empty();
}

// Throws boost::system::system_error on bad material; open() calls it once up front so the
// per-connection callback cannot fail silently later.
void configure_mutual_tls(boost::asio::ssl::context& ctx, const TlsMaterial& tls) {
  namespace ssl = boost::asio::ssl;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.use_certificate_chain(boost::asio::buffer(tls.cert_chain_pem));
  ctx.use_private_key(boost::asio::buffer(tls.key_pem), ssl::context::pem);
  ctx.add_certificate_authority(boost::asio::buffer(tls.ca_pem));
  ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    throw std::runtime_error("the key does not match the certificate");
  }
}

std::string media_type(const http_request& request) {
  std::string type = request.headers().content_type();
  type = type.substr(0, type.find(';'));
  type.erase(std::remove_if(type.begin(), type.end(), [](unsigned char c) { return std::isspace(c); }),
             type.end());
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return type;
}

void send(http_request& request, const ApiResponse& response) {
  http_response reply(static_cast<web::http::status_code>(response.status));
  if (!response.content_type.empty()) {
    reply.set_body(response.body, response.content_type);
  }
  request.reply(reply).then([](pplx::task<void> t) {
    try {
      t.get();
    } catch (const std::exception&) {
      // The client went away; nothing to tell it.
    }
  });
}

ApiResponse run(const Handler& handler, const ApiRequest& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    log::error("handler for " + request.method + " " + request.path + " failed: " + e.what());
    return error_response(500, "internal_error", "the agent failed to handle the request");
  }
}

}  // namespace

std::string load_tls_material(const std::string& cert_file, const std::string& key_file,
                              const std::string& ca_file, TlsMaterial& out) {
  if (!read_file(cert_file, out.cert_chain_pem)) return "cannot read " + cert_file;
  if (!read_file(key_file, out.key_pem)) return "cannot read " + key_file;
  if (!read_file(ca_file, out.ca_pem)) return "cannot read " + ca_file;
  return "";
}

struct HttpServer::Impl {
  Router router;
  HttpServerOptions options;
  std::unique_ptr<http_listener> listener;

  void handle(http_request request) {
    ApiRequest api;
    api.method = request.method();
    api.path = web::uri::decode(request.relative_uri().path());
    auto match = router.match(api.method, api.path);
    if (match.handler == nullptr) {
      send(request, match.status == 405
                        ? error_response(405, "method_not_allowed",
                                         api.method + " is not allowed on " + api.path)
                        : error_response(404, "not_found", "no resource at " + api.path));
      return;
    }
    api.params = std::move(match.params);
    for (const auto& [name, value] : web::uri::split_query(request.relative_uri().query())) {
      api.query[web::uri::decode(name)] = web::uri::decode(value);
    }
    if (!match.options.reads_body) {
      send(request, run(*match.handler, api));
      return;
    }
    const auto& headers = request.headers();
    if (headers.has(U("Transfer-Encoding"))) {
      send(request, error_response(411, "length_required",
                                   "send the body with a Content-Length, not chunked"));
      return;
    }
    if (headers.content_length() > options.max_body_bytes) {
      send(request, error_response(413, "body_too_large",
                                   "the body exceeds " + std::to_string(options.max_body_bytes) +
                                       " bytes"));
      return;
    }
    api.content_type = media_type(request);
    const Handler handler = *match.handler;
    const uint64_t limit = options.max_body_bytes;
    request.extract_vector().then(
        [request, api = std::move(api), handler, limit](
            pplx::task<std::vector<unsigned char>> body) mutable {
          try {
            std::vector<unsigned char> bytes = body.get();
            if (bytes.size() > limit) {
              send(request, error_response(413, "body_too_large", "the body is too large"));
              return;
            }
            api.body.assign(bytes.begin(), bytes.end());
          } catch (const std::exception& e) {
            send(request, error_response(400, "bad_body", "the body could not be read"));
            return;
          }
          send(request, run(handler, api));
        });
  }
};

HttpServer::HttpServer(Router router, HttpServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->router = std::move(router);
  impl_->options = std::move(options);
}

HttpServer::~HttpServer() { close(); }

std::string HttpServer::open() {
  const auto& o = impl_->options;
  http_listener_config config;
  std::string scheme = "http";
  if (o.tls) {
    scheme = "https";
    try {
      boost::asio::ssl::context probe(boost::asio::ssl::context::tls_server);
      configure_mutual_tls(probe, *o.tls);
    } catch (const std::exception& e) {
      return std::string("TLS material is unusable: ") + e.what();
    }
    const TlsMaterial tls = *o.tls;
    config.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) {
      try {
        configure_mutual_tls(ctx, tls);
      } catch (const std::exception& e) {
        log::error(std::string("TLS setup failed: ") + e.what());
      }
    });
  }
  const bool v6 = o.host.find(':') != std::string::npos;
  const std::string url = scheme + "://" + (v6 ? "[" + o.host + "]" : o.host) + ":" +
                          std::to_string(o.port) + "/";
  try {
    impl_->listener = std::make_unique<http_listener>(web::uri(url), config);
    impl_->listener->support([impl = impl_.get()](http_request request) {
      impl->handle(std::move(request));
    });
    impl_->listener->open().wait();
  } catch (const std::exception& e) {
    impl_->listener.reset();
    return "cannot listen on " + url + ": " + e.what();
  }
  log::info("listening on " + url);
  return "";
}

void HttpServer::close() {
  if (!impl_ || !impl_->listener) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception& e) {
    log::warning(std::string("closing the listener: ") + e.what());
  }
  impl_->listener.reset();
}

}  // namespace pharos::agent::api
