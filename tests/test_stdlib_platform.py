"""`platform` is a top-level folder of this repository and a standard-library module: the
standard library must win everywhere (tests, services, a shell in the checkout)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wayhouse.config import PROJECT_ROOT

PROBE = "import platform, sys; print(platform.__file__); print(platform.python_version())"


def _stdlib_file() -> str:
    import sysconfig

    return str(Path(sysconfig.get_paths()["stdlib"]) / "platform.py")


def test_platform_is_stdlib_in_the_test_suite() -> None:
    import platform

    assert Path(platform.__file__).resolve() == Path(_stdlib_file()).resolve()
    assert platform.python_version().startswith("3.")


@pytest.mark.parametrize("cwd", [PROJECT_ROOT, PROJECT_ROOT / "platform", Path("/")])
def test_platform_is_stdlib_from_any_working_directory(cwd: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=cwd, capture_output=True, text=True, check=True
    )
    assert Path(out.stdout.splitlines()[0]).resolve() == Path(_stdlib_file()).resolve()


def test_platform_is_stdlib_inside_the_services() -> None:
    # The services run as the `wayhouse` console script; import its entry module the same way.
    probe = "import wayhouse.cli.main, wayhouse.platform.ingest.worker; " + PROBE
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert Path(out.stdout.splitlines()[0]).resolve() == Path(_stdlib_file()).resolve()


def test_nothing_is_importable_as_a_bare_top_level_folder() -> None:
    for name in ("edge", "routing", "simulators", "ui", "bench"):
        code = f"import importlib.util as u; print(u.find_spec({name!r}) is None)"
        out = subprocess.run(
            [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "True", name
    # and the product namespace is there
    import wayhouse.edge.schema
    import wayhouse.platform.ingest.worker  # noqa: F401
