"""Run several engines in parallel processes within one wall-clock budget; keep the best.

Processes, not threads: PyVRP's search loop runs in Python and holds the GIL, and a crashed
or hung engine must not take the caller down (it is terminated past the deadline).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections.abc import Sequence
from dataclasses import replace
from multiprocessing.connection import Connection, wait

from ..check import with_check
from ..model import Objective, Problem, Solution
from ..schedule import objective_key

log = logging.getLogger(__name__)
NAME = "portfolio"
DEFAULT_ENGINES = ("pyvrp", "ortools")
_GRACE_S = 5.0  # past the deadline before a silent engine is terminated


def _run(
    conn: Connection,
    engine: str,
    problem: Problem,
    deadline: float,
    objective: Objective,
    seed: int,
) -> None:
    try:
        from . import ortools_engine, pyvrp_engine

        module = {"ortools": ortools_engine, "pyvrp": pyvrp_engine}[engine]
        left = max(0.1, deadline - time.time())
        conn.send(("ok", module.solve(problem, left, objective, seed)))
    except BaseException as e:  # report any failure to the parent instead of dying silently
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def pick_best(problem: Problem, solutions: Sequence[Solution], objective: Objective) -> Solution:
    if not solutions:
        raise ValueError("no solutions to choose from")
    return min(solutions, key=lambda s: objective_key(problem, s, objective))


def solve(
    problem: Problem,
    time_limit: float,
    objective: Objective = Objective.DISTANCE,
    seed: int = 0,
    engines: Sequence[str] = DEFAULT_ENGINES,
) -> Solution:
    started = time.monotonic()
    deadline = time.time() + time_limit  # wall clock: comparable across processes
    ctx = mp.get_context("spawn")  # no fork of a parent that may hold solver threads
    running: dict[Connection, tuple[str, mp.process.BaseProcess]] = {}
    for engine in engines:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_run,
            args=(child, engine, problem, deadline, objective, seed),
            name=f"wayhouse-routing-{engine}",
            daemon=True,
        )
        proc.start()
        child.close()
        running[parent] = (engine, proc)

    results: list[Solution] = []
    errors: dict[str, str] = {}
    while running:
        ready = wait(list(running), timeout=max(0.0, deadline + _GRACE_S - time.time()))
        if not ready:
            break
        for conn in ready:
            engine, proc = running.pop(conn)
            try:
                status, payload = conn.recv()
            except EOFError:
                status, payload = "error", f"process exited with code {proc.exitcode}"
            proc.join()
            if status == "ok":
                results.append(payload)
            else:
                errors[engine] = payload
                log.warning("portfolio: engine %s failed: %s", engine, payload)
    for engine, proc in running.values():
        errors[engine] = "no answer by the deadline; terminated"
        proc.terminate()
        proc.join()

    if not results:
        raise RuntimeError(f"every portfolio engine failed: {errors}")
    # The parent re-checks: it trusts no child's verdict.
    results = [with_check(problem, s) for s in results]
    best = pick_best(problem, results, objective)
    stats = dict(best.stats)
    stats["cpu_s"] = sum(s.stats.get("cpu_s", 0.0) for s in results)
    for s in results:
        key = objective_key(problem, s, objective)
        stats[f"{s.engine}_objective"] = key[-1]
        stats[f"{s.engine}_vehicles"] = float(s.num_vehicles)
    return replace(
        best, engine=f"{NAME}:{best.engine}", stats=stats, runtime_s=time.monotonic() - started
    )
