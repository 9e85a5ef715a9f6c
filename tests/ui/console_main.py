"""The console as the NiceGUI user simulation loads it (a "main file"): the pages, pointed at
the API the test started (its URL in WAYHOUSE_UI_TEST_API_URL)."""

from __future__ import annotations

import os

from nicegui import ui

from wayhouse.ui.app import build_pages

build_pages(os.environ["WAYHOUSE_UI_TEST_API_URL"])
ui.run(storage_secret="ui test secret", reload=False, show=False)
