#include "tests/engine/integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace pharos::itest {

namespace {

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Fills `storage` for address:port; returns its length, 0 when `address` is not an IP literal.
socklen_t make_sockaddr(const std::string& address, uint16_t port, sockaddr_storage* storage) {
  std::memset(storage, 0, sizeof(*storage));
  auto* v4 = reinterpret_cast<sockaddr_in*>(storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(storage);
  if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return sizeof(sockaddr_in6);
  }
  return 0;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

// ---- socket helpers ----

bool has_ipv6_loopback() { return free_port("::1") != 0; }

int connect_tcp(const std::string& address, uint16_t port, const std::string& source) {
  sockaddr_storage storage;
  socklen_t length = make_sockaddr(address, port, &storage);
  if (length == 0) return -1;
  int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (!source.empty()) {
    sockaddr_storage local;
    socklen_t local_length = make_sockaddr(source, 0, &local);
    if (local_length == 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&local), local_length) != 0) {
      ::close(fd);
      return -1;
    }
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool wait_until(const std::function<bool()>& condition, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return condition();
    // Polling interval, not a readiness wait: the condition is re-checked until the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::optional<uint64_t> settled_value(const std::function<uint64_t()>& counter, int quiet_ms, int timeout_ms) {
  uint64_t last = 0;
  Clock::time_point changed = Clock::now();
  bool settled = wait_until(
      [&] {
        uint64_t now = counter();
        if (now != last) {
          last = now;
          changed = Clock::now();
        }
        return now > 0 && Clock::now() - changed > std::chrono::milliseconds(quiet_ms);
      },
      timeout_ms);
  if (!settled) return std::nullopt;
  return last;
}

TempDir::TempDir() {
  char pattern[] = "/tmp/pharos-itest-XXXXXX";
  const char* made = ::mkdtemp(pattern);
  path_ = made ? made : "";
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- processes ----

bool ChildProcess::spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  log_path_ = log_path;
  for (const auto& arg : argv) label_ += (label_.empty() ? "" : " ") + arg;
  // Everything the child needs is prepared before fork: it only calls async-signal-safe code.
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return false;
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return false;
  }
  if (pid == 0) {
    // Dies with the test binary even if it is killed before its teardown runs.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  reaped_ = false;
  return true;
}

ChildProcess::~ChildProcess() { kill_and_reap(); }

bool ChildProcess::running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = status;
    return false;
  }
  return true;
}

void ChildProcess::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait_exit(int timeout_ms) {
  wait_until([this] { return !running(); }, timeout_ms);
  if (!reaped_) return std::nullopt;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return -WTERMSIG(status_);
  return std::nullopt;
}

void ChildProcess::kill_and_reap() {
  if (reaped_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  status_ = status;
}

RunResult run_to_completion(const std::vector<std::string>& argv, const std::string& log_path,
                            int timeout_ms) {
  RunResult result;
  ChildProcess child;
  if (!child.spawn(argv, log_path)) return result;
  auto status = child.wait_exit(timeout_ms);
  child.kill_and_reap();
  result.status = status.value_or(-1000);
  result.output = child.log();
  return result;
}

// ---- transaction records ----

RecordSink::RecordSink(std::string path) : path_(std::move(path)) {
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
  bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

void RecordSink::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(path_.c_str());
}

std::vector<records::TransactionRecord> RecordSink::read(size_t count, int timeout_ms, std::string* problem) {
  std::vector<records::TransactionRecord> out;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<char> datagram(records::kMaxDatagramBytes);
  while (out.size() < count && Clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
    ssize_t n = ::recv(fd_, datagram.data(), datagram.size(), 0);
    if (n <= 0) continue;
    auto error = records::decode_batch(std::string_view(datagram.data(), static_cast<size_t>(n)), &out);
    if (error != records::DecodeError::kOk) *problem += std::string("decode: ") + records::to_string(error) + "\n";
  }
  return out;
}

// ---- control client ----

ControlClient::~ControlClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool ControlClient::connect(const std::string& path) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  buffer_.clear();
  return true;
}

