"""The result table: one row per metric, engine, HAProxy, engine/HAProxy, and the goals."""

import statistics

# Targets the project states for the engine against HAProxy.
GOAL_KEEPALIVE_RPS = 1.3
GOAL_NEW_CONNECTION_RPS = 1.2
GOAL_IDLE_BYTES = 4096


def _median(runs, proxy, case, field):
    values = [run[field] for run in runs if run["proxy"] == proxy and run["case"] == case]
    return statistics.median(values) if values else float("nan")


def _ratio(engine, haproxy):
    return engine / haproxy if haproxy else float("nan")


def _paired_ratio(runs, case, value):
    """Median over rounds of engine/HAProxy within the same round (the two ran back to back)."""
    ratios = []
    for round_index in sorted({run["round"] for run in runs if run["case"] == case}):
        pair = {run["proxy"]: value(run) for run in runs if run["case"] == case and run["round"] == round_index}
        if "engine" in pair and "haproxy" in pair and pair["haproxy"]:
            ratios.append(pair["engine"] / pair["haproxy"])
    return statistics.median(ratios) if ratios else None


def render(cases, runs, peak_kib, idle, problems, header, commands):
    rows = []  # (metric, better, engine, haproxy, format, paired ratio or None)

    def add(metric, better, engine, haproxy, fmt, paired=None):
        rows.append((metric, better, engine, haproxy, fmt, paired))

    medians = {}
    for key, title, _listener, _close in cases:
        m = {field: {p: _median(runs, p, key, field) for p in ("engine", "haproxy")}
             for field in ("rps", "p50_us", "p99_us", "cpu")}
        medians[key] = m
        def paired(value):
            return _paired_ratio(runs, key, value)

        add(f"{title}: requests/s", "higher", m["rps"]["engine"], m["rps"]["haproxy"], "{:.0f}",
            paired(lambda r: r["rps"]))
        add(f"{title}: latency p50 (ms)", "lower", m["p50_us"]["engine"] / 1000, m["p50_us"]["haproxy"] / 1000, "{:.3f}",
            paired(lambda r: r["p50_us"]))
        add(f"{title}: latency p99 (ms)", "lower", m["p99_us"]["engine"] / 1000, m["p99_us"]["haproxy"] / 1000, "{:.3f}",
            paired(lambda r: r["p99_us"]))
        add(f"{title}: proxy CPU (% of one core)", "-", m["cpu"]["engine"] * 100, m["cpu"]["haproxy"] * 100, "{:.1f}",
            paired(lambda r: r["cpu"]))
        add(f"{title}: requests per proxy CPU-second", "higher",
            m["rps"]["engine"] / m["cpu"]["engine"], m["rps"]["haproxy"] / m["cpu"]["haproxy"], "{:.0f}",
            paired(lambda r: r["rps"] / r["cpu"]))
    add("Peak RSS over the load phase, VmHWM (KiB)", "lower", peak_kib["engine"], peak_kib["haproxy"], "{:.0f}")
    per_conn = {}
    for proxy in ("engine", "haproxy"):
        sample = idle[proxy]
        per_conn[proxy] = (sample["rss_after_kib"] - sample["rss_before_kib"]) * 1024 / sample["connections"]
    n = idle["engine"]["connections"]
    add(f"RSS before {n} idle keep-alive connections (KiB)", "lower",
        idle["engine"]["rss_before_kib"], idle["haproxy"]["rss_before_kib"], "{:.0f}")
    add(f"RSS with {n} idle keep-alive connections (KiB)", "lower",
        idle["engine"]["rss_after_kib"], idle["haproxy"]["rss_after_kib"], "{:.0f}")
    add("Memory per idle keep-alive connection (bytes)", "lower", per_conn["engine"], per_conn["haproxy"], "{:.0f}")

    lines = ["Pharos engine vs HAProxy: load harness (benchmarks/load/run.sh)", ""]
    width = max(len(k) for k in header)
    lines += [f"{k + ':':{width + 1}s} {v}" for k, v in header.items()]
    lines.append("")
    mwidth = max(len(r[0]) for r in rows)
    lines.append("engine and haproxy: medians over the rounds; engine/haproxy: ratio of those medians;")
    lines.append("paired: median over rounds of the ratio within one round (the two ran back to back).")
    lines.append("")
    lines.append(f"{'metric':{mwidth}s}  {'better':6s}  {'engine':>10s}  {'haproxy':>10s}  {'engine/haproxy':>14s}  {'paired':>6s}")
    lines.append("-" * (mwidth + 56))
    for metric, better, engine, haproxy, fmt, pair in rows:
        pair_text = f"{pair:.2f}" if pair is not None else "-"
        lines.append(f"{metric:{mwidth}s}  {better:6s}  {fmt.format(engine):>10s}  {fmt.format(haproxy):>10s}  "
                     f"{_ratio(engine, haproxy):14.2f}  {pair_text:>6s}")
    lines.append("")
    lines.append("Idle connection detail (open fds of the proxy before/after; responses per member):")
    for proxy in ("engine", "haproxy"):
        s = idle[proxy]
        lines.append(f"  {proxy:7s} fds {s['fds_before']} -> {s['fds_after']}, members {s['members']}")

    lines.append("")
    lines.append("Goals (engine against HAProxy):")

    def goal(text, met):
        lines.append(f"  [{'met' if met else 'NOT MET'}] {text}")

    ka, close = medians.get("http-ka"), medians.get("http-close")
    if ka:
        r = _ratio(ka["rps"]["engine"], ka["rps"]["haproxy"])
        goal(f"keep-alive requests/s >= {GOAL_KEEPALIVE_RPS}x HAProxy: {r:.2f}x", r >= GOAL_KEEPALIVE_RPS)
    if close:
        r = _ratio(close["rps"]["engine"], close["rps"]["haproxy"])
        goal(f"new-connection requests/s >= {GOAL_NEW_CONNECTION_RPS}x HAProxy: {r:.2f}x", r >= GOAL_NEW_CONNECTION_RPS)
    for key, m in (("keep-alive", ka), ("new connection", close)):
        if m:
            r = _ratio(m["p99_us"]["engine"], m["p99_us"]["haproxy"])
            goal(f"p99 no worse than HAProxy ({key}): {r:.2f}x", r <= 1.0)
    goal(f"memory per idle keep-alive connection <= {GOAL_IDLE_BYTES} bytes: {per_conn['engine']:.0f} bytes",
         per_conn["engine"] <= GOAL_IDLE_BYTES)

    lines.append("")
    lines.append("Every recorded run (load average = 1/5/15 min before the run):")
    for run in runs:
        lines.append(f"  round {run['round']} {run['case']:10s} {run['proxy']:7s} load {run['loadavg']:15s} "
                     f"{run['rps']:10.0f} req/s  p50 {run['p50_us'] / 1000:7.3f} ms  p99 {run['p99_us'] / 1000:7.3f} ms  "
                     f"cpu {run['cpu'] * 100:5.1f}%  errors: {', '.join(run['errors']) or 'none'}")
    lines.append("")
    commands_and_checks(lines, commands, problems,
                        heading="Commands (PORT and P stand for free ports picked per run; the two configs are "
                                "copied to\nbenchmarks/load/results/engine.json and haproxy.cfg):",
                        checks="every wrk run had 0 socket errors and 0 non-2xx/3xx responses; both members "
                               "answered through every listener.")
    return "\n".join(lines) + "\n"


def commands_and_checks(lines, commands, problems, heading, checks):
    """The report's tail, both suites: the commands run, then the errors or what was checked."""
    lines.append(heading)
    for name, command in commands.items():
        lines.append(f"  {name}: {command}")
    lines.append("")
    lines.append("ERRORS: " + "; ".join(problems) if problems else "Checks: " + checks)
