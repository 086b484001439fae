#include "traffic_generator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pharos::log_reducer::bench {
namespace {

using records::RecordKind;
using records::Termination;
using records::TransactionRecord;

std::vector<double> zipf_cdf(size_t n, double s) {
  std::vector<double> cdf(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) cdf[i] = sum += 1.0 / std::pow(static_cast<double>(i + 1), s);
  for (double& c : cdf) c /= sum;
  return cdf;
}

struct Weighted {
  const char* value;
  double weight;
};

// Browsers, mobile apps, bots and tools, roughly as a public web service sees them.
constexpr Weighted kUserAgents[] = {
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36", 0.34},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", 0.2},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.1 Safari/605.1.15", 0.1},
    {"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", 0.08},
    {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.6099.144 Mobile Safari/537.36", 0.12},
    {"okhttp/4.12.0", 0.07},
    {"python-requests/2.31.0", 0.04},
    {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 0.03},
    {"curl/8.4.0", 0.02},
};

constexpr Weighted kMethods[] = {{"GET", 0.78}, {"POST", 0.12}, {"PUT", 0.03},
                                 {"DELETE", 0.02}, {"HEAD", 0.03}, {"OPTIONS", 0.02}};

template <size_t N>
const char* pick(const Weighted (&table)[N], double u) {
  for (const Weighted& w : table) {
    if (u < w.weight) return w.value;
    u -= w.weight;
  }
  return table[N - 1].value;
}

}  // namespace

TrafficGenerator::TrafficGenerator(const TrafficMix& mix)
    : mix_(mix), state_(mix.seed), now_us_(static_cast<double>(mix.start_unix_us)) {
  // Five listeners: a TLS storefront, a TLS API, an internal HTTP service, a slow reporting
  // backend, and a TCP (database-style) listener whose totals are connection lifetimes.
  struct Spec {
    const char* host;
    bool tls, tcp;
    int members;
    double share, median_ms;
  };
  const Spec specs[] = {{"shop.example.com", true, false, 6, 0.40, 22},
                        {"api.example.com", true, false, 5, 0.25, 35},
                        {"catalog.internal", false, false, 4, 0.15, 8},
                        {"reports.example.com", false, false, 3, 0.15, 120},
                        {"", false, true, 3, 0.05, 2500}};
  for (const Spec& s : specs) {
    Listener l{uuid(), uuid(), {}, s.host, s.tls, s.tcp, s.share, s.median_ms * 1000};
    for (int m = 0; m < s.members; ++m) l.members.push_back(uuid());
    listeners_.push_back(std::move(l));
  }

  // Thousands of paths, Zipf-popular: product pages, API resources, static assets, searches.
  char buf[160];
  for (int i = 0; i < 6000; ++i) {
    const uint64_t id = 10000 + u64() % 900000;
    switch (i % 6) {
      case 0: std::snprintf(buf, sizeof buf, "/products/%llu/%s", (unsigned long long)id,
                            i % 12 ? "details" : "reviews?page=2"); break;
      case 1: std::snprintf(buf, sizeof buf, "/api/v2/users/%llu/orders?limit=20",
                            (unsigned long long)id); break;
      case 2: std::snprintf(buf, sizeof buf, "/static/js/chunk.%08llx.js",
                            (unsigned long long)(u64() & 0xffffffff)); break;
      case 3: std::snprintf(buf, sizeof buf, "/images/catalog/%llu_800x600.webp",
                            (unsigned long long)id); break;
      case 4: std::snprintf(buf, sizeof buf, "/search?q=item%llu&sort=price&page=%d",
                            (unsigned long long)(id % 5000), static_cast<int>(i % 5 + 1)); break;
      default: std::snprintf(buf, sizeof buf, "/api/v2/cart/%016llx/items",
                             (unsigned long long)u64()); break;
    }
    paths_.push_back(buf);
  }
  paths_[0] = "/";
  paths_[1] = "/healthz";
  path_cdf_ = zipf_cdf(paths_.size(), 1.05);

  for (int i = 0; i < 20000; ++i) {
    if (i % 5 == 0) {
      std::snprintf(buf, sizeof buf, "2001:db8:%x:%x::%x", static_cast<unsigned>(u64() % 65536),
                    static_cast<unsigned>(u64() % 65536), static_cast<unsigned>(u64() % 65536));
    } else {
      std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", static_cast<unsigned>(1 + u64() % 223),
                    static_cast<unsigned>(u64() % 256), static_cast<unsigned>(u64() % 256),
                    static_cast<unsigned>(1 + u64() % 254));
    }
    clients_.push_back(buf);
  }
  client_cdf_ = zipf_cdf(clients_.size(), 0.9);
}

