"""The X API v2 subset the X publisher uses (platform-apis.md §1), with X's error bodies.

Auth is OAuth 1.0a user context, checked for real: the consumer key and access
token must be the sandbox's, and the HMAC-SHA1 signature must verify with the
consumer secret and token secret. tweepy signs the URL it meant to call
(`https://api.twitter.com/...`), so the signature is checked against that URL.

Request bodies are validated against the fields X documents (docs.x.com; for the
one-shot upload its `MediaUploadRequestOneShot`); an unknown or missing field is X's
`invalid-request` problem. Text is counted as
twitter-text's v3 configuration does (URLs 23, most non-Latin characters 2).

`GET /2/tweets?ids=...` gives the posts' numbers (call `metrics`), with X's partial errors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from campaign.sandbox.core import (
    Counter,
    Fault,
    PlatformApi,
    Request,
    Response,
    SandboxPost,
    inspect_image,
)

SIGNED_HOST = "https://api.twitter.com"  # the URL tweepy signs (its host is hard-coded)
UPLOAD_HOST = "https://upload.twitter.com"  # tweepy.API's v1.1 media calls sign this one
USER_ID = "1500000000000000001"
USERNAME = "campaign_sandbox"
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_ALT_TEXT = 1000
MAX_WEIGHTED_LENGTH = 280
IMAGE_TYPES = {"image/jpeg", "image/bmp", "image/png", "image/webp", "image/tiff"}

# Fields X documents for each body; anything else is refused. The one-shot upload is
# docs.x.com's MediaUploadRequestOneShot (also xdk's latest-openapi.json): `media_type`
# and `shared` are optional, and its categories are the three below (video and GIF go
# through the chunked upload). tweepy-based clients send `media_type`.
UPLOAD_FIELDS = {"media", "media_category", "additional_owners", "media_type", "shared"}
MEDIA_CATEGORIES = {"tweet_image", "dm_image", "subtitles"}
UPLOAD_MEDIA_TYPES = {
    "text/srt", "text/vtt", "image/jpeg", "image/bmp", "image/png", "image/webp",
    "image/pjpeg", "image/tiff",
}
METADATA_FIELDS = {"id", "metadata"}
TWEET_FIELDS = {
    "card_uri", "community_id", "direct_message_deep_link", "edit_options",
    "for_super_followers_only", "geo", "made_with_ai", "media", "nullcast",
    "paid_partnership", "poll", "quote_tweet_id", "reply", "reply_settings",
    "share_with_followers", "text",
}
TWEET_MEDIA_FIELDS = {
    "media_ids", "tagged_user_ids", "call_to_actions", "description", "embeddable",
    "preview_media_id", "title",
}

# twitter-text config v3: code points that weigh 100 (count 1); everything else 200.
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_URL = re.compile(r"https?://[^\s]+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|nl|eu|io)\b[^\s]*")
_INVISIBLE = {0x200D, 0xFE0E, 0xFE0F}


def weighted_length(text: str) -> int:
    """The length X counts: URLs 23, light characters 1, others (emoji, CJK) 2.

    Emoji sequences joined by ZWJ, variation selectors and skin tones count once,
    as twitter-text does.
    """
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for match in _URL.finditer(text):
        total += _weigh(text[position : match.start()]) + 23
        position = match.end()
    return total + _weigh(text[position:])


def _weigh(text: str) -> int:
    total = 0
    after_joiner = False
    for char in text:
        code = ord(char)
        if code in _INVISIBLE or 0x1F3FB <= code <= 0x1F3FF:
            after_joiner = code == 0x200D
            continue
        if after_joiner:
            after_joiner = False
            continue
        light = any(lo <= code <= hi for lo, hi in _LIGHT_RANGES)
        total += 1 if light else 2
    return total


def _problem(status: int, title: str, detail: str, kind: str = "about:blank") -> Response:
    return Response.json(status, {"title": title, "type": kind, "status": status, "detail": detail})


def invalid_request(*messages: str, parameters: dict[str, list[str]] | None = None) -> Response:
    """X's `invalid-request` problem, as its v2 endpoints answer a bad body or parameter."""
    errors: list[dict[str, Any]] = []
    for message in messages:
        error: dict[str, Any] = {"message": message}
        if parameters:
            error["parameters"] = parameters
        errors.append(error)
    return Response.json(
        400,
        {
            "errors": errors,
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )


def _unknown_fields(body: dict[str, Any], known: set[str], prefix: str = "$") -> list[str]:
    return [
        f"{prefix}.{key}: is not defined in the schema and the schema does not allow "
        "additional properties"
        for key in body
        if key not in known
    ]


def as_x_returns(text: str) -> tuple[str, list[dict[str, Any]]]:
    """The text as X gives it back: URLs wrapped as t.co links, &, < and > escaped.

    Returns the text and its `entities.urls` (start/end in code points of the
    returned text, `expanded_url` the original).
    """
    out = ""
    urls: list[dict[str, Any]] = []
    position = 0
    for match in re.finditer(r"https?://[^\s]+", text):
        out += _escape(text[position : match.start()])
        short = "https://t.co/" + hashlib.sha1(match.group().encode()).hexdigest()[:10]  # noqa: S324
        urls.append(
            {
                "start": len(out),
                "end": len(out) + len(short),
                "url": short,
                "expanded_url": match.group(),
                "display_url": match.group().split("://", 1)[1][:26],
            }
        )
        out += short
        position = match.end()
    return out + _escape(text[position:]), urls


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class XApi(PlatformApi):
    name = "x"
    title = "X"
    calls: ClassVar[dict[str, str]] = {
        "upload": "POST /2/media/upload",
        "metadata": "POST /2/media/metadata",
        "create": "POST /2/tweets",
        "delete": "DELETE /2/tweets/:id",
        "lookup": "GET /2/users/:id/tweets",
        "me": "GET /2/users/me",
        "metrics": "GET /2/tweets?ids=...&tweet.fields=public_metrics,... (the numbers)",
    }
    fault_kinds: ClassVar[tuple[str, ...]] = (
        *PlatformApi.fault_kinds, "daily_limit", "missing_scope")
    # The app's OAuth 1.0a permission; sent back as `x-access-level` (read, read-write,
    # read-write-directmessages). That v2 sends the header as v1.1 does is UNCONFIRMED.
    default_scopes = ("read", "write")
    call_aliases: ClassVar[dict[str, str]] = {
        "media_upload": "upload", "create_media_metadata": "metadata",
        "media_metadata": "metadata", "create_tweet": "create", "tweets": "create",
        "delete_tweet": "delete", "get_users_tweets": "lookup", "get_me": "me",
        "get_tweets": "metrics",
    }

    consumer_key = "sandbox-x-api-key"
    consumer_secret = "sandbox-x-api-secret"  # noqa: S105  (the sandbox's fake credential)
    access_token = f"{USER_ID}-sandbox-x-access-token"
    access_token_secret = "sandbox-x-access-token-secret"  # noqa: S105

    def setup(self) -> None:
        self.media: dict[str, dict[str, Any]] = {}
        self.ids = Counter(1_860_000_000_000_000_000)
        self.route("POST", r"/2/media/upload", "upload", self.upload)
        self.route("POST", r"/2/media/metadata", "metadata", self.metadata)
        # v1.1, as tweepy's `API.create_media_metadata` calls it (tweepy's only alt-text
        # method); X asks v1.1 media users to move to v2, the end date is UNCONFIRMED.
        self.route("POST", r"/1\.1/media/metadata/create\.json", "metadata", self.metadata_v1)
        self.route("POST", r"/2/tweets", "create", self.create)
        self.route("GET", r"/2/tweets", "metrics", self.metrics)
        self.route("DELETE", r"/2/tweets/(?P<id>\d+)", "delete", self.delete)
        self.route("GET", r"/2/users/me", "me", self.me)
        self.route("GET", r"/2/users/(?P<id>\d+)/tweets", "lookup", self.lookup)

    def credentials(self) -> dict[str, str]:
        return {
            "X_API_KEY": self.consumer_key,
            "X_API_SECRET": self.consumer_secret,
            "X_ACCESS_TOKEN": self.access_token,
            "X_ACCESS_TOKEN_SECRET": self.access_token_secret,
        }

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.media.clear()

    # -- auth and faults ------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization") or ""
        unauthorized = _problem(401, "Unauthorized", "Unauthorized")
        if not header.startswith("OAuth "):
            return unauthorized
        try:
            oauth = {
                key: oauth_utils.unescape(value)
                for key, value in oauth_utils.parse_authorization_header(header)
            }
        except (ValueError, IndexError):
            return unauthorized
        if (
            oauth.get("oauth_consumer_key") != self.consumer_key
            or oauth.get("oauth_token") != self.access_token
            or oauth.get("oauth_signature_method") != "HMAC-SHA1"
        ):
            return unauthorized
        query = urlencode([(k, v) for k, vs in request.query.items() for v in vs])
        host = UPLOAD_HOST if request.path.startswith("/1.1/media/") else SIGNED_HOST
        uri = host + request.path + (f"?{query}" if query else "")
        signed = OAuthRequest(uri, http_method=request.method, headers={"Authorization": header})
        signed.params = oauth_signature.collect_parameters(
            uri_query=query, headers={"Authorization": header}, exclude_oauth_signature=True
        )
        signed.signature = oauth.get("oauth_signature", "")
        if not oauth_signature.verify_hmac_sha1(
            signed, self.consumer_secret, self.access_token_secret
        ):
            return unauthorized
        return None

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "rate_limit":
            reset = int(time.time()) + fault.reset_after
            response = _problem(429, "Too Many Requests", "Too Many Requests")
            response.headers.update(
                {
                    "x-rate-limit-limit": "100",
                    "x-rate-limit-remaining": "0",
                    "x-rate-limit-reset": str(reset),
                }
            )
            return response
        if fault.kind == "daily_limit":
            return self.daily_limit(fault.reset_after)
        if fault.kind == "server_error":
            return _problem(503, "Service Unavailable", "Service Unavailable")
        if fault.kind == "expired_token":
            # OAuth 1.0a keys do not expire; revoked or regenerated keys answer this.
            return _problem(401, "Unauthorized", "Unauthorized")
        if fault.kind == "duplicate":
            return self.duplicate()
        raise ValueError(fault.kind)

    @staticmethod
    def daily_limit(reset_after: int) -> Response:
        """POST /2/tweets' 24-hour user cap spent: the 15-minute window is not.

        X sends both windows' headers on POST /2/tweets (platform-apis.md §1.8); only the
        24-hour reset says when posting works again. The app's 24-hour cap has room left.
        """
        now = int(time.time())
        response = _problem(429, "Too Many Requests", "Too Many Requests")
        response.headers.update({
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "99",
            "x-rate-limit-reset": str(now + 900),
            "x-user-limit-24hour-limit": "100",
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": str(now + reset_after),
            "x-app-limit-24hour-limit": "10000",
            "x-app-limit-24hour-remaining": "9000",
            "x-app-limit-24hour-reset": str(now + reset_after),
        })
        return response

    @staticmethod
    def duplicate() -> Response:
        return _problem(
            403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
        )

    # -- calls ------------------------------------------------------------------------

    def _json_body(self, request: Request) -> dict[str, Any] | Response:
        if request.content_type != "application/json":
            return invalid_request("Requests with bodies must have content-type of application/json.")
        if request.json_error is not None or not isinstance(request.json, dict):
            return invalid_request("Request body is not valid JSON.")
        return request.json

    def upload(self, request: Request) -> Response:
        body = self._json_body(request)
        if isinstance(body, Response):
            return body
        errors = _unknown_fields(body, UPLOAD_FIELDS)
        for name in ("media", "media_category"):
            if name not in body:
                errors.append(f"$.{name}: is missing but it is required")
        if "media_category" in body and body["media_category"] not in MEDIA_CATEGORIES:
            errors.append(
                f"$.media_category: does not have a value in the enumeration "
                f"{sorted(MEDIA_CATEGORIES)}"
            )
        if "media_type" in body and body["media_type"] not in UPLOAD_MEDIA_TYPES:
            errors.append(
                f"$.media_type: does not have a value in the enumeration "
                f"{sorted(UPLOAD_MEDIA_TYPES)}"
            )
        if "shared" in body and not isinstance(body["shared"], bool):
            errors.append("$.shared: is not a boolean")
        if errors:
            return invalid_request(*errors)
        try:
            data = base64.b64decode(str(body["media"]), validate=True)
        except (binascii.Error, ValueError):
            return invalid_request("$.media: is not valid base64")
        info = inspect_image(data)
        if info is None or info.mime not in IMAGE_TYPES:
            return invalid_request("media type unrecognized.", parameters={"media": []})
        if len(data) > MAX_IMAGE_BYTES:
            return invalid_request(
                f"File size exceeds {MAX_IMAGE_BYTES} bytes.", parameters={"media": []}
            )
        media_id = self.ids.next()
        with self.lock:
            self.media[media_id] = {"data": data, "info": info, "alt_text": ""}
        return Response.json(
            200,
            {
                "data": {
                    "id": media_id,
                    "media_key": f"3_{media_id}",
                    "size": len(data),
                    "expires_after_secs": 86400,
                    "image": {"image_type": info.mime, "w": info.width, "h": info.height},
                }
            },
        )

    def metadata(self, request: Request) -> Response:
        body = self._json_body(request)
        if isinstance(body, Response):
            return body
        errors = _unknown_fields(body, METADATA_FIELDS)
        if "id" not in body:
            errors.append("$.id: is missing but it is required")
        metadata = body.get("metadata", {})
        alt = metadata.get("alt_text") if isinstance(metadata, dict) else None
        if alt is not None and (not isinstance(alt, dict) or not isinstance(alt.get("text"), str)):
            errors.append("$.metadata.alt_text.text: is missing but it is required")
        if errors:
            return invalid_request(*errors)
        media_id = str(body["id"])
        with self.lock:
            media = self.media.get(media_id)
            if media is None:
                return invalid_request(
                    f"Invalid media id {media_id}", parameters={"id": [media_id]}
                )
            if alt is not None:
                text = alt["text"]
                if len(text) > MAX_ALT_TEXT:
                    return invalid_request(
                        f"$.metadata.alt_text.text: must be at most {MAX_ALT_TEXT} characters"
                    )
                media["alt_text"] = text
        return Response.json(
            200, {"data": {"id": media_id, "associated_metadata": body.get("metadata", {})}}
        )

    def metadata_v1(self, request: Request) -> Response:
        """v1.1 `media/metadata/create.json`: `{"media_id", "alt_text": {"text"}}`, 200 empty."""
        body = request.json if isinstance(request.json, dict) else None
        alt = body.get("alt_text") if body else None
        if body is None or "media_id" not in body or not (
            isinstance(alt, dict) and isinstance(alt.get("text"), str)
        ):
            return Response.json(400, {"errors": [{"code": 38, "message": "media_id and "
                                                   "alt_text.text parameters are missing."}]})
        media_id = str(body["media_id"])
        with self.lock:
            media = self.media.get(media_id)
            if media is None:
                return Response.json(400, {"errors": [{"code": 324, "message": "Invalid media "
                                                       f"id {media_id}"}]})
            if len(alt["text"]) > MAX_ALT_TEXT:
                return Response.json(400, {"errors": [{"code": 44, "message": "alt_text.text "
                                                       "must be <= 1000 chars"}]})
            media["alt_text"] = alt["text"]
        return Response(200, b"", "text/html;charset=utf-8")

    def create(self, request: Request) -> Response:
        if "write" not in self.scopes():  # POST /_sandbox/accounts {"scopes": ["read"]}
            return _problem(
                403, "Forbidden", "Your client app is not configured with the appropriate oauth1 "
                "app permissions for this endpoint.", "https://api.twitter.com/2/problems/oauth1-permissions",
            )
        body = self._json_body(request)
        if isinstance(body, Response):
            return body
        errors = _unknown_fields(body, TWEET_FIELDS)
        media = body.get("media")
        if media is not None:
            if not isinstance(media, dict) or not isinstance(media.get("media_ids"), list):
                errors.append("$.media.media_ids: is missing but it is required")
            else:
                errors += _unknown_fields(media, TWEET_MEDIA_FIELDS, "$.media")
        if errors:
            return invalid_request(*errors)
        text = str(body.get("text", ""))
        media_ids = [str(m) for m in (media or {}).get("media_ids", [])]
        if not text and not media_ids:
            return invalid_request("$.text: is missing but it is required")
        if len(media_ids) > 4:
            return invalid_request("$.media.media_ids: must have at most 4 items")
        if weighted_length(text) > MAX_WEIGHTED_LENGTH:
            # X answers an over-long text with 403 (UNCONFIRMED in platform-apis.md; the
            # publisher treats 400 and 403 alike: rejected).
            return _problem(
                403, "Forbidden",
                "Your Tweet text is too long. For more information on how Twitter determines "
                "text length see https://github.com/twitter/twitter-text.",
            )
        with self.lock:
            unknown = [m for m in media_ids if m not in self.media]
            if unknown:
                return invalid_request(
                    "Your media IDs are invalid.", parameters={"media.media_ids": unknown}
                )
            if any(p.caption == text for p in self.posts.values()):
                return self.duplicate()
            tweet_id = self.ids.next()
            first = self.media[media_ids[0]] if media_ids else None
            info = first["info"] if first else None
            self.posts[tweet_id] = SandboxPost(
                platform="x",
                id=tweet_id,
                caption=text,
                alt_text=first["alt_text"] if first else "",
                image=first["data"] if first else b"",
                image_type=info.mime if info else "",
                width=info.width if info else 0,
                height=info.height if info else 0,
                account=USERNAME,
                url=f"https://x.com/{USERNAME}/status/{tweet_id}",
            )
        returned, _ = as_x_returns(text)
        return Response.json(
            201, {"data": {"id": tweet_id, "text": returned, "edit_history_tweet_ids": [tweet_id]}}
        )

    def delete(self, request: Request) -> Response:
        tweet_id = request.group("id")
        if self.remove(tweet_id) is None:
            return _problem(
                404, "Not Found Error", f"Could not find tweet with id: [{tweet_id}].",
                "https://api.twitter.com/2/problems/resource-not-found",
            )
        return Response.json(200, {"data": {"deleted": True}})

    def metrics(self, request: Request) -> Response:
        """`GET /2/tweets?ids=...`: the posts with the fields asked, and an `errors` entry per
        post that is gone or per field refused (X answers 200 with both)."""
        unknown = [k for k in request.query if k not in LOOKUP_PARAMS]
        if unknown:
            return invalid_request(
                *(f"The query parameter [{k}] is not one of {sorted(LOOKUP_PARAMS)}" for k in unknown)
            )
        if "read" not in self.scopes():
            return _problem(
                403, "Forbidden", "Your client app is not configured with the appropriate oauth1 "
                "app permissions for this endpoint.", "https://api.twitter.com/2/problems/oauth1-permissions",
            )
        ids = [i for i in (request.param("ids") or "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            return invalid_request(
                f"The number of values in the `ids` query parameter list [{len(ids)}] is not "
                "between 1 and 100", parameters={"ids": [request.param("ids") or ""]},
            )
        bad = [i for i in ids if not i.isdigit()]
        if bad:
            return invalid_request(
                *(f"The `ids` query parameter value [{i}] does not match ^[0-9]{{1,19}}$" for i in bad)
            )
        fields = set((request.param("tweet.fields") or "").split(","))
        now = self.clock.now()
        data: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for tweet_id in ids:
            with self.lock:
                post = self.posts.get(tweet_id)
            if post is None:
                errors.append(not_found(tweet_id))
                continue
            returned, _ = as_x_returns(post.caption)
            item: dict[str, Any] = {"id": post.id, "text": returned,
                                    "edit_history_tweet_ids": [post.id]}
            n = self.metrics_of(post)
            if "created_at" in fields:
                item["created_at"] = _iso(post.created_at)
            if "public_metrics" in fields:
                item["public_metrics"] = {
                    "retweet_count": n.reposts, "reply_count": n.replies, "like_count": n.likes,
                    "quote_count": n.quotes, "bookmark_count": n.saves,
                    "impression_count": n.views,
                }
            # Refused for posts older than 30 days, or all of them (the missing_scope fault).
            recent = now - (post.born or post.created_at) <= timedelta(days=NON_PUBLIC_DAYS) and (
                request.fault is None)
            if "non_public_metrics" in fields:
                if recent:
                    item["non_public_metrics"] = {
                        "impression_count": n.views, "url_link_clicks": n.clicks,
                        "user_profile_clicks": n.profile_clicks,
                    }
                else:
                    errors.append(not_authorized_for_field(tweet_id, "non_public_metrics"))
            if "organic_metrics" in fields:
                if recent:
                    item["organic_metrics"] = {
                        "impression_count": n.views, "like_count": n.likes,
                        "reply_count": n.replies, "retweet_count": n.reposts,
                        "url_link_clicks": n.clicks, "user_profile_clicks": n.profile_clicks,
                    }
                else:
                    errors.append(not_authorized_for_field(tweet_id, "organic_metrics"))
            data.append(item)
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        return Response.json(200, body)

    def access_level(self) -> str:
        scopes = self.scopes()
        if "write" not in scopes:
            return "read"
        return "read-write-directmessages" if "dm" in scopes else "read-write"

    def me(self, request: Request) -> Response:
        return Response.json(
            200, {"data": {"id": USER_ID, "name": "Campaign sandbox", "username": USERNAME}},
            headers={"x-access-level": self.access_level()},
        )

    def lookup(self, request: Request) -> Response:
        allowed = {
            "max_results", "tweet.fields", "start_time", "end_time", "pagination_token",
            "since_id", "until_id", "exclude", "expansions", "media.fields", "user.fields",
        }
        unknown = [k for k in request.query if k not in allowed]
        if unknown:
            return invalid_request(
                *(f"The query parameter [{k}] is not one of {sorted(allowed)}" for k in unknown)
            )
        max_results = int(request.param("max_results") or 10)
        if not 5 <= max_results <= 100:
            return invalid_request(
                f"The `max_results` query parameter value [{max_results}] is not between 5 and 100",
                parameters={"max_results": [str(max_results)]},
            )
        start = request.param("start_time")
        since = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
        fields = set((request.param("tweet.fields") or "").split(","))
        if request.group("id") != USER_ID:
            return Response.json(200, {"meta": {"result_count": 0}})
        offset = _page_offset(request.param("pagination_token"))
        if offset is None:
            return invalid_request(
                "The `pagination_token` query parameter value is not valid",
                parameters={"pagination_token": [request.param("pagination_token") or ""]},
            )
        matching = [
            p for p in reversed(self.live_posts()) if since is None or p.created_at >= since
        ]
        posts = matching[offset : offset + max_results]
        if not posts:
            return Response.json(200, {"meta": {"result_count": 0}})
        data = []
        for post in posts:
            returned, urls = as_x_returns(post.caption)
            item: dict[str, Any] = {
                "id": post.id, "text": returned, "edit_history_tweet_ids": [post.id],
            }
            if "created_at" in fields:
                item["created_at"] = _iso(post.created_at)
            if "entities" in fields and urls:
                item["entities"] = {"urls": urls}
            data.append(item)
        meta: dict[str, Any] = {
            "result_count": len(data), "newest_id": data[0]["id"], "oldest_id": data[-1]["id"],
        }
        if offset + max_results < len(matching):
            meta["next_token"] = _page_token(offset + max_results)
        if offset:
            meta["previous_token"] = _page_token(max(0, offset - max_results))
        return Response.json(200, {"data": data, "meta": meta})


#: The fields of `GET /2/tweets` the sandbox knows (docs.x.com, "Tweet lookup by IDs").
LOOKUP_PARAMS = {"ids", "tweet.fields", "expansions", "media.fields", "place.fields",
                 "poll.fields", "user.fields"}
#: Own posts' non-public numbers are given for the last 30 days only (docs.x.com, "Metrics").
NON_PUBLIC_DAYS = 30


def not_found(tweet_id: str) -> dict[str, Any]:
    """A `GET /2/tweets` partial error for an id that does not exist (any more)."""
    return {
        "value": tweet_id, "detail": f"Could not find tweet with ids: [{tweet_id}].",
        "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
        "resource_id": tweet_id, "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def not_authorized_for_field(tweet_id: str, field_name: str) -> dict[str, Any]:
    """A partial error: the post is given, but not this field of it (non_public_metrics of a
    post older than 30 days, say)."""
    return {
        "value": tweet_id, "detail": f"Sorry, you are not authorized to access "
        f"'{field_name}' on the Tweet with ids: {tweet_id}.", "title": "Field Authorization Error",
        "resource_type": "tweet", "parameter": "tweet.fields", "resource_id": tweet_id,
        "field": field_name, "section": "data",
        "type": "https://api.twitter.com/2/problems/not-authorized-for-field",
    }


def _page_token(offset: int) -> str:
    """An opaque-looking pagination token (X's are lower-case base32-like strings)."""
    return base64.b32encode(f"offset:{offset}".encode()).decode().lower().rstrip("=")


def _page_offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        text = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    kind, _, number = text.partition(":")
    return int(number) if kind == "offset" and number.isdigit() else None


PLATFORM_API = XApi
