"""The console's only way to data: the REST API, called with the signed-in user's bearer
token, so tenant scoping stays the API's job. Failures become ``ApiError`` with a reason a
person can act on (the API's own {code, message} when it sends one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from wayhouse.ui.i18n import t


@dataclass
class ApiConfig:
    base_url: str = "http://127.0.0.1:58000"
    timeout_s: float = 10.0


CONFIG = ApiConfig()


def configure(base_url: str, timeout_s: float = 10.0) -> None:
    CONFIG.base_url = base_url.rstrip("/")
    CONFIG.timeout_s = timeout_s


class ApiError(Exception):
    """A refused or failed call; ``status`` 0 means the API was not reached."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def reason_of(response: httpx.Response) -> tuple[str, str | None]:
    """The API's reason: ``detail`` as text, as {code, message}, or as a 422 error list."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:200] or response.reason_phrase, None
    if isinstance(detail, dict):
        return str(detail.get("message") or detail), detail.get("code")
    if isinstance(detail, list) and detail:
        parts = []
        for err in detail[:3]:
            where = ".".join(str(p) for p in err.get("loc", [])[1:])
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return "; ".join(parts), "invalid_input"
    return str(detail or response.reason_phrase), None


def user_message(err: ApiError) -> str:
    if err.status == 0:
        return t("error.unreachable")
    if err.status == 401:
        return t("error.session") if err.code is None else err.message
    if err.status == 404:
        return t("error.not_found")
    if err.status == 403:
        return f"{t('error.forbidden')}: {err.message}"
    return t("error.generic", status=err.status, reason=err.message)


class ApiClient:
    def __init__(self, token: str | None = None, base_url: str | None = None) -> None:
        self.token = token
        self.base_url = base_url or CONFIG.base_url

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "", [])}
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, timeout=CONFIG.timeout_s, headers=headers
            ) as client:
                r = await client.request(method, path, params=clean, json=json)
        except httpx.HTTPError as exc:
            raise ApiError(0, str(exc)) from exc
        if r.status_code >= 400:
            message, code = reason_of(r)
            raise ApiError(r.status_code, message, code)
        return r.json() if r.content else None

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: Any = None) -> Any:
        return await self.request("POST", path, json=json)

    async def put(self, path: str, json: Any = None) -> Any:
        return await self.request("PUT", path, json=json)

    async def post_file(
        self,
        path: str,
        *,
        field: str,
        filename: str,
        content: bytes,
        content_type: str,
        form: dict[str, str] | None = None,
    ) -> Any:
        """A multipart upload (documents, photos) with the user's token."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, timeout=CONFIG.timeout_s, headers=headers
            ) as client:
                r = await client.post(
                    path, data=form or {}, files={field: (filename, content, content_type)}
                )
        except httpx.HTTPError as exc:
            raise ApiError(0, str(exc)) from exc
        if r.status_code >= 400:
            message, code = reason_of(r)
            raise ApiError(r.status_code, message, code)
        return r.json() if r.content else None
