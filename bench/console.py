"""Console first-view times in a real browser, on the full generated network (50,000 orders).

`wayhouse bench console --json FILE`: loads the full data set if it is missing, starts the API
and the console as processes, signs in as HQ, a region manager and a dealer in Debian's
Chromium (Playwright, headless), opens every page several times and records the time from
navigation to the page's first view: the first row of its main table, or its main element
for detail pages and maps. Target: every page under 1.5 s here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from wayhouse.bench.api import _free_port, _start_api, network_users
from wayhouse.config import Settings
from wayhouse.platform.dms import loader
from wayhouse.platform.services import stack
from wayhouse.simulators import dealer_network

TARGET_MS = 1500.0
CHROMIUM = "/usr/bin/chromium"
# (name, who, path, selector of the first view); {order}/{dealer} filled from the data set.
PAGES: list[tuple[str, str, str, str]] = [
    ("dashboard", "hq", "/dashboard", "[data-testid=dashboard-ready], .q-table tbody tr"),
    ("dealers", "hq", "/dealers", ".q-table tbody tr"),
    ("dealer_detail", "region", "/dealers/{dealer}", "[data-testid=credit-ready], .q-card"),
    ("orders_hq", "hq", "/orders", ".q-table tbody tr"),
    ("orders_region", "region", "/orders", ".q-table tbody tr"),
    ("orders_dealer", "dealer", "/orders", ".q-table tbody tr"),
    ("order_detail", "hq", "/orders/{order}", "[data-testid=order-status]"),
    ("customers", "hq", "/customers", ".q-table tbody tr"),
    ("contracts", "hq", "/contracts", ".q-table"),
    ("service", "hq", "/service", ".q-table"),
    ("stock", "hq", "/stock", ".q-table tbody tr"),
    ("dispatch", "hq", "/dispatch", ".q-table"),
    ("alarms", "hq", "/alarms", ".q-table"),
    ("tracking", "hq", "/tracking", ".leaflet-container"),
]


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _start_ui(settings: Settings, api_port: int, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        WAYHOUSE_DATA_DIR=str(settings.data_dir),
        WAYHOUSE_PG_PORT=str(settings.pg_port),
        WAYHOUSE_MQTT_PORT=str(settings.mqtt_port),
        WAYHOUSE_API_PORT=str(api_port),
    )
    log = settings.data_dir / "log" / "bench-ui.log"
    cli = str(Path(sys.executable).parent / "wayhouse")
    proc = subprocess.Popen(
        [cli, "ui", "--port", str(port)], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the console exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code < 500:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"the console did not answer within 60 s; see {log}")


def measure(
    ui_url: str, api_url: str, users: dict[str, tuple[str, str]], repeats: int
) -> dict[str, dict[str, Any]]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with httpx.Client(base_url=api_url, timeout=30) as client:
        token = client.post(
            "/auth/login", json={"username": users["hq"][0], "password": users["hq"][1]}
        ).json()["token"]
        hq = {"Authorization": f"Bearer {token}"}
        order = client.get("/orders", headers=hq, params={"size": 1}).json()["items"][0]["id"]
        dealer = client.get("/dealers", headers=hq, params={"size": 1}).json()["items"][0]["id"]
    results: dict[str, dict[str, Any]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        contexts = {}
        for who, (username, password) in users.items():
            ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page = ctx.new_page()
            page.goto(f"{ui_url}/login")
            page.get_by_test_id("username").fill(username)
            page.get_by_test_id("password").fill(password)
            page.get_by_test_id("login").click()
            page.get_by_test_id("whoami").wait_for(timeout=30_000)
            contexts[who] = page
        for name, who, path, selector in PAGES:
            page = contexts[who]
            url = ui_url + path.format(order=order, dealer=dealer)
            samples: list[float] = []
            error = None
            for _ in range(repeats):
                started = time.perf_counter()
                response = page.goto(url)
                if response is None or response.status >= 400:
                    error = f"HTTP {response.status if response else 'none'}"
                    break
                try:
                    page.locator(selector).first.wait_for(timeout=15_000)
                except PlaywrightTimeout:
                    error = f"no {selector} within 15 s"
                    break
                samples.append((time.perf_counter() - started) * 1000.0)
            if error:
                results[name] = {"path": path, "error": error}
                _log(f"  {name:<16} {error}")
                continue
            results[name] = {
                "path": path,
                "user": who,
                "median_ms": round(statistics.median(samples), 1),
                "max_ms": round(max(samples), 1),
                "n": len(samples),
            }
            _log(
                f"  {name:<16} median {results[name]['median_ms']:7.1f} ms  max {results[name]['max_ms']:7.1f} ms"
            )
        browser.close()
    return results


def run(settings: Settings, repeats: int = 5, seed: int = 0) -> dict[str, Any]:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    net = dealer_network.full(seed)
    _log("starting services (if needed) and migrating")
    stack.up(settings)
    load = loader.load_network(settings, net, progress=_log)
    data_set = loader.sizes(settings)
    api_port = _free_port(settings.api_port)
    ui_port = _free_port(settings.ui_port)
    api = _start_api(settings, api_port)
    try:
        ui = _start_ui(settings, api_port, ui_port)
        try:
            pages = measure(
                f"http://127.0.0.1:{ui_port}",
                f"http://127.0.0.1:{api_port}",
                network_users(settings, net),
                repeats,
            )
        finally:
            ui.terminate()
            ui.wait(timeout=20)
    finally:
        api.terminate()
        api.wait(timeout=20)
    over = [n for n, r in pages.items() if "error" in r or float(r["max_ms"]) > TARGET_MS]
    return {
        "benchmark": "console",
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "data_set": {"size": "full", "seed": seed, **data_set},
        "load_seconds": load.seconds if load.loaded else None,
        "target_ms": TARGET_MS,
        "over_target": over,
        "pages": pages,
    }


def main(settings: Settings, json_path: Path, repeats: int = 5) -> int:
    result = run(settings, repeats)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    _log(f"wrote {json_path}; over target: {result['over_target'] or 'none'}")
    return 0
