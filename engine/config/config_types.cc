#include "engine/config/config_types.h"

namespace pharos::config {

const Pool* Config::find_pool(const std::string& id) const {
  for (const auto& pool : pools) {
    if (pool.id == id) return &pool;
  }
  return nullptr;
}

}  // namespace pharos::config
