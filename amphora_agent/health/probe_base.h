// Machinery every probe shares (internal): the socket, its read/write events, the whole-check
// timeout and the deferred report. Subclasses implement begin() and on_ready().
#pragma once

#include <memory>
#include <string>

#include "amphora_agent/health/event_handles.h"
#include "amphora_agent/health/probe.h"

namespace pharos::health {

class ProbeBase : public Probe {
 public:
  ProbeBase(const ProbeEnv& env, std::shared_ptr<const CheckSpec> spec, ProbeListener* listener);
  ~ProbeBase() override;

  // Arms the timeout and calls begin(). Results are always reported on a later loop turn.
  void start();

  // Entry points for the libevent callbacks; not for other callers.
  void handle_io(short what);
  void handle_timeout();
  void handle_done();

 protected:
  // Opens the socket and sends the first bytes; may finish() at once (reported next turn).
  virtual void begin() = 0;
  // The socket became readable (or writable, whichever was waited for), or has an error.
  virtual void on_ready() = 0;
  // Default: failure "timeout after N ms while <phase>". UDP-CONNECT overrides it.
  virtual void on_timeout();
  // Releases transport state before the fd closes (TLS objects, linger).
  virtual void close_transport() {}

  // Creates a non-blocking socket and its events. On failure: with error given, stores errno
  // there and leaves the probe running; without, finishes the probe with the reason.
  bool open_socket(int family, int type, int protocol, int* error = nullptr);
  void wait_readable();
  void wait_writable();
  void succeed(std::string reason) { finish(true, false, std::move(reason)); }
  void fail(std::string reason) { finish(false, false, std::move(reason)); }
  void finish(bool success, bool timed_out, std::string reason);
  bool finished() const { return finished_; }

  const ProbeEnv env_;
  const std::shared_ptr<const CheckSpec> spec_owner_;
  const CheckSpec& spec_;
  const char* phase_ = "starting";
  UniqueFd fd_;

 private:
  ProbeListener* listener_;
  EventPtr read_ev_;
  EventPtr write_ev_;
  EventPtr timeout_ev_;
  EventPtr done_ev_;
  bool finished_ = false;
  ProbeResult result_;
};

std::unique_ptr<ProbeBase> make_stream_probe(const ProbeEnv& env, std::shared_ptr<const CheckSpec> spec, ProbeListener* l);
std::unique_ptr<ProbeBase> make_udp_probe(const ProbeEnv& env, std::shared_ptr<const CheckSpec> spec, ProbeListener* l);
std::unique_ptr<ProbeBase> make_ping_probe(const ProbeEnv& env, std::shared_ptr<const CheckSpec> spec, ProbeListener* l);

// "Connection refused" for errno values, for reasons.
std::string errno_text(int err);

}  // namespace pharos::health
