"""Public entry point: `solve(problem, engine=..., time_limit=..., objective=..., seed=...)`.

`wayhouse.routing` is a namespace package (no __init__), so the single entry lives here:
`from wayhouse.routing.api import solve`.
"""

from __future__ import annotations

import importlib
from typing import Literal

from .model import Objective, Problem, Solution

Engine = Literal["ortools", "pyvrp", "portfolio"]
ENGINES: tuple[str, ...] = ("ortools", "pyvrp", "portfolio")
_MODULES = {"ortools": "ortools_engine", "pyvrp": "pyvrp_engine", "portfolio": "portfolio"}


class InfeasibleSolutionError(RuntimeError):
    """An engine returned a plan the independent checker rejects (a bug, never expected)."""

    def __init__(self, solution: Solution) -> None:
        kinds = sorted({v.kind for v in solution.violations})
        super().__init__(f"{solution.engine}: {len(solution.violations)} violations: {kinds}")
        self.solution = solution


def solve(
    problem: Problem,
    engine: Engine | str = "portfolio",
    time_limit: float = 10.0,
    objective: Objective | str = Objective.COST,
    seed: int = 0,
    allow_infeasible: bool = False,
) -> Solution:
    """Plan routes within `time_limit` wall-clock seconds.

    Stops that cannot be served come back in `Solution.unassigned` with a reason. The returned
    solution has passed `routing.check`; if it has not, `InfeasibleSolutionError` is raised
    unless `allow_infeasible` (benchmarks record such results instead).
    """
    if time_limit <= 0:
        raise ValueError("time_limit must be positive")
    objective = Objective(objective)
    if engine not in _MODULES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {ENGINES}")
    # Imported on demand: a caller using one engine does not pay for loading the other.
    module = importlib.import_module(f"{__package__}.engines.{_MODULES[engine]}")
    solution: Solution = module.solve(problem, time_limit, objective, seed)
    if solution.violations and not allow_infeasible:
        raise InfeasibleSolutionError(solution)
    return solution
