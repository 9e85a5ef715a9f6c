"""The shared vocabulary of the dealer-management domain: roles, lifecycles, money.

Money is ``Decimal`` rounded to cents (CNY by default); quantities are whole units (``int``).
Every module of the domain and the persistence layer uses these names and values, so a
status stored in the database is exactly one of these enum values.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

CENT = Decimal("0.01")
DEFAULT_CURRENCY = "CNY"


def money(value: Decimal | int | str) -> Decimal:
    """Round to cents, banker's rounding (what accounting ledgers expect)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


class Role(StrEnum):
    HQ_ADMIN = "hq_admin"
    REGION_MANAGER = "region_manager"
    DEALER_USER = "dealer_user"
    WAREHOUSE_OPERATOR = "warehouse_operator"
    DISPATCHER = "dispatcher"
    DRIVER = "driver"
    TECHNICIAN = "technician"


class OrgLevel(StrEnum):
    HQ = "hq"
    REGION = "region"
    DEALER = "dealer"
    SUB_DEALER = "sub_dealer"


class DealerStatus(StrEnum):
    APPLICANT = "applicant"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class DealerTier(StrEnum):
    PLATINUM = "platinum"
    GOLD = "gold"
    SILVER = "silver"
    STANDARD = "standard"


class CustomerStage(StrEnum):
    LEAD = "lead"
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    REPEAT_CUSTOMER = "repeat_customer"


class OrderStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CREDIT_CHECK = "credit_check"
    HELD = "held"
    APPROVAL = "approval"
    ALLOCATED = "allocated"
    PICKING = "picking"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    INVOICED = "invoiced"
    PAID = "paid"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class MovementKind(StrEnum):
    RECEIVE = "receive"
    PUTAWAY = "putaway"
    PICK = "pick"
    SHIP = "ship"
    ADJUST = "adjust"
    TRANSFER = "transfer"
    RETURN = "return"


class TicketStatus(StrEnum):
    OPEN = "open"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class DomainError(ValueError):
    """A request the rules refuse. ``code`` is machine-readable; the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class IllegalTransition(DomainError):
    """A lifecycle step that is not allowed from the current state (HTTP 409)."""

    def __init__(self, entity: str, current: str, target: str, reason: str = "") -> None:
        why = f": {reason}" if reason else ""
        super().__init__(
            "illegal_transition", f"{entity} cannot go from {current} to {target}{why}"
        )
        self.current = current
        self.target = target


class ApprovalStepStatus(StrEnum):
    """One step of an order's approval chain (stored per step)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class CreditHoldStatus(StrEnum):
    """A credit hold on an order: open until a payment re-check or an override ends it."""

    HELD = "held"
    RELEASED = "released"
    OVERRIDDEN = "overridden"
    WITHDRAWN = "withdrawn"


class ContractStatus(StrEnum):
    """One version of a dealer contract: edited as a draft, approved once, replaced by the next."""

    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    ACTIVE = "active"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
