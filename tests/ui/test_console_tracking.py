"""The tracking pages in NiceGUI's user simulation against the real API: the dispatcher's live
map follows a truck's newest position every second and replays its past day on a slider; the
public page of a customer's link shows that delivery's state, ETA and truck (no login), and a
malformed, tampered or expired link gets a clear error in the visitor's language."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from conftest import Stack
from nicegui import ui
from nicegui.testing.user import User
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    anyio_backend_fixture,
    api_fixture,
    demo_product,
    login,
    rows,
    user_fixture,
)

from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.devices.model import AgentSpec, SensorSpec
from wayhouse.platform.dispatch.models import DeliveryPlan, PlanRoute, PlanStop, VehicleRow
from wayhouse.platform.dms.models import Warehouse
from wayhouse.platform.tracking.service import links
from wayhouse.ui.i18n import t

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@dataclass(frozen=True)
class Truck:
    vehicle_id: int
    code: str
    agent: str
    sensor_key: int
    agent_key: int


@pytest.fixture(scope="module")
def truck(stack: Stack, api: Api) -> Truck:
    p = f"ut{uuid.uuid4().hex[:6]}"
    agent = f"{p}-truck"
    stack.provision([AgentSpec(agent, "truck", (SensorSpec(f"{agent}.gps", "gps"),))])
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        wh = s.query(Warehouse).filter_by(code="WH1").one()
        v = VehicleRow(
            code=f"{p.upper()}-V",
            plate="UT-1",
            warehouse_id=wh.id,
            agent_id=agent,
            capacity_kg=1000.0,
            capacity_m3=10.0,
            shift_start_s=0,
            shift_end_s=86_399,
            fixed_cost=0.0,
            cost_per_km=0.0,
            active=True,
        )
        s.add(v)
        s.flush()
        vid, code = v.id, v.code
    with psycopg.connect(stack.settings.database_url()) as conn:
        row = conn.execute(
            "SELECT s.sensor_key, a.agent_key FROM sensor s JOIN agent a USING (agent_key) "
            "WHERE a.agent_id = %s",
            (agent,),
        ).fetchone()
    assert row is not None
    return Truck(vid, code, agent, int(row[0]), int(row[1]))


def _put_latest(stack: Stack, truck: Truck, lat: float, lon: float) -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(stack.settings.database_url(), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO gps_latest (sensor_key, ts, lat, lon, speed) VALUES (%s, %s, %s, %s, 10) "
            "ON CONFLICT (sensor_key) DO UPDATE SET ts = EXCLUDED.ts, lat = EXCLUDED.lat, "
            "lon = EXCLUDED.lon, speed = EXCLUDED.speed",
            (truck.sensor_key, now, lat, lon),
        )
    return now


async def _eventually(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _locale(api: Api, username: str) -> str:
    """The console speaks the signed-in user's language."""
    r = httpx.get(f"{api.url}/auth/me", headers=api.headers(username))
    return str(r.json().get("locale") or "en")


def _fleet_row(user: User, code: str) -> dict[str, object] | None:
    return next((r for r in rows(user, "fleet") if r["code"] == code), None)


async def test_the_live_map_follows_every_truck(
    user: User, api: Api, stack: Stack, truck: Truck
) -> None:
    _put_latest(stack, truck, 45.70001, 4.90001)
    await login(user, api, "dispatcher")
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open("/tracking")
    await user.should_see(marker="fleet", retries=RETRIES)
    await user.should_see(marker="live-map")
    first = _fleet_row(user, truck.code)
    assert first is not None and first["position"] == "45.70001, 4.90001"
    # A new fix: the page shows it within a second or two, with no reload.
    _put_latest(stack, truck, 45.71234, 4.91234)
    await _eventually(
        lambda: (_fleet_row(user, truck.code) or {}).get("position") == "45.71234, 4.91234",
        "the live map to pick up the new position",
    )
    (summary,) = user.find(marker="fleet-summary").elements
    assert isinstance(summary, ui.label)
    fleet = httpx.get(
        f"{api.url}/tracking/trucks", params={"size": 500}, headers=api.headers("dispatcher")
    ).json()
    located = sum(1 for x in fleet["items"] if x["lat"] is not None)
    loc = _locale(api, "dispatcher")
    assert summary.text == t("track.fleet", loc, n=fleet["total"], located=located)


