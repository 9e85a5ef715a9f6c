"""Who is signed in, kept in ``app.storage.user`` (a signed per-browser cookie key): the API
token and /auth/me. Every page except /login starts with ``require_user()``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.responses import RedirectResponse
from nicegui import app, ui

from wayhouse.ui.api_client import ApiClient, ApiError, user_message

APPROVERS = frozenset({"hq_admin", "region_manager"})
# Managers land on the dashboard; everyone else on the orders they work on.
DASHBOARD_ROLES = APPROVERS
ORDERERS = frozenset({"hq_admin", "region_manager", "dealer_user"})


@dataclass(frozen=True)
class SessionUser:
    token: str
    user_id: int
    username: str
    role: str
    org_unit_id: int
    locale: str

    @property
    def api(self) -> ApiClient:
        return ApiClient(self.token)


def current_user() -> SessionUser | None:
    data = app.storage.user.get("auth")
    if not isinstance(data, dict):
        return None
    try:
        return SessionUser(**data)
    except TypeError:  # an older cookie layout: treat as signed out
        return None


def sign_in(token: str, me: dict[str, object]) -> SessionUser:
    user = SessionUser(
        token=token,
        user_id=int(str(me["user_id"])),
        username=str(me["username"]),
        role=str(me["role"]),
        org_unit_id=int(str(me["org_unit_id"])),
        locale=str(me.get("locale") or "en"),
    )
    app.storage.user["auth"] = user.__dict__.copy()
    app.storage.user["locale"] = user.locale
    return user


def set_locale(locale: str) -> None:
    """The language just saved on the account (PUT /auth/me/locale), for this browser too."""
    app.storage.user["locale"] = locale
    auth = app.storage.user.get("auth")
    if isinstance(auth, dict):
        app.storage.user["auth"] = {**auth, "locale": locale}


def sign_out() -> None:
    app.storage.user.pop("auth", None)
    app.storage.user.pop("locale", None)


def require_user(roles: frozenset[str] | None = None) -> SessionUser | RedirectResponse:
    """The signed-in user, or an HTTP redirect to /login (or to the user's home when the role
    may not open this page). A redirect, not client-side navigation: it works before any
    websocket exists and never renders a protected page's skeleton."""
    user = current_user()
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if roles is not None and user.role not in roles:
        return RedirectResponse(home_for(user.role), status_code=303)
    return user


def home_for(role: str) -> str:
    return "/dashboard" if role in DASHBOARD_ROLES else "/orders"


def report(err: ApiError, inline: bool = False) -> None:
    """Show an API refusal to the person (also on the page when ``inline``, for a page that
    has nothing else to show); an expired session sends them to sign in again."""
    message = user_message(err)
    ui.notify(message, type="negative", multi_line=True)
    if inline:
        ui.label(message).classes("text-negative").props(
            'role="alert" data-testid=page-error'
        ).mark("page-error")
    if err.status == 401:
        sign_out()
        ui.navigate.to("/login")
