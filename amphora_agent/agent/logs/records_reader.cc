#include "amphora_agent/agent/logs/records_reader.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "amphora_agent/agent/log.h"
#include "amphora_agent/agent/logs/reduced_store.h"
#include "amphora_agent/state/state_store.h"
#include "engine/records/record_codec.h"

namespace pharos::agent::logs {
namespace {

using Clock = std::chrono::steady_clock;
// Enough for bursts between two reads; the kernel caps it at net.core.rmem_max.
constexpr int kReceiveBuffer = 8 << 20;
// Datagrams read per wakeup before the loop checks its timers again.
constexpr int kMaxDatagramsPerRound = 1024;

uint64_t now_unix_us() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

RecordsReader::RecordsReader(RecordsReaderOptions options, state::StateStore& store)
    : options_(std::move(options)), store_(store) {}

RecordsReader::~RecordsReader() { stop(); }

std::string RecordsReader::start() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options_.socket_path.size() >= sizeof(addr.sun_path)) {
    return "records socket path too long: " + options_.socket_path;
  }
  std::memcpy(addr.sun_path, options_.socket_path.c_str(), options_.socket_path.size() + 1);
  struct stat st{};
  if (::lstat(options_.socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    ::unlink(options_.socket_path.c_str());
  }
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) return std::string("records socket: ") + std::strerror(errno);
  const int buffer = kReceiveBuffer;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  // Only the engine (same user) may write records.
  const mode_t old_mask = ::umask(0177);
  const int rc = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old_mask);
  if (rc != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return "cannot bind the records socket " + options_.socket_path + ": " + error;
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return std::string("eventfd: ") + std::strerror(errno);
  sink_ = std::make_unique<ReducedStore>(store_);
  reducer_ = std::make_unique<log_reducer::LogReducer>(options_.reducer, sink_.get());
  thread_ = std::thread([this] { run(); });
  return "";
}

void RecordsReader::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)::write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(options_.socket_path.c_str());
    fd_ = -1;
  }
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
    wake_fd_ = -1;
  }
}

RecordsReaderStats RecordsReader::stats() const {
  return {datagrams_.load(), records_.load(), decode_errors_.load(), significant_.load(),
          aggregates_.load()};
}

void RecordsReader::drain_socket() {
  static thread_local std::string buffer(records::kMaxDatagramBytes, '\0');
  records::TransactionRecord record;
  for (int i = 0; i < kMaxDatagramsPerRound; ++i) {
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        log::warning(std::string("records socket: ") + std::strerror(errno));
      }
      return;
    }
    datagrams_.fetch_add(1, std::memory_order_relaxed);
    records::BatchReader reader(std::string_view(buffer.data(), static_cast<size_t>(n)));
    uint64_t count = 0;
    while (reader.next(&record)) {
      reducer_->add(record);
      ++count;
    }
    records_.fetch_add(count, std::memory_order_relaxed);
    if (reader.error() != records::DecodeError::kOk) {
      // The records before the bad one are in; framing past it cannot be trusted.
      if (decode_errors_.fetch_add(1, std::memory_order_relaxed) == 0) {
        log::warning(std::string("a records datagram did not decode: ") +
                     records::to_string(reader.error()));
      }
    }
  }
}

void RecordsReader::flush(bool all) {
  if (all) {
    reducer_->flush_all();
  } else {
    reducer_->flush(now_unix_us());
  }
  sink_->commit();
  significant_.store(reducer_->stats().significant, std::memory_order_relaxed);
  aggregates_.store(reducer_->stats().aggregates_emitted, std::memory_order_relaxed);
}

void RecordsReader::run() {
  auto next_flush = Clock::now() + options_.flush_interval;
  auto next_retention = Clock::now();
  for (;;) {
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_flush - Clock::now());
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int rc = ::poll(fds, 2, wait.count() > 0 ? static_cast<int>(wait.count()) : 0);
    if (rc < 0 && errno != EINTR) {
      log::error(std::string("records reader poll: ") + std::strerror(errno));
    }
    if (fds[0].revents & POLLIN) drain_socket();
    if (fds[1].revents & POLLIN) break;
    const auto now = Clock::now();
    if (now >= next_flush) {
      flush(false);
      next_flush = now + options_.flush_interval;
    }
    if (now >= next_retention) {
      if (auto deleted = store_.enforce_retention(std::time(nullptr)); !deleted) {
        log::error("log retention failed: " + deleted.error().message);
      }
      next_retention = now + options_.retention_interval;
    }
  }
  drain_socket();
  flush(true);
}

}  // namespace pharos::agent::logs
