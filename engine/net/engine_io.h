// A connection's socket moved onto the engine's own I/O paths, both ways: what each loop turn
// writes leaves with one send at its end (WriteCoalescer::adopt), and reads are one recv each
// (read_directly). Every socket the engine proxies goes through here, so none gets one half.
#pragma once

#include "engine/net/socket_reader.h"
#include "engine/net/write_coalescer.h"

namespace pharos::net {

// `bev`: a connected socket bufferevent or a TLS bufferevent over one (see both contracts).
inline void use_engine_io(WriteCoalescer& coalescer, bufferevent* bev) {
  coalescer.adopt(bev);
  read_directly(bev);
}

}  // namespace pharos::net
