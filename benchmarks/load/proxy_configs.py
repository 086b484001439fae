"""Equivalent configurations for the two proxies under test.

Both get the same members, the same balancing (round robin), the same timeouts, one worker
thread, no logging and no inserted headers, so the comparison is about the data path only.
"""

import json
from dataclasses import dataclass

# Octavia's defaults, in milliseconds, used on both sides.
TIMEOUT_CONNECT_MS = 5000
TIMEOUT_DATA_MS = 50000


@dataclass(frozen=True)
class Ports:
    members: tuple  # (port, port): the two pharos-demo-backend members
    http: int       # HTTP listener of the proxy
    tcp: int        # TCP listener of the proxy


def engine_config(ports: Ports) -> dict:
    """One HTTP and one TCP listener, each with its own ROUND_ROBIN pool over both members."""

    def pool(pool_id, name, protocol):
        return {
            "id": pool_id,
            "name": name,
            "protocol": protocol,
            "lb_algorithm": "ROUND_ROBIN",
            "admin_state_up": True,
            "members": [
                {
                    "id": f"{pool_id}-m{i}",
                    "name": f"member-{i}",
                    "address": "127.0.0.1",
                    "protocol_port": port,
                    "weight": 1,
                    "admin_state_up": True,
                }
                for i, port in enumerate(ports.members, start=1)
            ],
        }

    def listener(listener_id, name, protocol, port, pool_id):
        return {
            "id": listener_id,
            "name": name,
            "protocol": protocol,
            "bind_address": "127.0.0.1",
            "protocol_port": port,
            "admin_state_up": True,
            "connection_limit": -1,
            "timeout_client_data": TIMEOUT_DATA_MS,
            "timeout_member_connect": TIMEOUT_CONNECT_MS,
            "timeout_member_data": TIMEOUT_DATA_MS,
            "default_pool_id": pool_id,
        }

    return {
        "version": 1,
        "workers": 1,
        "listeners": [
            listener("bench-http", "bench-http", "HTTP", ports.http, "bench-http-pool"),
            listener("bench-tcp", "bench-tcp", "TCP", ports.tcp, "bench-tcp-pool"),
        ],
        "pools": [
            pool("bench-http-pool", "bench-http-pool", "HTTP"),
            pool("bench-tcp-pool", "bench-tcp-pool", "TCP"),
        ],
    }


def haproxy_defaults(maxconn: int) -> str:
    """HAProxy's defaults section for both suites: the engine's timeouts, keep-alive, reuse."""
    return f"""\
defaults
    mode http
    maxconn {maxconn}
    timeout connect {TIMEOUT_CONNECT_MS}ms
    timeout client {TIMEOUT_DATA_MS}ms
    timeout server {TIMEOUT_DATA_MS}ms
    timeout http-keep-alive {TIMEOUT_DATA_MS}ms
    option http-keep-alive
    http-reuse always
"""


def haproxy_config(ports: Ports, maxconn: int) -> str:
    """The same two listeners for HAProxy: one thread, keep-alive both sides, connection reuse."""
    members = "\n".join(
        f"    server member-{i} 127.0.0.1:{port}" for i, port in enumerate(ports.members, start=1)
    )
    return f"""\
# Written by benchmarks/load; no 'log' line anywhere, so nothing is logged.
global
    nbthread 1
    maxconn {maxconn}

{haproxy_defaults(maxconn)}
frontend bench-http
    bind 127.0.0.1:{ports.http}
    default_backend bench-http-pool

backend bench-http-pool
    balance roundrobin
{members}

frontend bench-tcp
    mode tcp
    bind 127.0.0.1:{ports.tcp}
    default_backend bench-tcp-pool

backend bench-tcp-pool
    mode tcp
    balance roundrobin
{members}
"""


def write_configs(directory, engine_ports: Ports, haproxy_ports: Ports, maxconn: int):
    """Writes engine.json and haproxy.cfg into directory; returns their paths."""
    engine_path = f"{directory}/engine.json"
    haproxy_path = f"{directory}/haproxy.cfg"
    with open(engine_path, "w") as out:
        json.dump(engine_config(engine_ports), out, indent=2)
    with open(haproxy_path, "w") as out:
        out.write(haproxy_config(haproxy_ports, maxconn))
    return engine_path, haproxy_path
