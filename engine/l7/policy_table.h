// A listener's L7 policies compiled once per config snapshot: regexes built, disabled policies
// and rules dropped, policies sorted into HAProxy's evaluation order (REJECT, then the
// redirects to a URL or prefix, then REDIRECT_TO_POOL; each group by position, ties in document
// order), redirect pools resolved to indexes. Immutable; shared by every worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config_types.h"
#include "engine/l7/request_facts.h"

namespace pharos::l7 {

// What to do with one request.
struct Decision {
  enum class Kind : uint8_t {
    kDefault,   // no policy matched: the listener's default pool
    kReject,    // 403
    kRedirect,  // `status` with Location: `location`
    kPool,      // the pool at `pool_index`
  };
  Kind kind = Kind::kDefault;
  int pool_index = -1;           // kPool: index into the snapshot's pools
  uint16_t status = 0;           // kReject: 403; kRedirect: the policy's redirect_http_code
  std::string location;          // kRedirect only
  std::string_view policy_id;    // the matching policy; empty for kDefault
};

class PolicyTable {
 public:
  // Compiles `listener`'s policies; `pools` is the snapshot's pool list (its order gives the
  // indexes). Null when no policy can ever match, so such listeners pay nothing per request.
  // The config must have passed the loader (regexes valid, redirect pools present).
  static std::shared_ptr<const PolicyTable> build(const config::Listener& listener,
                                                  const std::vector<config::Pool>& pools);

  // The first matching policy in evaluation order, or kDefault. Allocates only for a redirect.
  Decision evaluate(const RequestFacts& request) const;

  // Whether some rule looks at the client certificate (the session then describes it).
  bool uses_client_certificate() const { return uses_client_certificate_; }
  size_t size() const;

  struct Rule;
  struct Policy;
  PolicyTable();
  ~PolicyTable();

 private:
  std::vector<Policy> policies_;
  bool uses_client_certificate_ = false;
};

}  // namespace pharos::l7
