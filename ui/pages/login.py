"""/login: username and password; Enter submits; the API's refusal reason is shown."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.ui.api_client import ApiClient, ApiError, user_message
from wayhouse.ui.i18n import t
from wayhouse.ui.session import current_user, home_for, sign_in


async def attempt_login(username: str, password: str) -> str | None:
    """Sign in through the API; the error text for the person on failure, else None."""
    try:
        issued = await ApiClient().post(
            "/auth/login", json={"username": username, "password": password}
        )
    except ApiError as err:
        # 401/429 carry the API's reason (wrong password, too many attempts): show it as is.
        reason = err.message if err.status in (401, 422, 429) else user_message(err)
        return t("login.failed", reason=reason)
    sign_in(issued["token"], issued["user"])
    return None


def register() -> None:
    @ui.page("/login")
    def login_page() -> RedirectResponse | None:
        user = current_user()
        if user is not None:
            return RedirectResponse(home_for(user.role), status_code=303)
        ui.page_title(f"{t('app')} · {t('login.title')}")

        async def submit() -> None:
            if not username.value or not password.value:
                ui.notify(t("login.required"), type="warning")
                return
            error = await attempt_login(username.value, password.value)
            if error:
                password.value = ""
                message.text = error
                ui.notify(error, type="negative")
                return
            signed = current_user()
            ui.navigate.to(home_for(signed.role) if signed else "/")

        with ui.card().classes("absolute-center w-80"):
            ui.label(t("app")).classes("text-h5")
            ui.label(t("login.title")).classes("text-subtitle1")
            username = (
                ui.input(t("login.username"))
                .props("autofocus autocomplete=username data-testid=username")
                .mark("username")
            )
            password = (
                ui.input(t("login.password"), password=True)
                .props("autocomplete=current-password data-testid=password")
                .mark("password")
            )
            for field in (username, password):
                field.classes("w-full").on("keydown.enter", submit)
            message = ui.label().classes("text-negative").props('role="alert"').mark("login-error")
            ui.button(t("login.submit"), on_click=submit).classes("w-full").props(
                "data-testid=login"
            ).mark("login")
        return None
