// Internal to the lb module: the 64-bit hash behind hash_client() and the source-hash ring.
// Its output is part of the engine's persistent behaviour (a client keeps its member across
// restarts and across engine versions), so it must never change; hash_test pins it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pharos::lb {

// A bijective 64-bit finalizer (xor-shift / multiply rounds): spreads any input over all bits.
constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Hash of a byte string, independent of the host's endianness and alignment.
uint64_t hash_bytes(const void* data, size_t size, uint64_t seed);

}  // namespace pharos::lb