uint64_t TrafficGenerator::u64() {  // splitmix64: tiny, fast, same stream on every platform
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double TrafficGenerator::uniform() { return (u64() >> 11) * 0x1.0p-53; }

double TrafficGenerator::normal() {
  const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

size_t TrafficGenerator::zipf(const std::vector<double>& cdf) {
  return static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), uniform()) - cdf.begin()) %
         cdf.size();
}

std::string TrafficGenerator::uuid() {
  const uint64_t a = u64(), b = u64();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

void TrafficGenerator::next(TransactionRecord* r) {
  now_us_ += -std::log(std::max(uniform(), 1e-300)) * 1e6 / mix_.requests_per_second;
  double u = uniform();
  size_t li = 0;
  while (li + 1 < listeners_.size() && u >= listeners_[li].share) u -= listeners_[li++].share;
  const Listener& l = listeners_[li];

  *r = TransactionRecord{};
  r->kind = l.tcp ? RecordKind::kTcp : RecordKind::kHttp;
  r->start_unix_us = static_cast<uint64_t>(now_us_);
  r->listener_id = l.id;
  r->pool_id = l.pool_id;
  r->member_id = l.members[u64() % l.members.size()];
  r->client_address = clients_[zipf(client_cdf_)];
  r->client_port = static_cast<uint16_t>(32768 + u64() % 28000);
  r->client_rtt_us = static_cast<uint32_t>(std::exp(std::log(15000.0) + 0.9 * normal()));

  // Latency: log-normal body with a Pareto heavy tail.
  double total = l.median_total_us * std::exp((l.tcp ? 1.2 : 0.6) * normal());
  if (uniform() < mix_.heavy_tail_fraction) {
    total = 250'000.0 / std::pow(std::max(uniform(), 1e-9), 1 / 1.5);
  }
  r->total_us = static_cast<uint32_t>(std::min(total, 3.0e9));
  r->connect_us = uniform() < 0.25 ? static_cast<uint32_t>(300 + u64() % 700) : 0;
  r->ttfb_us = static_cast<uint32_t>(r->total_us * (0.6 + 0.35 * uniform()));
  r->transfer_us = r->total_us > r->ttfb_us + r->connect_us
                       ? r->total_us - r->ttfb_us - r->connect_us : 0;

  last_error_ = uniform() < mix_.error_rate;
  if (l.tcp) {
    r->bytes_in = static_cast<uint64_t>(std::exp(std::log(4000.0) + 1.5 * normal()));
    r->bytes_out = static_cast<uint64_t>(std::exp(std::log(40000.0) + 1.8 * normal()));
    r->ttfb_us = 0;
    if (last_error_) {
      const Termination t[] = {Termination::kClientReset, Termination::kMemberReset,
                               Termination::kConnectFailed, Termination::kClientTimeout};
      r->termination = t[u64() % 4];
    }
    return;
  }

  r->method = pick(kMethods, uniform());
  r->host = l.host;
  if (l.tls) r->sni = l.host;
  r->path = paths_[zipf(path_cdf_)];
  r->user_agent = pick(kUserAgents, uniform());
  const bool has_body = r->method == "POST" || r->method == "PUT";
  r->bytes_in = 350 + u64() % 600 +
                (has_body ? static_cast<uint64_t>(std::exp(std::log(2000.0) + normal())) : 0);
  r->bytes_out = static_cast<uint64_t>(std::exp(std::log(6000.0) + 1.5 * normal())) + 250;
  const double s = uniform();
  r->status = s < 0.05 ? 304 : s < 0.08 ? 302 : has_body ? 201 : 200;
  if (r->status == 304 || r->method == "HEAD") r->bytes_out = 250 + u64() % 100;
  if (!last_error_) return;

  const double e = uniform();
  if (e < 0.45) {  // client errors
    const uint16_t codes[] = {404, 404, 404, 403, 401, 429, 400};
    r->status = codes[u64() % 7];
    if (r->status == 400) r->termination = Termination::kBadRequest;
    r->bytes_out = 300 + u64() % 400;
  } else if (e < 0.85) {  // member errors
    const uint16_t codes[] = {500, 502, 503, 504};
    r->status = codes[u64() % 4];
    if (r->status == 502) r->termination = Termination::kMemberReset;
    if (r->status == 504) {
      r->termination = Termination::kMemberTimeout;
      r->total_us = 30'000'000 + static_cast<uint32_t>(u64() % 1000);
    }
    if (r->status == 503 && uniform() < 0.5) {
      r->termination = Termination::kConnectFailed;
      r->ttfb_us = 0;
    }
    r->bytes_out = 200 + u64() % 300;
  } else {  // client went away mid-response
    r->termination = Termination::kClientReset;
    r->bytes_out /= 3;
  }
}

}  // namespace pharos::log_reducer::bench
