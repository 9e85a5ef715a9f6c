"""/operations: the telemetry pipeline view, for HQ admins. It reads the operations endpoints
with the admin's own session (the API accepts an HQ admin there), so the console needs no
operator secret."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.ui.api_client import ApiError, user_message
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.session import SessionUser, require_user


def _fmt(n: float | int | None, unit: str = "") -> str:
    if n is None:
        return "–"
    return f"{n:,.0f}{unit}" if isinstance(n, (int, float)) else str(n)


async def _build(user: SessionUser) -> None:
    with frame(user, t("ops.title")):
        error = ui.label().classes("text-negative")
        with ui.row().classes("w-full gap-4"):
            cards: dict[str, ui.label] = {}
            for key, title in [
                ("msgs_in", "Messages in"),
                ("readings_written", "Readings stored"),
                ("duplicates", "Duplicates dropped"),
                ("dead_letters", "Dead letters"),
                ("lag_ms", "Lag (ms)"),
                ("p99", "p99 latency (ms)"),
            ]:
                with ui.card().classes("min-w-40"):
                    ui.label(title).classes("text-caption")
                    cards[key] = (
                        ui.label("–").classes("text-h5").props(f"data-testid={key}").mark(key)
                    )
        health = ui.label().classes("text-caption")
        ui.label("Devices").classes("text-h6 mt-4")
        devices = ui.table(
            columns=[
                {"name": "agent_id", "label": "Agent", "field": "agent_id", "sortable": True},
                {"name": "kind", "label": "Kind", "field": "kind", "sortable": True},
                {"name": "sensors", "label": "Sensors", "field": "sensors"},
                {"name": "state", "label": "Status", "field": "state"},
                {"name": "last_status_at", "label": "Last status", "field": "last_status_at"},
            ],
            rows=[],
            row_key="agent_id",
            pagination=20,
        ).classes("w-full")
        ui.label("Dead letters (newest first)").classes("text-h6 mt-4")
        dead = ui.table(
            columns=[
                {"name": "received_at", "label": "Received", "field": "received_at"},
                {"name": "topic", "label": "Topic", "field": "topic"},
                {"name": "reason", "label": "Reason", "field": "reason"},
                {"name": "payload_preview", "label": "Payload", "field": "payload_preview"},
            ],
            rows=[],
            row_key="id",
            pagination=10,
        ).classes("w-full")

    async def refresh() -> None:
        try:
            h = await user.api.get("/health")
            stats = await user.api.get("/ingest/stats")
            devs = await user.api.get("/devices", size=500)
            dl = await user.api.get("/dead-letters", size=50)
        except ApiError as err:
            error.text = user_message(err)
            return
        error.text = ""
        health.text = (
            f"database {'up' if h['database'] else 'DOWN'} · broker {'up' if h['broker'] else 'DOWN'}"
            f" · storage mode {h['storage_mode']} · schema {h['schema_revision']}"
        )
        for key in ("msgs_in", "readings_written", "duplicates", "dead_letters", "lag_ms"):
            cards[key].text = _fmt(stats[key])
        p99 = [w["latency_p99_ms"] for w in stats["workers"] if w["alive"] and w["latency_p99_ms"]]
        cards["p99"].text = _fmt(max(p99) if p99 else None)
        devices.rows = devs["items"]
        dead.rows = dl["items"]

    await refresh()
    ui.timer(2.0, refresh)


def register() -> None:
    @ui.page("/operations")
    async def operations() -> RedirectResponse | None:
        user = require_user(frozenset({"hq_admin"}))
        if isinstance(user, RedirectResponse):
            return user
        await _build(user)
        return None
