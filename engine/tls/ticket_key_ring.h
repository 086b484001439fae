// Session ticket keys for the whole engine: one ring shared by every TERMINATED_HTTPS listener
// and every worker. The current key encrypts new tickets; the previous key still decrypts, and
// tickets under it are renewed, so a ticket stays good for two rotation periods.
#pragma once

#include <openssl/base.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/config/config_types.h"

namespace pharos::tls {

class TicketKeyRing {
 public:
  using Clock = std::chrono::steady_clock;
  using KeyName = std::array<uint8_t, 16>;

  // Null when `sessions.ticket_key_rotation_s` is 0 (tickets disabled).
  static std::shared_ptr<TicketKeyRing> create(const config::TlsSessions& sessions,
                                               std::function<Clock::time_point()> clock = Clock::now);

  // Starts with one fresh key created at clock(). `period` must be positive.
  TicketKeyRing(std::chrono::seconds period, std::function<Clock::time_point()> clock);

  // Rotates when the current key is at least one period old (the engine calls this from a
  // timer; key use also rotates when due). Keys older than two periods are dropped.
  void rotate(Clock::time_point now);

  // The SSL_CTX_set_tlsext_ticket_key_cb contract: encrypt = 1 fills key_name and iv and keys
  // the contexts with the current key (returns 1, or -1 on failure); encrypt = 0 returns 1 for
  // the current key, 2 (renew) for the previous one, 0 for an unknown or retired key.
  int handle_ticket(uint8_t* key_name, uint8_t* iv, EVP_CIPHER_CTX* cipher_ctx, HMAC_CTX* hmac_ctx,
                    int encrypt);

  KeyName current_key_name() const;
  std::chrono::seconds period() const { return period_; }

 private:
  struct Key {
    KeyName name{};
    std::array<uint8_t, 32> aes_key{};
    std::array<uint8_t, 32> hmac_key{};
    Clock::time_point created;
  };
  static Key generate(Clock::time_point now);
  void rotate_locked(Clock::time_point now);

  const std::chrono::seconds period_;
  const std::function<Clock::time_point()> clock_;
  mutable std::mutex mu_;
  std::vector<Key> keys_;  // keys_[0] encrypts; the rest only decrypt
};

}  // namespace pharos::tls
