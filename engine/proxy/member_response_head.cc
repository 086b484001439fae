#include "engine/proxy/member_response_head.h"

#include <event2/buffer.h>

#include <algorithm>
#include <string_view>

namespace pharos::proxy {

MemberHead read_member_head(evbuffer* input, const http1::Limits& limits, bool head_request,
                            http1::ResponseHead* out) {
  size_t n = std::min<size_t>(evbuffer_get_length(input), limits.max_header_bytes);
  const char* data = reinterpret_cast<const char*>(evbuffer_pullup(input, static_cast<ssize_t>(n)));
  auto result = http1::parse_response_head(std::string_view(data, n), limits, head_request, out);
  if (result.status == http1::ParseStatus::kIncomplete) return MemberHead::kIncomplete;
  if (result.status == http1::ParseStatus::kError || out->status == 101) return MemberHead::kBad;
  return out->status < 200 ? MemberHead::kInterim : MemberHead::kFinal;
}

}  // namespace pharos::proxy
