// Ports for test listeners. A port found by binding port 0 and closing the socket lies in the
// kernel's ephemeral range, so any later port-0 bind or outgoing connection (another server the
// test starts, a parallel test) can take it before the test binds it. These ports come from below
// that range instead, at random, never the same one twice in a process, and only if bindable now.
#pragma once

#include <cstdint>

namespace pharos::testing {

// A TCP port on `address` (an IPv4 or IPv6 literal) that was free when checked; 0 if none found
// or the address cannot be bound at all.
uint16_t free_port(const char* address = "127.0.0.1");

}  // namespace pharos::testing
