"""End-to-end journeys in a real browser: Debian's Chromium driven by Playwright against the
real services (the suite's PostgreSQL and Mosquitto, ``wayhouse api`` and ``wayhouse ui`` as
processes on free ports, the demo network seeded). Screenshots of the key screens go to
``tests/screenshots/`` for a reviewer.

A test module imports the fixtures it uses (``console_fixture``, ``browser_fixture``,
``page_fixture``); they register as ``console``, ``browser`` and ``page``. (Not a
conftest.py: a second module named ``conftest`` would shadow the suite's own.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import Stack
from playwright.sync_api import Browser, Locator, Page, sync_playwright

from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dispatch.service import ensure_demo_vehicles
from wayhouse.platform.dms.seed import seed_demo
from wayhouse.platform.services.procs import wayhouse_command
from wayhouse.simulators.scenario import default_scenario

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "screenshots"
TIMEOUT_MS = 20_000


@dataclass
class Console:
    api: str
    ui: str
    passwords: dict[str, str]

    def headers(self, username: str) -> dict[str, str]:
        r = httpx.post(
            f"{self.api}/auth/login",
            json={"username": username, "password": self.passwords[username]},
        )
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['token']}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} did not answer at {url}")


@pytest.fixture(name="console", scope="module")
def console_fixture(stack: Stack) -> Iterator[Console]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no {CHROMIUM}: `make setup` installs Debian's chromium as root")
    passwords = seed_demo(stack.settings)
    api_port, ui_port = _free_port(), _free_port()
    # NiceGUI treats a process with PYTEST_CURRENT_TEST set as its own test harness.
    env = {k: v for k, v in stack.env.items() if not k.startswith("PYTEST_")}
    env.update(WAYHOUSE_API_PORT=str(api_port), WAYHOUSE_UI_PORT=str(ui_port))
    logs = stack.settings.data_dir / "log"
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    try:
        for name, args, url in (
            ("api", ["api", "--port", str(api_port)], f"http://127.0.0.1:{api_port}/health"),
            ("ui", ["ui", "--port", str(ui_port)], f"http://127.0.0.1:{ui_port}/login"),
        ):
            log = logs / f"e2e-{name}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [*wayhouse_command(), *args], env=env, stdout=out, stderr=subprocess.STDOUT
                )
            procs.append(proc)
            _wait_http(url, proc, log, f"wayhouse {name}")
        yield Console(f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}", passwords)
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(name="browser", scope="module")
def browser_fixture(console: Console) -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(name="page")
def page_fixture(browser: Browser) -> Iterator[Page]:
    # A tablet-sized screen, Chinese first (the network's users work in Chinese).
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def sign_in(page: Page, console: Console, username: str) -> None:
    page.goto(f"{console.ui}/login")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(console.passwords[username])
    page.get_by_test_id("login").click()
    page.get_by_test_id("whoami").wait_for()


def field(page: Page, testid: str) -> Locator:
    """The text box of a labelled input (Quasar puts the test id on the native input, or on
    its wrapper, depending on the component)."""
    return page.locator(f"input[data-testid={testid}], [data-testid={testid}] input").first


def shot(page: Page, journey: str, name: str) -> Path:
    """A full-page screenshot under tests/screenshots/<journey>/<name>.png."""
    path = SHOTS / journey / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(name="pipeline", scope="module")
def pipeline_fixture(stack: Stack, console: Console) -> Iterator[None]:
    """What the warehouse floor and the trucks need behind the console: ingest, the scan
    poster and the evaluation worker, as real processes."""
    scenario = default_scenario(0)
    stack.provision(scenario.agents())
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        ensure_demo_vehicles(s, scenario.site, [t.agent_id for t in scenario.trucks])
    ingest = stack.start_ingest("e2e-journey")
    env = {k: v for k, v in stack.env.items() if not k.startswith("PYTEST_")}
    logs = stack.settings.data_dir / "log"
    procs = []
    for name, args in (
        ("post-scans", ["post-scans"]),
        ("evaluate", ["evaluate", "--worker-id", "e2e", "--ephemeral"]),
    ):
        with (logs / f"e2e-{name}.log").open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [*wayhouse_command(), *args], env=env, stdout=out, stderr=subprocess.STDOUT
                )
            )
    try:
        _wait_evaluating(stack, scenario.scanners[0].agent_id, procs[-1])
        yield
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        ingest.stop()


def _wait_evaluating(stack: Stack, agent: str, proc: subprocess.Popen[bytes]) -> None:
    """Until the evaluation worker's shared subscription exists, the broker gives the stream
    to ingest alone: probe with heartbeats until one is evaluated."""
    from wh_testkit import publish_all

    from wayhouse.edge import schema as S

    target = stack.settings.mqtt(agent, stack.settings.sim_password(agent))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail("wayhouse evaluate exited")
        seq = time.time_ns() // 1000
        probe = S.StatusMessage(v=1, seq=seq, t=time.time(), state="online")
        publish_all(target, f"{agent}-probe", [(S.topic(agent, "status"), S.encode(probe))])
        for _ in range(10):
            if stack.scalar(
                "SELECT count(*) FROM eval_seen e JOIN agent a USING (agent_key) "
                "WHERE a.agent_id = %s AND e.seq = %s",
                (agent, seq),
            ):
                return
            time.sleep(0.1)
    pytest.fail("the evaluation worker never evaluated a probe")
