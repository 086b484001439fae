// pharos-agent --config-file FILE: the amphora agent. Logs to stderr; stops on SIGTERM/SIGINT.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include <pthread.h>

#include "amphora_agent/agent/agent.h"
#include "amphora_agent/agent/agent_config.h"
#include "amphora_agent/agent/log.h"

namespace {

int usage() {
  std::fprintf(stderr, "usage: pharos-agent --config-file FILE\n       pharos-agent --version\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_file;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config-file" && i + 1 < argc) {
      config_file = argv[++i];
    } else if (arg.rfind("--config-file=", 0) == 0) {
      config_file = arg.substr(std::strlen("--config-file="));
    } else if (arg == "--version") {
      std::printf("pharos-agent %s\n", PHAROS_AGENT_VERSION);
      return 0;
    } else {
      return usage();
    }
  }
  if (config_file.empty()) return usage();

  const auto loaded = pharos::agent::load_agent_config(config_file);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) pharos::agent::log::error(e);
    return 1;
  }

  // Block the stop signals in every thread (threads inherit the mask) and take them with
  // sigwait here, so no handler runs inside cpprest or SQLite.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  pharos::agent::Agent agent(loaded.config);
  if (std::string e = agent.start(); !e.empty()) {
    pharos::agent::log::error(e);
    agent.stop();
    return 1;
  }
  int signal = 0;
  sigwait(&stop_signals, &signal);
  pharos::agent::log::info(std::string("stopping on ") + strsignal(signal));
  agent.stop();
  return 0;
}
