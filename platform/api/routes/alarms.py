"""Alarms, thresholds, webhooks, stocktakes and inventory accuracy. Thin: validate, call the
services (``platform/alarms/service.py``, ``platform/stocktake/service.py``), map refusals.

Rows outside the caller's subtree are 404; an illegal lifecycle step is 409 with the reason;
invalid input is 422; every error body is ``{"detail": {"code", "message"}}``. Acknowledge
and clear are applied by the evaluation worker (the alarm engine's ordered command path):
200 with the alarm once applied, 409 when the engine refused, 202 when it has not answered
within a few seconds (the command stays queued and is applied in order).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, WebSocket, status
from fastapi.responses import JSONResponse
from pydantic import AnyHttpUrl, BaseModel, Field
from sqlalchemy import func, select

from wayhouse.platform.alarms import live
from wayhouse.platform.alarms import service as svc
from wayhouse.platform.alarms.model import Action, AlarmState, AlarmType, Severity
from wayhouse.platform.alarms.models import (
    AlarmCommand,
    AlarmRow,
    AlarmRuleConfig,
    AlarmTransitionRow,
    Webhook,
    WebhookDelivery,
)
from wayhouse.platform.api.auth_deps import DbSession, require_role
from wayhouse.platform.api.deps import Page, like_contains, pagination
from wayhouse.platform.api.errors import INT_MAX, Text, http_error
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms.domain.types import DomainError, Role
from wayhouse.platform.stocktake import service as st
from wayhouse.platform.stocktake.models import StocktakeSessionRow
from wayhouse.platform.stocktake.session import Accuracy, SessionStatus

router = APIRouter(tags=["alarms and stocktaking"])
T = TypeVar("T")

AlarmViewers = Annotated[
    Principal,
    Depends(
        require_role(Role.HQ_ADMIN, Role.REGION_MANAGER, Role.WAREHOUSE_OPERATOR, Role.DISPATCHER)
    ),
]
HqOnly = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN))]
StockStaff = Annotated[
    Principal,
    Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER, Role.WAREHOUSE_OPERATOR)),
]
AlarmId = Annotated[str, Path(pattern=r"^[0-9a-f]{20}$", description="the engine's alarm id")]
IntId = Annotated[int, Path(ge=1, le=INT_MAX)]

# Refusals that are the caller's input, not the state of things: 422, not 409.
INVALID_INPUT = frozenset(
    {
        "invalid_threshold",
        "unknown_threshold",
        "invalid_scope",
        "key_required",
        "invalid_zone",
        "invalid_quantity",
        "unknown_line",
        "unknown_adjustment",
        "reason_required",
    }
)


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except DomainError as exc:
        if exc.code in INVALID_INPUT:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, {"code": exc.code, "message": exc.message}
            ) from exc
        raise http_error(exc) from exc


# ---- schemas ----------------------------------------------------------------------------------


class AlarmOut(BaseModel):
    id: str
    type: AlarmType
    subject: str
    severity: Severity
    state: AlarmState
    message: str
    occurrences: int
    raised_at: dt.datetime
    last_seen: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    cleared_at: dt.datetime | None
    cleared_by: str | None
    clear_reason: str | None
    site: str | None
    warehouse_id: int | None
    product_class: str | None
    device: str | None


class TransitionOut(BaseModel):
    id: int
    seq: int
    action: Action
    from_state: AlarmState | None
    to_state: AlarmState
    at: dt.datetime
    by: str
    severity: Severity
    reason: str
    message: str
    occurrences: int
    evidence: dict[str, Any] | None


class CommandOut(BaseModel):
    id: int
    action: str
    by: str
    requested_at: dt.datetime
    applied_at: dt.datetime | None
    outcome: str | None
    error: str | None


class AlarmDetailOut(AlarmOut):
    evidence: dict[str, Any]
    transitions: list[TransitionOut]
    commands: list[CommandOut]


class AckIn(BaseModel):
    note: Text = Field(default="", max_length=1000)


class ClearIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=1000)
    force: bool = Field(
        default=False, description="clear although the condition still holds (it stays quiet)"
    )


class PendingOut(BaseModel):
    command_id: int
    outcome: Literal["pending"]
    detail: str


def _alarm_out(r: AlarmRow) -> AlarmOut:
    return AlarmOut(
        id=r.id,
        type=AlarmType(r.type),
        subject=r.subject,
        severity=Severity(r.severity),
        state=AlarmState(r.state),
        message=r.message,
        occurrences=r.occurrences,
        raised_at=r.raised_at,
        last_seen=r.last_seen,
        acknowledged_at=r.acknowledged_at,
        acknowledged_by=r.acknowledged_by,
        cleared_at=r.cleared_at,
        cleared_by=r.cleared_by,
        clear_reason=r.clear_reason,
        site=r.site,
        warehouse_id=r.warehouse_id,
        product_class=r.product_class,
        device=r.device,
    )


def _detail(session: DbSession, r: AlarmRow) -> AlarmDetailOut:
    trs: list[AlarmTransitionRow] = svc.transitions(session, r.id)
    cmds: list[AlarmCommand] = svc.commands(session, r.id)
    return AlarmDetailOut(
        **_alarm_out(r).model_dump(),
        evidence=r.evidence,
        transitions=[
            TransitionOut(
                id=t.id,
                seq=t.seq,
                action=Action(t.action),
                from_state=AlarmState(t.from_state) if t.from_state else None,
                to_state=AlarmState(t.to_state),
                at=t.at,
                by=t.by,
                severity=Severity(t.severity),
                reason=t.reason,
                message=t.message,
                occurrences=t.occurrences,
                evidence=t.evidence,
            )
            for t in trs
        ],
        commands=[
            CommandOut(
                id=c.id,
                action=c.action,
                by=c.by,
                requested_at=c.requested_at,
                applied_at=c.applied_at,
                outcome=c.outcome,
                error=c.error,
            )
            for c in cmds
        ],
    )


# ---- alarms -------------------------------------------------------------------------------------

ALARM_SORTS = {
    "raised_at": AlarmRow.raised_at,
    "last_seen": AlarmRow.last_seen,
    "severity": AlarmRow.severity,
    "type": AlarmRow.type,
    "state": AlarmRow.state,
    "site": AlarmRow.site,
}


@router.get("/alarms", response_model=PageOut[AlarmOut])
def list_alarms(
    session: DbSession,
    user: AlarmViewers,
    page: Annotated[Page, Depends(pagination)],
    state: Annotated[list[AlarmState] | None, Query()] = None,
    type_: Annotated[list[AlarmType] | None, Query(alias="type")] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    site: Annotated[Text | None, Query(max_length=64)] = None,
    warehouse_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    q: Annotated[Text | None, Query(max_length=100, description="subject or message")] = None,
    since: Annotated[dt.datetime | None, Query(description="raised at or after")] = None,
    open_only: Annotated[bool, Query(description="active or acknowledged only")] = False,
    sort: Annotated[
        str, Query(pattern=r"^-?(raised_at|last_seen|severity|type|state|site)$")
    ] = "-raised_at",
) -> PageOut[AlarmOut]:
    query = select(AlarmRow).where(svc.visible(user))
    if state:
        query = query.where(AlarmRow.state.in_([s.value for s in state]))
    if open_only:
        query = query.where(AlarmRow.state != AlarmState.CLEARED.value)
    if type_:
        query = query.where(AlarmRow.type.in_([t.value for t in type_]))
    if severity:
        query = query.where(AlarmRow.severity.in_([s.value for s in severity]))
    if site:
        query = query.where(AlarmRow.site == site)
    if warehouse_id is not None:
        query = query.where(AlarmRow.warehouse_id == warehouse_id)
    if q:
        pattern = like_contains(q)
        query = query.where(AlarmRow.subject.ilike(pattern) | AlarmRow.message.ilike(pattern))
    if since is not None:
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        query = query.where(AlarmRow.raised_at >= since)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = ALARM_SORTS[sort.removeprefix("-")]
    desc = sort.startswith("-")
    rows = session.scalars(
        query.order_by(
            column.desc() if desc else column.asc(), AlarmRow.id.desc() if desc else AlarmRow.id
        )
        .limit(page.size)
        .offset(page.offset)
    ).all()
    return PageOut(items=[_alarm_out(r) for r in rows], total=total, page=page.page, size=page.size)


@router.get("/alarms/{alarm_id}", response_model=AlarmDetailOut)
def get_alarm(alarm_id: AlarmId, session: DbSession, user: AlarmViewers) -> AlarmDetailOut:
    return _detail(session, _run(lambda: svc.get_alarm(session, user, alarm_id)))


def _command(
    session: DbSession, user: Principal, alarm_id: str, action: str, note: str, force: bool
) -> AlarmDetailOut | JSONResponse:
    result = _run(lambda: svc.request(session, user, alarm_id, action, note, force))
    if result.outcome == "refused":
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {"code": "refused", "message": result.error or "the alarm engine refused"},
        )
    if result.outcome == "pending":
        body = PendingOut(
            command_id=result.command_id,
            outcome="pending",
            detail="queued; the evaluation worker applies it in order",
        )
        return JSONResponse(body.model_dump(), status_code=status.HTTP_202_ACCEPTED)
    session.expire_all()
    return _detail(session, svc.get_alarm(session, user, alarm_id))


@router.post(
    "/alarms/{alarm_id}/acknowledge",
    response_model=AlarmDetailOut,
    responses={202: {"model": PendingOut}},
)
def acknowledge(
    alarm_id: AlarmId, session: DbSession, user: AlarmViewers, body: AckIn | None = None
) -> AlarmDetailOut | JSONResponse:
    return _command(session, user, alarm_id, "acknowledge", body.note if body else "", False)


@router.post(
    "/alarms/{alarm_id}/clear",
    response_model=AlarmDetailOut,
    responses={202: {"model": PendingOut}},
)
def clear(
    alarm_id: AlarmId, body: ClearIn, session: DbSession, user: AlarmViewers
) -> AlarmDetailOut | JSONResponse:
    return _command(session, user, alarm_id, "clear", body.reason, body.force)


@router.websocket("/alarms/live")
async def alarms_live(
    websocket: WebSocket, since: Annotated[int | None, Query(ge=0)] = None
) -> None:
    """Pushes new alarm transitions the signed-in user may see (see ``platform/alarms/live``)."""
    await live.serve(websocket, since)


# ---- thresholds -----------------------------------------------------------------------------------


class RuleConfigOut(BaseModel):
    id: int
    scope: Literal["default", "site", "product_class", "device"]
    key: str
    values: dict[str, float | int]
    updated_at: dt.datetime
    updated_by: int | None


class RuleConfigsOut(BaseModel):
    defaults: dict[str, float | int]
    overrides: list[RuleConfigOut]


class RuleConfigIn(BaseModel):
    scope: Literal["default", "site", "product_class", "device"]
    key: Text = Field(default="", max_length=64, description="site code, class or device id")
    values: dict[Annotated[str, Field(max_length=64)], float | int] = Field(max_length=60)


def _rule_out(r: AlarmRuleConfig) -> RuleConfigOut:
    return RuleConfigOut(
        id=r.id,
        scope=r.scope,  # type: ignore[arg-type]
        key=r.key,
        values=r.values,
        updated_at=r.updated_at,
        updated_by=r.updated_by,
    )


@router.get("/alarm-rules", response_model=RuleConfigsOut)
def get_rule_configs(session: DbSession, user: AlarmViewers) -> RuleConfigsOut:
    return RuleConfigsOut(
        defaults=svc.defaults(), overrides=[_rule_out(r) for r in svc.rule_configs(session)]
    )


@router.put("/alarm-rules", response_model=RuleConfigOut)
def put_rule_config(body: RuleConfigIn, session: DbSession, user: HqOnly) -> RuleConfigOut:
    row = _run(lambda: svc.put_rule_config(session, user, body.scope, body.key, body.values))
    return _rule_out(row)


@router.delete("/alarm-rules/{config_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule_config(config_id: IntId, session: DbSession, user: HqOnly) -> None:
    _run(lambda: svc.delete_rule_config(session, user, config_id))


# ---- webhooks ---------------------------------------------------------------------------------------


class EventFilter(BaseModel):
    types: list[AlarmType] = Field(default=[], max_length=40)
    severities: list[Severity] = Field(default=[], max_length=3)
    actions: list[Action] = Field(default=[], max_length=4)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "types": [t.value for t in self.types],
            "severities": [s.value for s in self.severities],
            "actions": [a.value for a in self.actions],
        }


Url = Annotated[AnyHttpUrl, Field(description="http(s) endpoint that receives the POSTs")]


class WebhookIn(BaseModel):
    name: Text = Field(min_length=1, max_length=100)
    url: Url
    secret: Text | None = Field(
        default=None, min_length=16, max_length=128, description="generated when omitted"
    )
    event_filter: EventFilter = EventFilter()
    active: bool = True


class WebhookPatch(BaseModel):
    name: Text | None = Field(default=None, min_length=1, max_length=100)
    url: Url | None = None
    event_filter: EventFilter | None = None
    active: bool | None = None


class WebhookOut(BaseModel):
    id: int
    name: str
    url: str
    event_filter: dict[str, list[str]]
    active: bool
    created_at: dt.datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="shown once: sign-verification key for the receiver")


class DeliveryOut(BaseModel):
    id: int
    transition_id: int
    event: str
    status: str
    attempts: int
    next_try_at: dt.datetime
    last_attempt_at: dt.datetime | None
    response_code: int | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    payload: dict[str, Any]


def _url(u: AnyHttpUrl) -> str:
    s = str(u)
    if len(s) > 500:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"code": "invalid_url", "message": "a webhook URL is at most 500 characters"},
        )
    return s


def _hook_out(w: Webhook) -> WebhookOut:
    return WebhookOut(
        id=w.id,
        name=w.name,
        url=w.url,
        event_filter=w.event_filter,
        active=w.active,
        created_at=w.created_at,
    )


@router.post("/webhooks", response_model=WebhookCreatedOut, status_code=status.HTTP_201_CREATED)
def create_webhook(body: WebhookIn, session: DbSession, user: HqOnly) -> WebhookCreatedOut:
    w = svc.create_webhook(
        session,
        user,
        body.name,
        _url(body.url),
        body.event_filter.as_dict(),
        body.secret,
        body.active,
    )
    session.refresh(w)
    return WebhookCreatedOut(**_hook_out(w).model_dump(), secret=w.secret)


@router.get("/webhooks", response_model=PageOut[WebhookOut])
def list_webhooks(
    session: DbSession, user: HqOnly, page: Annotated[Page, Depends(pagination)]
) -> PageOut[WebhookOut]:
    query = select(Webhook).where(svc.webhook_scope(user))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Webhook.id).limit(page.size).offset(page.offset)).all()
    return PageOut(items=[_hook_out(w) for w in rows], total=total, page=page.page, size=page.size)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: IntId, session: DbSession, user: HqOnly) -> WebhookOut:
    return _hook_out(_run(lambda: svc.get_webhook(session, user, webhook_id)))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut)
def patch_webhook(
    webhook_id: IntId, body: WebhookPatch, session: DbSession, user: HqOnly
) -> WebhookOut:
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.url is not None:
        changes["url"] = _url(body.url)
    if body.event_filter is not None:
        changes["event_filter"] = body.event_filter.as_dict()
    if body.active is not None:
        changes["active"] = body.active
    return _hook_out(_run(lambda: svc.update_webhook(session, user, webhook_id, changes)))


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: IntId, session: DbSession, user: HqOnly) -> None:
    _run(lambda: svc.delete_webhook(session, user, webhook_id))


@router.get("/webhooks/{webhook_id}/deliveries", response_model=PageOut[DeliveryOut])
def list_deliveries(
    webhook_id: IntId,
    session: DbSession,
    user: HqOnly,
    page: Annotated[Page, Depends(pagination)],
    status_: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(alias="status")
    ] = None,
) -> PageOut[DeliveryOut]:
    _run(lambda: svc.get_webhook(session, user, webhook_id))
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if status_:
        query = query.where(WebhookDelivery.status == status_)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(WebhookDelivery.id.desc()).limit(page.size).offset(page.offset)
    ).all()
    return PageOut(
        items=[
            DeliveryOut(
                id=d.id,
                transition_id=d.transition_id,
                event=d.event,
                status=d.status,
                attempts=d.attempts,
                next_try_at=d.next_try_at,
                last_attempt_at=d.last_attempt_at,
                response_code=d.response_code,
                last_error=d.last_error,
                created_at=d.created_at,
                delivered_at=d.delivered_at,
                payload=d.payload,
            )
            for d in rows
        ],
        total=total,
        page=page.page,
        size=page.size,
    )


# ---- stocktakes -------------------------------------------------------------------------------------


class StocktakeIn(BaseModel):
    warehouse_id: int = Field(ge=1, le=INT_MAX)
    zone_id: int | None = Field(default=None, ge=1, le=INT_MAX)


class CountIn(BaseModel):
    line_id: int = Field(ge=1, le=2**62)
    qty: int = Field(ge=0, le=1_000_000)


class CountsIn(BaseModel):
    counts: list[CountIn] = Field(min_length=1, max_length=5000)


class ProposeIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=1000)
    skip_uncounted: bool = False


class DecisionIn(BaseModel):
    line_id: int = Field(ge=1, le=2**62)
    approve: bool
    note: Text = Field(default="", max_length=1000)


class ApproveIn(BaseModel):
    decisions: list[DecisionIn] | None = Field(
        default=None, max_length=5000, description="omit to approve every open proposal"
    )


class CancelIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=1000)


class AccuracyOut(BaseModel):
    bins: int
    bins_exact: int
    uncounted_bins: int
    exact_ratio: float
    units_over: int
    units_short: int
    value_of_differences: Decimal
    net_value: Decimal


class StocktakeLineOut(BaseModel):
    id: int
    bin_id: int
    bin_code: str
    product_id: int
    sku: str
    lot_id: int | None
    lot_code: str | None
    book: int
    sensed: int | None
    sensed_confidence: float
    scanned: int | None
    manual: int | None
    counted_by: str | None
    unit_value: Decimal
    delta: int | None
    adj_source: str | None
    adj_value: Decimal | None
    adj_status: str | None
    proposed_by: str | None
    decided_by: str | None
    adj_note: str | None
    movement_id: int | None


class StocktakeEventOut(BaseModel):
    from_state: str | None
    to_state: str
    at: dt.datetime
    by: str
    reason: str


class StocktakeOut(BaseModel):
    id: int
    warehouse_id: int
    zone_id: int | None
    status: SessionStatus
    created_by: int
    created_at: dt.datetime
    updated_at: dt.datetime
    reason: str | None
    lines: int


class StocktakeDetailOut(StocktakeOut):
    history: list[StocktakeEventOut]
    items: list[StocktakeLineOut]
    accuracy: AccuracyOut


def _accuracy_out(a: Accuracy) -> AccuracyOut:
    return AccuracyOut(
        bins=a.bins,
        bins_exact=a.bins_exact,
        uncounted_bins=a.uncounted_bins,
        exact_ratio=a.exact_ratio,
        units_over=a.units_over,
        units_short=a.units_short,
        value_of_differences=a.value_of_differences,
        net_value=a.net_value,
    )


def _stocktake_out(r: StocktakeSessionRow) -> StocktakeOut:
    return StocktakeOut(
        id=r.id,
        warehouse_id=r.warehouse_id,
        zone_id=r.zone_id,
        status=SessionStatus(r.status),
        created_by=r.created_by,
        created_at=r.created_at,
        updated_at=r.updated_at,
        reason=r.reason,
        lines=len(r.lines),
    )


def _stocktake_detail(session: DbSession, r: StocktakeSessionRow) -> StocktakeDetailOut:
    names = st.labels(session, r)
    return StocktakeDetailOut(
        **_stocktake_out(r).model_dump(),
        history=[StocktakeEventOut(**e) for e in r.history],
        items=[
            StocktakeLineOut(
                id=ln.id,
                bin_id=ln.bin_id,
                bin_code=names[ln.id].bin_code,
                product_id=ln.product_id,
                sku=names[ln.id].sku,
                lot_id=ln.lot_id,
                lot_code=names[ln.id].lot_code,
                book=ln.book,
                sensed=ln.sensed,
                sensed_confidence=ln.sensed_confidence,
                scanned=ln.scanned,
                manual=ln.manual,
                counted_by=ln.counted_by,
                unit_value=ln.unit_value,
                delta=ln.delta,
                adj_source=ln.adj_source,
                adj_value=ln.adj_value,
                adj_status=ln.adj_status,
                proposed_by=ln.proposed_by,
                decided_by=ln.decided_by,
                adj_note=ln.adj_note,
                movement_id=ln.movement_id,
            )
            for ln in r.lines
        ],
        accuracy=_accuracy_out(st.session_accuracy(r)),
    )


@router.post("/stocktakes", response_model=StocktakeDetailOut, status_code=status.HTTP_201_CREATED)
def start_stocktake(body: StocktakeIn, session: DbSession, user: StockStaff) -> StocktakeDetailOut:
    row = _run(lambda: st.start(session, user, body.warehouse_id, body.zone_id))
    return _stocktake_detail(session, row)


STOCKTAKE_SORTS = {
    "created_at": StocktakeSessionRow.created_at,
    "updated_at": StocktakeSessionRow.updated_at,
    "status": StocktakeSessionRow.status,
    "id": StocktakeSessionRow.id,
}


@router.get("/stocktakes", response_model=PageOut[StocktakeOut])
def list_stocktakes(
    session: DbSession,
    user: StockStaff,
    page: Annotated[Page, Depends(pagination)],
    status_: Annotated[list[SessionStatus] | None, Query(alias="status")] = None,
    warehouse_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    sort: Annotated[str, Query(pattern=r"^-?(created_at|updated_at|status|id)$")] = "-created_at",
) -> PageOut[StocktakeOut]:
    query = st.list_query(user)
    if status_:
        query = query.where(StocktakeSessionRow.status.in_([s.value for s in status_]))
    if warehouse_id is not None:
        query = query.where(StocktakeSessionRow.warehouse_id == warehouse_id)
    total = st.count(session, query)
    column = STOCKTAKE_SORTS[sort.removeprefix("-")]
    desc = sort.startswith("-")
    rows = session.scalars(
        query.order_by(
            column.desc() if desc else column.asc(),
            StocktakeSessionRow.id.desc() if desc else StocktakeSessionRow.id,
        )
        .limit(page.size)
        .offset(page.offset)
    ).all()
    return PageOut(
        items=[_stocktake_out(r) for r in rows], total=total, page=page.page, size=page.size
    )


@router.get("/stocktakes/{session_id}", response_model=StocktakeDetailOut)
def get_stocktake(session_id: IntId, session: DbSession, user: StockStaff) -> StocktakeDetailOut:
    return _stocktake_detail(session, _run(lambda: st.get(session, user, session_id)))


@router.post("/stocktakes/{session_id}/counts", response_model=StocktakeDetailOut)
def record_counts(
    session_id: IntId, body: CountsIn, session: DbSession, user: StockStaff
) -> StocktakeDetailOut:
    counts = [(c.line_id, c.qty) for c in body.counts]
    return _stocktake_detail(
        session, _run(lambda: st.record_counts(session, user, session_id, counts))
    )


@router.post("/stocktakes/{session_id}/propose", response_model=StocktakeDetailOut)
def propose(
    session_id: IntId, body: ProposeIn, session: DbSession, user: StockStaff
) -> StocktakeDetailOut:
    row = _run(lambda: st.propose(session, user, session_id, body.reason, body.skip_uncounted))
    return _stocktake_detail(session, row)


@router.post("/stocktakes/{session_id}/approve", response_model=StocktakeDetailOut)
def approve(
    session_id: IntId, session: DbSession, user: StockStaff, body: ApproveIn | None = None
) -> StocktakeDetailOut:
    decisions = (
        None
        if body is None or body.decisions is None
        else [(d.line_id, d.approve, d.note) for d in body.decisions]
    )
    return _stocktake_detail(session, _run(lambda: st.decide(session, user, session_id, decisions)))


@router.post("/stocktakes/{session_id}/post", response_model=StocktakeDetailOut)
def post_stocktake(session_id: IntId, session: DbSession, user: StockStaff) -> StocktakeDetailOut:
    return _stocktake_detail(session, _run(lambda: st.post(session, user, session_id)))


@router.post("/stocktakes/{session_id}/cancel", response_model=StocktakeDetailOut)
def cancel_stocktake(
    session_id: IntId, body: CancelIn, session: DbSession, user: StockStaff
) -> StocktakeDetailOut:
    return _stocktake_detail(
        session, _run(lambda: st.cancel(session, user, session_id, body.reason))
    )


# ---- accuracy and the bin map ---------------------------------------------------------------------


class BinStateOut(BaseModel):
    bin_id: int
    code: str
    zone: str | None
    sensor: str | None
    sku: str | None
    book: int
    sensed: int | None
    confidence: float | None
    scanned: int | None
    difference: int | None
    value_of_difference: Decimal | None
    updated_at: dt.datetime | None


@router.get("/warehouses/{warehouse_id}/accuracy", response_model=AccuracyOut)
def warehouse_accuracy(warehouse_id: IntId, session: DbSession, user: StockStaff) -> AccuracyOut:
    """Live: each bin's sensed (or RFID) count against its book; bins nobody can count are
    ``uncounted_bins``."""
    return _accuracy_out(_run(lambda: st.live_accuracy(session, user, warehouse_id)))


@router.get("/warehouses/{warehouse_id}/bins", response_model=list[BinStateOut])
def warehouse_bins(warehouse_id: IntId, session: DbSession, user: StockStaff) -> list[BinStateOut]:
    """Every storage bin with its book, sensed and scanned count: the bin map."""
    out = []
    for b in _run(lambda: st.bin_states(session, user, warehouse_id)):
        diff = b.difference
        out.append(
            BinStateOut(
                bin_id=b.bin_id,
                code=b.code,
                zone=b.zone,
                sensor=b.sensor,
                sku=b.sku,
                book=b.book,
                sensed=b.sensed,
                confidence=b.confidence,
                scanned=b.scanned,
                difference=diff,
                value_of_difference=None if diff is None else b.unit_value * diff,
                updated_at=b.updated_at,
            )
        )
    return out
