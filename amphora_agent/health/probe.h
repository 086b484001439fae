// One check attempt against one member (internal to the health module). A probe is started by
// start_probe() and reports exactly once to its listener, always from a libevent callback on a
// later loop turn, never from inside start_probe(). Destroying a probe before it reports
// cancels it silently. The listener must not destroy the probe inside on_probe_done (defer it).
#pragma once

#include <event2/event.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "amphora_agent/health/check_spec.h"

namespace pharos::health {

struct ProbeResult {
  bool success = false;
  bool timed_out = false;
  std::string reason;
};

class ProbeListener {
 public:
  virtual ~ProbeListener() = default;
  virtual void on_probe_done(ProbeResult result) = 0;
};

class Probe {
 public:
  virtual ~Probe() = default;
};

// What probes share: the checker's loop and its TLS client context (verification off).
struct ProbeEnv {
  event_base* base = nullptr;
  SSL_CTX* ssl_ctx = nullptr;
};

// Starts the check the spec's monitor type calls for; the probe shares ownership of the spec.
std::unique_ptr<Probe> start_probe(const ProbeEnv& env, std::shared_ptr<const CheckSpec> spec,
                                   ProbeListener* listener);

}  // namespace pharos::health
