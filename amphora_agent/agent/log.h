// Line-oriented logging to stderr (journald adds time and unit). Thread-safe.
#pragma once

#include <string_view>

namespace pharos::agent::log {

void info(std::string_view message);
void warning(std::string_view message);
void error(std::string_view message);

}  // namespace pharos::agent::log
