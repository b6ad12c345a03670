"""Signed order intake: the bridge against a bare aiohttp handler, N concurrent agents.

Each run starts a server in a child process (so the server and this load generator
each have a core of their own), then N agents, each a registered device of its own
household, post signed orders (``POST /v1/orders``, a fresh ``webhook-id`` each) as
fast as the answers come back. After a warm-up it measures for a fixed time: requests
per second, p50 and p99 latency from send to answer, and the server's CPU use (from
/proc, so Linux only). The baseline, in the same run
on the same client, is a bare aiohttp handler that reads the body and answers 201
with a small JSON object: no signature check, no database.

The bridge runs its full intake: the signature is verified against the device's secret
in SQLite, the order is priced from the household's subscription, checked against its
monthly cap and auto-approve limit, and stored with its audit row in one transaction
(WAL, synchronous=FULL: each order is on disk before it is answered). Orders wait in
the default two-hour cancel window, so forwarding does not run during the measurement.
Access logs are off in both servers.

Run: ``.venv/bin/python bench/bridge.py [--agents N ...] [--seconds S] [--runs R]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cloud_bridge.app import create_app  # noqa: E402
from cloud_bridge.intake import Household, Subscription  # noqa: E402
from cloud_bridge.settings import SERVE_CANCEL_WINDOW, BridgeSettings  # noqa: E402
from cloud_bridge.store import Store  # noqa: E402
from edge_agent.clock import SystemClock  # noqa: E402
from edge_agent.webhooks import DEVICE_HEADER, HOUSEHOLD_HEADER, new_secret, sign  # noqa: E402
from simulators.ports import free_port  # noqa: E402

BODY = json.dumps(
    {"lines": [{"item": "milk", "packs": 2}], "explanation": "milk runs out on Tuesday"}
).encode()


# --- the servers (child processes) -----------------------------------------------------


async def bare_order(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"order_id": "ord_0", "status": "placed"}, status=201)


def serve(kind: str, port: int, db: str) -> None:
    if kind == "bare":
        app = web.Application()
        app.router.add_post("/v1/orders", bare_order)
    else:
        settings = BridgeSettings(
            db_path=db,
            shop_url="http://127.0.0.1:9/webhooks",
            shop_secret=new_secret(),
            cancel_window=SERVE_CANCEL_WINDOW,
            require_subscription=True,
        )
        app = create_app(settings, clock=SystemClock())
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def register(db: Path, agents: int) -> list[tuple[str, str]]:
    """One household per agent, subscribed to milk with a cap and an approval limit."""
    now = SystemClock().now()
    devices = []
    with Store(db) as store:
        for n in range(agents):
            household = f"home{n}"
            secret = store.add_device(household, "agent", now=now)
            store.accounts.put_household(
                Household(household, monthly_cap_cents=10**9, auto_approve_cents=10**8), now=now
            )
            store.accounts.put_subscription(
                Subscription(household, "milk", sku="MILK-1L", pack="1 L", price_cents=129),
                now=now,
            )
            devices.append((household, secret))
    return devices


# --- the load ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu: float = 0.0  # the server's CPU seconds per second of measurement


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux: /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _agent(
    session: aiohttp.ClientSession,
    url: str,
    household: str,
    secret: str,
    stop_at: float,
    measure_from: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    clock = SystemClock()
    n = 0
    while (start := time.perf_counter()) < stop_at:
        n += 1
        headers = sign(secret, f"{household}-{n}-{start}", clock.now(), BODY)
        headers |= {
            HOUSEHOLD_HEADER: household,
            DEVICE_HEADER: "agent",
            "content-type": "application/json",
        }
        async with session.post(url, data=BODY, headers=headers) as response:
            await response.read()
            ok = response.status == 201
        if start >= measure_from:
            latencies.append(time.perf_counter() - start)
            if not ok:
                errors.append(response.status)


async def load(
    port: int, devices: list[tuple[str, str]], seconds: float, warmup: float, server: int
) -> Result:
    url = f"http://127.0.0.1:{port}/v1/orders"
    latencies: list[float] = []
    errors: list[int] = []
    connector = aiohttp.TCPConnector(limit=len(devices))
    async with aiohttp.ClientSession(connector=connector) as session:
        begin = time.perf_counter()
        measure_from, stop_at = begin + warmup, begin + warmup + seconds
        agents = asyncio.gather(
            *(
                _agent(session, url, h, s, stop_at, measure_from, latencies, errors)
                for h, s in devices
            )
        )
        await asyncio.sleep(warmup)
        cpu_before = cpu_seconds(server)
        await asyncio.sleep(seconds)
        cpu = cpu_seconds(server) - cpu_before
        await agents
    latencies.sort()
    return Result(
        rps=len(latencies) / seconds,
        p50_ms=1000 * latencies[len(latencies) // 2],
        p99_ms=1000 * latencies[int(len(latencies) * 0.99)],
        errors=len(errors),
        server_cpu=cpu / seconds,
    )


async def _wait_listening(port: int) -> None:
    async with asyncio.timeout(20):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return


def one(kind: str, agents: int, seconds: float, warmup: float) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bridge.db"
        devices = register(db, agents)
        port = free_port()
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--port", str(port), "--db", str(db)]
        )
        try:
            asyncio.run(_wait_listening(port))
            return asyncio.run(load(port, devices, seconds, warmup, child.pid))
        finally:
            child.terminate()
            child.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--serve", choices=["bare", "bridge"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.db)
        return
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores")
    print(f"{args.runs} runs of {args.seconds:g} s (after {args.warmup:g} s warm-up), medians")
    header = "agents | server | req/s | p50 ms | p99 ms | errors | server CPU"
    print(header + "\n" + "-" * len(header))
    for agents in args.agents:
        runs: dict[str, list[Result]] = {"bare": [], "bridge": []}
        for _ in range(args.runs):
            for kind in ("bare", "bridge"):  # side by side, alternating, in the same run
                runs[kind].append(one(kind, agents, args.seconds, args.warmup))
        medians = {}
        for kind, results in runs.items():
            rps = statistics.median(r.rps for r in results)
            medians[kind] = rps
            p50 = statistics.median(r.p50_ms for r in results)
            p99 = statistics.median(r.p99_ms for r in results)
            errors = sum(r.errors for r in results)
            cpu = statistics.median(r.server_cpu for r in results)
            print(f"{agents} | {kind} | {rps:,.0f} | {p50:.1f} | {p99:.1f} | {errors} | {cpu:.0%}")
            each = ", ".join(f"{r.rps:,.0f}/s p99 {r.p99_ms:.1f}" for r in results)
            print(f"    each run: {each}")
        ratios = [b.rps / a.rps for a, b in zip(runs["bare"], runs["bridge"], strict=True)]
        print(
            f"{agents} | bridge / bare | {medians['bridge'] / medians['bare']:.0%} of medians,"
            f" {statistics.median(ratios):.0%} median of each run's"
            f" ({', '.join(f'{r:.0%}' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
