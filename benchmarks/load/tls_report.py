"""The TLS suite's table: metric, engine, HAProxy, engine/HAProxy, and what limited each number."""

import math
import statistics

import report

# Targets the project states for the engine against HAProxy (the TLS/HTTP/2 issue).
GOAL_TLS_KEEPALIVE = 1.3
GOAL_H2 = 1.3
GOAL_FULL_HANDSHAKES = 2.0
# A CPU this busy over a run counts as saturated.
SATURATED = 0.90

PROXIES = ("engine", "haproxy")


def limit_of(run) -> str:
    """What capped one run: the proxy's core, the load core, or neither.

    The load core counts as the client side's when the clients and members themselves kept it
    busy; when it was busy with work this harness did not start (a shared machine), it says so.
    """
    ours = run["client_cpu"] + run["members_cpu"]
    others_proxy_cpu = max(0.0, run["proxy_cpu_busy"] - run["proxy_cpu"]) * 100
    others_load_cpu = max(0.0, run["load_cpu_busy"] - ours) * 100
    if run["proxy_cpu"] >= SATURATED:
        return "proxy CPU"
    if ours >= SATURATED:
        return "client side (load CPU saturated by clients + members)"
    if run["proxy_cpu_busy"] >= SATURATED and run["load_cpu_busy"] >= SATURATED:
        return (f"both CPUs saturated, partly by other processes on the machine "
                f"({others_proxy_cpu:.0f}% of the proxy's, {others_load_cpu:.0f}% of the load's)")
    if run["proxy_cpu_busy"] >= SATURATED:
        return f"proxy CPU (shared: {others_proxy_cpu:.0f}% of it by other processes on the machine)"
    if run["load_cpu_busy"] >= SATURATED:
        return f"client side (load CPU saturated, {others_load_cpu:.0f}% of it by other processes on the machine)"
    return "neither CPU saturated (latency/concurrency)"


def run_line(run, load_cpu) -> str:
    extra = f" reused {run['reused']}/{run['handshakes']}" if "reused" in run else ""
    return (f"round {run['round']} {run['case']:16s} {run['proxy']:7s} load {run['loadavg']:15s} "
            f"{run['rate']:10.0f}/s  proxy {run['proxy_cpu'] * 100:5.1f}%  client {run['client_cpu'] * 100:5.1f}%  "
            f"members {run['members_cpu'] * 100:4.1f}%  CPU{load_cpu} busy {run['load_cpu_busy'] * 100:5.1f}%"
            f"{extra}  [{run['limit']}]  errors: {', '.join(run['errors']) or 'none'}")


