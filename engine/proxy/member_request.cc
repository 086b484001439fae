#include "engine/proxy/member_request.h"

#include "engine/proxy/h2_member_pool.h"
#include "engine/proxy/header_rules.h"
#include "engine/stats/stats.h"

namespace pharos::proxy {

http::RequestHead version_neutral_request(const http1::RequestHead& head) {
  http::RequestHead out;
  out.method.assign(head.method);
  out.scheme = "http";
  out.authority.assign(head.host);
  out.path.assign(head.target);
  // An absolute-form target (a proxy-style request): h2 carries its parts as :authority and an
  // origin-form :path.
  if (size_t scheme_end = out.path.find("://"); !out.path.empty() && out.path.front() != '/' &&
                                                 out.path != "*" && scheme_end != std::string::npos) {
    size_t path_start = out.path.find('/', scheme_end + 3);
    if (out.authority.empty()) out.authority = out.path.substr(scheme_end + 3, path_start - (scheme_end + 3));
    out.path = path_start == std::string::npos ? "/" : out.path.substr(path_start);
  }
  out.headers.reserve(head.headers.size());
  for (const auto& header : head.headers) {
    if (is_connection_specific(header.name) || named_by_connection(head, header.name)) continue;
    if (iequals(header.name, "host")) continue;  // the authority
    out.headers.push_back(http::Header{std::string(header.name), std::string(header.value)});
  }
  if (head.framing == http1::BodyFraming::kContentLength) {
    out.content_length = static_cast<int64_t>(head.content_length);
  }
  return out;
}

http::RequestHead member_request_head(const http::RequestHead& client, const ListenerRuntime& listener,
                                      const PoolRuntime& pool, std::string_view client_address,
                                      const HeaderList& certificate_headers,
                                      std::string_view fallback_authority) {
  const auto& inserts = listener.config->insert_headers;
  http::RequestHead out;
  out.method = client.method;
  out.scheme = pool.tls ? "https" : "http";
  out.authority = client.authority.empty() ? std::string(fallback_authority) : client.authority;
  out.path = client.path;
  out.content_length = client.content_length;
  out.headers.reserve(client.headers.size() + 4);
  for (const auto& header : client.headers) {
    // The one TE h2 allows (RFC 9113 8.2.2): the member learns its trailers reach the client.
    if (iequals(header.name, "te") && iequals(header.value, "trailers")) {
      out.headers.push_back(http::Header{"te", "trailers"});
      continue;
    }
    if (is_connection_specific(header.name) || iequals(header.name, "host")) continue;
    if (iequals(header.name, "content-length")) continue;  // one normalised copy below
    if (replaced_by_inserted_header(inserts, header.name)) continue;
    out.headers.push_back(header);
  }
  if (client.content_length >= 0) {
    out.headers.push_back(http::Header{"content-length", std::to_string(client.content_length)});
  }
  if (inserts.x_forwarded_for) out.headers.push_back(http::Header{"x-forwarded-for", std::string(client_address)});
  if (inserts.x_forwarded_port) out.headers.push_back(http::Header{"x-forwarded-port", listener.port_text});
  if (inserts.x_forwarded_proto) {
    bool tls = listener.config->protocol == config::ListenerProtocol::kTerminatedHttps;
    out.headers.push_back(http::Header{"x-forwarded-proto", tls ? "https" : "http"});
  }
  for (const auto& [name, value] : certificate_headers) out.headers.push_back(http::Header{name, value});
  return out;
}

std::unique_ptr<MemberExchange> open_member_exchange(H2MemberConnection& connection,
                                                     MemberExchange::Receiver& receiver,
                                                     const http::RequestHead& head, bool end_stream,
                                                     uint32_t data_timeout_ms,
                                                     stats::TrafficSlot& member_traffic) {
  std::unique_ptr<MemberExchange> exchange = connection.open(receiver, head, end_stream, data_timeout_ms);
  if (!exchange) return nullptr;
  size_t head_bytes = head.method.size() + head.authority.size() + head.path.size();
  for (const auto& header : head.headers) head_bytes += header.name.size() + header.value.size();
  member_traffic.bytes_in.add(head_bytes);
  return exchange;
}

const char* reason_phrase(uint16_t status) {
  switch (status) {
    case 100: return "Continue";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
  }
  return "";
}

}  // namespace pharos::proxy
