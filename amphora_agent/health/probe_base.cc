#include "amphora_agent/health/probe_base.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace pharos::health {
namespace {

void on_io(evutil_socket_t, short what, void* arg) { static_cast<ProbeBase*>(arg)->handle_io(what); }
void on_timeout_cb(evutil_socket_t, short, void* arg) { static_cast<ProbeBase*>(arg)->handle_timeout(); }
void on_done(evutil_socket_t, short, void* arg) { static_cast<ProbeBase*>(arg)->handle_done(); }

}  // namespace

std::string errno_text(int err) { return std::strerror(err); }

ProbeBase::ProbeBase(const ProbeEnv& env, std::shared_ptr<const CheckSpec> spec, ProbeListener* listener)
    : env_(env), spec_owner_(std::move(spec)), spec_(*spec_owner_), listener_(listener) {
  timeout_ev_.reset(evtimer_new(env_.base, on_timeout_cb, this));
  done_ev_.reset(event_new(env_.base, -1, 0, on_done, this));
  if (!timeout_ev_ || !done_ev_) std::abort();  // out of memory: nothing sane to report
}

ProbeBase::~ProbeBase() {
  // Events go before the socket they watch; the subclass already released its transport.
  read_ev_.reset();
  write_ev_.reset();
  timeout_ev_.reset();
  done_ev_.reset();
  fd_.reset();
}

void ProbeBase::start() {
  timeval tv = to_timeval(spec_.member.monitor.timeout);
  event_add(timeout_ev_.get(), &tv);
  begin();
}

bool ProbeBase::open_socket(int family, int type, int protocol, int* error) {
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    int err = errno;
    if (error) {
      *error = err;
      return false;
    }
    if (protocol == IPPROTO_SCTP && (err == EPROTONOSUPPORT || err == ESOCKTNOSUPPORT)) {
      fail("SCTP is not supported by this kernel (" + errno_text(err) + ")");
    } else {
      fail(std::string("socket: ") + errno_text(err));
    }
    return false;
  }
  fd_.reset(fd);
  read_ev_.reset(event_new(env_.base, fd, EV_READ, on_io, this));
  write_ev_.reset(event_new(env_.base, fd, EV_WRITE, on_io, this));
  if (!read_ev_ || !write_ev_) std::abort();
  return true;
}

void ProbeBase::wait_readable() { event_add(read_ev_.get(), nullptr); }
void ProbeBase::wait_writable() { event_add(write_ev_.get(), nullptr); }

void ProbeBase::handle_io(short) {
  if (!finished_) on_ready();
}

void ProbeBase::handle_timeout() {
  if (!finished_) on_timeout();
}

void ProbeBase::on_timeout() {
  finish(false, true,
         "timeout after " + std::to_string(spec_.member.monitor.timeout.count()) + " ms while " + phase_);
}

void ProbeBase::finish(bool success, bool timed_out, std::string reason) {
  if (finished_) return;
  finished_ = true;
  result_.success = success;
  result_.timed_out = timed_out;
  result_.reason = std::move(reason);
  if (read_ev_) event_del(read_ev_.get());
  if (write_ev_) event_del(write_ev_.get());
  event_del(timeout_ev_.get());
  close_transport();
  fd_.reset();
  // Reported on the next loop turn so start_probe() never calls back into its caller.
  event_active(done_ev_.get(), EV_TIMEOUT, 0);
}

void ProbeBase::handle_done() { listener_->on_probe_done(std::move(result_)); }

std::unique_ptr<Probe> start_probe(const ProbeEnv& env, std::shared_ptr<const CheckSpec> spec,
                                   ProbeListener* listener) {
  std::unique_ptr<ProbeBase> probe;
  switch (spec->member.monitor.type) {
    case MonitorType::kHttp:
    case MonitorType::kHttps:
    case MonitorType::kTcp:
    case MonitorType::kTlsHello:
    case MonitorType::kSctp:
      probe = make_stream_probe(env, std::move(spec), listener);
      break;
    case MonitorType::kUdpConnect:
      probe = make_udp_probe(env, std::move(spec), listener);
      break;
    case MonitorType::kPing:
      probe = make_ping_probe(env, std::move(spec), listener);
      break;
  }
  probe->start();
  return probe;
}

}  // namespace pharos::health
