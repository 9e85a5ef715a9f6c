"""The NiceGUI console. This first page is the operations view of the telemetry pipeline;
the dealer, order, stock, dispatch and alarm pages are added by their own modules."""

from __future__ import annotations

from typing import Any

import httpx
from nicegui import ui

from wayhouse.config import Settings, get_settings


class ApiClient:
    """The console reads through the REST API, so there is one query layer and one set of rules."""

    def __init__(self, settings: Settings) -> None:
        self._client = httpx.Client(
            base_url=f"http://{settings.api_host}:{settings.api_port}",
            headers={"Authorization": f"Bearer {settings.secret('api_token')}"},
            timeout=5.0,
        )

    def get(self, path: str, **params: Any) -> Any:
        r = self._client.get(path, params={k: v for k, v in params.items() if v is not None})
        r.raise_for_status()
        return r.json()


def _fmt(n: float | int | None, unit: str = "") -> str:
    if n is None:
        return "–"
    return f"{n:,.0f}{unit}" if isinstance(n, (int, float)) else str(n)


def build_pages(api: ApiClient) -> None:
    @ui.page("/")
    def operations() -> None:
        ui.page_title("Wayhouse · Operations")
        with ui.header().classes("items-center"):
            ui.label("Wayhouse").classes("text-h6")
            ui.label("Operations · telemetry pipeline").classes("text-subtitle2 opacity-80")
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
                    cards[key] = ui.label("–").classes("text-h5").props(f"data-testid={key}")
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

        def refresh() -> None:
            try:
                h = api.get("/health")
                stats = api.get("/ingest/stats")
                devs = api.get("/devices", size=500)
                dl = api.get("/dead-letters", size=50)
            except httpx.HTTPError as exc:
                error.text = f"API unreachable ({exc}); is `wayhouse api` running?"
                return
            error.text = ""
            health.text = (
                f"database {'up' if h['database'] else 'DOWN'} · broker {'up' if h['broker'] else 'DOWN'}"
                f" · storage mode {h['storage_mode']} · schema {h['schema_revision']}"
            )
            for key in ("msgs_in", "readings_written", "duplicates", "dead_letters", "lag_ms"):
                cards[key].text = _fmt(stats[key])
            p99 = [
                w["latency_p99_ms"] for w in stats["workers"] if w["alive"] and w["latency_p99_ms"]
            ]
            cards["p99"].text = _fmt(max(p99) if p99 else None)
            devices.rows = devs["items"]
            dead.rows = dl["items"]

        refresh()
        ui.timer(2.0, refresh)


def run_console(host: str, port: int) -> None:
    settings = get_settings()
    build_pages(ApiClient(settings))
    ui.run(
        host=host,
        port=port,
        title="Wayhouse",
        reload=False,
        show=False,
        storage_secret=settings.secret("ui_storage_secret"),
        favicon="🚚",
    )
