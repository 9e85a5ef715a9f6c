"""The FastAPI application factory (``uvicorn --factory wayhouse.platform.api.app:create_app``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool

from wayhouse.config import Settings, get_settings
from wayhouse.platform.api.routes import (
    alarms,
    analytics,
    approval_rules,
    auth,
    contracts,
    customers,
    dealers,
    dispatch,
    documents,
    fulfilment,
    imports,
    order_desk,
    orders,
    search,
    service,
    stock,
    telemetry,
    tracking,
    users,
)


def install_error_handlers(app: FastAPI) -> None:
    """Input the database refuses (an id past int4, a value out of range) is the caller's
    error: 422 with the reason, never a 500."""

    async def data_error(request: Request, exc: Exception) -> JSONResponse:
        orig = getattr(exc, "orig", exc)
        message = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
        return JSONResponse(
            status_code=422, content={"detail": {"code": "invalid_value", "message": message}}
        )

    app.add_exception_handler(psycopg.DataError, data_error)
    app.add_exception_handler(sqlalchemy.exc.DataError, data_error)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # open=False + open(wait=False): the API starts (and /health answers) while the
        # database is still down, and recovers when it comes back.
        pool = ConnectionPool(settings.database_url(), min_size=1, max_size=10, open=False)
        pool.open(wait=False)
        app.state.pool = pool
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="Wayhouse API",
        version="0.1.0",
        description="Dealer network, warehouse and delivery tracking. Operations endpoints need "
        "the operator bearer token (printed by `wayhouse run`, stored in <data>/secrets/api_token).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.api_token = settings.secret("api_token")
    install_error_handlers(app)
    app.include_router(telemetry.public)
    app.include_router(telemetry.router)
    app.include_router(auth.router)
    app.include_router(dealers.router)
    app.include_router(documents.router)
    app.include_router(stock.router)
    app.include_router(orders.router)
    app.include_router(approval_rules.router)
    app.include_router(fulfilment.router)
    app.include_router(dispatch.router)
    app.include_router(tracking.router)
    app.include_router(alarms.router)
    app.include_router(customers.router)
    app.include_router(contracts.router)
    app.include_router(service.router)
    app.include_router(search.router)
    app.include_router(analytics.router)
    app.include_router(order_desk.router)
    app.include_router(imports.router)
    app.include_router(users.router)
    return app
