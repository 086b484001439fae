// The version-neutral request and response model. HTTP/2 (engine/http2) decodes into it and the
// proxy builds member requests from it, so routing and L7 code never sees h1 or h2 wire types.
// Types only; owning strings, because an h2 header block is decoded field by field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pharos::http {

struct Header {
  std::string name;   // lower case as it arrived over h2; compare case-insensitively
  std::string value;
};

struct RequestHead {
  std::string method;
  std::string scheme;     // "http" or "https"; empty for CONNECT
  std::string authority;  // :authority, else the Host header
  std::string path;       // origin-form target, query included
  std::vector<Header> headers;  // regular fields in arrival order, pseudo-headers excluded
  int64_t content_length = -1;  // -1: not announced
};

struct ResponseHead {
  uint16_t status = 0;
  std::vector<Header> headers;
};

}  // namespace pharos::http
