// The cost of the cryptography the engine's TLS handshakes and records are made of, in the
// BoringSSL build the engine links (Debian's android-libboringssl: AES-GCM, GHASH, SHA-256 and
// bignum arithmetic in assembly, P-256 and X25519 in C). It bounds what the engine can do per
// handshake: a full TLS 1.3 handshake with an ECDSA P-256 certificate and an X25519 key share
// costs the server one X25519 key pair, one X25519 shared secret and one ECDSA signature,
// whatever the rest of the engine does. To compare with the library HAProxy uses on the same
// machine: `openssl speed ecdsap256 ecdhx25519` and `openssl speed -evp aes-256-gcm`.
#include <benchmark/benchmark.h>
#include <openssl/aead.h>
#include <openssl/curve25519.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/ecdsa.h>
#include <openssl/hkdf.h>
#include <openssl/nid.h>
#include <openssl/rand.h>

#include <cstdint>
#include <vector>

namespace pharos::tls {
namespace {

// The server's signature over the handshake transcript (CertificateVerify, or TLS 1.2's
// ServerKeyExchange).
void BM_EcdsaP256Sign(benchmark::State& state) {
  bssl::UniquePtr<EC_KEY> key(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  if (!key || !EC_KEY_generate_key(key.get())) {
    state.SkipWithError("EC_KEY_generate_key failed");
    return;
  }
  uint8_t digest[32];
  RAND_bytes(digest, sizeof(digest));
  std::vector<uint8_t> signature(ECDSA_size(key.get()));
  for (auto _ : state) {
    unsigned int length = 0;
    if (!ECDSA_sign(0, digest, sizeof(digest), signature.data(), &length, key.get())) {
      state.SkipWithError("ECDSA_sign failed");
      return;
    }
    benchmark::DoNotOptimize(signature.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EcdsaP256Sign);

// The server's ephemeral X25519 key share.
void BM_X25519KeyPair(benchmark::State& state) {
  uint8_t public_value[32];
  uint8_t private_key[32];
  for (auto _ : state) {
    X25519_keypair(public_value, private_key);
    benchmark::DoNotOptimize(public_value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_X25519KeyPair);

// The shared secret from the client's key share.
void BM_X25519SharedSecret(benchmark::State& state) {
  uint8_t peer_public[32];
  uint8_t peer_private[32];
  uint8_t private_key[32];
  uint8_t own_public[32];
  X25519_keypair(peer_public, peer_private);
  X25519_keypair(own_public, private_key);
  uint8_t secret[32];
  for (auto _ : state) {
    if (!X25519(secret, private_key, peer_public)) {
      state.SkipWithError("X25519 failed");
      return;
    }
    benchmark::DoNotOptimize(secret);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_X25519SharedSecret);

// One step of the TLS 1.3 key schedule (HKDF-SHA256 extract and expand to 32 bytes); a full
// handshake runs about twenty such HMAC-based derivations.
void BM_HkdfSha256(benchmark::State& state) {
  uint8_t secret[32];
  uint8_t salt[32];
  RAND_bytes(secret, sizeof(secret));
  RAND_bytes(salt, sizeof(salt));
  static const uint8_t kInfo[] = "tls13 derived";
  uint8_t out[32];
  for (auto _ : state) {
    if (!HKDF(out, sizeof(out), EVP_sha256(), secret, sizeof(secret), salt, sizeof(salt), kInfo, sizeof(kInfo) - 1)) {
      state.SkipWithError("HKDF failed");
      return;
    }
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HkdfSha256);

// Sealing one record of state.range(0) bytes with a TLS AEAD (the nonce is not varied: this
// measures cost, it is not a use of the AEAD).
void seal_records(benchmark::State& state, const EVP_AEAD* aead) {
  std::vector<uint8_t> key(EVP_AEAD_key_length(aead));
  RAND_bytes(key.data(), key.size());
  bssl::ScopedEVP_AEAD_CTX ctx;
  if (!EVP_AEAD_CTX_init(ctx.get(), aead, key.data(), key.size(), EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr)) {
    state.SkipWithError("EVP_AEAD_CTX_init failed");
    return;
  }
  const size_t length = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> plaintext(length, 'x');
  std::vector<uint8_t> sealed(length + EVP_AEAD_max_overhead(aead));
  std::vector<uint8_t> nonce(EVP_AEAD_nonce_length(aead), 7);
  const uint8_t additional_data[13] = {0x17, 0x03, 0x03};
  for (auto _ : state) {
    size_t out_length = 0;
    if (!EVP_AEAD_CTX_seal(ctx.get(), sealed.data(), &out_length, sealed.size(), nonce.data(), nonce.size(),
                           plaintext.data(), plaintext.size(), additional_data, sizeof(additional_data))) {
      state.SkipWithError("EVP_AEAD_CTX_seal failed");
      break;
    }
    benchmark::DoNotOptimize(sealed.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(length));
}

void BM_SealAes128Gcm(benchmark::State& state) { seal_records(state, EVP_aead_aes_128_gcm()); }
void BM_SealAes256Gcm(benchmark::State& state) { seal_records(state, EVP_aead_aes_256_gcm()); }
void BM_SealChaCha20Poly1305(benchmark::State& state) { seal_records(state, EVP_aead_chacha20_poly1305()); }
// A small HTTP response and a full-size TLS record.
BENCHMARK(BM_SealAes128Gcm)->Arg(256)->Arg(16384);
BENCHMARK(BM_SealAes256Gcm)->Arg(256)->Arg(16384);
BENCHMARK(BM_SealChaCha20Poly1305)->Arg(256)->Arg(16384);

}  // namespace
}  // namespace pharos::tls
