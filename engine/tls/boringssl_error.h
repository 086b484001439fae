// BoringSSL's thread-local error queue, turned into text for TlsError messages.
#pragma once

#include <string>

#if __has_include(<openssl/is_boringssl.h>)
#include <openssl/is_boringssl.h>
#endif
#include <openssl/base.h>
#if !defined(OPENSSL_IS_BORINGSSL)
#error "engine/tls builds against BoringSSL only (android-libboringssl-dev), never OpenSSL"
#endif

namespace pharos::tls {

// The reasons queued on this thread, oldest first, joined by "; " (empty when none); clears the
// queue so a later failure does not report stale reasons.
std::string take_boringssl_errors();

// Discards queued errors, e.g. after an expected end-of-input.
void clear_boringssl_errors();

}  // namespace pharos::tls
