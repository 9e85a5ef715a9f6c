"""/stock: the catalogue (searchable, paged by the API) and, for a chosen product, its stock
per bin and lot in a warehouse: on hand, reserved for orders, available, expiry."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.ui import i18n
from wayhouse.ui.api_client import ApiError
from wayhouse.ui.export import export_button
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.pager import Pager
from wayhouse.ui.session import SessionUser, report, require_user

i18n.extend(
    {
        "en": {
            "stock.title": "Catalogue and stock",
            "stock.search": "SKU or name",
            "stock.sku": "SKU",
            "stock.name": "Name",
            "stock.class": "Product class",
            "stock.price": "List price",
            "stock.warehouse": "Warehouse",
            "stock.positions": "Stock of {sku}",
            "stock.bin": "Bin",
            "stock.lot": "Lot",
            "stock.expires": "Expires",
            "stock.on_hand": "On hand",
            "stock.reserved": "Reserved",
            "stock.available": "Available",
            "stock.pick": "Choose a product to see its stock",
        },
        "zh-CN": {
            "stock.title": "商品与库存",
            "stock.search": "SKU 或名称",
            "stock.sku": "SKU",
            "stock.name": "名称",
            "stock.class": "品类",
            "stock.price": "目录价",
            "stock.warehouse": "仓库",
            "stock.positions": "{sku} 的库存",
            "stock.bin": "库位",
            "stock.lot": "批次",
            "stock.expires": "到期日",
            "stock.on_hand": "在库",
            "stock.reserved": "已预留",
            "stock.available": "可用",
            "stock.pick": "选择商品查看库存",
        },
    }
)

STOCK_ROLES = frozenset({"hq_admin", "region_manager", "dealer_user", "warehouse_operator"})


def _col(name: str, key: str, align: str = "left") -> dict[str, str]:
    return {"name": name, "label": t(key), "field": name, "align": align}


LINK_CELL = (
    '<q-td :props="props"><a class="text-primary" :href="\'/stock?product_id=\' + props.row.id">'
    "{{ props.value }}</a></q-td>"
)


async def _page(user: SessionUser, product_id: int | None) -> None:
    chosen: dict[str, object] = {}
    with frame(user, t("stock.title")):
        try:
            warehouses = (await user.api.get("/warehouses", size=100))["items"]
        except ApiError as err:
            report(err, inline=True)
            return
        with ui.row().classes("items-end gap-4"):
            search = (
                ui.input(t("stock.search"))
                .props("clearable")
                .props("data-testid=stock-search")
                .mark("stock-search")
            )
            export_button(user, "products", lambda: {"q": search.value or None})
            wh = ui.select(
                {w["id"]: f"{w['code']} · {w['name']}" for w in warehouses},
                label=t("stock.warehouse"),
                value=warehouses[0]["id"] if warehouses else None,
            ).classes("w-64")
        with ui.row().classes("w-full gap-6 items-start no-wrap"):
            with ui.column().classes("w-1/2"):
                products = (
                    ui.table(
                        columns=[
                            _col("sku", "stock.sku"),
                            _col("name", "stock.name"),
                            _col("product_class", "stock.class"),
                            _col("list_price", "stock.price", "right"),
                        ],
                        rows=[],
                        row_key="id",
                        selection="single",
                    )
                    .classes("w-full")
                    .props("data-testid=products")
                    .mark("products")
                )
                products.props("hide-pagination :pagination='{rowsPerPage: 0}'")
                pager = Pager(lambda: load())
            with ui.column().classes("w-1/2"):
                title = ui.label(t("stock.pick")).classes("text-subtitle1")
                positions = (
                    ui.table(
                        columns=[
                            _col("bin_code", "stock.bin"),
                            _col("lot_code", "stock.lot"),
                            _col("expires_on", "stock.expires"),
                            _col("on_hand", "stock.on_hand", "right"),
                            _col("reserved", "stock.reserved", "right"),
                            _col("available", "stock.available", "right"),
                        ],
                        rows=[],
                        row_key="key",
                    )
                    .classes("w-full")
                    .props("data-testid=positions")
                    .mark("positions")
                )

    async def load() -> None:
        try:
            data = await user.api.get(
                "/products", page=pager.page, size=pager.size, q=search.value or None, sort="sku"
            )
        except ApiError as err:
            report(err)
            return
        products.rows = data["items"]
        pager.update(data["total"])

    async def show() -> None:
        product = chosen.get("product")
        if not product or wh.value is None:
            return
        try:
            rows = await user.api.get(
                f"/warehouses/{wh.value}/stock",
                product_id=product["id"],  # type: ignore[index]
            )
        except ApiError as err:
            report(err)
            return
        title.text = t("stock.positions", sku=product["sku"])  # type: ignore[index]
        positions.rows = [{**r, "key": f"{r['bin_id']}-{r['lot_id']}"} for r in rows]

    search.on("keydown.enter", lambda: pager.reset())
    wh.on_value_change(show)
    await load()
    if product_id is not None:
        try:
            chosen["product"] = await user.api.get(f"/products/{product_id}")
        except ApiError as err:
            report(err)
            return
        await show()


def register() -> None:
    @ui.page("/stock")
    async def stock_page(product_id: int | None = None) -> RedirectResponse | None:
        user = require_user(STOCK_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        await _page(user, product_id)
        return None
