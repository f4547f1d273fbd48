"""LinkedIn organisation page: Images API, then Posts API (platform-apis.md §4).

1. `POST /rest/images?action=initializeUpload` with the organisation as owner gives
   an upload URL and an image URN.
2. `PUT` the card's bytes to the upload URL.
3. `POST /rest/posts` with `commentary` (the caption in LinkedIn's "little text"
   format), the image and its `altText`; the new post's URN is in the `x-restli-id`
   header of the 201, whose body is empty.

Every call carries `LinkedIn-Version` (pinned in `LINKEDIN_VERSION`, below, and only
there) and `X-Restli-Protocol-Version: 2.0.0`. URNs in paths are percent-encoded.
LinkedIn's daily limits reset at midnight UTC and its 429 carries no reset header, so
a 429 is retryable at the next midnight UTC.

The numbers (`fetch_metrics`): `GET /rest/organizationalEntityShareStatistics` for the
organisation, its posts as `shares=List(...)` / `ugcPosts=List(...)` (rw_organization_admin).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from campaign.errors import OutcomeUnknown, PostRejected, PostRetryable
from campaign.i18n import N_, _, format_number
from campaign.platforms import SPECS, LinkedInSettings
from campaign.publishers.base import (
    ApiVersion,
    CredentialReport,
    PostMetrics,
    Published,
    Publisher,
    PublishRequest,
    RecentPost,
)
from campaign.publishers.http import SERVER_ERRORS, Answer, ApiClient, ErrorPolicy, Rule
from campaign.publishers.transport import DEFAULT_TIMEOUT
from campaign.secrets import api_base_url, read_secret, redact

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.linkedin.com"
DEFAULT_OAUTH_URL = "https://www.linkedin.com"  # token introspection lives here, not on api.
TOKEN_VARIABLE = "LINKEDIN_TOKEN"  # noqa: S105  (a variable name, not a secret)

#: The one pinned LinkedIn API version (YYYYMM), and the day LinkedIn stops serving it.
#: Versions are sunset about a year after release (platform-apis.md §4); the exact
#: date of 202605's sunset is not published in what we read (UNCONFIRMED), so the
#: safer, earlier reading is used: twelve months after release. Roll both yearly.
LINKEDIN_VERSION = "202605"
LINKEDIN_VERSION_SUNSET = date(2027, 5, 1)

MAX_ALT_TEXT = SPECS["linkedin"].alt_text_limit  # platform-apis.md §4.3
MAX_PIXELS = 36_152_320 - 1  # "less than 36,152,320 pixels"
_RESERVED = set("|{}@[]()<>#\\*_~")
_HASHTAG = re.compile(r"(?<!\w)#(?=\w*[^\W_])(\w+)")  # at least one letter or digit
_TEMPLATE = re.compile(r"\{hashtag\|\\?[#＃]\|((?:[^{}|\\]|\\.)*)\}")
#: `{variable}` is TOKEN_VARIABLE (the client's context).
CREDENTIALS_FIX = N_(
    "create a new token for the organisation's admin (LinkedIn tokens last 60 days; scope "
    "w_organization_social) and put it in {variable} (see the README, \"Environment variables\")"
)


def little_text(text: str) -> str:
    """The caption in LinkedIn's "little text" format.

    Hashtags become `{hashtag|\\#|tag}` templates (so they are real hashtags); every
    other reserved character is backslash-escaped, or LinkedIn mangles the post.
    """
    out: list[str] = []
    position = 0
    for match in _HASHTAG.finditer(text):
        out.append(_escape(text[position : match.start()]))
        out.append("{hashtag|\\#|" + _escape(match.group(1)) + "}")
        position = match.end()
    out.append(_escape(text[position:]))
    return "".join(out)


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in _RESERVED else ch for ch in text)


def plain_text(commentary: str) -> str:
    """A commentary as readers see it: templates to `#tag`, escapes removed."""
    text = _TEMPLATE.sub(lambda m: "#" + m.group(1), commentary)
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def urn_path(urn: str) -> str:
    """A URN as one path segment: every reserved character percent-encoded."""
    return quote(urn, safe="")


def next_midnight_utc(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(0), UTC)


def _read_error(response: requests.Response, call: str, secrets: Sequence[str]) -> Answer:
    """LinkedIn's error body: `message`, and `errorDetails.inputErrors[].code` (DUPLICATE_POST)."""
    body = _json(response)
    codes = [str(e.get("code")) for e in (body.get("errorDetails") or {}).get("inputErrors", [])
             if isinstance(e, dict) and e.get("code")]
    code = "DUPLICATE_POST" if "DUPLICATE_POST" in codes else (codes[0] if codes else None)
    return Answer(status=response.status_code, code=code, headers=response.headers, call=call,
                  message=redact(str(body.get("message") or response.reason or _("no detail"))[:300],
                                 extra=secrets), body_error=bool(body))


