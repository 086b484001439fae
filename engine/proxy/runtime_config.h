// The proxy's run-time view of one validated config: immutable, shared by every worker, with
// resolved socket addresses, stats handles and member states. Replaced whole on config apply.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config_types.h"
#include "engine/lb/balancer.h"
#include "engine/proxy/member_state.h"
#include "engine/stats/stats.h"

namespace pharos::l7 {
class PolicyTable;
}

namespace pharos::persistence {
class StickTable;
class StickTableRegistry;
}

namespace pharos::tls {
class ServerTlsContext;
class ClientTlsContext;
}

namespace pharos::proxy {

struct MemberRuntime {
  const config::Member* config = nullptr;
  sockaddr_storage address{};
  socklen_t address_length = 0;
  std::string endpoint_key;  // "address|port": idle connections are pooled per endpoint
  std::shared_ptr<MemberRuntimeState> state;
  std::shared_ptr<stats::MemberStats> stats;

  // Whether this member may take a new connection right now.
  bool eligible() const {
    return config->admin_state_up && config->weight > 0 &&
           state->status.load(std::memory_order_relaxed) == MemberStatus::kUp;
  }
};

struct PoolRuntime {
  const config::Pool* config = nullptr;
  std::vector<MemberRuntime> members;
  std::vector<lb::MemberSpec> specs;  // same order as members, for building balancers
  std::shared_ptr<const tls::ClientTlsContext> tls;  // re-encryption to members; null: clear
  // Session persistence (set only when the pool has it): SOURCE_IP and APP_COOKIE entries, and
  // member indexes by id for following a sticky entry or cookie back to its member.
  std::shared_ptr<persistence::StickTable> stick_table;
  std::map<std::string, int, std::less<>> member_indexes;

  // Index of the member with that id, or -1.
  int member_index(std::string_view member_id) const {
    auto it = member_indexes.find(member_id);
    return it == member_indexes.end() ? -1 : it->second;
  }
};

struct ListenerRuntime {
  const config::Listener* config = nullptr;
  int default_pool = -1;  // index into Snapshot::pools; -1: none
  std::string socket_key;  // "address|port"
  std::string port_text;   // for X-Forwarded-Port
  std::shared_ptr<stats::ListenerStats> stats;
  std::shared_ptr<const tls::ServerTlsContext> tls;  // TERMINATED_HTTPS only
  std::string hsts_value;  // Strict-Transport-Security value; empty: none
  std::shared_ptr<const l7::PolicyTable> l7;  // null: no L7 policy can match (the default pool)
};

struct Snapshot {
  std::shared_ptr<const config::Config> config;
  std::vector<ListenerRuntime> listeners;  // only listeners with admin_state_up
  std::vector<PoolRuntime> pools;

  const ListenerRuntime* find_listener(const std::string& socket_key) const;
};

// The TLS contexts of one config, built before it is applied: one entry per config listener and
// per config pool, null where there is no TLS. Empty vectors: no TLS anywhere.
struct SnapshotTls {
  std::vector<std::shared_ptr<const tls::ServerTlsContext>> listeners;
  std::vector<std::shared_ptr<const tls::ClientTlsContext>> pools;
};

// Builds the snapshot for a validated config, registering stats and member states by id.
std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> config,
                                               stats::StatsRegistry& stats,
                                               MemberStatusRegistry& member_states,
                                               persistence::StickTableRegistry& stick_tables,
                                               const SnapshotTls& tls = {});

std::string socket_key(const config::IpAddress& address, uint16_t port);

}  // namespace pharos::proxy