def _median(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else None


def _fmt(value, fmt):
    return "n/a" if value is None else fmt.format(value)


def _ratio(engine, haproxy):
    return engine / haproxy if engine is not None and haproxy else None


def render(cases, runs, header, commands, negotiated, engine_notes, problems, load_cpu):
    rows = []      # dicts: case, metric, better, engine, haproxy, ratio, paired, fmt
    limits = {}    # case -> proxy -> text
    summary = {}   # case -> proxy -> {rate, per_cpu_s}

    for key, title, kind, _params in cases:
        by_proxy = {p: [r for r in runs if r["case"] == key and r["proxy"] == p] for p in PROXIES}

        def add(metric, better, value, fmt):
            engine = _median([value(r) for r in by_proxy["engine"]])
            haproxy = _median([value(r) for r in by_proxy["haproxy"]])
            paired = []
            for round_index in sorted({r["round"] for r in by_proxy["engine"]}):
                pair = {r["proxy"]: value(r) for r in runs if r["case"] == key and r["round"] == round_index}
                if pair.get("engine") is not None and pair.get("haproxy"):
                    paired.append(pair["engine"] / pair["haproxy"])
            rows.append({"case": key, "metric": f"{title}: {metric}", "better": better, "engine": engine,
                         "haproxy": haproxy, "ratio": _ratio(engine, haproxy), "paired": _median(paired),
                         "fmt": fmt})
            return engine, haproxy

        unit = "handshakes/s" if kind == "handshake" else "requests/s"
        rate = add(unit, "higher", lambda r: r["rate"], "{:.0f}")
        if kind == "wrk":
            add("latency p50 (ms)", "lower", lambda r: r["p50_us"] / 1000, "{:.2f}")
            add("latency p99 (ms)", "lower", lambda r: r["p99_us"] / 1000, "{:.2f}")
        if kind == "h2load":
            add("mean request time (ms)", "lower", lambda r: r["mean_us"] / 1000, "{:.2f}")
        add("proxy CPU (% of one core)", "-", lambda r: r["proxy_cpu"] * 100, "{:.1f}")
        per_cpu = add(f"{unit.split('/')[0]} per proxy CPU-second", "higher",
                      lambda r: r["rate"] / r["proxy_cpu"] if r["proxy_cpu"] else None, "{:.0f}")
        # Where a proxy's CPU goes: its own code and libraries (user) or the kernel (system).
        one = unit.split("/")[0].rstrip("s")
        for part in ("user", "system"):
            add(f"proxy {part} CPU per {one} (us)", "lower",
                lambda r, part=part: r[f"proxy_{part}"] / r["rate"] * 1e6 if r["rate"] else None, "{:.1f}")
        add(f"client CPU (% of one core; CPU {load_cpu} holds it)", "-", lambda r: r["client_cpu"] * 100, "{:.1f}")
        add(f"members CPU (% of one core)", "-", lambda r: r["members_cpu"] * 100, "{:.1f}")
        add(f"CPU {load_cpu} busy, all processes on the machine (%)", "-", lambda r: r["load_cpu_busy"] * 100, "{:.1f}")
        summary[key] = {p: {"rate": rate[i], "per_cpu_s": per_cpu[i]} for i, p in enumerate(PROXIES)}
        limits[key] = {}
        for proxy in PROXIES:
            seen = [r["limit"] for r in by_proxy[proxy]]
            limits[key][proxy] = max(set(seen), key=seen.count) if seen else "not run"

    lines = ["Pharos engine vs HAProxy: TLS and HTTP/2 (benchmarks/load/run.sh --tls)", ""]
    width = max(len(k) for k in header)
    lines += [f"{k + ':':{width + 1}s} {v}" for k, v in header.items()]
    lines.append("")
    for note in engine_notes:
        lines.append(f"NOTE {note}; its columns say n/a.")
    if engine_notes:
        lines.append("")
    lines.append("What each proxy negotiated (probe before the load: offer h2,http/1.1 and http/1.1 only):")
    for proxy in PROXIES:
        for listener, found in negotiated.get(proxy, {}).items():
            lines.append(f"  {proxy:7s} {listener:5s} {found}")
    lines.append("")
    lines.append("engine and haproxy: medians over the rounds; engine/haproxy: ratio of those medians;")
    lines.append("paired: median over rounds of the ratio within one round (the two ran back to back).")
    lines.append("")
    mwidth = max(len(r["metric"]) for r in rows) if rows else 20
    lines.append(f"{'metric':{mwidth}s}  {'better':6s}  {'engine':>10s}  {'haproxy':>10s}  {'engine/haproxy':>14s}  {'paired':>6s}")
    lines.append("-" * (mwidth + 56))
    for row in rows:
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        paired = "-" if row["paired"] is None else f"{row['paired']:.2f}"
        lines.append(f"{row['metric']:{mwidth}s}  {row['better']:6s}  {_fmt(row['engine'], row['fmt']):>10s}  "
                     f"{_fmt(row['haproxy'], row['fmt']):>10s}  {ratio:>14s}  {paired:>6s}")
    lines.append("")
    lines.append(f"What limited each number (a CPU counts as saturated at >= {SATURATED * 100:.0f}% busy; "
                 "when the client side saturates first, requests/s understates the proxy and")
    lines.append("'per proxy CPU-second' is the figure a proxy-bound run would show):")
    for key, title, _kind, _params in cases:
        lines.append(f"  {title}: engine: {limits[key]['engine']}; haproxy: {limits[key]['haproxy']}")

    goals = []
    lines.append("")
    lines.append("Goals (engine against HAProxy):")

    def goal(text, key, target):
        engine, haproxy = summary[key]["engine"], summary[key]["haproxy"]
        if engine["rate"] is None:
            entry = {"goal": text, "target": target, "status": "not measured", "why": "engine did not run this case"}
            lines.append(f"  [not measured] {text} >= {target}x: the engine did not run this case")
        else:
            ratio = _ratio(engine["rate"], haproxy["rate"])
            cpu_ratio = _ratio(engine["per_cpu_s"], haproxy["per_cpu_s"])
            client_bound = any(not limits[key][p].startswith("proxy CPU") for p in PROXIES)
            # When a run was capped by the client side, the per-CPU-second ratio is the fair one.
            decisive = cpu_ratio if client_bound else ratio
            status = "met" if decisive is not None and decisive >= target else "NOT MET"
            entry = {"goal": text, "target": target, "status": status, "rate_ratio": ratio,
                     "per_proxy_cpu_second_ratio": cpu_ratio, "client_bound": client_bound}
            lines.append(f"  [{status}] {text} >= {target}x: {ratio:.2f}x by rate, {cpu_ratio:.2f}x per proxy "
                         f"CPU-second" + (" (not every run was proxy-bound: judged per CPU-second)" if client_bound else ""))
        goals.append(entry)

    keys = [case[0] for case in cases]
    if "tls-ka" in keys:
        goal("TLS keep-alive requests/s", "tls-ka", GOAL_TLS_KEEPALIVE)
    for key in keys:
        if key.startswith("h2-tls") or key.startswith("h2c"):
            goal(f"HTTP/2 requests/s ({key})", key, GOAL_H2)
    for key in keys:
        if key.startswith("hs-full"):
            goal(f"new full handshakes/s ({key})", key, GOAL_FULL_HANDSHAKES)

    lines.append("")
    lines.append("Every recorded run (load average = 1/5/15 min before the run):")
    for run in runs:
        lines.append("  " + run_line(run, load_cpu))
    lines.append("")
    report.commands_and_checks(
        lines, commands, problems,
        heading="Commands (PORT: a free port picked per run; configs in benchmarks/load/results/engine-tls.json "
                "and haproxy-tls.cfg):",
        checks="no client reported errors; every handshake run negotiated the TLS version it pinned; resumed "
               "runs resumed >= 95% of handshakes; h2load negotiated h2 / h2c; both proxies served the generated "
               "certificate and reached both members.")
    text = "\n".join(lines) + "\n"
    data = {"header": header, "engine_notes": engine_notes, "negotiated": negotiated,
            "rows": [{k: v for k, v in row.items() if k != "fmt"} for row in rows],
            "limits": limits, "goals": goals, "runs": runs, "commands": commands, "problems": problems}
    return {"text": text, "json": _json_safe(data)}


def _json_safe(value):
    """NaN (a figure a run could not give) becomes null, so the file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
