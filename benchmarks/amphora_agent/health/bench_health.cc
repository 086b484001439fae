// Health checker throughput: N members on 127.0.0.1 checked every second on one checker thread.
// A responder thread serves S listening sockets with epoll (HTTP: a 200 to every request head).
// Reports checks/s achieved and the checker thread's CPU use over a measurement window.
//
// Run: build/bin/bench_health   (each case warms up one delay, then measures 5 s)
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "amphora_agent/health/health_checker.h"

namespace {

using namespace std::chrono_literals;
using pharos::health::CheckerStats;
using pharos::health::HealthChecker;
using pharos::health::MemberCheck;
using pharos::health::MemberStatus;
using pharos::health::MonitorType;

// Many listening sockets, one epoll thread: accept, read a request head, answer 200, close.
class Responder {
 public:
  explicit Responder(int listeners) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    add(stop_fd_);
    for (int i = 0; i < listeners; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(fd, 512) != 0) {
        throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
      }
      socklen_t len = sizeof(sa);
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
      ports_.push_back(ntohs(sa.sin_port));
      listeners_[fd] = true;
      add(fd);
    }
    thread_ = std::thread([this] { run(); });
  }

  ~Responder() {
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof(one));
    thread_.join();
    for (auto& [fd, is_listener] : listeners_) ::close(fd);
    for (auto& [fd, buffer] : connections_) ::close(fd);
    ::close(stop_fd_);
    ::close(epoll_fd_);
  }

  const std::vector<uint16_t>& ports() const { return ports_; }

 private:
  void add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }

  void close_connection(int fd) {
    ::close(fd);
    connections_.erase(fd);
  }

  void run() {
    static const char kResponse[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    epoll_event events[256];
    for (;;) {
      int n = ::epoll_wait(epoll_fd_, events, 256, -1);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == stop_fd_) return;
        if (listeners_.count(fd)) {
          for (;;) {
            int conn = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (conn < 0) break;
            connections_[conn];
            add(conn);
          }
          continue;
        }
        char buf[2048];
        ssize_t got = ::recv(fd, buf, sizeof(buf), 0);
        if (got <= 0) {
          if (got < 0 && errno == EAGAIN) continue;
          close_connection(fd);
          continue;
        }
        std::string& head = connections_[fd];
        head.append(buf, static_cast<size_t>(got));
        if (head.find("\r\n\r\n") != std::string::npos) {
          (void)!::send(fd, kResponse, sizeof(kResponse) - 1, MSG_NOSIGNAL);
          close_connection(fd);
        }
      }
    }
  }

  int epoll_fd_ = -1;
  int stop_fd_ = -1;
  std::vector<uint16_t> ports_;
  std::unordered_map<int, bool> listeners_;
  std::unordered_map<int, std::string> connections_;
  std::thread thread_;
};

void run_case(benchmark::State& state, MonitorType type) {
  const int members = static_cast<int>(state.range(0));
  const int servers = static_cast<int>(state.range(1));
  Responder responder(servers);
  std::atomic<uint64_t> down{0};
  HealthChecker checker([&](const std::string&, MemberStatus status, const std::string&) {
    if (status == MemberStatus::kDown) down.fetch_add(1, std::memory_order_relaxed);
  });
  std::vector<MemberCheck> set;
  set.reserve(members);
  for (int i = 0; i < members; ++i) {
    MemberCheck m;
    m.member_id = "member-" + std::to_string(i);
    m.pool_id = "pool-" + std::to_string(i % 10);
    m.address = "127.0.0.1";
    m.port = responder.ports()[i % servers];
    m.monitor.type = type;
    m.monitor.delay = 1000ms;
    m.monitor.timeout = 1000ms;
    m.monitor.url_path = "/healthz";
    set.push_back(std::move(m));
  }
  if (!checker.configure(set).empty()) {
    state.SkipWithError("members rejected");
    return;
  }
  // Warm-up: one full delay so every member has its phase within the period.
  std::this_thread::sleep_for(1100ms);

  for (auto _ : state) {
    CheckerStats before = checker.stats();
    auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(5s);  // a fixed measurement window, not a wait for a condition
    CheckerStats after = checker.stats();
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(wall);
    uint64_t done = (after.checks_succeeded + after.checks_failed) - (before.checks_succeeded + before.checks_failed);
    double cpu = std::chrono::duration<double>(after.thread_cpu_time - before.thread_cpu_time).count();
    state.counters["checks_per_s"] = static_cast<double>(done) / wall;
    state.counters["target_per_s"] = members;
    state.counters["checker_cpu_pct"] = 100.0 * cpu / wall;
    state.counters["cpu_us_per_check"] = done ? 1e6 * cpu / static_cast<double>(done) : 0.0;
    state.counters["failed_checks"] = static_cast<double>(after.checks_failed - before.checks_failed);
    state.counters["members_down"] = static_cast<double>(down.load());
  }
}

void BM_HttpChecks(benchmark::State& state) { run_case(state, MonitorType::kHttp); }
void BM_TcpChecks(benchmark::State& state) { run_case(state, MonitorType::kTcp); }

// {members, listening sockets}
BENCHMARK(BM_HttpChecks)->Args({1000, 1000})->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
BENCHMARK(BM_HttpChecks)->Args({5000, 1000})->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
BENCHMARK(BM_TcpChecks)->Args({1000, 1000})->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

}  // namespace