STATISTICS = "organizationalEntityShareStatistics"
#: LinkedIn's totalShareStatistics -> ours.
SHARE_STATISTICS = {"impressionCount": "views", "uniqueImpressionsCount": "reach",
                    "clickCount": "clicks", "likeCount": "likes", "commentCount": "replies",
                    "shareCount": "reposts"}
#: Posts per statistics call: the API's limit is not documented (UNCONFIRMED); this keeps
#: the URL short.
STATISTICS_BATCH = 20


def _statistics(answer: Answer) -> bool:
    return STATISTICS in answer.call or STATISTICS in answer.message


#: What each failed answer means (see `http.py`). LinkedIn has no idempotency key: a server
#: error on the creating call may have posted, so the post is looked up before any retry.
POLICY = ErrorPolicy("linkedin", (
    Rule("version_refused", N_("LinkedIn refuses API version {version} while {what} {said}: it "
         "has been sunset, so every LinkedIn call fails"), N_("update campaign to a release that "
         "pins a newer LinkedIn version"), status=(426,), name="version sunset"),
    Rule("retryable", N_("LinkedIn's daily limit was reached while {what} {said}"),
         N_("it resets at midnight UTC"), status=(429,), reset=lambda _a: next_midnight_utc(),
         name="daily limit"),
    Rule("rejected", N_("LinkedIn refused the token while {what} {said}"), CREDENTIALS_FIX,
         status=(401,), name="token refused"),
    Rule("rejected", N_("LinkedIn refused to give the posts' numbers {said}"), N_("the token "
         "needs rw_organization_admin and its member the ADMINISTRATOR role on the page; then "
         "authorise the app again and renew {variable}"), status=(403,), when=_statistics,
         name="statistics permission"),
    Rule("rejected", N_("LinkedIn refused the permission while {what} {said}"), N_("the token "
         "needs w_organization_social and its member an admin or content-admin role on the page; "
         "then renew {variable}"), status=(403,), name="permission"),
    Rule("rejected", N_("LinkedIn refused the post as a duplicate {said}"), N_("check the page; "
         "if it is not there, change the story's caption (LinkedIn also counts a post deleted in "
         "the last day or two)"), status=(422,), codes=frozenset({"DUPLICATE_POST"}),
         name="duplicate"),
    Rule("retryable", N_("server error while {what} {said}"), status=SERVER_ERRORS,
         on_create="unknown", name="server error"),
    Rule("rejected", N_("LinkedIn refused the request while {what} {said}"), N_("check the card "
         "and the caption (at most 3,000 characters)"), name="refused"),
))


