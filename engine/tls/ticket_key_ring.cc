#include "engine/tls/ticket_key_ring.h"

#include <openssl/cipher.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pharos::tls {

std::shared_ptr<TicketKeyRing> TicketKeyRing::create(const config::TlsSessions& sessions,
                                                     std::function<Clock::time_point()> clock) {
  if (sessions.ticket_key_rotation_s == 0) return nullptr;
  return std::make_shared<TicketKeyRing>(std::chrono::seconds(sessions.ticket_key_rotation_s),
                                         std::move(clock));
}

TicketKeyRing::TicketKeyRing(std::chrono::seconds period,
                             std::function<Clock::time_point()> clock)
    : period_(period), clock_(std::move(clock)) {
  keys_.push_back(generate(clock_()));
}

TicketKeyRing::Key TicketKeyRing::generate(Clock::time_point now) {
  Key key;
  // RAND_bytes only fails when the kernel has no entropy to give; tickets under a guessable
  // key would be worse than no process at all.
  if (!RAND_bytes(key.name.data(), key.name.size()) ||
      !RAND_bytes(key.aes_key.data(), key.aes_key.size()) ||
      !RAND_bytes(key.hmac_key.data(), key.hmac_key.size())) {
    std::fprintf(stderr, "pharos: RAND_bytes failed generating a ticket key\n");
    std::abort();
  }
  key.created = now;
  return key;
}

void TicketKeyRing::rotate_locked(Clock::time_point now) {
  if (now - keys_.front().created < period_) return;
  keys_.insert(keys_.begin(), generate(now));
  // A key that stopped encrypting one period ago has served its two periods.
  keys_.erase(std::remove_if(keys_.begin() + 1, keys_.end(),
                             [&](const Key& k) { return now - k.created >= 2 * period_; }),
              keys_.end());
  if (keys_.size() > 2) keys_.resize(2);
}

void TicketKeyRing::rotate(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  rotate_locked(now);
}

TicketKeyRing::KeyName TicketKeyRing::current_key_name() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.front().name;
}

int TicketKeyRing::handle_ticket(uint8_t* key_name, uint8_t* iv, EVP_CIPHER_CTX* cipher_ctx,
                                 HMAC_CTX* hmac_ctx, int encrypt) {
  const EVP_CIPHER* cipher = EVP_aes_256_cbc();
  Key key;
  int result = 1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rotate_locked(clock_());
    if (encrypt) {
      key = keys_.front();
    } else {
      auto it = std::find_if(keys_.begin(), keys_.end(), [&](const Key& k) {
        return std::memcmp(k.name.data(), key_name, k.name.size()) == 0;
      });
      if (it == keys_.end()) return 0;
      key = *it;
      result = it == keys_.begin() ? 1 : 2;
    }
  }
  bool keyed = true;
  if (encrypt) {
    std::memcpy(key_name, key.name.data(), key.name.size());
    keyed = RAND_bytes(iv, EVP_CIPHER_iv_length(cipher)) &&
            EVP_EncryptInit_ex(cipher_ctx, cipher, nullptr, key.aes_key.data(), iv);
  } else {
    keyed = EVP_DecryptInit_ex(cipher_ctx, cipher, nullptr, key.aes_key.data(), iv);
  }
  if (!keyed) {
    OPENSSL_cleanse(&key, sizeof(key));
    return -1;
  }
  keyed =
      HMAC_Init_ex(hmac_ctx, key.hmac_key.data(), key.hmac_key.size(), EVP_sha256(), nullptr);
  OPENSSL_cleanse(&key, sizeof(key));
  return keyed ? result : -1;
}

}  // namespace pharos::tls
