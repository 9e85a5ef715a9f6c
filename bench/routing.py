"""VRPTW benchmark: Solomon and Gehring-Homberger instances against best-known solutions.

Gaps are computed against the BKS of the same convention (see shared/data/vrptw/README.md):
  dimacs: distance only, arcs truncated to one decimal; gap on distance.
  hier:   vehicles first, then distance, double precision; gap on distance, and the vehicle
          count is compared with the BKS vehicle count.

Example:
  nice -n 19 .venv/bin/python bench/routing.py --set solomon --engine pyvrp --time-limit 30 \
      --convention dimacs --instances C101,R101 --json bench/results/routing.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

from wayhouse.routing.api import ENGINES, solve
from wayhouse.routing.io import Convention, read_bks, read_vrplib
from wayhouse.routing.model import Objective

SETS = {
    "solomon": ("solomon", "*.vrp"),
    "gh200": ("homberger", "*_2_1.vrp"),
    "gh1000": ("homberger", "*_10_1.vrp"),
}


def data_dir() -> Path:
    env = os.environ.get("WAYHOUSE_VRPTW_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "vrptw"


def _cpu_seconds() -> float:
    """CPU of this process and of its finished children (the portfolio's engines)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("ortools", "pyvrp"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "missing"
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/routing.py", description=__doc__.split("\n")[0])
    p.add_argument("--set", dest="set_name", choices=sorted(SETS), default="solomon")
    p.add_argument("--time-limit", type=float, default=30.0, help="wall-clock s per instance")
    p.add_argument("--engine", choices=ENGINES, default="pyvrp")
    p.add_argument("--convention", choices=[c.value for c in Convention], default="dimacs")
    p.add_argument("--instances", default="", help="comma-separated names (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", dest="json_path", type=Path, help="write results here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = data_dir()
    folder, pattern = SETS[args.set_name]
    files = {f.stem: f for f in sorted((root / folder).glob(pattern))}
    if not files:
        print(f"no instances found under {root / folder}", file=sys.stderr)
        return 2
    if args.instances:
        wanted = [n.strip() for n in args.instances.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in files]
        if unknown:
            print(f"unknown instances for set {args.set_name}: {unknown}", file=sys.stderr)
            return 2
        files = {n: files[n] for n in wanted}
    bks = read_bks(root / "bks.csv")
    convention = Convention(args.convention)
    objective = (
        Objective.DISTANCE if convention is Convention.DIMACS else Objective.VEHICLES_THEN_DISTANCE
    )

    print(
        f"routing bench: set={args.set_name} engine={args.engine} convention={convention} "
        f"time_limit={args.time_limit:g}s instances={len(files)} data={root}",
        flush=True,
    )
    rows = []
    for i, (name, path) in enumerate(files.items(), 1):
        problem = read_vrplib(path, convention)
        best = bks[name]
        cpu0, wall0 = _cpu_seconds(), time.monotonic()
        sol = solve(
            problem,
            engine=args.engine,
            time_limit=args.time_limit,
            objective=objective,
            seed=args.seed,
            allow_infeasible=True,
        )
        cpu, wall = _cpu_seconds() - cpu0, time.monotonic() - wall0
        feasible = sol.feasible and not sol.unassigned
        ref = best.distance(convention)
        gap = round(100.0 * (sol.distance - ref) / ref, 6) + 0.0  # no "-0.000"
        rows.append(
            {
                "name": name,
                "vehicles": sol.num_vehicles,
                "distance": round(sol.distance, 4),
                "gap_pct": round(gap, 4),
                "feasible": feasible,
                "cpu_s": round(cpu, 2),
                "wall_s": round(wall, 2),
                "bks_vehicles": best.vehicles(convention),
                "bks_distance": ref,
                "engine": sol.engine,
                "unassigned": len(sol.unassigned),
            }
        )
        print(
            f"[{i:>2}/{len(files)}] {name:<9} vehicles {sol.num_vehicles:>3} "
            f"(bks {best.vehicles(convention):>3})  distance {sol.distance:>10.2f} "
            f"(bks {ref:>10.2f})  gap {gap:+7.3f}%  feasible {feasible!s:<5}  "
            f"cpu {cpu:6.1f}s  wall {wall:5.1f}s",
            flush=True,
        )

    gaps = [r["gap_pct"] for r in rows]
    hit = sum(1 for r in rows if r["vehicles"] <= r["bks_vehicles"])
    summary = {
        "engine": args.engine,
        "set": args.set_name,
        "time_limit": args.time_limit,
        "convention": convention.value,
        "seed": args.seed,
        "instances": rows,
        "mean_gap_pct": round(statistics.fmean(gaps), 4),
        "max_gap_pct": round(max(gaps), 4),
        "bks_vehicles_hit": hit,
        "bks_vehicles_hit_pct": round(100.0 * hit / len(rows), 2),
        "all_feasible": all(r["feasible"] for r in rows),
        "cpu_s_total": round(sum(r["cpu_s"] for r in rows), 2),
        "cpus": os.cpu_count(),
        "versions": _versions(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(
        f"mean gap {summary['mean_gap_pct']:+.3f}%  max gap {summary['max_gap_pct']:+.3f}%  "
        f"BKS vehicles on {hit}/{len(rows)}  all feasible {summary['all_feasible']}",
        flush=True,
    )
    if args.json_path:
        args.json_path.parent.mkdir(parents=True, exist_ok=True)
        args.json_path.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if summary["all_feasible"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
