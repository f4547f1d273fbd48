"""What every publisher does with `requests`: timeouts, host redirection, network errors.

A network failure means different things depending on when it happened and what
the call does. Nothing was sent (connection refused, connect timeout): retryable.
The request went out and no answer came back (read timeout, connection dropped):
for a call that creates the post the outcome is unknown; for any other call
(uploading media, reading a status) it is retryable, since a retry cannot post
twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from campaign.errors import OutcomeUnknown, PostRetryable, PublishError
from campaign.i18n import _

#: (connect, read) seconds for every call, unless a publisher is given its own.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)

_Timeout = float | tuple[float | None, float | None] | None


def request_not_sent(exc: requests.RequestException) -> bool:
    """True when the failure happened before the request reached the server."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, (NewConnectionError, ConnectTimeoutError)):
            return True
        reason = getattr(cause, "reason", None)
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
            return True
        args = getattr(cause, "args", ())
        nested = next((a for a in args if isinstance(a, BaseException)), None)
        cause = nested or cause.__cause__ or cause.__context__
    return False


def network_error(
    platform: str,
    exc: requests.RequestException,
    *,
    what: str,
    creates: bool,
    story: str | None,
) -> PublishError:
    """Translate a `requests` exception raised while doing `what` (marked with `N_()` where
    the call is made) into ours."""
    timed_out = isinstance(exc, requests.Timeout)
    doing = _(what)
    if request_not_sent(exc):
        return PostRetryable(
            platform,
            _("could not reach the API while {what} ({error}): nothing was posted; check the "
              "network and the API base URL, it will be retried").format(
                what=doing, error=type(exc).__name__),
            story=story,
        )
    if creates:
        return OutcomeUnknown(
            platform,
            (_("the request timed out after it was sent while {what}: the post may exist; "
               "look it up on the account before any retry") if timed_out else
             _("the request lost its connection after it was sent while {what}: the post may "
               "exist; look it up on the account before any retry")).format(what=doing),
            story=story,
        )
    return PostRetryable(
        platform,
        (_("the request timed out while {what}: nothing was posted yet; it will be retried")
         if timed_out else
         _("the request lost its connection while {what}: nothing was posted yet; it will be "
           "retried")).format(what=doing),
        story=story,
    )


def unix_time(value: str | int | float | None) -> datetime | None:
    """An aware UTC time from Unix seconds in a header, or None if absent or garbled."""
    if value is None or value == "":
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def seconds_from_now(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


class TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout, for libraries (tweepy) that send without one."""

    def __init__(self, timeout: tuple[float, float] = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(**kwargs)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: _Timeout = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request, stream, self.timeout if timeout is None else timeout, verify, cert, proxies
        )


class RedirectAdapter(TimeoutAdapter):
    """Sends requests for a hard-coded host to another base URL (SPEC §3).

    tweepy builds `https://api.twitter.com` + route itself; mounted on its session
    for that host, this rewrites scheme and host and puts the base's path (the
    sandbox serves each platform under a prefix) in front of the route.
    platform-apis.md §1.5 shows the tried version; this one keeps a base path too.
    """

    def __init__(
        self, base_url: str, timeout: tuple[float, float] = DEFAULT_TIMEOUT, **kwargs: Any
    ) -> None:
        self.base = urlsplit(base_url.rstrip("/"))
        super().__init__(timeout, **kwargs)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: _Timeout = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        request.url = urlunsplit(
            (self.base.scheme, self.base.netloc, self.base.path + url.path, url.query, "")
        )
        return super().send(request, stream, timeout, verify, cert, proxies)


__all__ = [
    "DEFAULT_TIMEOUT",
    "RedirectAdapter",
    "TimeoutAdapter",
    "network_error",
    "request_not_sent",
    "seconds_from_now",
    "unix_time",
]
