"""What the sandboxed Facebook and Instagram share: Meta's Graph API conventions.

Paths may start with a version (`/v25.0/...`; any version is accepted). The
token may come as `Authorization: Bearer|OAuth <token>` or as an `access_token`
query or form parameter (Meta's own SDK sends it in the query string). Errors
are Graph's `{"error": {...}}` bodies with their codes (platform-apis.md §2.4).
"""

from __future__ import annotations

import json
import math
import secrets
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests

from campaign.sandbox.core import Fault, ImageInfo, PlatformApi, Request, Response, inspect_image

VERSION_PREFIX = r"(?:/v\d+\.\d+)?"
# Parameters every Graph call may carry besides its own.
COMMON_PARAMS = {
    "access_token", "appsecret_proof", "fields", "format", "method", "pretty",
    "suppress_http_code", "locale", "debug", "transport",
}


def graph_error(
    status: int,
    message: str,
    code: int,
    subcode: int | None = None,
    *,
    user_title: str | None = None,
    user_msg: str | None = None,
    is_transient: bool | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    if user_title:
        error["error_user_title"] = user_title
    if user_msg:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
    return Response.json(status, {"error": error}, headers)


def unsupported(method: str, object_id: str) -> Response:
    verb = {"GET": "get", "POST": "post", "DELETE": "delete"}.get(method, method.lower())
    return graph_error(
        400,
        f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read "
        "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        100,
        33,
    )


def nonexisting_field(field: str, node_type: str) -> Response:
    return graph_error(
        400, f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})", 100
    )


def unknown_params(request: Request, known: set[str]) -> Response | None:
    for name in request.params():
        if name not in known and name not in COMMON_PARAMS:
            return graph_error(400, f"(#100) Param {name} is not a valid parameter", 100)
    for name in request.files:
        if name not in known and name not in ("source", "filename") and not name.startswith(
            "source"
        ):
            return graph_error(400, f"(#100) Param {name} is not a valid parameter", 100)
    return None


def fetch_image(url: str) -> tuple[bytes, ImageInfo | None] | str:
    """GET the image as Meta's crawler would; the bytes and what they are, or why not."""
    if not url.startswith(("http://", "https://")):
        return f"{url!r} is not an http(s) URL"
    try:
        response = requests.get(url, timeout=10)
    except requests.RequestException as exc:
        return f"could not connect ({type(exc).__name__})"
    if response.status_code != 200:
        return f"the server answered {response.status_code}"
    return response.content, inspect_image(response.content)


def insight(object_id: str, name: str, value: object, title: str, description: str
            ) -> dict[str, Any]:
    """One lifetime metric of `GET /{id}/insights`, in the shape of the recorded Instagram
    answers (tests/data/recordings/instagram.json; Facebook's post insights are alike)."""
    return {"name": name, "period": "lifetime", "values": [{"value": value}], "title": title,
            "description": description, "id": f"{object_id}/insights/{name}/lifetime"}


def flag(value: str | None, default: bool = True) -> bool:
    if value is None:
        return default
    return value.strip().lower() not in ("false", "0", "no", "")



def graph_time(moment: datetime) -> str:
    """A time as the Graph API writes it (created_time, timestamp): UTC with +0000."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")

class GraphApi(PlatformApi):
    """Graph auth, faults and error bodies; Facebook and Instagram add their calls."""

    token: ClassVar[str]
    token_variable: ClassVar[str]
    rate_limit_code: ClassVar[int] = 32
    rate_limit_type: ClassVar[str] = "pages"

    def credentials(self) -> dict[str, str]:
        return {self.token_variable: self.token}

    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization") or ""
        token = None
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            token = value.strip()
        token = token or request.param("access_token")
        if not token:
            return graph_error(
                400, "An access token is required to request this resource.", 104
            )
        if token != self.token:
            return graph_error(
                400, "Invalid OAuth access token - Cannot parse access token", 190
            )
        return None

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "rate_limit":
            minutes = max(1, math.ceil(fault.reset_after / 60))
            usage = {
                self.account_id(): [
                    {
                        "type": self.rate_limit_type,
                        "call_count": 100,
                        "total_cputime": 25,
                        "total_time": 25,
                        "estimated_time_to_regain_access": minutes,
                    }
                ]
            }
            return graph_error(
                400,
                "(#32) Page request limit reached" if self.rate_limit_code == 32
                else "(#4) Application request limit reached",
                self.rate_limit_code,
                is_transient=True,
                headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
            )
        if fault.kind == "server_error":
            return graph_error(
                500, "An unexpected error has occurred. Please retry your request later.", 2,
                is_transient=True,
            )
        if fault.kind == "expired_token":
            when = time.strftime("%A, %d-%b-%y %H:%M:%S UTC", time.gmtime(time.time() - 3600))
            return graph_error(
                400,
                f"Error validating access token: Session has expired on {when}. The current "
                f"time is {time.strftime('%A, %d-%b-%y %H:%M:%S UTC', time.gmtime())}.",
                190,
                463,
            )
        if fault.kind == "duplicate":
            return graph_error(400, "(#506) Duplicate status message", 506)
        raise ValueError(fault.kind)

    def account_id(self) -> str:
        raise NotImplementedError

    def debug_token(self, request: Request) -> Response:
        """`GET /debug_token?input_token=...`: the token's validity, expiry and scopes.

        Field names as platform-apis.md §2.1 lists them (`is_valid`, `expires_at` with 0 for
        never, `scopes`); the full field list is UNCONFIRMED there. Expiry and scopes come
        from `POST /_sandbox/accounts`.
        """
        token = request.param("input_token")
        if not token:
            return graph_error(400, "(#100) The parameter input_token is required", 100)
        if token != self.token:
            return Response.json(200, {"data": {"is_valid": False, "error": {
                "code": 190, "message": "Invalid OAuth access token."}, "scopes": []}})
        expires = self.account_state.token_expires_at
        return Response.json(200, {"data": {
            "app_id": "100000000000099",
            "type": "PAGE" if self.name == "facebook" else "USER",
            "application": "campaign sandbox",
            "is_valid": True,
            "expires_at": int(expires.timestamp()) if expires else 0,
            "data_access_expires_at": int(expires.timestamp()) if expires else 0,
            "scopes": self.scopes(),
            "profile_id" if self.name == "facebook" else "user_id": self.account_id(),
        }})

    def handle(self, request: Request) -> Response:
        # Graph ignores a trailing slash; Meta's SDK sends one for node reads.
        if len(request.path) > 1:
            request.path = request.path.rstrip("/")
        return super().handle(request)

    def not_found(self, request: Request) -> Response:
        return graph_error(
            400, f"Unknown path components: {request.path}", 2500,
        )


__all__ = [
    "COMMON_PARAMS",
    "VERSION_PREFIX",
    "GraphApi",
    "fetch_image",
    "flag",
    "graph_error",
    "insight",
    "nonexisting_field",
    "unknown_params",
    "unsupported",
]
