// A stand-in for pharos-engine that speaks the control protocol (schema/engine-control.md)
// with canned stats, so the agent's supervision and REST paths are testable before the real
// engine exists. FAKE_ENGINE_REJECT_VERSION=N makes apply_config refuse version N.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using nlohmann::json;

namespace {

json g_config = nullptr;
json g_member_status = json::object();
bool g_exit_after_reply = false;

json handle(const json& request) {
  const std::string command = request.value("command", "");
  if (command == "apply_config") {
    const json& config = request.at("config");
    const char* reject = std::getenv("FAKE_ENGINE_REJECT_VERSION");
    if (reject && config.value("version", 0) == std::atoll(reject)) {
      return {{"ok", false}, {"error", "invalid_config"}, {"message", "rejected by fake engine"},
              {"errors", {{{"path", "/listeners"}, {"message", "fake refusal"}}}}};
    }
    g_config = config;
    json status = json::object();
    for (const auto& pool : config.value("pools", json::array())) {
      for (const auto& member : pool.value("members", json::array())) {
        const std::string id = member.value("id", "");
        status[id] = g_member_status.value(id, "UP");
      }
    }
    g_member_status = status;
    return {{"ok", true}, {"version", config.value("version", 0)}};
  }
  const uint64_t version = g_config.is_null() ? 0 : g_config.value("version", 0);
  if (command == "get_version") return {{"ok", true}, {"version", version}};
  if (command == "get_config") return {{"ok", true}, {"config", g_config}};
  if (command == "get_stats") {
    json listeners = json::object();
    if (!g_config.is_null()) {
      for (const auto& l : g_config.value("listeners", json::array())) {
        listeners[l.value("id", "")] = {{"bytes_in", 10}, {"bytes_out", 20},
                                        {"active_connections", 1}, {"total_connections", 5},
                                        {"request_errors", 0}};
      }
    }
    json members = json::object();
    for (const auto& [id, s] : g_member_status.items()) {
      members[id] = {{"bytes_in", 1}, {"bytes_out", 2}, {"active_connections", 0},
                     {"total_connections", 3}, {"request_errors", 0},
                     {"responses", {{"1xx", 0}, {"2xx", 3}, {"3xx", 0}, {"4xx", 0}, {"5xx", 0}, {"other", 0}}},
                     {"connect_failures", 0}};
    }
    return {{"ok", true}, {"version", version}, {"listeners", listeners}, {"members", members},
            {"records", {{"written", 0}, {"dropped", 0}}}};
  }
  if (command == "get_member_status") return {{"ok", true}, {"members", g_member_status}};
  if (command == "set_member_status") {
    g_member_status[request.value("member_id", "")] = request.value("status", "UP");
    return {{"ok", true}};
  }
  if (command == "drain") {
    g_exit_after_reply = request.value("exit", false);
    return {{"ok", true}};
  }
  return {{"ok", false}, {"error", "unknown_command"}, {"message", command}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string control;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("fake-pharos-engine 0.0\n");
      return 0;
    }
    if (std::strcmp(argv[i], "--control-socket") == 0 && i + 1 < argc) control = argv[++i];
  }
  if (control.empty()) return 2;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, control.c_str(), sizeof(addr.sun_path) - 1);
  ::unlink(control.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 16) != 0) {
    std::perror("fake engine: bind");
    return 1;
  }
  for (;;) {
    const int conn = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    std::string buffer;
    char chunk[65536];
    for (;;) {
      const ssize_t n = ::read(conn, chunk, sizeof(chunk));
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
      size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        const std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        json reply;
        try {
          reply = handle(json::parse(line));
        } catch (const std::exception& e) {
          reply = {{"ok", false}, {"error", "bad_request"}, {"message", e.what()}};
        }
        const std::string out = reply.dump() + "\n";
        (void)::write(conn, out.data(), out.size());
        if (g_exit_after_reply) {
          ::close(conn);
          ::unlink(control.c_str());
          return 0;
        }
      }
    }
    ::close(conn);
  }
}
