// pharos-engine: the L4/L7 proxy that serves a load balancer's VIP.
//
//   pharos-engine --config FILE [--control-socket PATH] [--records-socket PATH] [--workers N]
//   pharos-engine --check-config FILE
//   pharos-engine --version
//   pharos-engine --control-socket PATH     (starts empty; the agent applies the config)
//
// SIGTERM/SIGINT drain: stop accepting, let in-flight work finish (up to --drain-timeout
// seconds), then exit 0.
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/config/config_loader.h"
#include "engine/control/control_server.h"
#include "engine/core/engine.h"
#include "engine/net/event_handles.h"

namespace {

struct Options {
  std::string config_path;
  std::string check_path;
  std::string control_socket;
  std::optional<std::string> records_socket;
  uint32_t workers = 0;
  bool workers_set = false;
  uint32_t drain_timeout_s = 30;
};

void usage() {
  std::fprintf(stderr,
               "usage: pharos-engine [--config FILE] [--control-socket PATH] [--records-socket PATH]\n"
               "                     [--workers N] [--drain-timeout SECONDS]\n"
               "       pharos-engine --check-config FILE\n"
               "       pharos-engine --version\n");
}

std::optional<Options> parse_args(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--version") {
      std::printf("pharos-engine %s\n", PHAROS_VERSION);
      std::exit(0);
    }
    if (arg == "--config" && (v = value())) options.config_path = v;
    else if (arg == "--check-config" && (v = value())) options.check_path = v;
    else if (arg == "--control-socket" && (v = value())) options.control_socket = v;
    else if (arg == "--records-socket" && (v = value())) options.records_socket = v;
    else if (arg == "--workers" && (v = value())) {
      options.workers = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
      options.workers_set = true;
    } else if (arg == "--drain-timeout" && (v = value())) {
      options.drain_timeout_s = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else {
      return std::nullopt;
    }
  }
  return options;
}

std::optional<nlohmann::json> read_json(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot open";
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto document = nlohmann::json::parse(text.str(), nullptr, false);
  if (document.is_discarded()) {
    *error = path + ": not valid JSON";
    return std::nullopt;
  }
  return document;
}

// Everything apply would check short of binding sockets: the document, then certificates.
int check_config(const std::string& path) {
  auto result = pharos::config::load_config_file(path);
  if (!result.ok()) {
    std::fputs(pharos::config::format_errors(result.errors).c_str(), stderr);
    return 1;
  }
  pharos::core::TicketKeys ticket_keys;
  auto tls = pharos::core::build_tls_contexts(*result.config, ticket_keys.for_config(result.config->tls));
  std::fputs(pharos::config::format_errors(tls.warnings).c_str(), stderr);
  if (tls.errors.empty()) return 0;
  std::fputs(pharos::config::format_errors(tls.errors).c_str(), stderr);
  return 1;
}

struct MainLoop {
  event_base* base;
  pharos::core::Engine* engine;
  uint32_t drain_timeout_s;
  uint64_t drain_started_s = 0;
  bool exit_when_idle = false;
  pharos::net::EventPtr idle_check{};
};

void on_idle_check(evutil_socket_t, short, void* arg) {
  auto* loop = static_cast<MainLoop*>(arg);
  if (!loop->exit_when_idle) return;
  timeval now;
  event_base_gettimeofday_cached(loop->base, &now);
  if (loop->engine->idle() || uint64_t(now.tv_sec) - loop->drain_started_s >= loop->drain_timeout_s) {
    event_base_loopexit(loop->base, nullptr);
  }
}

void start_exit(MainLoop* loop) {
  if (loop->exit_when_idle) return;
  loop->exit_when_idle = true;
  timeval now;
  event_base_gettimeofday_cached(loop->base, &now);
  loop->drain_started_s = now.tv_sec;
  loop->engine->begin_drain();
  timeval every{0, 50000};
  event_add(loop->idle_check.get(), &every);
}

void on_signal(evutil_socket_t, short, void* arg) { start_exit(static_cast<MainLoop*>(arg)); }

// See the mallopt() call in main().
constexpr int kMallocTrimThreshold = 16 << 20;

}  // namespace

int main(int argc, char** argv) {
  auto options = parse_args(argc, argv);
  if (!options) {
    usage();
    return 2;
  }
  if (!options->check_path.empty()) return check_config(options->check_path);
  if (options->config_path.empty() && options->control_socket.empty()) {
    usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  // For builds on glibc's malloc (PHAROS_TCMALLOC=OFF, the sanitizer builds): glibc hands a
  // worker arena's free top back to the kernel (madvise) whenever it exceeds 128 KiB, which a
  // TLS connection's 16 KiB record buffers, allocated and freed around every request, cross
  // every few dozen requests; the pages then fault back in. Keep up to 16 MiB of free heap per
  // arena instead. tcmalloc ignores mallopt(): it keeps freed blocks in its own caches.
  mallopt(M_TRIM_THRESHOLD, kMallocTrimThreshold);

  std::shared_ptr<const pharos::config::Config> initial;
  std::optional<nlohmann::json> initial_document;
  if (!options->config_path.empty()) {
    std::string error;
    initial_document = read_json(options->config_path, &error);
    if (!initial_document) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    auto loaded = pharos::config::load_config(
        *initial_document, pharos::config::options_for_file(options->config_path));
    if (!loaded.ok()) {
      std::fputs(pharos::config::format_errors(loaded.errors).c_str(), stderr);
      return 1;
    }
    initial = loaded.config;
  }

  pharos::core::EngineOptions engine_options;
  engine_options.workers = options->workers_set ? options->workers : (initial ? initial->workers : 0);
  engine_options.records_socket = options->records_socket.value_or(initial ? initial->records_socket : "");
  pharos::core::Engine engine(engine_options);
  if (initial) {
    auto applied = engine.apply(initial);
    std::fputs(pharos::config::format_errors(applied.warnings).c_str(), stderr);
    if (!applied.ok()) {
      std::fputs(pharos::config::format_errors(applied.errors).c_str(), stderr);
      return 1;
    }
    engine.set_document(std::make_shared<const nlohmann::json>(*initial_document));
  }

  pharos::net::EventBasePtr base(event_base_new());
  MainLoop loop{base.get(), &engine, options->drain_timeout_s};
  loop.idle_check.reset(event_new(base.get(), -1, EV_PERSIST, &on_idle_check, &loop));
  pharos::net::EventPtr sigterm(evsignal_new(base.get(), SIGTERM, &on_signal, &loop));
  pharos::net::EventPtr sigint(evsignal_new(base.get(), SIGINT, &on_signal, &loop));
  event_add(sigterm.get(), nullptr);
  event_add(sigint.get(), nullptr);

  pharos::control::CommandHandler handler(engine, [&loop] { start_exit(&loop); });
  std::unique_ptr<pharos::control::ControlServer> control;
  if (!options->control_socket.empty()) {
    control = std::make_unique<pharos::control::ControlServer>(base.get(), handler);
    std::string error = control->listen(options->control_socket);
    if (!error.empty()) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "pharos-engine: %u workers, config version %llu\n", engine.worker_count(),
               static_cast<unsigned long long>(engine.version()));
  event_base_dispatch(base.get());
  std::fprintf(stderr, "pharos-engine: drained, exiting\n");
  return 0;
}
