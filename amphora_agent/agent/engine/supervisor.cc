#include "amphora_agent/agent/engine/supervisor.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "amphora_agent/agent/log.h"

namespace pharos::agent::engine {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStopGrace = std::chrono::seconds(5);
constexpr auto kReadyProbeInterval = std::chrono::milliseconds(20);

std::string describe(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return "signal " + std::to_string(WTERMSIG(wait_status));
  return "status " + std::to_string(wait_status);
}

// True when the child has exited; leaves it unreaped (WNOWAIT) so its pid cannot be reused
// while status_ still names it.
bool has_exited(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

}  // namespace

EngineSupervisor::EngineSupervisor(SupervisorOptions options, std::function<void()> on_ready)
    : options_(std::move(options)), on_ready_(std::move(on_ready)) {}

EngineSupervisor::~EngineSupervisor() { stop(); }

void EngineSupervisor::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void EngineSupervisor::stop() {
  {
    std::unique_lock lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    if (status_.pid > 0) ::kill(status_.pid, SIGTERM);
    cv_.notify_all();
    if (!cv_.wait_for(lock, kStopGrace, [this] { return status_.pid == 0; })) {
      log::warning("engine did not stop within 5 s of SIGTERM; sending SIGKILL");
      if (status_.pid > 0) ::kill(status_.pid, SIGKILL);
    }
  }
  thread_.join();
}

void EngineSupervisor::expect_exit() {
  std::lock_guard lock(mu_);
  expect_exit_ = true;
}

EngineStatus EngineSupervisor::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

bool EngineSupervisor::sleep_unless_stopping(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [this] { return stopping_; });
}

pid_t EngineSupervisor::spawn() {
  std::vector<std::string> args = {options_.binary, "--control-socket", options_.control_socket};
  if (!options_.records_socket.empty()) {
    args.insert(args.end(), {"--records-socket", options_.records_socket});
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // A previous engine is gone (it was reaped), so a socket file left at the path is stale.
  struct stat st{};
  if (::lstat(options_.control_socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    ::unlink(options_.control_socket.c_str());
  }

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls until exec: the agent is multi-threaded.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

bool EngineSupervisor::wait_ready(pid_t pid) {
  const ControlClient probe(options_.control_socket, std::chrono::milliseconds(500));
  const auto deadline = Clock::now() + options_.ready_timeout;
  while (Clock::now() < deadline) {
    if (has_exited(pid)) return false;
    if (probe.get_version().ok()) return true;
    if (!sleep_unless_stopping(kReadyProbeInterval)) return false;
  }
  log::error("engine pid " + std::to_string(pid) + " did not answer on " +
             options_.control_socket + " in time; killing it");
  ::kill(pid, SIGKILL);
  return false;
}

int EngineSupervisor::wait_child(pid_t pid) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 &&
         errno == EINTR) {
  }
  int wait_status = 0;
  std::lock_guard lock(mu_);
  while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  set_down(wait_status);
  return wait_status;
}

void EngineSupervisor::set_down(int wait_status) {
  status_.pid = 0;
  status_.up = false;
  status_.last_exit = describe(wait_status);
  cv_.notify_all();
}

void EngineSupervisor::run() {
  auto delay = options_.backoff_initial;
  for (;;) {
    pid_t pid = -1;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      pid = spawn();
      if (pid > 0) {
        status_.pid = pid;
        status_.drained = false;
        expect_exit_ = false;
        if (status_.starts++ > 0) ++status_.restarts;
      }
    }
    const auto started = Clock::now();
    if (pid < 0) {
      log::error(std::string("cannot fork the engine: ") + std::strerror(errno));
    } else {
      log::info("engine started, pid " + std::to_string(pid));
      if (wait_ready(pid)) {
        {
          std::lock_guard lock(mu_);
          status_.up = true;
        }
        if (on_ready_) on_ready_();
      }
      const int wait_status = wait_child(pid);
      {
        std::unique_lock lock(mu_);
        if (stopping_) return;
        if (expect_exit_ && WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
          status_.drained = true;
          log::info("engine exited after drain; not restarting");
          cv_.wait(lock, [this] { return stopping_; });
          return;
        }
      }
      log::warning("engine pid " + std::to_string(pid) + " died (" + describe(wait_status) + ")");
    }
    if (Clock::now() - started >= options_.stable_after) delay = options_.backoff_initial;
    if (!sleep_unless_stopping(delay)) return;
    delay = std::min(delay * 2, options_.backoff_max);
  }
}

}  // namespace pharos::agent::engine