json ControlClient::call(const json& request, int timeout_ms) {
  json failure = {{"ok", false}, {"error", "transport"}};
  if (fd_ < 0) return failure;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string line = request.dump() + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return failure;
    ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return failure;
    sent += static_cast<size_t>(n);
  }
  for (;;) {
    size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string reply = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      auto parsed = json::parse(reply, nullptr, false);
      if (parsed.is_discarded()) return failure;
      return parsed;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return failure;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return failure;
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

// ---- HTTP client ----

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return "";
}

size_t HttpResponse::header_count(std::string_view name) const {
  size_t count = 0;
  for (const auto& [n, v] : headers) count += iequals(n, name) ? 1 : 0;
  return count;
}

HttpConnection::HttpConnection(const std::string& address, uint16_t port, const std::string& source)
    : fd_(connect_tcp(address, port, source)) {}

HttpConnection::~HttpConnection() { close(); }

void HttpConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool HttpConnection::send(std::string_view bytes, int timeout_ms) {
  if (fd_ < 0) return false;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!bytes.empty()) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return false;
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void HttpConnection::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

int HttpConnection::fill(Clock::time_point deadline) {
  if (fd_ < 0) {
    error_ = "not connected";
    return -1;
  }
  if (eof_) return 0;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready == 0) {
      error_ = "timed out";
      return -1;
    }
    if (ready < 0) {
      if (errno == EINTR) continue;
      error_ = std::string("poll: ") + std::strerror(errno);
      return -1;
    }
    char chunk[256 * 1024];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return 1;
    }
    if (n == 0) {
      eof_ = true;
      return 0;
    }
    if (errno == EAGAIN || errno == EINTR) continue;
    error_ = std::string("recv: ") + std::strerror(errno);
    eof_ = true;  // a reset ends the stream like EOF, but read_response reports it
    return -1;
  }
}

bool HttpConnection::read_line(Clock::time_point deadline, std::string* line) {
  for (;;) {
    size_t end = buffer_.find("\r\n");
    if (end != std::string::npos) {
      *line = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      return true;
    }
    if (fill(deadline) <= 0) return false;
  }
}

bool HttpConnection::read_exact(Clock::time_point deadline, size_t n, std::string* out) {
  while (buffer_.size() < n) {
    if (fill(deadline) <= 0) return false;
  }
  out->append(buffer_, 0, n);
  buffer_.erase(0, n);
  return true;
}

HttpResponse HttpConnection::read_response(int timeout_ms, bool head_request) {
  HttpResponse response;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto fail = [&](const std::string& why) {
    response.ok = false;
    response.error = why + (error_.empty() ? "" : " (" + error_ + ")");
    return response;
  };
  // Head.
  for (;;) {
    if (buffer_.find("\r\n\r\n") != std::string::npos) break;
    int got = fill(deadline);
    if (got == 0) return fail(buffer_.empty() ? "closed before a response" : "closed inside the head");
    if (got < 0) return fail(buffer_.empty() ? "no response" : "incomplete head");
  }
  std::string status_line;
  read_line(deadline, &status_line);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
    return fail("bad status line: " + status_line);
  }
  response.status = std::atoi(status_line.c_str() + 9);
  response.reason = status_line.substr(std::min<size_t>(13, status_line.size()));
  for (;;) {
    std::string line;
    read_line(deadline, &line);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) return fail("bad header line: " + line);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    response.headers.emplace_back(line.substr(0, colon), value);
  }
  bool close_requested = iequals(response.header("connection"), "close");
  // Body.
  bool no_body = head_request || response.status == 204 || response.status == 304 ||
                 (response.status >= 100 && response.status < 200);
  if (no_body) {
  } else if (iequals(response.header("transfer-encoding"), "chunked")) {
    response.chunked = true;
    for (;;) {
      std::string size_line;
      if (!read_line(deadline, &size_line)) return fail("chunk size line");
      size_t size = std::strtoul(size_line.c_str(), nullptr, 16);
      if (size == 0) {
        std::string trailer;
        do {
          if (!read_line(deadline, &trailer)) return fail("trailer");
        } while (!trailer.empty());
        break;
      }
      if (!read_exact(deadline, size, &response.body)) return fail("chunk data");
      std::string crlf;
      if (!read_exact(deadline, 2, &crlf) || crlf != "\r\n") return fail("chunk end");
    }
  } else if (!response.header("content-length").empty()) {
    size_t length = std::strtoull(response.header("content-length").c_str(), nullptr, 10);
    if (!read_exact(deadline, length, &response.body)) return fail("body shorter than Content-Length");
  } else {
    for (;;) {
      int got = fill(deadline);
      if (got == 0) break;
      if (got < 0) return fail("body until close");
    }
    response.body = std::move(buffer_);
    buffer_.clear();
    response.closed_after = true;
  }
  if (close_requested && !response.closed_after) {
    // The server said it closes: confirm it does (bytes after the response would be a bug).
    std::string extra;
    response.closed_after = wait_closed(std::max(remaining_ms(deadline), 1000), &extra);
    if (!extra.empty()) return fail("bytes after a Connection: close response");
  }
  response.ok = true;
  return response;
}