async def test_the_live_map_is_for_dispatch_and_hq_only(user: User, api: Api) -> None:
    await login(user, api, "dealer1")
    await user.should_see(marker="orders", retries=RETRIES)
    await user.open("/tracking")
    await user.should_not_see(marker="fleet")


async def test_playback_replays_a_past_day_on_a_slider(
    user: User, api: Api, stack: Stack, truck: Truck
) -> None:
    tz = ZoneInfo(stack.settings.timezone)
    yesterday = dt.datetime.now(tz).date() - dt.timedelta(days=1)
    noon = dt.datetime.combine(yesterday, dt.time(12), tzinfo=tz)
    with (
        psycopg.connect(stack.settings.database_url(), autocommit=True) as conn,
        conn.cursor() as cur,
    ):
        cur.executemany(
            "INSERT INTO gps_fix (ts, sensor_key, agent_key, seq, lat, lon, speed, received_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, now())",
            [
                (
                    noon + dt.timedelta(seconds=30 * i),
                    truck.sensor_key,
                    truck.agent_key,
                    i,
                    45.70 + i / 1000,
                    4.90,
                    12.0,
                )
                for i in range(40)
            ],
        )
    await login(user, api, "admin")
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open("/tracking")
    await user.should_see(marker="playback-load", retries=RETRIES)
    (select,) = user.find(marker="playback-vehicle").elements
    assert isinstance(select, ui.select)
    select.value = truck.vehicle_id
    user.find(marker="playback-load").click()  # the day defaults to yesterday
    loc = _locale(api, "admin")
    await user.should_see(
        marker="playback-info", content=t("track.fixes", loc, n=40), retries=RETRIES
    )
    await user.should_see(marker="playback-map")
    await user.should_see(marker="playback-time", content="12:00:00")
    (slider,) = user.find(marker="playback-slider").elements
    assert isinstance(slider, ui.slider) and slider.props["max"] == 39
    slider.value = 10
    await user.should_see(marker="playback-time", content=f"12:05:00 · 43 {t('track.speed', loc)}")
    # Play: the slider advances by itself.
    (play,) = user.find(marker="playback-play").elements
    assert isinstance(play, ui.switch)
    play.value = True
    await _eventually(lambda: slider.value is not None and slider.value >= 13, "playback to run")
    play.value = False


def _allocated_demo_order(api: Api) -> int:
    """dealer1 orders 2 units stocked in WH1, gets credit, approval and an allocation."""
    hq = {"Authorization": f"Bearer {api.token('admin')}"}
    dealer = {"Authorization": f"Bearer {api.token('dealer1')}"}
    op = {"Authorization": f"Bearer {api.token('operator')}"}
    (own,) = httpx.get(f"{api.url}/dealers", headers=dealer).json()["items"]
    httpx.put(
        f"{api.url}/dealers/{own['id']}/credit",
        json={"credit_limit": "10000000.00", "payment_terms_days": 30, "grace_days": 0},
        headers=hq,
    ).raise_for_status()
    wh = httpx.get(f"{api.url}/warehouses", headers=hq).json()["items"]
    wh1 = next(w for w in wh if w["code"] == "WH1")
    pid = demo_product(api)["id"]  # stocked in WH1 by the seed
    oid = httpx.post(
        f"{api.url}/orders", json={"lines": [{"product_id": pid, "qty": 2}]}, headers=dealer
    ).json()["id"]
    status = httpx.post(f"{api.url}/orders/{oid}/submit", headers=dealer).json()["status"]
    for who in ("east.manager", "admin"):
        if status != "approval":
            break
        r = httpx.post(
            f"{api.url}/orders/{oid}/approve",
            json={},
            headers={"Authorization": f"Bearer {api.token(who)}"},
        )
        if r.status_code == 200:
            status = r.json()["status"]
    r = httpx.post(f"{api.url}/orders/{oid}/allocate", json={"warehouse_id": wh1["id"]}, headers=op)
    assert r.status_code == 200 and r.json()["status"] == "allocated", r.text
    return int(oid)


