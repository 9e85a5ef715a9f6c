"""Server-side paging for tables: the API does the paging (page/size); this is the
Previous/Next bar and the page state that drives it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from wayhouse.ui.i18n import t


class Pager:
    def __init__(self, load: Callable[[], Awaitable[None]], size: int = 20) -> None:
        self.page = 1
        self.size = size
        self.total = 0
        self._load = load
        with ui.row().classes("items-center gap-2"):
            self._prev = ui.button(t("page.prev"), on_click=lambda: self.go(-1)).props(
                "flat data-testid=page-prev"
            )
            self.label = ui.label().props("data-testid=page-label")
            self._next = ui.button(t("page.next"), on_click=lambda: self.go(1)).props(
                "flat data-testid=page-next"
            )

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    async def go(self, step: int) -> None:
        self.page = min(max(1, self.page + step), self.pages)
        await self._load()

    async def reset(self) -> None:
        self.page = 1
        await self._load()

    def update(self, total: int) -> None:
        self.total = total
        self.label.text = t("page.of", page=self.page, pages=self.pages, total=total)
        self._prev.set_enabled(self.page > 1)
        self._next.set_enabled(self.page < self.pages)