bool HttpConnection::wait_closed(int timeout_ms, std::string* got) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int r = fill(deadline);
    if (r == 0 || (r < 0 && eof_)) break;
    if (r < 0) return false;  // timed out with the connection still open
  }
  if (got) {
    *got = std::move(buffer_);
    buffer_.clear();
  }
  return true;
}

HttpResponse http_get(uint16_t port, const std::string& path, const std::string& address,
                      const std::string& source) {
  HttpConnection connection(address, port, source);
  if (!connection.connected()) {
    HttpResponse response;
    response.error = "connect failed";
    return response;
  }
  if (!connection.send(get_request(path, true))) {
    HttpResponse response;
    response.error = "send failed";
    return response;
  }
  return connection.read_response();
}

std::string get_request(const std::string& path, bool close, const std::string& extra_headers) {
  return "GET " + path + " HTTP/1.1\r\nHost: pharos.test\r\n" +
         (close ? "Connection: close\r\n" : "") + extra_headers + "\r\n";
}

// ---- in-process members ----

LoopbackServer::LoopbackServer(Serve serve, std::function<void(int fd)> accepted)
    : serve_(std::move(serve)), accepted_(std::move(accepted)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_storage storage;
  socklen_t length = make_sockaddr("127.0.0.1", 0, &storage);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&storage), length);
  ::listen(listen_fd_, 128);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&storage), &length);
  port_ = ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) stop_pipe_[0] = stop_pipe_[1] = -1;
  thread_ = std::thread([this] { run(); });
}

LoopbackServer::~LoopbackServer() {
  if (::write(stop_pipe_[1], "x", 1) < 0) {
  }
  thread_.join();
  for (int fd : {listen_fd_, stop_pipe_[0], stop_pipe_[1]}) ::close(fd);
}

void LoopbackServer::run() {
  std::map<int, std::string> clients;  // fd -> unconsumed input
  for (;;) {
    std::vector<pollfd> fds{{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const auto& [fd, in] : clients) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents) break;
    if (fds[1].revents & POLLIN) {
      int fd;
      while ((fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0) {
        clients[fd];
        connections_.fetch_add(1);
        if (accepted_) accepted_(fd);
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      int fd = fds[i].fd;
      char chunk[65536];
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        ::close(fd);
        clients.erase(fd);
        continue;
      }
      if (n < 0) continue;
      bytes_.fetch_add(static_cast<uint64_t>(n));
      std::string& in = clients[fd];
      in.append(chunk, static_cast<size_t>(n));
      if (!serve_(fd, in)) {
        ::close(fd);
        clients.erase(fd);
      }
    }
  }
  for (const auto& [fd, in] : clients) ::close(fd);
}

CountingMember::CountingMember(std::string name)
    : reply_("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
             std::to_string(name.size() + 1) + "\r\n\r\n" + name + "\n"),
      server_([this](int fd, std::string& in) { return serve(fd, in); }) {}

bool CountingMember::serve(int fd, std::string& in) {
  for (;;) {
    size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) return true;
    size_t body = 0;
    std::string head = in.substr(0, end);
    for (std::string_view name : {"\r\nContent-Length:", "\r\ncontent-length:"}) {
      size_t at = head.find(name);
      if (at != std::string::npos) body = std::strtoull(head.c_str() + at + name.size(), nullptr, 10);
    }
    if (in.size() < end + 4 + body) return true;
    in.erase(0, end + 4 + body);
    requests_.fetch_add(1);
    ::send(fd, reply_.data(), reply_.size(), MSG_NOSIGNAL);
  }
}

