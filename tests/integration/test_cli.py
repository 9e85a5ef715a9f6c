"""The `wayhouse` command line, run as a user would: real processes, real services."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import Stack

pytestmark = pytest.mark.integration

WAYHOUSE = str(Path(sys.executable).parent / "wayhouse")
COMMANDS = [
    [],
    ["services"],
    ["services", "up"],
    ["services", "down"],
    ["services", "status"],
    ["db"],
    ["db", "upgrade"],
    ["db", "current"],
    ["ingest"],
    ["post-scans"],
    ["evaluate"],
    ["api"],
    ["ui"],
    ["sim"],
    ["run"],
    ["stop"],
    ["devices"],
    ["devices", "add"],
    ["devices", "list"],
    ["devices", "revoke"],
    ["devices", "sync"],
    ["bench"],
    ["bench", "ingest"],
    ["bench", "console"],
]


def _cli(stack: Stack, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WAYHOUSE, *args], env=stack.env, capture_output=True, text=True, check=check, timeout=300
    )


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "wayhouse")
def test_every_command_has_help(stack: Stack, args: list[str]) -> None:
    out = _cli(stack, *args, "--help")
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout


def test_devices_add_list_revoke(stack: Stack) -> None:
    agent = f"cli-{uuid.uuid4().hex[:6]}"
    out = _cli(stack, "devices", "add", agent, "--kind", "truck", "--sensor", f"{agent}-gps:gps")
    assert out.returncode == 0, out.stderr
    creds = json.loads(out.stdout)
    assert creds["username"] == agent and len(creds["password"]) >= 16
    listing = _cli(stack, "devices", "list", check=True).stdout
    assert agent in listing
    # Adding it again is refused with the reason, exit code 2.
    again = _cli(stack, "devices", "add", agent, "--kind", "truck")
    assert again.returncode == 2 and "exists" in again.stderr
    assert _cli(stack, "devices", "revoke", agent).returncode == 0
    assert agent not in _cli(stack, "devices", "list", check=True).stdout
    assert agent in _cli(stack, "devices", "list", "--all", check=True).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["devices", "add", "bad/id"], "agent id"),
        (["devices", "add", "ok-id", "--sensor", "nokind"], "SENSOR_ID:KIND"),
        (["devices", "add", "ok-id", "--kind", "boat"], "--kind"),
        (["devices", "revoke", "never-existed"], "no active agent"),
    ],
)
def test_cli_errors_are_clear_and_non_zero(stack: Stack, args: list[str], message: str) -> None:
    out = _cli(stack, *args)
    assert out.returncode != 0
    assert message in out.stderr


def test_bench_ingest_runs_and_accounts_for_every_message(stack: Stack, tmp_path: Path) -> None:
    result_file = tmp_path / "ingest.json"
    out = _cli(
        stack,
        "bench",
        "ingest",
        "--rate",
        "400",
        "--duration",
        "2",
        "--agents",
        "20",
        "--json",
        str(result_file),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(result_file.read_text())
    for key in (
        "rate_target",
        "achieved_msgs_per_s",
        "sent",
        "stored",
        "lost",
        "duplicates",
        "latency_ms",
        "cpu_us_per_msg",
        "storage_mode",
    ):
        assert key in result, key
    assert result["sent"] > 0 and result["lost"] == 0 and result["duplicates"] == 0
    assert result["stored"] >= result["sent"]  # plus each agent's status messages
    assert result["latency_ms"]["p99"] >= result["latency_ms"]["p50"] > 0
    assert set(result["cpu_us_per_msg"]) >= {"ingest", "broker", "database"}