class LinkedInPublisher(Publisher):
    """Posts image posts to one LinkedIn organisation page with a member's token."""

    platform = "linkedin"
    api_version = ApiVersion(LINKEDIN_VERSION, LINKEDIN_VERSION_SUNSET, sunset_estimated=True)

    def __init__(
        self,
        settings: LinkedInSettings,
        session: requests.Session,
        env: Mapping[str, str] | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.session = session
        self.timeout = timeout
        self.base_url = api_base_url("linkedin", DEFAULT_API_URL, settings.api_url, env)
        self._token = read_secret("linkedin", TOKEN_VARIABLE, env)
        values = os.environ if env is None else env
        self._client = (values.get("LINKEDIN_CLIENT_ID", "").strip(),
                        values.get("LINKEDIN_CLIENT_SECRET", "").strip())
        self.oauth_url = api_base_url("linkedin", DEFAULT_OAUTH_URL, None, env)
        self.api = ApiClient("linkedin", self.base_url, session, POLICY, _read_error,
                             secrets=lambda: (self._token,), timeout=timeout,
                             context={"version": LINKEDIN_VERSION, "variable": TOKEN_VARIABLE})

    @property
    def author(self) -> str:
        return f"urn:li:organization:{self.settings.organization_id}"

    # -- the interface -------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Published:
        story = request.story_id
        if request.card_width * request.card_height > MAX_PIXELS:
            raise PostRejected(
                "linkedin", _("the card is {width}×{height}; LinkedIn takes less than {limit} "
                              "pixels: use a smaller card format").format(
                    width=request.card_width, height=request.card_height,
                    limit=format_number(MAX_PIXELS + 1)), story=story,
            )
        data = request.card_path.read_bytes()
        upload = self._call(
            "POST", "/rest/images", what=N_("starting the image upload"), story=story,
            params={"action": "initializeUpload"},
            json={"initializeUploadRequest": {"owner": self.author}},
        )
        value = _json(upload).get("value") or {}
        upload_url, image = value.get("uploadUrl"), value.get("image")
        if not isinstance(upload_url, str) or not isinstance(image, str):
            raise PostRetryable(
                "linkedin", _("LinkedIn's initializeUpload answer had no uploadUrl or image: "
                              "nothing was posted; it will be retried"), story=story,
            )
        self._put_image(upload_url, data, story)
        body: dict[str, Any] = {
            "author": self.author,
            "commentary": little_text(request.caption),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "content": {"media": {"id": image, "altText": request.alt_text[:MAX_ALT_TEXT]}},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        response = self._call(
            "POST", "/rest/posts", what=N_("creating the post"), story=story, creates=True,
            json=body, method_header="CREATE",
        )
        urn = response.headers.get("x-restli-id", "")
        if not urn.startswith("urn:li:"):
            raise OutcomeUnknown(
                "linkedin", _("LinkedIn answered the post request without a post URN "
                              "(x-restli-id): look at the page's posts before any retry"),
                story=story,
            )
        log.info("linkedin: posted %s as %s", request.post_key, urn)
        return Published("linkedin", urn, self.post_url(urn), datetime.now(UTC), {"image": image})

    def recent_posts(self, since: datetime | None = None, limit: int = 20) -> list[RecentPost]:
        # The Posts API finder by author, newest first (sortBy=LAST_MODIFIED is the
        # alternative; CREATED is the order reconciling needs).
        response = self._call(
            "GET", "/rest/posts", what=N_("listing recent posts"), method_header="FINDER",
            params={
                "author": self.author, "q": "author", "count": str(min(max(limit, 1), 100)),
                "sortBy": "CREATED",
            },
        )
        posts = []
        for item in _json(response).get("elements", []):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            created = item.get("createdAt") or item.get("publishedAt")
            when = (
                datetime.fromtimestamp(created / 1000, UTC)
                if isinstance(created, (int, float)) else None
            )
            if since is not None and when is not None and when < since:
                continue
            urn = item["id"]
            posts.append(
                RecentPost(urn, plain_text(str(item.get("commentary", ""))), when,
                           self.post_url(urn))
            )
        return posts[:limit]

    def delete(self, remote_id: str, *, story: str | None = None) -> None:
        # 204, and idempotent (platform-apis.md §4.5): a second delete is no error.
        try:
            self._call(
                "DELETE", f"/rest/posts/{urn_path(remote_id)}", what=N_("deleting the post"),
                story=story, method_header="DELETE",
            )
        except PostRejected as exc:
            if getattr(exc.__cause__, "status", None) == 404:
                log.info("linkedin: post %s was already gone", remote_id)
                return
            raise

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """`GET /rest/organizationalEntityShareStatistics?q=organizationalEntity` for the
        organisation, with `shares=List(...)` for share URNs and `ugcPosts=List(...)` for
        ugcPost URNs (the Posts API gives either). A post without statistics is read back:
        404 means it is gone; otherwise LinkedIn has no numbers for it yet."""
        ids = list(dict.fromkeys(remote_ids))
        found: dict[str, dict[str, Any]] = {}
        for key, kind in (("ugcPosts", "urn:li:ugcPost:"), ("shares", None)):
            urns = [u for u in ids if u.startswith(kind)] if kind else [
                u for u in ids if not u.startswith("urn:li:ugcPost:")]
            for start in range(0, len(urns), STATISTICS_BATCH):
                chunk = urns[start : start + STATISTICS_BATCH]
                listed = ",".join(urn_path(u) for u in chunk)
                response = self._call(
                    "GET", f"/rest/{STATISTICS}?q=organizationalEntity&organizationalEntity="
                    f"{urn_path(self.author)}&{key}=List({listed})",
                    what=N_("reading the posts' numbers"), method_header="FINDER",
                )
                for element in _json(response).get("elements", []):
                    if not isinstance(element, dict):
                        continue
                    urn = element.get("share") or element.get("ugcPost")
                    stats = element.get("totalShareStatistics")
                    if isinstance(urn, str) and isinstance(stats, dict):
                        found[urn] = stats
        out: dict[str, PostMetrics] = {}
        for urn in ids:
            stats = found.get(urn)
            out[urn] = read_share_statistics(urn, stats) if stats is not None else \
                self._without_statistics(urn)
        return out

    def _without_statistics(self, urn: str) -> PostMetrics:
        try:
            self._call("GET", f"/rest/posts/{urn_path(urn)}", what=N_("looking the post up"),
                       method_header="GET")
        except PostRejected as exc:
            if getattr(exc.__cause__, "status", None) == 404:
                return PostMetrics(urn, gone=True,
                                   detail=_("LinkedIn says this post no longer exists"))
            raise
        reason = _("LinkedIn gave no numbers for this post yet; they are asked again at the "
                   "next fetch")
        return PostMetrics(urn, unavailable={m: ("not_yet", reason)
                                             for m in SPECS["linkedin"].metrics})

    def check_credentials(self) -> CredentialReport:
        response = self._call(
            "GET", f"/rest/organizations/{self.settings.organization_id}",
            what=N_("checking the token"), method_header="GET",
        )
        body = _json(response)
        name = body.get("localizedName") or body.get("vanityName") or self.author
        return CredentialReport("linkedin", f"{name} ({self.author})", **self._introspect())

    def _introspect(self) -> dict[str, Any]:
        """Expiry and scopes from LinkedIn's token introspection (platform-apis.md §4.1), as
        `CredentialReport` fields. It needs the app's client id and secret
        (LINKEDIN_CLIENT_ID, LINKEDIN_CLIENT_SECRET), which posting does not."""
        client_id, client_secret = self._client
        if not (client_id and client_secret):
            return {}
        try:
            response = self.session.post(
                f"{self.oauth_url}/oauth/v2/introspectToken", timeout=self.timeout,
                data={"client_id": client_id, "client_secret": client_secret,
                      "token": self._token})
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            return {"expiry_note": _("LinkedIn's token introspection did not answer ({error}): "
                                     "run doctor again later").format(error=type(exc).__name__)}
        if response.status_code != 200 or not isinstance(body, dict):
            return {"expiry_note": _("LinkedIn's token introspection answered HTTP {status}: "
                                     "check LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET (the "
                                     "app's Auth tab in the LinkedIn developer portal)").format(
                                         status=response.status_code)}
        if not body.get("active"):
            status = body.get("status")
            said = (_("LinkedIn says the token is {status}").format(status=status) if status
                    else _("LinkedIn says the token is not active"))
            return {"valid": False, "invalid_reason": _(
                "{said}: authorise the app again (or use its refresh token) and update "
                "LINKEDIN_TOKEN").format(said=said)}
        raw = body.get("expires_at")
        return {
            "expires_at": datetime.fromtimestamp(raw, UTC) if isinstance(raw, int) and raw > 0
            else None,
            "expiry_known": True,
            "scopes": tuple(s for s in re.split(r"[,\s]+", str(body.get("scope") or "")) if s),
        }

    @staticmethod
    def post_url(urn: str) -> str:
        return f"https://www.linkedin.com/feed/update/{urn}/"

    # -- HTTP ------------------------------------------------------------------------

    def _headers(self, method_header: str | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "LinkedIn-Version": LINKEDIN_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        if method_header:
            headers["X-RestLi-Method"] = method_header
        return headers

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        story: str | None = None,
        creates: bool = False,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        method_header: str | None = "ACTION",
    ) -> requests.Response:
        # Rest.li wants URNs in query values percent-encoded once (`:` as %3A); requests
        # would leave `:` alone, so the query string is built here.
        url = self.base_url + path
        if params:
            url += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        return self.api.request(method, url, what=what, story=story, creates=creates, call=path,
                                json=json, headers=self._headers(method_header))

    def _put_image(self, upload_url: str, data: bytes, story: str) -> None:
        url = self._upload_target(upload_url)
        headers = {"Content-Type": "application/octet-stream"}
        # Whether the PUT needs the bearer header is UNCONFIRMED (§4.2); LinkedIn's
        # examples send it, so we do, but only to LinkedIn's hosts or our base URL.
        host = urlsplit(url).hostname or ""
        if host.endswith(".linkedin.com") or host == urlsplit(self.base_url).hostname:
            headers["Authorization"] = f"Bearer {self._token}"
        self.api.request("PUT", url, what=N_("uploading the card"), story=story, call="upload",
                         data=data, headers=headers)

    def _upload_target(self, upload_url: str) -> str:
        """The upload URL, sent to the base URL when one overrides the real API (SPEC §3)."""
        if upload_url.startswith(self.base_url + "/") or self.base_url == DEFAULT_API_URL:
            return upload_url
        base, target = urlsplit(self.base_url), urlsplit(upload_url)
        return urlunsplit((base.scheme, base.netloc, base.path + target.path, target.query, ""))


def read_share_statistics(urn: str, stats: Mapping[str, object]) -> PostMetrics:
    """Our numbers from one element's `totalShareStatistics`."""
    values = {ours: value for theirs, ours in SHARE_STATISTICS.items()
              if isinstance(value := stats.get(theirs), int) and not isinstance(value, bool)}
    reason = _("LinkedIn did not give this number; it is asked again at the next fetch")
    return PostMetrics(urn, values, {m: ("not_yet", reason) for m in SPECS["linkedin"].metrics
                                     if m not in values})


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


__all__ = [
    "LINKEDIN_VERSION",
    "LINKEDIN_VERSION_SUNSET",
    "LinkedInPublisher",
    "little_text",
    "plain_text",
    "read_share_statistics",
    "urn_path",
]