// ---- config builders ----

json member_json(const std::string& id, uint16_t port, const std::string& address) {
  return json{{"id", id}, {"name", id}, {"address", address}, {"protocol_port", port}};
}

json pool_json(const std::string& id, const std::string& algorithm, json members,
               const std::string& protocol) {
  return json{{"id", id}, {"protocol", protocol}, {"lb_algorithm", algorithm}, {"members", std::move(members)}};
}

json listener_json(const std::string& id, uint16_t port, const std::string& pool_id,
                   const std::string& protocol, const std::string& address) {
  json listener{{"id", id}, {"protocol", protocol}, {"bind_address", address}, {"protocol_port", port}};
  if (!pool_id.empty()) listener["default_pool_id"] = pool_id;
  return listener;
}

json config_json(uint64_t version, json listeners, json pools, uint32_t workers) {
  return json{{"version", version},
              {"workers", workers},
              {"listeners", std::move(listeners)},
              {"pools", std::move(pools)}};
}

// ---- engine handle ----

uint64_t EngineHandle::version() {
  json reply = control.call({{"command", "get_version"}});
  return reply.value("version", uint64_t{0});
}

uint64_t EngineHandle::stat(const std::string& kind, const std::string& id, const std::string& field) {
  json reply = stats();
  if (!reply.contains(kind) || !reply[kind].contains(id)) return 0;
  const json& entry = reply[kind][id];
  if (field.rfind("responses.", 0) == 0) {
    return entry["responses"].value(field.substr(10), uint64_t{0});
  }
  return entry.value(field, uint64_t{0});
}

// ---- fixture ----

std::string IntegrationTest::engine_binary() { return PHAROS_ENGINE_BIN; }
std::string IntegrationTest::backend_binary() { return PHAROS_BACKEND_BIN; }

void IntegrationTest::TearDown() {
  bool failed = HasFailure();
  engines_.clear();
  for (auto& process : processes_) {
    process->kill_and_reap();
    if (failed) {
      std::fprintf(stderr, "---- output of [%s] (pid %d) ----\n%s\n", process->label().c_str(),
                   static_cast<int>(process->pid()), process->log().c_str());
    }
  }
  processes_.clear();
}

Member IntegrationTest::start_server(const std::string& label,
                                     const std::function<std::vector<std::string>(uint16_t port)>& argv_for,
                                     const std::string& address, uint16_t port) {
  Member server;
  server.name = label;
  for (int attempt = 0; attempt < 5 && server.process == nullptr; ++attempt) {
    uint16_t listen_port = port != 0 ? port : free_port(address.c_str());
    std::vector<std::string> argv = argv_for(listen_port);
    auto process = std::make_unique<ChildProcess>();
    if (!process->spawn(argv, dir_.file(label + "-" + std::to_string(++spawned_) + ".log"))) continue;
    ChildProcess* raw = process.get();
    processes_.push_back(std::move(process));
    bool ready = wait_until(
        [&] {
          if (!raw->running()) return true;
          int fd = connect_tcp(address, listen_port);
          if (fd < 0) return false;
          ::close(fd);
          return true;
        },
        5000);
    if (ready && raw->running()) {
      server.port = listen_port;
      server.process = raw;
    }
  }
  if (server.process == nullptr) ADD_FAILURE() << label << " did not start";
  return server;
}

