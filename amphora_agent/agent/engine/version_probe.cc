#include "amphora_agent/agent/engine/version_probe.h"

#include <csignal>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pharos::agent::engine {

std::string probe_engine_version(const std::string& binary, std::chrono::milliseconds timeout) {
  if (::access(binary.c_str(), X_OK) != 0) return "unknown";
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return "unknown";
  std::string path = binary;
  std::string flag = "--version";
  char* argv[] = {path.data(), flag.data(), nullptr};
  const pid_t pid = ::fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    const int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDERR_FILENO);
    ::execv(argv[0], argv);
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string output;
  if (pid > 0) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[256];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{pipe_fds[0], POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      const ssize_t n = ::read(pipe_fds[0], buffer, sizeof(buffer));
      if (n <= 0 || output.size() > 4096) break;
      output.append(buffer, static_cast<size_t>(n));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      // Killed after printing is fine; a failed binary is not.
      if (!(WIFSIGNALED(status) && !output.empty())) output.clear();
    }
  }
  ::close(pipe_fds[0]);
  output = output.substr(0, output.find('\n'));
  return output.empty() ? "unknown" : output;
}

}  // namespace pharos::agent::engine