def _link(api: Api, order_id: int) -> str:
    r = httpx.post(
        f"{api.url}/tracking/links",
        json={"order_id": order_id},
        headers={"Authorization": f"Bearer {api.token('dispatcher')}"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


async def test_the_public_page_shows_one_delivery_without_login(
    user: User, api: Api, stack: Stack, truck: Truck
) -> None:
    oid = _allocated_demo_order(api)
    token = _link(api, oid)
    await user.open(f"/track/{token}")
    await user.should_see(marker="public-status", content="Being prepared", retries=RETRIES)
    await user.should_see(marker="public-eta", content="–")
    await user.should_not_see(marker="whoami")  # no console frame, no sign-in

    # Planned on the truck, which has left: the ETA and the truck's position show.
    tz = ZoneInfo(stack.settings.timezone)
    now = dt.datetime.now(dt.UTC)
    eta = now + dt.timedelta(minutes=25)
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        wh = s.query(Warehouse).filter_by(code="WH1").one()
        plan = DeliveryPlan(
            warehouse_id=wh.id,
            day=dt.datetime.now(tz).date(),
            status="published",
            engine="manual",
            objective="cost",
            time_limit_s=1.0,
            progress=1.0,
            revision=1,
            distance_m=0.0,
            published_at=now,
        )
        s.add(plan)
        s.flush()
        route = PlanRoute(
            plan_id=plan.id,
            vehicle_id=truck.vehicle_id,
            locked=False,
            distance_m=0.0,
            start_at=now - dt.timedelta(hours=1),
        )
        s.add(route)
        s.flush()
        s.add(
            PlanStop(
                plan_id=plan.id,
                route_id=route.id,
                order_id=oid,
                seq=0,
                lat=45.8,
                lon=4.9,
                weight_kg=1.0,
                volume_m3=0.1,
                service_s=600.0,
                window_open_s=0.0,
                window_close_s=86_399.0,
                priority=0,
                planned_arrival=eta,
                eta=eta,
                status="planned",
            )
        )
    _put_latest(stack, truck, 45.75, 4.93)
    await user.open(f"/track/{token}")
    await user.should_see(marker="public-status", content="On the way", retries=RETRIES)
    await user.should_see(marker="public-eta", content=eta.astimezone(tz).strftime("%H:%M"))
    (m,) = user.find(marker="public-map").elements
    assert isinstance(m, ui.leaflet)
    dots = [la for la in m.layers if getattr(la, "name", "") == "circleMarker"]
    assert [d.args[0] for d in dots] == [[45.75, 4.93]]  # the truck, and no stop of anyone


async def test_a_bad_link_gets_a_clear_error_page(user: User, api: Api, stack: Stack) -> None:
    oid = _allocated_demo_order(api)
    token = _link(api, oid)
    tampered = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    await user.open(f"/track/{tampered}")
    await user.should_see(marker="link-error", retries=RETRIES)
    await user.should_see(marker="error-tampered")
    # The browser named no language: the page says it in English and in Chinese.
    await user.should_see(content="The link has been altered and is not valid.")
    await user.should_see(content="链接已被篡改，无效。")
    await user.should_not_see(marker="public-status")

    await user.open("/track/not-a-token")
    await user.should_see(marker="error-malformed", retries=RETRIES)

    with psycopg.connect(stack.settings.database_url()) as conn:
        row = conn.execute(
            "SELECT token_id FROM tracking_link WHERE order_id = %s", (oid,)
        ).fetchone()
    assert row is not None
    expired = links(stack.settings).issue(row[0], now=time.time() - 7200, ttl_s=60)
    user.http_client.headers["Accept-Language"] = "zh-CN,zh;q=0.9,en;q=0.5"
    await user.open(f"/track/{expired}")
    await user.should_see(content="链接已过期，请向发送方索取新链接。", retries=RETRIES)
    await user.should_not_see(content="The link has expired. Ask the sender for a new one.")
    user.http_client.headers["Accept-Language"] = "en-GB,en;q=0.8"
    await user.open(f"/track/{expired}")
    await user.should_see(marker="error-expired", retries=RETRIES)
    await user.should_not_see(content="链接已过期，请向发送方索取新链接。")
