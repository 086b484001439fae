#include "amphora_agent/agent/log.h"

#include <cstdio>
#include <mutex>
#include <string>

namespace pharos::agent::log {
namespace {

std::mutex& mutex() {
  static std::mutex mu;
  return mu;
}

// The "<N>" prefix is sd-daemon's priority syntax, which journald strips and records.
void write(const char* prefix, std::string_view message) {
  std::string line(prefix);
  line.append(message);
  line.push_back('\n');
  std::lock_guard lock(mutex());
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

void info(std::string_view message) { write("<6>pharos-agent: ", message); }
void warning(std::string_view message) { write("<4>pharos-agent: ", message); }
void error(std::string_view message) { write("<3>pharos-agent: ", message); }

}  // namespace pharos::agent::log
