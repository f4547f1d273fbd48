"""X (Twitter) through tweepy 4.17: upload, alt text, post (platform-apis.md §1).

tweepy's `Client` has no media upload, but its public `Client.request` sends JSON,
so the card goes base64-encoded to `POST /2/media/upload` with
`media_category: tweet_image`, its alt text to `POST /2/media/metadata`, and the
post is `create_tweet`. Only the fields X's own SDK (`xdk`) knows are sent; its
`MediaUploadRequest` has no `media_type`, so none is sent (X reads the type from
the bytes).

tweepy hard-codes `https://api.twitter.com`; a `RedirectAdapter` mounted on its
session sends everything to the configured base URL (and gives every request a
timeout, which tweepy does not). `wait_on_rate_limit` stays False: tweepy's own
waiting retries without limit, and the scheduler owns the waiting.

The numbers (`fetch_metrics`, for `campaign report`): tweepy's `get_tweets` with the
public, non-public and organic metrics, 100 ids a call; see `read_tweet_metrics`.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import requests
import tweepy

from campaign.errors import OutcomeUnknown, PostRejected, PostRetryable, PublishError
from campaign.i18n import N_, _, format_number
from campaign.platforms import SPECS, XSettings
from campaign.publishers.base import (
    CredentialReport,
    PostMetrics,
    Published,
    Publisher,
    PublishRequest,
    RecentPost,
)
from campaign.publishers.http import SERVER_ERRORS, Answer, ErrorPolicy, Rule
from campaign.publishers.transport import (
    DEFAULT_TIMEOUT,
    RedirectAdapter,
    network_error,
    unix_time,
)
from campaign.secrets import api_base_url, quiet_leaky_loggers, read_platform_secrets, redact

log = logging.getLogger(__name__)

TWEEPY_HOST = "https://api.twitter.com"  # hard-coded in tweepy.Client.request
DEFAULT_API_URL = "https://api.twitter.com"
MAX_IMAGE_BYTES = SPECS["x"].image_byte_limit  # one value, in platforms.py
MAX_ALT_TEXT = SPECS["x"].alt_text_limit  # §1.4: "Must be <= 1000 chars"
CREDENTIALS_FIX = N_(
    "check X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET; if they "
    "were regenerated or the app's permissions changed, copy the new ones from the X "
    "developer portal (the app needs Read and Write)"
)


def shorten_alt_text(text: str, limit: int = MAX_ALT_TEXT) -> str:
    """Alt text cut at a word boundary with an ellipsis when over `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


def original_text(text: str, entities: object) -> str:
    """A post's text as it was sent: X returns links as t.co and escapes &, < and >.

    Each t.co link in `entities.urls` is replaced by its `expanded_url`, so that the
    caption can be matched against what the ledger recorded. The links are replaced
    by their text, not by `start`/`end`: whether those count the escaped or the
    unescaped text is not documented, and a t.co link is unique in its post.
    """
    urls = entities.get("urls") if isinstance(entities, dict) else None
    for url in urls or []:
        short, expanded = url.get("url"), url.get("expanded_url")
        if isinstance(short, str) and isinstance(expanded, str) and short:
            text = text.replace(short, expanded, 1)
    return html.unescape(text)


class XPublisher(Publisher):
    """Posts to the X account whose OAuth 1.0a user keys are in the environment."""

    platform = "x"

    def __init__(
        self,
        settings: XSettings,
        session: requests.Session,
        env: Mapping[str, str] | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        keys = read_platform_secrets("x", env)
        self.settings = settings
        self.base_url = api_base_url("x", DEFAULT_API_URL, settings.api_url, env)
        quiet_leaky_loggers()
        self.client = tweepy.Client(
            consumer_key=keys["X_API_KEY"],
            consumer_secret=keys["X_API_SECRET"],
            access_token=keys["X_ACCESS_TOKEN"],
            access_token_secret=keys["X_ACCESS_TOKEN_SECRET"],
            wait_on_rate_limit=False,
        )
        # Our session, with tweepy's fixed host sent to the configured base URL.
        session.mount(TWEEPY_HOST, RedirectAdapter(self.base_url, timeout))
        self.client.session = session
        self.session = session
        self._user_id: str | None = None

    # -- the interface -----------------------------------------------------------

    def publish(self, request: PublishRequest) -> Published:
        story = request.story_id
        data = request.card_path.read_bytes()
        if len(data) > MAX_IMAGE_BYTES:
            raise PostRejected(
                "x",
                _("the card {name} is {size} bytes; X accepts at most {limit}: render it "
                  "smaller (JPEG quality) and post again").format(
                    name=request.card_path.name, size=format_number(len(data)),
                    limit=format_number(MAX_IMAGE_BYTES)),
                story=story,
            )
        upload = self._call(
            N_("uploading the card"),
            story,
            False,
            self.client.request,
            "POST",
            "/2/media/upload",
            json={"media": base64.b64encode(data).decode("ascii"), "media_category": "tweet_image"},
            user_auth=True,
        )
        media_id = str(upload.json()["data"]["id"])
        alt_text = shorten_alt_text(request.alt_text)
        if alt_text:
            self._call(
                N_("adding the alt text"),
                story,
                False,
                self.client.request,
                "POST",
                "/2/media/metadata",
                json={"id": media_id, "metadata": {"alt_text": {"text": alt_text}}},
                user_auth=True,
            )
        response = self._call(
            N_("creating the post"),
            story,
            True,
            self.client.create_tweet,
            text=request.caption,
            media_ids=[media_id],
            user_auth=True,
        )
        try:
            tweet_id = str(response.data["id"])
        except (AttributeError, KeyError, TypeError):
            raise OutcomeUnknown(
                "x",
                _("X answered the post request without a post id: look at the account's "
                  "posts before any retry"),
                story=story,
            ) from None
        log.info("x: posted %s as %s", request.post_key, tweet_id)
        return Published("x", tweet_id, self.post_url(tweet_id), datetime.now(UTC))

    def recent_posts(self, since: datetime | None = None, limit: int = 20) -> list[RecentPost]:
        user_id = self._me()
        kwargs: dict[str, Any] = {
            "max_results": min(max(limit, 5), 100),  # X accepts 5..100
            "tweet_fields": ["created_at", "entities"],
            "user_auth": True,
        }
        if since is not None:
            kwargs["start_time"] = since.astimezone(UTC)
        response = self._call(
            N_("listing recent posts"), None, False, self.client.get_users_tweets, user_id, **kwargs
        )
        posts = []
        for item in response.data or []:
            data = item if isinstance(item, dict) else item.data
            created = data.get("created_at")
            when = datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None
            tweet_id = str(data["id"])
            text = original_text(str(data.get("text", "")), data.get("entities"))
            posts.append(RecentPost(tweet_id, text, when, self.post_url(tweet_id)))
        return posts[:limit]

    def delete(self, remote_id: str, *, story: str | None = None) -> None:
        try:
            self._call(
                N_("deleting the post"), story, False, self.client.delete_tweet, remote_id,
                user_auth=True,
            )
        except PostRejected as exc:
            if isinstance(exc.__cause__, tweepy.NotFound):
                log.info("x: post %s was already gone", remote_id)
                return
            raise

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """`GET /2/tweets?ids=...` (tweepy's `get_tweets`), 100 ids a call, with the public,
        non-public and organic metrics. X answers 200 with `errors` beside `data`: a deleted
        post is a `resource-not-found` error; refused non-public numbers (posts older than 30
        days) are `not-authorized-for-field` errors, while the public ones still come."""
        out: dict[str, PostMetrics] = {}
        ids = list(dict.fromkeys(remote_ids))
        for start in range(0, len(ids), MAX_LOOKUP_IDS):
            chunk = ids[start : start + MAX_LOOKUP_IDS]
            response = self._call(
                N_("reading the posts' numbers"), None, False, self.client.get_tweets, chunk,
                tweet_fields=["public_metrics", "non_public_metrics", "organic_metrics"],
                user_auth=True,
            )
            out.update(read_tweet_metrics(chunk, response.data or [], response.errors or []))
        return out

    def check_credentials(self) -> CredentialReport:
        # The app's permission comes back in the `x-access-level` header (read, read-write,
        # read-write-directmessages); tweepy does not pass headers on, so a hook reads it.
        level: list[str] = []

        def read_level(answer: requests.Response, *args: Any, **kwargs: Any) -> None:
            if answer.ok and answer.headers.get("x-access-level"):
                level[:] = [answer.headers["x-access-level"]]

        self.session.hooks["response"].append(read_level)
        try:
            response = self._call(
                N_("checking the credentials"), None, False, self.client.get_me, user_auth=True
            )
        finally:
            self.session.hooks["response"].remove(read_level)
        self._user_id = str(response.data["id"])
        # OAuth 1.0a user keys do not expire; they end when revoked or regenerated.
        return CredentialReport("x", "@" + str(response.data["username"]), expiry_known=True,
                                scopes=tuple(level) or None)

    def post_url(self, tweet_id: str) -> str:
        return f"https://x.com/{self.settings.username}/status/{tweet_id}"

    # -- helpers -----------------------------------------------------------------

    def _me(self) -> str:
        if self._user_id is None:
            self.check_credentials()
        assert self._user_id is not None
        return self._user_id

    def _call(
        self, what: str, story: str | None, creates: bool, func: Any, *args: Any, **kwargs: Any
    ) -> Any:
        try:
            return func(*args, **kwargs)
        except tweepy.HTTPException as exc:
            _raise_http(exc, what, story, creates)
        except requests.RequestException as exc:
            raise network_error("x", exc, what=what, creates=creates, story=story) from exc
        except tweepy.TweepyException as exc:
            raise _unknown_or_retry(what, story, creates, type(exc).__name__) from exc


MAX_LOOKUP_IDS = 100  # GET /2/tweets takes 1 to 100 ids
#: X's field -> ours, in the order they are read (public_metrics' impression_count is views).
PUBLIC_METRICS = {"impression_count": "views", "like_count": "likes", "retweet_count": "reposts",
                  "reply_count": "replies", "quote_count": "quotes", "bookmark_count": "saves"}
PRIVATE_METRICS = {"url_link_clicks": "clicks", "user_profile_clicks": "profile_clicks"}
_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"


def read_tweet_metrics(ids: Sequence[str], data: Sequence[object],
                       errors: Sequence[object]) -> dict[str, PostMetrics]:
    """Our numbers for `ids` from one `GET /2/tweets` answer (its `data` and `errors`)."""
    found: dict[str, dict[str, Any]] = {}
    for item in data:
        body = item if isinstance(item, dict) else getattr(item, "data", None)
        if isinstance(body, dict) and "id" in body:
            found[str(body["id"])] = body
    gone: set[str] = set()
    refused: set[str] = set()
    for error in errors:
        if not isinstance(error, dict):
            continue
        post = str(error.get("resource_id") or error.get("value") or "")
        if error.get("type") == _NOT_FOUND:
            gone.add(post)
        elif error.get("field") in ("non_public_metrics", "organic_metrics") or "not-authorized" \
                in str(error.get("type", "")):
            refused.add(post)
    out: dict[str, PostMetrics] = {}
    for post_id in ids:
        body = found.get(post_id)
        if body is None:
            if post_id in gone:
                out[post_id] = PostMetrics(post_id, gone=True,
                                           detail=_("X says this post no longer exists"))
            else:
                reason = _("X did not give this post's numbers this time; they are asked again "
                           "at the next fetch")
                out[post_id] = PostMetrics(post_id, unavailable={
                    m: ("not_yet", reason) for m in SPECS["x"].metrics})
            continue
        values: dict[str, int] = {}
        public = body.get("public_metrics")
        for theirs, ours in PUBLIC_METRICS.items():
            value = public.get(theirs) if isinstance(public, dict) else None
            if isinstance(value, int) and not isinstance(value, bool):
                values[ours] = value
        private = body.get("non_public_metrics") or body.get("organic_metrics")
        for theirs, ours in PRIVATE_METRICS.items():
            value = private.get(theirs) if isinstance(private, dict) else None
            if isinstance(value, int) and not isinstance(value, bool):
                values[ours] = value
        unavailable: dict[str, tuple[str, str]] = {}
        missing = [ours for ours in PRIVATE_METRICS.values() if ours not in values]
        if missing:
            reason = (_("X gives link and profile clicks only to the account that posted, for "
                        "30 days after posting; this post is older, or the keys in "
                        "X_ACCESS_TOKEN are not the posting account's")
                      if post_id in refused else _("X did not give this number"))
            unavailable = {m: ("no_permission" if post_id in refused else "not_yet", reason)
                           for m in missing}
        out[post_id] = PostMetrics(post_id, values, unavailable)
    return out


def _unknown_or_retry(what: str, story: str | None, creates: bool, detail: str) -> PublishError:
    if creates:
        return OutcomeUnknown(
            "x", _("an unexpected error while {what} ({detail}): the post may exist; look at "
                   "the account's posts before any retry").format(what=_(what), detail=detail),
            story=story,
        )
    return PostRetryable("x", _("an unexpected error while {what} ({detail}): it will be "
                                "retried").format(what=_(what), detail=detail), story=story)


def _messages(exc: tweepy.HTTPException) -> str:
    # tweepy copies each error's `message` or a problem's `detail` into api_messages;
    # those are the platform's words, never our headers.
    text = redact("; ".join(str(m) for m in exc.api_messages if m))
    return text[:300] or exc.response.reason or _("no detail")


def _x_reset(answer: Answer) -> datetime | None:
    headers = answer.headers
    reset = unix_time(headers.get("x-rate-limit-reset"))
    # POST /2/tweets also has 24-hour caps, per user and per app; when one is spent, its
    # reset is later than the 15-minute window's.
    for cap in ("x-user-limit-24hour", "x-app-limit-24hour"):
        if headers.get(f"{cap}-remaining") == "0":
            day_reset = unix_time(headers.get(f"{cap}-reset"))
            if day_reset and (reset is None or day_reset > reset):
                reset = day_reset
    return reset


def _says(*words: str) -> Callable[[Answer], bool]:
    return lambda answer: any(w in answer.message.lower() for w in words)


#: What each failed answer means (see `http.py`). X has no idempotency key: a server error
#: or an unexpected answer to the creating call may come after the post was made, so it is
#: "unknown" and the post is looked up on the account before any retry.
POLICY = ErrorPolicy("x", (
    Rule("retryable", N_("rate limited while {what} (429)"), N_("X says try again {at}"),
         status=(429,), reset=_x_reset, name="rate limited"),
    Rule("rejected", N_("X refused the credentials while {what} {said}"), CREDENTIALS_FIX,
         status=(401,), name="credentials refused"),
    Rule("rejected", N_("X refused the post as a duplicate of an earlier one {said}"),
         N_("check the account; if it is not there, change the X caption of the story"),
         status=(403,), when=_says("duplicate"), name="duplicate"),
    Rule("rejected", N_("X refused the kind of credentials while {what} {said}"), CREDENTIALS_FIX,
         status=(403,), when=_says("authenticat"), name="kind of credentials"),
    Rule("rejected", N_("X refused while {what} {said}"), N_("check the caption (length), the "
         "account's standing and the app's access level"), status=(403,), name="forbidden"),
    Rule("retryable", N_("X had a server error while {what} {said}"), N_("it will be retried"),
         status=SERVER_ERRORS, on_create="unknown", fix_on_create=N_("the post may exist; it is "
         "looked up on the account before any retry"), name="server error"),
    Rule("rejected", N_("X refused the request while {what} {said}"), N_("check the card (JPEG "
         "or PNG, at most 5 MB) and the caption"), status=(400, 404), name="refused"),
    Rule("retryable", N_("unexpected answer while {what} {said}"), on_create="unknown",
         fix_on_create=N_("look at the account's posts before any retry"), name="unexpected"),
))


def _raise_http(exc: tweepy.HTTPException, what: str, story: str | None, creates: bool) -> NoReturn:
    response = exc.response
    codes = [str(c) for c in exc.api_codes if c]
    answer = Answer(status=response.status_code, code=codes[0] if codes else None,
                    message=_messages(exc), headers=response.headers)
    raise POLICY.error(answer, what=what, story=story, creates=creates) from exc


__all__ = ["MAX_ALT_TEXT", "XPublisher", "read_tweet_metrics", "shorten_alt_text"]
