#include "amphora_agent/agent/members/member_health.h"

#include <ctime>
#include <stdexcept>

#include "amphora_agent/agent/log.h"
#include "amphora_agent/health/health_checker.h"
#include "amphora_agent/state/state_store.h"
#include "engine/config/config_types.h"

namespace pharos::agent::members {

std::string operating_status(const MemberState& m) {
  if (!m.admin_up) return "OFFLINE";
  if (!m.monitored) return "NO_MONITOR";
  return m.health == health::MemberStatus::kDown ? "ERROR" : "ONLINE";
}

std::vector<health::MemberCheck> member_checks(const config::Config& config) {
  std::vector<health::MemberCheck> checks;
  for (const config::Pool& pool : config.pools) {
    if (!pool.healthmonitor || !pool.healthmonitor->admin_state_up || !pool.admin_state_up) {
      continue;
    }
    const config::HealthMonitor& hm = *pool.healthmonitor;
    health::HealthMonitor monitor;
    if (!health::parse_monitor_type(hm.type, &monitor.type)) {
      log::warning("pool " + pool.id + ": monitor type " + hm.type + " is not supported");
      continue;
    }
    monitor.delay = std::chrono::milliseconds(uint64_t{hm.delay_s} * 1000);
    monitor.timeout = std::chrono::milliseconds(uint64_t{hm.timeout_s} * 1000);
    monitor.max_retries = hm.max_retries;
    monitor.max_retries_down = hm.max_retries_down;
    monitor.http_method = hm.http_method;
    monitor.url_path = hm.url_path;
    monitor.expected_codes = hm.expected_codes;
    monitor.http_version = hm.http_version;
    monitor.domain_name = hm.domain_name;
    for (const config::Member& member : pool.members) {
      if (!member.admin_state_up) continue;
      health::MemberCheck check;
      check.member_id = member.id;
      check.pool_id = pool.id;
      check.address = member.address.text;
      check.port = member.protocol_port;
      if (member.monitor_address) check.monitor_address = member.monitor_address->text;
      check.monitor_port = member.monitor_port;
      check.monitor = monitor;
      checks.push_back(std::move(check));
    }
  }
  return checks;
}

MemberHealth::MemberHealth(state::StateStore& store,
                           std::function<engine::ControlClient()> client)
    : store_(store), client_(std::move(client)) {}

MemberHealth::~MemberHealth() { stop(); }

std::string MemberHealth::start() {
  try {
    checker_ = std::make_unique<health::HealthChecker>(
        [this](const std::string& id, health::MemberStatus status, const std::string& reason) {
          post({id, status, reason});
        });
  } catch (const std::exception& e) {
    return std::string("cannot start the member health checker: ") + e.what();
  }
  worker_ = std::thread([this] { run(); });
  return "";
}

void MemberHealth::stop() {
  // The checker goes first: no callback runs after its destructor, so none posts to a
  // stopped worker.
  checker_.reset();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void MemberHealth::configure(const config::Config& config) {
  const std::vector<health::MemberCheck> checks = member_checks(config);
  std::map<std::string, health::MemberCheck> wanted;
  for (const auto& c : checks) wanted.emplace(c.member_id, c);
  if (checker_) {
    for (const auto& rejected : checker_->configure(checks)) {
      log::warning("member " + rejected.member_id + " cannot be checked: " + rejected.reason);
      wanted.erase(rejected.member_id);
    }
  }
  {
    std::lock_guard lock(mu_);
    std::map<std::string, MemberState> next;
    for (const config::Pool& pool : config.pools) {
      for (const config::Member& member : pool.members) {
        MemberState& m = next[member.id];
        m.pool_id = pool.id;
        m.admin_up = member.admin_state_up && pool.admin_state_up;
        auto check = wanted.find(member.id);
        m.monitored = check != wanted.end();
        // The checker keeps an unchanged entry's status and counters; so does this map.
        auto old = members_.find(member.id);
        auto old_check = checks_.find(member.id);
        if (m.monitored && old != members_.end() && old_check != checks_.end() &&
            old_check->second == check->second) {
          m.health = old->second.health;
          m.changed_at = old->second.changed_at;
        }
      }
    }
    members_ = std::move(next);
    checks_ = std::move(wanted);
    inbox_.push_back(Event{});  // record everything and push it to the engine
  }
  cv_.notify_all();
}

std::map<std::string, MemberState> MemberHealth::members() const {
  std::lock_guard lock(mu_);
  return members_;
}

void MemberHealth::post(Event event) {
  {
    std::lock_guard lock(mu_);
    inbox_.push_back(std::move(event));
  }
  cv_.notify_all();
}

void MemberHealth::run() {
  for (;;) {
    Event event;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !inbox_.empty(); });
      if (stopping_) return;
      event = std::move(inbox_.front());
      inbox_.pop_front();
    }
    if (event.member_id.empty()) {
      push_all();
    } else {
      handle(event);
    }
  }
}

void MemberHealth::handle(const Event& event) {
  const int64_t now = std::time(nullptr);
  MemberState state;
  {
    std::lock_guard lock(mu_);
    auto it = members_.find(event.member_id);
    // A decision for a member the config has just dropped or unmonitored is stale.
    if (it == members_.end() || !it->second.monitored) return;
    it->second.health = event.status;
    it->second.changed_at = now;
    state = it->second;
  }
  const bool down = event.status == health::MemberStatus::kDown;
  log::info("member " + event.member_id + " is " + (down ? "DOWN" : "UP") + ": " + event.reason);
  const auto reply = client_().call({{"command", "set_member_status"},
                                     {"member_id", event.member_id},
                                     {"status", down ? "DOWN" : "UP"}});
  if (!reply.ok()) {
    // A restarted engine gets every status again through configure(); nothing to retry here.
    log::warning("cannot set member " + event.member_id + " status in the engine (" +
                 engine::to_string(reply.errc) + "): " + reply.message);
  }
  if (auto s = store_.set_member_status(event.member_id, operating_status(state), now); !s) {
    log::error("cannot record member health: " + s.error().message);
  }
}

void MemberHealth::push_all() {
  const std::map<std::string, MemberState> members = this->members();
  const int64_t now = std::time(nullptr);
  std::vector<std::string> ids;
  const auto client = client_();
  for (const auto& [id, m] : members) {
    ids.push_back(id);
    if (auto s = store_.set_member_status(id, operating_status(m), now); !s) {
      log::error("cannot record member health: " + s.error().message);
    }
    if (!m.admin_up) continue;  // the engine leaves admin-down members alone
    // Unmonitored members are UP too: a monitor removed from a pool must not leave a member
    // DOWN in the engine.
    const bool down = m.monitored && m.health == health::MemberStatus::kDown;
    const auto reply = client.call(
        {{"command", "set_member_status"}, {"member_id", id}, {"status", down ? "DOWN" : "UP"}});
    if (!reply.ok()) {
      log::warning("cannot set member " + id + " status in the engine (" +
                   engine::to_string(reply.errc) + "): " + reply.message);
    }
  }
  if (auto s = store_.retain_members(ids); !s) {
    log::error("cannot forget removed members: " + s.error().message);
  }
}

}  // namespace pharos::agent::members
