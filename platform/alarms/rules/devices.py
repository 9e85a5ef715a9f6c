"""Device offline: an agent's last will, or ``offline_missed`` heartbeats without a word.

Any message of the agent is a sign of life (the ingest evaluator feeds one ``heartbeat``
status per accepted message). A last will marks it offline at once; the next sign of life
clears it, whatever that message's own time (a store-and-forward replay after a reconnect
is old data but a live agent). Silence is judged on ``tick(now)`` against the newest
message time, so the verdict depends only on the stream.
"""

from __future__ import annotations

import math
from typing import Any

from wayhouse.platform.alarms.inputs import AgentConfig, AgentStatus
from wayhouse.platform.alarms.model import AlarmType, Condition
from wayhouse.platform.alarms.thresholds import ThresholdConfig, Thresholds

from .base import Changes


class _Agent:
    __slots__ = ("cfg", "last_seen", "offline", "subject", "th")

    def __init__(self, cfg: AgentConfig, th: Thresholds) -> None:
        self.cfg = cfg
        self.th = th
        self.subject = f"agent:{cfg.agent}"
        self.last_seen = -math.inf
        self.offline = False


class DeviceRules:
    name = "devices"

    def __init__(self, config: ThresholdConfig) -> None:
        self.config = config
        self._agents: dict[str, _Agent] = {}
        self.clock = -math.inf  # newest status time or explicit tick (derived on load)

    def advance(self, t: float) -> None:
        if t > self.clock:
            self.clock = t

    def register(self, cfg: AgentConfig) -> None:
        old = self._agents.get(cfg.agent)
        a = _Agent(cfg, self._resolve(cfg))
        if old is not None:
            a.last_seen, a.offline = old.last_seen, old.offline
        self._agents[cfg.agent] = a

    def _resolve(self, cfg: AgentConfig) -> Thresholds:
        return self.config.resolve(site=cfg.site, device=cfg.agent)

    def reconfigure(self) -> None:
        for a in self._agents.values():
            a.th = self._resolve(a.cfg)

    def feed(self, e: AgentStatus) -> Changes:
        self.advance(e.t)
        a = self._agents.get(e.agent)
        if a is None:
            self.register(AgentConfig(e.agent))
            a = self._agents[e.agent]
        if e.state == "offline":
            if a.offline:
                return None
            a.offline = True
            ev = {
                "agent": e.agent,
                "reason": "last will",
                "last_seen": _t(a.last_seen),
                "info": e.info,
            }
            msg = f"agent {e.agent} went offline (last will)"
            return [
                Condition(AlarmType.DEVICE_OFFLINE, a.subject, True, e.t, msg, ev, None, a.cfg.site)
            ]
        if e.t > a.last_seen:
            a.last_seen = e.t
        if not a.offline:
            return None
        a.offline = False
        ev = {"agent": e.agent, "state": e.state, "last_seen": _t(a.last_seen)}
        return [
            Condition(AlarmType.DEVICE_OFFLINE, a.subject, False, e.t, "", ev, None, a.cfg.site)
        ]

    def tick(self, now: float) -> Changes:
        now = min(now, self.clock)
        out: Changes = None
        for a in self._agents.values():
            if a.offline or a.last_seen == -math.inf:
                continue
            th = a.th
            limit = th.heartbeat_s * th.offline_missed
            if now - a.last_seen > limit:
                a.offline = True
                # Stamped when it became overdue, not when the tick noticed: a replay that
                # ticks at other moments raises the same alarm (same id).
                due = a.last_seen + limit
                ev = {
                    "agent": a.cfg.agent,
                    "reason": "missed heartbeats",
                    "last_seen": a.last_seen,
                    "limit_s": limit,
                }
                msg = f"agent {a.cfg.agent} silent for more than {limit:g} s"
                cond = Condition(
                    AlarmType.DEVICE_OFFLINE, a.subject, True, due, msg, ev, None, a.cfg.site
                )
                out = [*(out or ()), cond]
        return out

    def cleared(self, type_: AlarmType, subject: str) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {agent: self._item(a) for agent, a in self._agents.items()}

    def item_dict(self, agent: str) -> dict[str, Any] | None:
        """One agent's entry of ``to_dict`` (for a store that saves agent by agent)."""
        a = self._agents.get(agent)
        return self._item(a) if a is not None else None

    @staticmethod
    def _item(a: _Agent) -> dict[str, Any]:
        return {"cfg": a.cfg.to_dict(), "last_seen": _t(a.last_seen), "offline": a.offline}

    def load(self, d: dict[str, Any]) -> None:
        self._agents.clear()
        for agent, ad in d.items():
            self.register(AgentConfig.from_dict(ad["cfg"]))
            a = self._agents[agent]
            a.last_seen = -math.inf if ad["last_seen"] is None else float(ad["last_seen"])
            a.offline = bool(ad["offline"])
            self.advance(a.last_seen)


def _t(t: float) -> float | None:
    return None if t == -math.inf else t