Member IntegrationTest::start_member(const std::string& name, bool tcp_echo, const std::string& address) {
  Member member = start_server(
      "member-" + name,
      [&](uint16_t port) {
        std::vector<std::string> argv{backend_binary(), "--port", std::to_string(port), "--address", address,
                                      "--name", name};
        if (tcp_echo) argv.push_back("--tcp-echo");
        return argv;
      },
      address);
  member.name = name;
  return member;
}

HttpSetup IntegrationTest::start_http_setup(const std::string& algorithm,
                                           const std::function<void(json&)>& adjust) {
  HttpSetup setup;
  setup.m1 = start_member("m1");
  setup.m2 = start_member("m2");
  setup.port = free_port();
  setup.config = config_json(
      1, json::array({listener_json("listener", setup.port, "pool")}),
      json::array({pool_json("pool", algorithm,
                             json::array({member_json("m1", setup.m1.port), member_json("m2", setup.m2.port)}))}));
  if (adjust) adjust(setup.config);
  if (setup.m1.process && setup.m2.process) setup.engine = start_engine(setup.config);
  return setup;
}

EngineHandle* IntegrationTest::start_engine(const json& config, const EngineOptions& options) {
  int n = ++spawned_;
  std::string config_path = dir_.file("engine-" + std::to_string(n) + ".json");
  write_file(config_path, config.dump(2));
  auto handle = std::make_unique<EngineHandle>();
  handle->control_path = dir_.file("control-" + std::to_string(n) + ".sock");
  std::vector<std::string> argv{engine_binary(), "--config", config_path, "--control-socket",
                                handle->control_path, "--drain-timeout", "10"};
  if (!options.records_socket.empty()) {
    argv.push_back("--records-socket");
    argv.push_back(options.records_socket);
  }
  auto process = std::make_unique<ChildProcess>();
  if (!process->spawn(argv, dir_.file("engine-" + std::to_string(n) + ".log"))) {
    ADD_FAILURE() << "cannot start pharos-engine";
    return nullptr;
  }
  handle->process = process.get();
  processes_.push_back(std::move(process));
  ChildProcess* raw = handle->process;
  bool up = wait_until([&] { return !raw->running() || handle->control.connect(handle->control_path); }, 10000);
  if (!up || !raw->running()) {
    ADD_FAILURE() << "pharos-engine did not open its control socket";
    return nullptr;
  }
  uint64_t version = handle->version();
  if (version != config.value("version", uint64_t{0})) {
    ADD_FAILURE() << "pharos-engine reports version " << version;
    return nullptr;
  }
  if (options.wait_for_listeners) {
    for (const auto& listener : config.value("listeners", json::array())) {
      if (!listener.value("admin_state_up", true)) continue;
      std::string address = listener["bind_address"];
      uint16_t port = listener["protocol_port"];
      bool accepting = wait_until(
          [&] {
            int fd = connect_tcp(address, port);
            if (fd < 0) return false;
            ::close(fd);
            return true;
          },
          5000);
      if (!accepting) {
        ADD_FAILURE() << "listener " << address << ":" << port << " does not accept";
        return nullptr;
      }
    }
  }
  engines_.push_back(std::move(handle));
  return engines_.back().get();
}

// ---- PeerServer ----

namespace {
void send_all(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}
}  // namespace

PeerServer::PeerServer(std::function<std::unique_ptr<Peer>()> make_peer)
    : make_peer_(std::move(make_peer)),
      server_([this](int fd, std::string& in) { return serve(fd, in); }, [this](int fd) { accepted(fd); }) {}

void PeerServer::accepted(int fd) {
  std::unique_ptr<Peer> peer = make_peer_();  // replaces the Peer of a closed fd now reused
  send_all(fd, peer->greeting());
  peers_[fd] = std::move(peer);
}

bool PeerServer::serve(int fd, std::string& in) {
  std::string reply;
  bool open = peers_[fd]->feed(in.data(), in.size(), &reply);
  in.clear();
  send_all(fd, reply);
  if (!open) peers_.erase(fd);
  return open;
}

size_t find_after(const std::string& text, const std::string& what, size_t from) {
  return from == std::string::npos ? std::string::npos : text.find(what, from);
}

}  // namespace pharos::itest
