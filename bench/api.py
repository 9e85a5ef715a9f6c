"""``wayhouse bench api``: request latency of the REST API on the full generated dealer network.

Starts the services if they are not running, loads the full network (``dms.loader``) if it is
missing, runs `wayhouse api` in a subprocess on a free port and signs in as the network's HQ
admin, a region manager and a dealer user. Each endpoint is called ``requests`` times in a row
from one client (after a short warm-up, not counted); the JSON holds p50/p99 per endpoint and
the data-set sizes. Targets (p99 under 100 ms for lists and details, under 200 ms for placing
an order) are reported, not asserted: the figures depend on the machine.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from wayhouse.config import Settings
from wayhouse.platform.dms import loader
from wayhouse.platform.services import stack
from wayhouse.simulators import dealer_network

LIST_TARGET_MS = 100.0
PLACE_TARGET_MS = 200.0
WARMUP = 5
PAGE_SIZE = 50


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: p99 of 200 samples is the 198th)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _timed(samples: list[float], call: Callable[[int], httpx.Response], i: int) -> httpx.Response:
    t0 = time.perf_counter()
    resp = call(i)
    samples.append((time.perf_counter() - t0) * 1000)
    if resp.status_code >= 400:
        raise RuntimeError(
            f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
        )
    return resp


def login(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    resp = client.post("/auth/login", json={"username": username, "password": password})
    resp.raise_for_status()
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def measure(
    client: httpx.Client,
    users: dict[str, tuple[str, str]],
    requests: int = 200,
    warmup: int = WARMUP,
) -> dict[str, dict[str, float | int]]:
    """Time the endpoints through ``client`` (an httpx client or a FastAPI TestClient).

    ``users`` maps ``hq``, ``region`` and ``dealer`` to (username, password). Ids for the
    detail endpoints come from the lists, so this needs nothing but the API.
    """
    auth = {role: login(client, *creds) for role, creds in users.items()}
    hq, region, dealer = auth["hq"], auth["region"], auth["dealer"]

    def ids(path: str, headers: dict[str, str], **params: Any) -> list[int]:
        resp = client.get(path, headers=headers, params={"size": 200, **params})
        resp.raise_for_status()
        return [int(item["id"]) for item in resp.json()["items"]]

    dealer_ids = ids("/dealers", region)
    order_ids = ids("/orders", hq) + ids("/orders", hq, sort="id")
    product_ids = ids("/products", dealer)
    total = client.get("/orders", headers=hq, params={"size": PAGE_SIZE}).json()["total"]
    deep_page = max(1, math.ceil(total * 0.9 / PAGE_SIZE))  # 90% of the way through the history
    if not (dealer_ids and order_ids and product_ids):
        raise RuntimeError("the data set is empty: no dealers, orders or products visible")

    def get(path: str, headers: dict[str, str], **params: Any) -> Callable[[int], httpx.Response]:
        return lambda i: client.get(path.format(i=i), headers=headers, params=params)

    def place(i: int) -> httpx.Response:
        # Two or three lines, different products each time; then submit (credit check et al).
        lines = [
            {"product_id": product_ids[(i * 3 + k) % len(product_ids)], "qty": 1 + k}
            for k in range(2 + i % 2)
        ]
        resp = client.post("/orders", headers=dealer, json={"lines": lines, "note": "bench"})
        if resp.status_code != 201:
            return resp
        return client.post(f"/orders/{resp.json()['id']}/submit", headers=dealer)

    cases: dict[str, Callable[[int], httpx.Response]] = {
        "dealers_list_hq": get("/dealers", hq),
        "dealers_list_region": get("/dealers", region),
        "dealer_detail": lambda i: client.get(
            f"/dealers/{dealer_ids[i % len(dealer_ids)]}", headers=region
        ),
        "orders_list_hq_page1": get("/orders", hq, size=PAGE_SIZE),
        "orders_list_hq_deep_page": get("/orders", hq, size=PAGE_SIZE, page=deep_page),
        "orders_list_region_status": get(
            "/orders", region, size=PAGE_SIZE, status=["submitted", "approval"]
        ),
        "orders_list_dealer_page1": get("/orders", dealer, size=PAGE_SIZE),
        "order_detail": lambda i: client.get(
            f"/orders/{order_ids[i % len(order_ids)]}", headers=hq
        ),
        "customers_list_hq": get("/customers", hq, size=PAGE_SIZE),
        "customers_list_region": get("/customers", region, size=PAGE_SIZE),
        "customers_list_dealer": get("/customers", dealer, size=PAGE_SIZE),
        "contracts_list_hq": get("/contracts", hq, size=PAGE_SIZE),
        "service_tickets_list_hq": get("/service/tickets", hq, size=PAGE_SIZE),
        "audit_list_hq": get("/audit", hq, size=PAGE_SIZE),
        "products_list": get("/products", dealer, size=PAGE_SIZE),
        "warehouses_list": get("/warehouses", hq),
        "place_order": place,
    }
    results: dict[str, dict[str, float | int]] = {}
    for name, call in cases.items():
        for i in range(warmup):
            _timed([], call, i)
        samples: list[float] = []
        for i in range(requests):
            _timed(samples, call, warmup + i)
        results[name] = {
            "p50_ms": round(percentile(samples, 50), 2),
            "p99_ms": round(percentile(samples, 99), 2),
            "n": len(samples),
        }
        _log(
            f"  {name:<28} p50 {results[name]['p50_ms']:7.2f} ms  p99 {results[name]['p99_ms']:7.2f} ms"
        )
    return results


def network_users(settings: Settings, net: dealer_network.Network) -> dict[str, tuple[str, str]]:
    """The three benchmark identities: HQ admin, the first region's manager, the first dealer."""
    names = {
        "hq": loader.admin_username(),
        "region": loader.manager_username(net.regions[0].code),
        "dealer": loader.dealer_username(net.dealers[0].code),
    }
    return {role: (u, loader.password_for(settings, u)) for role, u in names.items()}


