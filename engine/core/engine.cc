#include "engine/core/engine.h"

#include <latch>
#include <thread>

#include "engine/proxy/runtime_config.h"

namespace pharos::core {

uint32_t default_worker_count() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

Engine::Engine(EngineOptions options)
    : options_(std::move(options)),
      stats_(options_.workers == 0 ? default_worker_count() : options_.workers) {
  uint32_t count = options_.workers == 0 ? default_worker_count() : options_.workers;
  for (uint32_t i = 0; i < count; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, options_.records_socket));
    workers_.back()->start();
  }
}

Engine::~Engine() {
  for (auto& worker : workers_) worker->stop();
}

void Engine::run_on_all_workers(const std::function<void(Worker&)>& task) {
  std::latch done(static_cast<std::ptrdiff_t>(workers_.size()));
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    w->post([&, w] {
      task(*w);
      done.count_down();
    });
  }
  done.wait();
}

ApplyResult Engine::apply(std::shared_ptr<const config::Config> config) {
  ApplyResult result;
  // 0. Certificates and TLS settings, checked before anything is bound or swapped.
  TlsContexts tls = build_tls_contexts(*config, ticket_keys_.for_config(config->tls));
  if (!tls.errors.empty()) {
    result.errors = std::move(tls.errors);
    return result;
  }
  result.warnings = std::move(tls.warnings);
  // 1. Bind what is new; keep what stays.
  std::map<std::string, std::vector<net::UniqueFd>> fresh;
  std::vector<std::string> wanted;
  for (size_t i = 0; i < config->listeners.size(); ++i) {
    const auto& listener = config->listeners[i];
    if (!listener.admin_state_up) continue;
    std::string key = proxy::socket_key(listener.bind_address, listener.protocol_port);
    wanted.push_back(key);
    if (sockets_.count(key) || fresh.count(key)) continue;
    auto& fds = fresh[key];
    for (size_t w = 0; w < workers_.size(); ++w) {
      auto bound = net::listen_tcp(listener.bind_address, listener.protocol_port);
      if (!bound.fd) {
        result.errors.push_back({"/listeners/" + std::to_string(i) + "/protocol_port",
                                 "cannot listen on " + listener.bind_address.text + ":" +
                                     std::to_string(listener.protocol_port) + ": " + bound.error});
        break;
      }
      fds.push_back(std::move(bound.fd));
    }
  }
  if (!result.ok()) return result;  // fresh sockets close here; nothing changed
  for (auto& [key, fds] : fresh) sockets_[key] = std::move(fds);

  // 2. Every worker switches to the new snapshot and its accept set.
  auto snapshot = proxy::build_snapshot(config, stats_, member_states_, stick_tables_, tls.contexts);
  std::vector<std::map<std::string, int>> per_worker(workers_.size());
  for (const auto& key : wanted) {
    const auto& fds = sockets_[key];
    for (size_t w = 0; w < workers_.size(); ++w) per_worker[w][key] = fds[w].get();
  }
  run_on_all_workers([&](Worker& worker) { worker.apply(snapshot, per_worker[worker.index()]); });

  // 3. No worker uses the sockets of removed listeners any more.
  std::erase_if(sockets_, [&](const auto& entry) {
    return std::find(wanted.begin(), wanted.end(), entry.first) == wanted.end();
  });
  config_ = std::move(config);
  return result;
}

bool Engine::set_member_status(const std::string& member_id, proxy::MemberStatus status) {
  return member_states_.set(member_id, status);
}

uint64_t Engine::records_written() const {
  uint64_t n = 0;
  for (const auto& worker : workers_) n += worker->records_written();
  return n;
}

uint64_t Engine::records_dropped() const {
  uint64_t n = 0;
  for (const auto& worker : workers_) n += worker->records_dropped();
  return n;
}

void Engine::begin_drain() {
  if (draining_) return;
  draining_ = true;
  run_on_all_workers([](Worker& worker) { worker.begin_drain(); });
  sockets_.clear();
}

bool Engine::idle() const {
  for (const auto& worker : workers_) {
    if (worker->session_count() != 0) return false;
  }
  return true;
}

}  // namespace pharos::core
