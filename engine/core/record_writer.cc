#include "engine/core/record_writer.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "engine/records/record_codec.h"

namespace pharos::core {

namespace {
constexpr size_t kMaxBatchBytes = 60 * 1024;  // one datagram
constexpr uint32_t kFlushDelayMs = 50;
}  // namespace

RecordWriter::RecordWriter(event_base* base, std::string socket_path) : path_(std::move(socket_path)) {
  if (path_.empty()) return;
  fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  timer_.reset(evtimer_new(base, &RecordWriter::on_flush_timer, this));
  batch_.reserve(kMaxBatchBytes + 4096);
}

void RecordWriter::emit(const records::TransactionRecord& record) {
  if (!fd_) return;
  size_t before = batch_.size();
  records::encode(record, &batch_);
  if (batch_.size() > kMaxBatchBytes && before > 0) {
    // Send what fitted, keep this record for the next batch.
    std::string last = batch_.substr(before);
    batch_.resize(before);
    flush();
    batch_ = std::move(last);
  }
  ++batch_records_;
  if (batch_.size() >= kMaxBatchBytes) {
    flush();
  } else if (!timer_armed_) {
    timeval delay = net::timeval_from_ms(kFlushDelayMs);
    evtimer_add(timer_.get(), &delay);
    timer_armed_ = true;
  }
}

void RecordWriter::flush() {
  if (batch_.empty()) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
  ssize_t sent = ::sendto(fd_.get(), batch_.data(), batch_.size(), MSG_DONTWAIT,
                          reinterpret_cast<sockaddr*>(&address), sizeof(address));
  auto& counter = sent == static_cast<ssize_t>(batch_.size()) ? written_ : dropped_;
  counter.store(counter.load(std::memory_order_relaxed) + batch_records_, std::memory_order_relaxed);
  batch_.clear();
  batch_records_ = 0;
}

void RecordWriter::on_flush_timer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<RecordWriter*>(arg);
  self->timer_armed_ = false;
  self->flush();
}

}  // namespace pharos::core
