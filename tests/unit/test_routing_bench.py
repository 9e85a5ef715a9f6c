import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "wayhouse_bench_routing", ROOT / "bench" / "routing.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("WAYHOUSE_VRPTW_DIR", str(ROOT / "tests" / "data" / "vrptw"))
    return load_bench()


def test_bench_writes_json(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    rc = bench.main(
        [
            "--set",
            "solomon",
            "--engine",
            "pyvrp",
            "--time-limit",
            "1",
            "--convention",
            "hier",
            "--instances",
            "C101",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    result = json.loads(out.read_text())
    assert (result["engine"], result["set"], result["convention"]) == ("pyvrp", "solomon", "hier")
    assert result["time_limit"] == 1
    [row] = result["instances"]
    assert row["name"] == "C101" and row["feasible"] is True
    assert row["vehicles"] == 10 and row["bks_vehicles"] == 10
    assert row["gap_pct"] == pytest.approx(100 * (row["distance"] - 828.94) / 828.94, abs=1e-3)
    assert result["mean_gap_pct"] == row["gap_pct"] and row["cpu_s"] > 0
    assert "C101" in capsys.readouterr().out


def test_bench_rejects_unknown_instances(bench: ModuleType) -> None:
    assert bench.main(["--instances", "C999", "--time-limit", "1"]) == 2