def over_target(endpoints: dict[str, dict[str, float | int]]) -> list[str]:
    return [
        name
        for name, r in endpoints.items()
        if float(r["p99_ms"]) > (PLACE_TARGET_MS if "place_order" in name else LIST_TARGET_MS)
    ]


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


def _start_api(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        WAYHOUSE_DATA_DIR=str(settings.data_dir),
        WAYHOUSE_PG_PORT=str(settings.pg_port),
        WAYHOUSE_MQTT_PORT=str(settings.mqtt_port),
    )
    log = settings.data_dir / "log" / "bench-api.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cli = str(Path(sys.executable).parent / "wayhouse")
    proc = subprocess.Popen(
        [cli, "api", "--port", str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code < 500:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"the API did not answer within 60 s; see {log}")


def run(
    settings: Settings, requests: int = 200, size: str = "full", seed: int = 0
) -> dict[str, Any]:
    net = dealer_network.full(seed) if size == "full" else dealer_network.small(seed)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per timed request
    _log("starting services (if needed) and migrating")
    stack.up(settings)
    load = loader.load_network(settings, net, progress=_log)
    data_set = loader.sizes(settings)  # before placing orders: the set the lists ran against
    if data_set["dealers"] < len(net.dealers):
        # The marker only says "a network is here": a small one loaded earlier stays.
        _log(f"warning: the loaded network is smaller than {size}: {data_set}")
    port = _free_port(settings.api_port)
    _log(f"starting the API on port {port}")
    proc = _start_api(settings, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            endpoints = measure(client, network_users(settings, net), requests)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "benchmark": "api",
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "data_set": {"size": size, "seed": seed, **data_set},
        "load_seconds": load.seconds if load.loaded else None,
        "requests": requests,
        "targets_ms": {"list_p99": LIST_TARGET_MS, "place_order_p99": PLACE_TARGET_MS},
        "over_target": over_target(endpoints),
        "endpoints": endpoints,
    }
