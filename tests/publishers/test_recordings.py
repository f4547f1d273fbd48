"""The platforms' own recorded answers, against our publishers and against the sandbox.

`tests/data/recordings/` holds real answers (client libraries' VCR cassettes, bodies
quoted in public issue threads, lexicons; sources and licences in its README). Each
one is used twice:

(a) fed to our publisher by `Replay`, a small HTTP server on 127.0.0.1 that answers
    the recorded call as recorded and passes every other call on to the sandbox, so
    the publisher runs unchanged against the real answer: the id or URL it records,
    or the error it classifies (rejected, retryable, outcome unknown) and its message;
(b) compared with what the sandbox answers to the same request: the same status and
    the same keys with the same JSON types at the top levels.

`REPLAYED` names the tests that use each recording; `NOT_APPLICABLE` says why a
recording is not used (side). `test_every_recording_is_replayed_or_says_why` holds the
two lists to the files.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import tweepy

from campaign.errors import PostRejected, PostRetryable
from campaign.platforms import (
    BlueskySettings,
    FacebookSettings,
    InstagramSettings,
    LinkedInSettings,
    MastodonSettings,
    XSettings,
)
from campaign.publishers.base import PublishRequest
from campaign.publishers.bluesky import BlueskyPublisher, post_tid
from campaign.publishers.facebook import FacebookPublisher
from campaign.publishers.instagram import InstagramPublisher
from campaign.publishers.linkedin import LINKEDIN_VERSION, LinkedInPublisher
from campaign.publishers.mastodon import MastodonPublisher
from campaign.publishers.transport import RedirectAdapter
from campaign.publishers.x import XPublisher
from campaign.sandbox import Sandbox
from campaign.sandbox.bluesky import DID, HANDLE

RECORDINGS = Path(__file__).resolve().parent.parent / "data" / "recordings"
CARDS = Path(__file__).resolve().parent.parent / "fixtures" / "cards"
PAGE_ID = "100000000000001"
IG_ID = "17841400000000001"
X_USER_ID = "1500000000000000001"
MASTODON_ACCOUNT = "109000000000000001"


def load(platform: str) -> dict[str, Any]:
    return json.loads((RECORDINGS / f"{platform}.json").read_text(encoding="utf-8"))


X = load("x")
FACEBOOK = load("facebook")
INSTAGRAM = load("instagram")
LINKEDIN = load("linkedin")
MASTODON = load("mastodon")
BLUESKY = load("bluesky")


def cassette(recordings: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The interactions of the cassette whose path ends with `name`."""
    [found] = [r for r in recordings["recordings"] if r["path"].endswith(name)]
    return list(found["interactions"])


def reported(recordings: dict[str, Any], what: str, section: str = "reported_error_bodies"
             ) -> dict[str, Any]:
    [found] = [r for r in recordings[section] if r["what"] == what]
    return dict(found)


def body_of(answer: dict[str, Any]) -> Any:
    return answer["response"]["body"]


def status_of(answer: dict[str, Any]) -> int:
    return int(answer["response"]["status"]["code"])


def headers_of(answer: dict[str, Any]) -> dict[str, str]:
    return dict(answer["response"].get("headers") or {})


# -- shapes ------------------------------------------------------------------------------


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", dict: "object", list: "array"}.get(type(value), type(value).__name__)


def shape_gaps(recorded: Any, ours: Any, depth: int = 2, where: str = "$",
               ignore: frozenset[str] = frozenset()) -> list[str]:
    """Where the sandbox's answer lacks a recorded key or has another JSON type.

    A recorded null matches anything (a null is a value that was absent there); keys
    the sandbox has beyond the recorded ones are allowed. Lists compare their first items.
    """
    if recorded is None:
        return []
    if kind(recorded) != kind(ours):
        return [f"{where}: recorded {kind(recorded)}, sandbox {kind(ours)}"]
    if depth == 0:
        return []
    gaps: list[str] = []
    if isinstance(recorded, dict):
        for key, value in recorded.items():
            if key in ignore:
                continue
            if key not in ours:
                gaps.append(f"{where}.{key}: missing in the sandbox")
            else:
                gaps += shape_gaps(value, ours[key], depth - 1, f"{where}.{key}", ignore)
    elif isinstance(recorded, list) and recorded and ours:
        gaps += shape_gaps(recorded[0], ours[0], depth - 1, f"{where}[0]", ignore)
    return gaps


# -- the replay server -------------------------------------------------------------------

HOP_HEADERS = {"connection", "content-length", "content-encoding", "transfer-encoding",
               "keep-alive", "date", "server"}


class Replay:
    """Answers the recorded calls as recorded; passes every other call on to the sandbox."""

    def __init__(self, forward_to: str) -> None:
        self.forward_to = forward_to.rstrip("/")
        self.canned: list[dict[str, Any]] = []
        self.served: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = replay.respond(self.command, self.path,
                                                          dict(self.headers), body)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, method: str, path: str, status: int, body: Any = None,
               headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer `method` on a path matching the regex `path` (query left out) `times` times."""
        payload = b"" if body is None else (
            body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
        )
        sent = {k: v for k, v in (headers or {}).items() if k.lower() not in HOP_HEADERS}
        if payload and not any(k.lower() == "content-type" for k in sent):
            sent["Content-Type"] = "application/json; charset=utf-8"
        with self.lock:
            self.canned.append({"method": method, "path": re.compile(path), "status": status,
                                "headers": sent, "body": payload, "times": times})

    def respond(self, method: str, target: str, headers: dict[str, str], body: bytes
                ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(target)
        with self.lock:
            for canned in self.canned:
                if canned["method"] == method and canned["path"].fullmatch(split.path):
                    canned["times"] -= 1
                    if canned["times"] <= 0:
                        self.canned.remove(canned)
                    self.served.append({"method": method, "path": split.path,
                                        "query": parse_qs(split.query)})
                    return canned["status"], canned["headers"], canned["body"]
        sent = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS | {"host"}}
        answer = requests.request(method, self.forward_to + target, headers=sent, data=body,
                                  allow_redirects=False, timeout=30)
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        return answer.status_code, kept, answer.content

    def __enter__(self) -> Replay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def replay(sandbox: Sandbox) -> Iterator[Replay]:
    with Replay(sandbox.url) as server:
        yield server


def env_via(sandbox: Sandbox, replay: Replay, platform: str) -> dict[str, str]:
    """The sandbox's variables, with one platform's API reached through the replay server."""
    return {**sandbox.env(), f"CAMPAIGN_{platform.upper()}_API_URL": f"{replay.url}/{platform}"}


def request_for(platform: str, caption: str = "Vraag door. #ZeldzameKanker https://example.org/m",
                card: str = "card_landscape_1600x900.jpg", size: tuple[int, int] = (1600, 900)
                ) -> PublishRequest:
    return PublishRequest(
        story_id="marieke", post_key=f"marieke/{platform}", card_path=CARDS / card,
        caption=caption, alt_text="Kaart met de tekst: Vraag door.",
        card_width=size[0], card_height=size[1],
    )


# -- X ----------------------------------------------------------------------------------


def x_publisher(env: dict[str, str], http: requests.Session) -> XPublisher:
    return XPublisher(XSettings(username="campaign_sandbox"), http, env)


def x_client(sandbox: Sandbox, http: requests.Session) -> tuple[tweepy.Client, tweepy.API]:
    """tweepy itself, signed with the sandbox's keys and sent to the sandbox."""
    x = sandbox.platforms["x"]
    keys = x.credentials()
    client = tweepy.Client(
        consumer_key=keys["X_API_KEY"], consumer_secret=keys["X_API_SECRET"],
        access_token=keys["X_ACCESS_TOKEN"], access_token_secret=keys["X_ACCESS_TOKEN_SECRET"],
    )
    client.session.mount("https://api.twitter.com", RedirectAdapter(sandbox.api_url("x"), (5, 30)))
    api = tweepy.API(tweepy.OAuth1UserHandler(
        keys["X_API_KEY"], keys["X_API_SECRET"], keys["X_ACCESS_TOKEN"],
        keys["X_ACCESS_TOKEN_SECRET"],
    ))
    for host in ("https://api.twitter.com", "https://upload.twitter.com"):
        api.session.mount(host, RedirectAdapter(sandbox.api_url("x"), (5, 30)))
    return client, api


def x_answer(call: Any, *args: Any, **kwargs: Any) -> requests.Response:
    """The raw answer to a tweepy call, error or not."""
    try:
        result = call(*args, **kwargs)
    except tweepy.HTTPException as exc:
        return exc.response
    if isinstance(result, requests.Response):
        return result
    raise AssertionError("ask with Client.request, or return_type=requests.Response")


def test_x_publisher_records_the_id_of_the_recorded_create_and_deletes_it(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    create, delete = cassette(X, "test_client_create_and_delete_tweet.yaml")
    replay.answer("POST", r"/x/2/tweets", status_of(create), body_of(create), headers_of(create))
    replay.answer("DELETE", r"/x/2/tweets/\d+", status_of(delete), body_of(delete),
                  headers_of(delete))
    publisher = x_publisher(env_via(sandbox, replay, "x"), http)

    published = publisher.publish(request_for("x"))
    publisher.delete(published.remote_id)

    assert published.remote_id == "1456012973835788293"
    assert published.url == "https://x.com/campaign_sandbox/status/1456012973835788293"
    assert [s["method"] for s in replay.served] == ["POST", "DELETE"]
    assert replay.served[1]["path"] == "/x/2/tweets/1456012973835788293"


def test_x_sandbox_answers_create_and_delete_in_the_recorded_shape(
    sandbox: Sandbox, http: requests.Session
) -> None:
    create, delete = cassette(X, "test_client_create_and_delete_tweet.yaml")
    client, _ = x_client(sandbox, http)
    made = x_answer(client.request, "POST", "/2/tweets", json={"text": "Test Tweet"},
                    user_auth=True)
    assert made.status_code == status_of(create)
    assert shape_gaps(body_of(create), made.json(), depth=3) == []
    gone = x_answer(client.request, "DELETE", f"/2/tweets/{made.json()['data']['id']}",
                    user_auth=True)
    assert gone.status_code == status_of(delete)
    assert gone.json() == body_of(delete)


def test_x_publisher_reads_the_account_from_the_recorded_get_me(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    [me] = cassette(X, "test_client_get_me.yaml")
    replay.answer("GET", r"/x/2/users/me", status_of(me), body_of(me), headers_of(me))
    check = x_publisher(env_via(sandbox, replay, "x"), http).check_credentials()
    assert check.account == "@TweepyDev"

    client, _ = x_client(sandbox, http)
    ours = x_answer(client.request, "GET", "/2/users/me", user_auth=True)
    assert ours.status_code == status_of(me)
    assert shape_gaps(body_of(me), ours.json(), depth=3) == []


def test_x_publisher_lists_the_recorded_users_tweets_and_the_sandbox_pages_like_x(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    [tweets] = cassette(X, "test_client_get_users_tweets.yaml")
    replay.answer("GET", r"/x/2/users/\d+/tweets", status_of(tweets), body_of(tweets),
                  headers_of(tweets))
    posts = x_publisher(env_via(sandbox, replay, "x"), http).recent_posts(limit=5)
    assert [p.remote_id for p in posts] == ["1577730467436138524", "1565318587736285184"]
    assert posts[1].text.startswith("if you see an edited Tweet")
    assert posts[0].created_at is None  # the recorded call asked no tweet.fields

    client, _ = x_client(sandbox, http)
    for n in range(6):
        x_answer(client.request, "POST", "/2/tweets", json={"text": f"Toot {n}"}, user_auth=True)
    first = x_answer(client.request, "GET", f"/2/users/{X_USER_ID}/tweets",
                     params={"max_results": 5}, user_auth=True)
    assert first.status_code == 200
    assert shape_gaps(body_of(tweets), first.json(), depth=3) == []
    token = first.json()["meta"]["next_token"]
    rest = x_answer(client.request, "GET", f"/2/users/{X_USER_ID}/tweets",
                    params={"max_results": 5, "pagination_token": token}, user_auth=True)
    assert [t["text"] for t in rest.json()["data"]] == ["Toot 0"]
    assert "next_token" not in rest.json()["meta"]


def test_x_recorded_duplicate_is_rejected_as_a_duplicate_and_the_sandbox_answers_it_alike(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    body = reported(X, "POST /2/tweets duplicate")
    headers = reported(X, "POST /2/tweets duplicate, headers")["headers"]
    # The body and the headers were quoted in two threads; served together here.
    replay.answer("POST", r"/x/2/tweets", body["status"], body["body"], headers)
    publisher = x_publisher(env_via(sandbox, replay, "x"), http)
    with pytest.raises(PostRejected, match="as a duplicate of an earlier one") as refused:
        publisher.publish(request_for("x"))
    assert "You are not allowed to create a Tweet with duplicate content." in str(refused.value)

    client, _ = x_client(sandbox, http)
    x_answer(client.request, "POST", "/2/tweets", json={"text": "same"}, user_auth=True)
    again = x_answer(client.request, "POST", "/2/tweets", json={"text": "same"}, user_auth=True)
    assert again.status_code == body["status"]
    assert again.json() == body["body"]
    assert again.headers["content-type"].startswith("application/json")


def test_x_recorded_429_is_retryable_and_matches_the_sandbox_rate_limit(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    limited = reported(X, "429")
    replay.answer("POST", r"/x/2/tweets", limited["status"], limited["body"])
    with pytest.raises(PostRetryable, match=r"rate limited while creating the post \(429\)") as exc:
        x_publisher(env_via(sandbox, replay, "x"), http).publish(request_for("x"))
    assert exc.value.reset_at is None  # the quoted answer had no x-rate-limit-reset

    http.post(f"{sandbox.url}/_sandbox/faults",
              json={"platform": "x", "call": "create", "kind": "rate_limit"}, timeout=5)
    client, _ = x_client(sandbox, http)
    ours = x_answer(client.request, "POST", "/2/tweets", json={"text": "t"}, user_auth=True)
    assert ours.status_code == 429
    assert ours.json() == limited["body"]


def test_x_one_shot_upload_takes_the_documented_fields_and_only_its_categories(
    sandbox: Sandbox, http: requests.Session
) -> None:
    schema = X["documented_request_schemas"][
        "POST /2/media/upload (one-shot, application/json or multipart/form-data)"]["docs.x.com"]
    client, _ = x_client(sandbox, http)
    media = base64.b64encode((CARDS / "card_landscape_1600x900.jpg").read_bytes()).decode()

    def upload(**fields: Any) -> requests.Response:
        return x_answer(client.request, "POST", "/2/media/upload",
                        json={"media": media, **fields}, user_auth=True)

    for category in schema["media_category_enum"]:
        if category == "subtitles":
            continue  # a JPEG is no subtitle file
        done = upload(media_category=category, media_type="image/jpeg", shared=False,
                      additional_owners=[X_USER_ID])
        assert done.status_code == 200, done.text
        documented = {k for k in schema["response_200"]["data"] if k != "processing_info"}
        assert documented <= set(done.json()["data"])  # processing_info: videos only
    for category in ("tweet_video", "tweet_gif", "dm_video", "dm_gif"):
        refused = upload(media_category=category)
        assert refused.status_code == 400
        assert "media_category" in refused.json()["errors"][0]["message"]
    assert upload(media_category="tweet_image", media_type="video/mp4").status_code == 400
    assert upload(media_category="tweet_image", shared="yes").status_code == 400


def test_x_24_hour_cap_answers_xs_headers_and_the_publisher_waits_for_the_day_reset(
    sandbox: Sandbox, http: requests.Session
) -> None:
    http.post(f"{sandbox.url}/_sandbox/faults", json={
        "platform": "x", "call": "create_tweet", "kind": "daily_limit", "reset_after": 20 * 3600,
    }, timeout=5).raise_for_status()
    with pytest.raises(PostRetryable, match="rate limited while creating the post") as exc:
        x_publisher(sandbox.env(), http).publish(request_for("x"))
    reset = exc.value.reset_at
    assert reset is not None
    # The 15-minute window resets in 15 minutes; the spent 24-hour cap in 20 hours: the
    # later one is when posting works again.
    assert timedelta(hours=19, minutes=58) < reset - datetime.now(UTC) < timedelta(hours=20, minutes=1)
    assert reset.strftime("%Y-%m-%d %H:%M UTC") in str(exc.value)
    assert sandbox.posts() == []

    http.post(f"{sandbox.url}/_sandbox/faults", json={
        "platform": "x", "call": "create", "kind": "daily_limit", "reset_after": 3600,
    }, timeout=5).raise_for_status()
    client, _ = x_client(sandbox, http)
    answer = x_answer(client.request, "POST", "/2/tweets", json={"text": "t"}, user_auth=True)
    assert answer.status_code == 429
    for window in ("x-user-limit-24hour", "x-app-limit-24hour"):
        for part in ("limit", "remaining", "reset"):
            assert answer.headers[f"{window}-{part}"].isdigit()
    assert answer.headers["x-user-limit-24hour-remaining"] == "0"
    assert int(answer.headers["x-rate-limit-remaining"]) > 0


# -- Facebook ---------------------------------------------------------------------------


def fb_publisher(env: dict[str, str], http: requests.Session) -> FacebookPublisher:
    return FacebookPublisher(FacebookSettings(page_id=PAGE_ID), http, env)


def graph(sandbox: Sandbox, http: requests.Session, platform: str, method: str, path: str,
          **kwargs: Any) -> requests.Response:
    token = sandbox.platforms[platform].credentials()
    return http.request(method, f"{sandbox.api_url(platform)}/v25.0/{path}",
                        headers={"Authorization": f"Bearer {next(iter(token.values()))}"},
                        timeout=10, **kwargs)


def fault(sandbox: Sandbox, http: requests.Session, **body: Any) -> None:
    http.post(f"{sandbox.url}/_sandbox/faults", json=body, timeout=5).raise_for_status()


@pytest.mark.parametrize("path", ["testdata/base/error_data.json", "testdata/error.json"])
def test_facebook_recorded_code_100_is_refused_and_the_sandbox_answers_the_same_keys(
    sandbox: Sandbox, replay: Replay, http: requests.Session, path: str
) -> None:
    [recording] = [r for r in FACEBOOK["recordings"] if r["path"] == path]
    # python-facebook kept the body only; Graph answers OAuthException code 100 with 400.
    replay.answer("GET", rf"/facebook/v25.0/{PAGE_ID}/published_posts", 400, recording["body"])
    with pytest.raises(PostRejected, match=r"refused while listing recent posts \(code 100: \(#100\)"):
        fb_publisher(env_via(sandbox, replay, "facebook"), http).recent_posts()

    ours = graph(sandbox, http, "facebook", "GET", "999999/published_posts")
    assert ours.status_code == 400
    assert ours.json()["error"]["code"] == 100
    assert shape_gaps(recording["body"], ours.json()) == []


def test_facebook_publisher_reads_the_recorded_posts_page_and_the_sandbox_lists_alike(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    [recording] = [r for r in FACEBOOK["recordings"] if r["path"].endswith("feed_fields_p1.json")]
    replay.answer("GET", rf"/facebook/v25.0/{PAGE_ID}/published_posts", 200, recording["body"])
    posts = fb_publisher(env_via(sandbox, replay, "facebook"), http).recent_posts(limit=10)
    assert [p.remote_id for p in posts][:2] == ["4_10113477241177441", "4_10113449068715281"]
    assert posts[0].created_at == datetime(2021, 7, 4, 19, 50, 58, tzinfo=UTC)
    assert posts[0].text == "Happy July 4th! 🇺🇸"

    fb_publisher(sandbox.env(), http).publish(request_for("facebook"))
    ours = graph(sandbox, http, "facebook", "GET", f"{PAGE_ID}/published_posts",
                 params={"fields": "id,message,created_time"})
    # paging: the recorded page is time-paged (previous/next URLs); the sandbox pages by
    # cursors, as Graph does for published_posts. Only its presence is compared.
    assert shape_gaps(recording["body"], ours.json(), depth=3, ignore=frozenset({"paging"})) == []
    assert "paging" in ours.json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", ours.json()["data"][0]["created_time"])


def test_facebook_recorded_throttling_is_retryable_and_the_sandbox_throttles_alike(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    app = reported(FACEBOOK, "app throttling")
    page = reported(FACEBOOK, "page throttling")
    env = env_via(sandbox, replay, "facebook")
    # The app-throttling thread gives no status: Graph answers throttling with 400 (or 403).
    replay.answer("POST", rf"/facebook/v25.0/{PAGE_ID}/photos", 400, app["body"])
    with pytest.raises(PostRetryable, match=r"rate limit reached while posting the photo \(code 4"):
        fb_publisher(env, http).publish(request_for("facebook"))
    replay.answer("POST", rf"/facebook/v25.0/{PAGE_ID}/photos", page["status"],
                  {"error": page["body"]})
    with pytest.raises(PostRetryable, match=r"\(code 32: \(#32\) Page request limit reached\)"):
        fb_publisher(env, http).publish(request_for("facebook"))
    assert sandbox.posts() == []

    fault(sandbox, http, platform="facebook", call="create", kind="rate_limit")
    ours = graph(sandbox, http, "facebook", "POST", f"{PAGE_ID}/photos", data={"caption": "c"})
    assert ours.status_code == page["status"]
    assert shape_gaps({"error": page["body"]}, ours.json()) == []
    assert ours.json()["error"]["message"] == page["body"]["message"]
    fault(sandbox, http, platform="instagram", call="*", kind="rate_limit")
    ig = graph(sandbox, http, "instagram", "GET", f"{IG_ID}/content_publishing_limit")
    assert shape_gaps(app["body"], ig.json()) == []
    assert ig.json()["error"]["message"] == app["body"]["error"]["message"]


def test_facebook_368_already_posted_is_a_duplicate_not_an_account_block(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    quoted = reported(FACEBOOK, "duplicate content answered as 368, not 506")
    # koala#422 quotes type, code and message of the answer as text: rebuilt as Graph's body.
    message = quoted["body_text"].split("message: ", 1)[1].split(" [HTTP", 1)[0]
    body = {"error": {"message": message, "type": "OAuthException", "code": 368,
                      "fbtrace_id": "AbCdEf"}}
    replay.answer("POST", rf"/facebook/v25.0/{PAGE_ID}/photos", quoted["status"], body)
    with pytest.raises(PostRejected) as refused:
        fb_publisher(env_via(sandbox, replay, "facebook"), http).publish(request_for("facebook"))
    text = str(refused.value)
    assert "refused as a duplicate of an earlier post" in text
    assert "check the account; if it is not there, change the story's caption" in text
    assert "blocked" not in text

    # The sandbox's fault answers the same, and the publisher says the same of it.
    fault(sandbox, http, platform="facebook", call="create", kind="duplicate_368")
    with pytest.raises(PostRejected, match="refused as a duplicate of an earlier post"):
        fb_publisher(sandbox.env(), http).publish(request_for("facebook"))
    fault(sandbox, http, platform="facebook", call="create", kind="duplicate_368")
    ours = graph(sandbox, http, "facebook", "POST", f"{PAGE_ID}/photos", data={"caption": "c"})
    assert ours.status_code == quoted["status"]
    assert shape_gaps(body, ours.json()) == []
    assert ours.json()["error"]["message"] == message


def test_facebook_368_for_reported_content_stays_an_account_block(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    blocked = reported(FACEBOOK, "368 with error_data/subcode")
    # Not a duplicate: subcode 1346003 here says other people reported the content.
    replay.answer("POST", rf"/facebook/v25.0/{PAGE_ID}/photos", 400, blocked["body"])
    with pytest.raises(PostRejected, match="the account is temporarily blocked") as refused:
        fb_publisher(env_via(sandbox, replay, "facebook"), http).publish(request_for("facebook"))
    assert "code 368/1346003" in str(refused.value)

    fault(sandbox, http, platform="facebook", call="create", kind="account_blocked")
    ours = graph(sandbox, http, "facebook", "POST", f"{PAGE_ID}/photos", data={"caption": "c"})
    assert ours.status_code == 400
    assert shape_gaps(blocked["body"], ours.json(), depth=3) == []


def test_facebook_506_is_a_duplicate_in_the_publisher_and_the_sandbox(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    quoted = reported(FACEBOOK, "506")
    message = quoted["body_text"].split(") ", 1)[1]  # "(#506) Duplicate status message"
    body = {"error": {"message": message, "type": "OAuthException", "code": 506,
                      "fbtrace_id": "AbCdEf"}}
    replay.answer("POST", rf"/facebook/v25.0/{PAGE_ID}/photos", 400, body)
    with pytest.raises(PostRejected, match="refused as a duplicate of an earlier post"):
        fb_publisher(env_via(sandbox, replay, "facebook"), http).publish(request_for("facebook"))

    publisher = fb_publisher(sandbox.env(), http)
    publisher.publish(request_for("facebook"))
    with pytest.raises(PostRejected, match=r"\(code 506: \(#506\) Duplicate status message\)"):
        publisher.publish(request_for("facebook"))


# -- Instagram --------------------------------------------------------------------------


def ig_publisher(env: dict[str, str], http: requests.Session) -> InstagramPublisher:
    settings = InstagramSettings(account_id=IG_ID, media_dir="/unused",
                                 media_base_url="https://e.org")
    return InstagramPublisher(settings, http, env, poll_interval=0.01)


def ig_body(what_ends: str) -> dict[str, Any]:
    [found] = [r for r in INSTAGRAM["recordings"] if r["path"].endswith(what_ends)]
    return dict(found["body"])


def test_instagram_publisher_records_the_recorded_media_id_after_the_recorded_container(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    limit = ig_body("content_publish_limit.json")
    replay.answer("GET", rf"/instagram/v25.0/{IG_ID}/content_publishing_limit", 200, limit)
    replay.answer("POST", rf"/instagram/v25.0/{IG_ID}/media", 200, ig_body("create_photo.json"))
    replay.answer("GET", r"/instagram/v25.0/17889455560051444", 200,
                  ig_body("container_info.json"))
    replay.answer("POST", rf"/instagram/v25.0/{IG_ID}/media_publish", 200,
                  ig_body("publish_container.json"))
    replay.answer("GET", r"/instagram/v25.0/17920238422030506", 200,
                  {"id": "17920238422030506", "permalink": "https://www.instagram.com/p/Cx1/"})
    published = ig_publisher(env_via(sandbox, replay, "instagram"), http).publish(
        request_for("instagram", card="card_portrait_1080x1350.jpg", size=(1080, 1350)))
    assert published.remote_id == "17920238422030506"
    assert published.extra == {"container_id": "17889455560051444"}
    assert published.url == "https://www.instagram.com/p/Cx1/"

    replay.answer("GET", rf"/instagram/v25.0/{IG_ID}/content_publishing_limit", 200, limit)
    check = ig_publisher(env_via(sandbox, replay, "instagram"), http).check_credentials()
    assert not any("quota" in w for w in check.warnings)  # 0 of 25 used


def test_instagram_sandbox_answers_the_recorded_shapes(
    sandbox: Sandbox, http: requests.Session
) -> None:
    image_url = ig_publisher(sandbox.env(), http).media_host.put(
        CARDS / "card_portrait_1080x1350.jpg").url
    made = graph(sandbox, http, "instagram", "POST", f"{IG_ID}/media",
                 data={"image_url": image_url, "caption": "c"})
    assert shape_gaps(ig_body("create_photo.json"), made.json()) == []
    container = made.json()["id"]
    status = graph(sandbox, http, "instagram", "GET", container,
                   params={"fields": "id,status,status_code"})
    assert shape_gaps(ig_body("container_info.json"), status.json()) == []
    for _ in range(50):  # the sandbox's container takes a few reads to finish
        if status.json()["status_code"] == "FINISHED":
            break
        time.sleep(0.05)
        status = graph(sandbox, http, "instagram", "GET", container,
                       params={"fields": "id,status,status_code"})
    published = graph(sandbox, http, "instagram", "POST", f"{IG_ID}/media_publish",
                      data={"creation_id": container})
    assert shape_gaps(ig_body("publish_container.json"), published.json()) == []
    limit = graph(sandbox, http, "instagram", "GET", f"{IG_ID}/content_publishing_limit",
                  params={"fields": "config,quota_usage"})
    assert shape_gaps(ig_body("content_publish_limit.json"), limit.json(), depth=4) == []


# -- LinkedIn ---------------------------------------------------------------------------


def li_publisher(env: dict[str, str], http: requests.Session) -> LinkedInPublisher:
    return LinkedInPublisher(LinkedInSettings(organization_id="1000001"), http, env)


def li(sandbox: Sandbox, http: requests.Session, method: str, path: str, **kwargs: Any
       ) -> requests.Response:
    headers = {"Authorization": "Bearer sandbox-linkedin-token", "LinkedIn-Version": LINKEDIN_VERSION,
               "X-Restli-Protocol-Version": "2.0.0"}
    return http.request(method, f"{sandbox.api_url('linkedin')}{path}", headers=headers,
                        timeout=10, **kwargs)


def test_linkedin_recorded_duplicate_is_rejected_and_the_sandbox_answers_the_same_body(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    quoted = reported(LINKEDIN, "POST /rest/posts duplicate", "reported_bodies")
    replay.answer("POST", r"/linkedin/rest/posts", quoted["status"], quoted["body"])
    # The sandbox's upload URL is on the sandbox; the publisher sends it under its base
    # URL (the replay server), one /linkedin deeper. The card's bytes are not under test.
    replay.answer("PUT", r"/linkedin/linkedin/dms-uploads/[\w-]+", 201)
    with pytest.raises(PostRejected, match="LinkedIn refused the post as a duplicate") as refused:
        li_publisher(env_via(sandbox, replay, "linkedin"), http).publish(request_for("linkedin"))
    assert "Content is a duplicate of urn:li:share:7141138937766391808" in str(refused.value)

    publisher = li_publisher(sandbox.env(), http)
    publisher.publish(request_for("linkedin"))
    ours = li(sandbox, http, "POST", "/rest/posts", json={
        "author": "urn:li:organization:1000001", "commentary": "Vraag door.",
        "visibility": "PUBLIC", "distribution": {"feedDistribution": "MAIN_FEED"},
        "lifecycleState": "PUBLISHED",
    })
    again = li(sandbox, http, "POST", "/rest/posts", json={
        "author": "urn:li:organization:1000001", "commentary": "Vraag door.",
        "visibility": "PUBLIC", "distribution": {"feedDistribution": "MAIN_FEED"},
        "lifecycleState": "PUBLISHED",
    })
    assert ours.status_code == 201
    assert again.status_code == quoted["status"]
    assert shape_gaps(quoted["body"], again.json(), depth=5) == []
    assert again.json()["message"].endswith(f"Content is a duplicate of {ours.headers['x-restli-id']}")


def test_linkedin_ghost_of_a_deleted_post_is_404_yet_blocks_the_same_text_for_two_days(
    sandbox: Sandbox, http: requests.Session
) -> None:
    ghost = reported(LINKEDIN, "DUPLICATE_POST after delete (ghost URN, 24-48 h)", "reported_bodies")
    assert "composio" in ghost["source"]
    publisher = li_publisher(sandbox.env(), http)
    first = publisher.publish(request_for("linkedin"))
    publisher.delete(first.remote_id)  # consent withdrawn

    read = li(sandbox, http, "GET", f"/rest/posts/{requests.utils.quote(first.remote_id, safe='')}")
    assert read.status_code == 404
    publisher.delete(first.remote_id)  # deleting the ghost again is no error
    with pytest.raises(PostRejected, match="LinkedIn refused the post as a duplicate") as refused:
        publisher.publish(request_for("linkedin"))
    text = str(refused.value)
    assert f"Content is a duplicate of {first.remote_id}" in text
    assert "deleted in the last day or two" in text
    assert publisher.recent_posts() == []  # the ghost is on no list

    # After two days the text may be posted again.
    post = sandbox.platforms["linkedin"].deleted[first.remote_id]
    assert post.deleted_at is not None
    post.deleted_at -= timedelta(hours=49)
    assert publisher.publish(request_for("linkedin")).remote_id != first.remote_id


def test_linkedin_recorded_426_403_and_429_are_classified_and_the_sandbox_answers_alike(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    inactive = reported(LINKEDIN, "inactive LinkedIn-Version", "reported_bodies")
    legacy = reported(LINKEDIN, "legacy 403 shape", "reported_bodies")
    daily = reported(LINKEDIN, "429 daily throttle", "reported_bodies")
    env = env_via(sandbox, replay, "linkedin")
    replay.answer("POST", r"/linkedin/rest/images", inactive["status"],
                  {"message": inactive["message"], "status": inactive["status"]})
    with pytest.raises(PostRejected, match="Requested version 20240401 is not active"):
        li_publisher(env, http).publish(request_for("linkedin"))
    replay.answer("POST", r"/linkedin/rest/images", legacy["status"], legacy["body"])
    with pytest.raises(PostRejected, match="LinkedIn refused the permission"):
        li_publisher(env, http).publish(request_for("linkedin"))
    replay.answer("POST", r"/linkedin/rest/images", daily["status"],
                  {"message": f"Resource level throttle APPLICATION {daily['message_contains']}",
                   "status": 429})
    with pytest.raises(PostRetryable, match="daily limit") as limited:
        li_publisher(env, http).publish(request_for("linkedin"))
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    assert limited.value.reset_at == datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)

    http.post(f"{sandbox.url}/_sandbox/accounts",
              json={"platform": "linkedin", "sunset_versions": [LINKEDIN_VERSION]}, timeout=5)
    old = li(sandbox, http, "POST", "/rest/images", params={"action": "initializeUpload"}, json={})
    assert old.status_code == inactive["status"]
    assert old.json()["message"] == f"Requested version {LINKEDIN_VERSION} is not active"
    http.post(f"{sandbox.url}/_sandbox/accounts",
              json={"platform": "linkedin", "sunset_versions": []}, timeout=5)
    refused = li(sandbox, http, "POST", "/rest/posts", json={
        "author": "urn:li:organization:2", "commentary": "c", "visibility": "PUBLIC",
        "distribution": {}, "lifecycleState": "PUBLISHED"})
    assert refused.status_code == 403
    assert shape_gaps(legacy["body"], refused.json()) == []
    fault(sandbox, http, platform="linkedin", call="create", kind="rate_limit")
    throttled = li(sandbox, http, "POST", "/rest/posts", json={})
    assert throttled.status_code == 429
    assert daily["message_contains"] in throttled.json()["message"]


# -- Mastodon ---------------------------------------------------------------------------

# Keys of Mastodon 4.5/4.6 entities (quotes, collections, newer account flags) that the
# sandbox, which says it is 4.4.0, does not have; the recordings are of a 4.6.4.
MASTODON_NEWER_KEYS = frozenset({
    "quotes_count", "quote", "quote_approval", "tagged_collections", "indexable",
    "hide_collections", "show_media", "show_media_replies", "show_featured", "noindex",
    "feature_approval", "roles", "avatar_description", "header_description",
    "attribution_domains", "quote_policy", "collection_limit", "wrapstodon", "vapid",
    "timelines_access", "limited_federation", "max_display_name_length", "max_note_length",
    "max_avatar_description_length", "max_header_description_length", "max_profile_fields",
    "profile_field_name_limit", "profile_field_value_limit", "discoverable",
})


# Nullable in Mastodon's entities ("String or null"): null in the sandbox when the post
# names no language, or the account has not posted yet.
MASTODON_NULLABLE = frozenset({"language", "last_status_at"})


def masto_publisher(env: dict[str, str], http: requests.Session) -> MastodonPublisher:
    return MastodonPublisher(MastodonSettings(instance_url="https://mastodon.example"), http,
                             env, poll_interval=0.01)


def masto(sandbox: Sandbox, http: requests.Session, method: str, path: str,
          token: str = "sandbox-mastodon-token", **kwargs: Any) -> requests.Response:
    return http.request(method, f"{sandbox.api_url('mastodon')}{path}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


def masto_answer(interaction: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    return status_of(interaction), body_of(interaction), headers_of(interaction)


def recorded_instance() -> dict[str, Any]:
    [instance] = cassette(MASTODON, "test_instance.yaml")
    return dict(instance)


def serve_instance(replay: Replay) -> None:
    replay.answer("GET", r"/mastodon/api/v2/instance/?", *masto_answer(recorded_instance()))


def test_mastodon_publisher_posts_through_the_recorded_upload_and_status_and_deletes(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    interactions = cassette(MASTODON, "test_status_delete_media.yaml")
    upload, with_media, delete = interactions[1], interactions[2], interactions[3]
    serve_instance(replay)
    replay.answer("POST", r"/mastodon/api/v2/media", *masto_answer(upload))
    replay.answer("POST", r"/mastodon/api/v1/statuses", *masto_answer(with_media))
    replay.answer("DELETE", r"/mastodon/api/v1/statuses/\d+", *masto_answer(delete))
    publisher = masto_publisher(env_via(sandbox, replay, "mastodon"), http)
    published = publisher.publish(request_for("mastodon"))
    assert published.remote_id == "117020606035908211"
    assert published.url == "http://localhost:3000/@mastodonpy_test/117020606035908211"
    assert published.extra == {"media_id": "117020606032533890"}
    assert published.created_at == datetime(2026, 8, 1, 13, 59, 3, 468000, tzinfo=UTC)
    publisher.delete(published.remote_id)
    assert replay.served[-1]["path"] == "/mastodon/api/v1/statuses/117020606035908211"

    # Deleting it again: the recorded 404 means it is gone, which is no error.
    replay.answer("DELETE", r"/mastodon/api/v1/statuses/\d+", *masto_answer(interactions[7]))
    publisher.delete(published.remote_id)
    # Posting with media whose status was deleted with delete_media: the recorded 422.
    serve_instance(replay)
    replay.answer("POST", r"/mastodon/api/v2/media", *masto_answer(upload))
    replay.answer("POST", r"/mastodon/api/v1/statuses", *masto_answer(interactions[6]))
    with pytest.raises(PostRejected, match="Mastodon refused the request while creating the post "
                       r"\(422: メディア \(117020606032533890\)"):
        masto_publisher(env_via(sandbox, replay, "mastodon"), http).publish(request_for("mastodon"))


def test_mastodon_sandbox_answers_upload_status_and_delete_in_the_recorded_shapes(
    sandbox: Sandbox, http: requests.Session
) -> None:
    interactions = cassette(MASTODON, "test_status_delete_media.yaml")
    card = (CARDS / "card_landscape_1600x900.jpg").read_bytes()
    upload = masto(sandbox, http, "POST", "/api/v2/media",
                   files={"file": ("card.jpg", card, "image/jpeg")})
    assert upload.status_code == status_of(interactions[1])
    assert shape_gaps(body_of(interactions[1]), upload.json(), depth=3) == []
    media_id = upload.json()["id"]
    status = masto(sandbox, http, "POST", "/api/v1/statuses",
                   data={"status": "Status with media", "media_ids[]": media_id})
    assert status.status_code == status_of(interactions[2])
    assert shape_gaps(body_of(interactions[2]), status.json(),
                      ignore=MASTODON_NEWER_KEYS | MASTODON_NULLABLE | {"account"}) == []
    deleted = masto(sandbox, http, "DELETE", f"/api/v1/statuses/{status.json()['id']}",
                    params={"delete_media": "1"})
    assert deleted.status_code == 200
    assert shape_gaps(body_of(interactions[3]), deleted.json(),
                      ignore=MASTODON_NEWER_KEYS | MASTODON_NULLABLE | {"account"}) == []
    assert deleted.json()["text"] == "Status with media"  # delete answers the source text
    again = masto(sandbox, http, "POST", "/api/v1/statuses",
                  data={"status": "Trying to repost deleted media", "media_ids[]": media_id})
    assert again.status_code == status_of(interactions[6]) == 422
    assert shape_gaps(body_of(interactions[6]), again.json()) == []
    gone = masto(sandbox, http, "DELETE", f"/api/v1/statuses/{status.json()['id']}")
    assert gone.status_code == status_of(interactions[7]) == 404
    assert gone.json() == body_of(interactions[7])


def test_mastodon_publisher_waits_for_the_recorded_202_upload_then_posts(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    upload, read, status, _ = cassette(MASTODON, "test_media_post[False].yaml")
    serve_instance(replay)
    replay.answer("POST", r"/mastodon/api/v2/media", *masto_answer(upload))
    replay.answer("GET", r"/mastodon/api/v1/media/117020619601888181", *masto_answer(read))
    replay.answer("POST", r"/mastodon/api/v1/statuses", *masto_answer(status))
    published = masto_publisher(env_via(sandbox, replay, "mastodon"), http).publish(
        request_for("mastodon"))
    assert published.remote_id == "117020620300441304"
    assert [s["path"] for s in replay.served][-2:] == [
        "/mastodon/api/v1/media/117020619601888181", "/mastodon/api/v1/statuses"]

    fault(sandbox, http, platform="mastodon", call="upload", kind="media_processing")
    card = (CARDS / "card_landscape_1600x900.jpg").read_bytes()
    ours = masto(sandbox, http, "POST", "/api/v2/media",
                 files={"file": ("card.jpg", card, "image/jpeg")}, data={"description": "d"})
    assert ours.status_code == 202
    assert ours.json()["url"] is None
    assert shape_gaps(body_of(upload), ours.json(), ignore=frozenset({"meta"})) == []
    polled = masto(sandbox, http, "GET", f"/api/v1/media/{ours.json()['id']}")
    assert polled.status_code == 206
    ready = masto(sandbox, http, "GET", f"/api/v1/media/{ours.json()['id']}")
    assert ready.status_code == status_of(read)
    assert shape_gaps(body_of(read), ready.json(), ignore=frozenset({"meta"})) == []


@pytest.mark.parametrize("which", [0, 1])
def test_mastodon_recorded_localized_422_is_rejected_with_the_instances_words(
    sandbox: Sandbox, replay: Replay, http: requests.Session, which: int
) -> None:
    too_long = cassette(MASTODON, "test_lang_for_errors.yaml")[which]
    serve_instance(replay)
    replay.answer("POST", r"/mastodon/api/v1/statuses", *masto_answer(too_long))
    with pytest.raises(PostRejected) as refused:
        masto_publisher(env_via(sandbox, replay, "mastodon"), http).publish(request_for("mastodon"))
    assert body_of(too_long)["error"] in str(refused.value)
    assert "(422: " in str(refused.value)

    ours = masto(sandbox, http, "POST", "/api/v1/statuses", data={"status": "a" * 501})
    assert ours.status_code == 422
    assert shape_gaps(body_of(too_long), ours.json()) == []


def test_mastodon_recorded_401_refuses_the_token_and_the_sandbox_answers_it_exactly(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    # Recorded on the home timeline, which the publisher never reads; Mastodon answers an
    # invalid token alike everywhere, so it is served on verify_credentials.
    unauthorized = cassette(MASTODON, "test_unauthed_home_tl_throws.yaml")[1]
    replay.answer("GET", r"/mastodon/api/v1/accounts/verify_credentials",
                  *masto_answer(unauthorized))
    with pytest.raises(PostRejected, match=r"Mastodon refused the token while checking the token "
                       r"\(401: The access token is invalid\)"):
        masto_publisher(env_via(sandbox, replay, "mastodon"), http).check_credentials()

    ours = masto(sandbox, http, "GET", "/api/v1/accounts/verify_credentials", token="wrong")
    assert ours.status_code == 401
    assert ours.json() == body_of(unauthorized)
    assert ours.headers["WWW-Authenticate"] == headers_of(unauthorized)["www-authenticate"]


def test_mastodon_recorded_missing_status_is_the_sandboxs_404(
    sandbox: Sandbox, http: requests.Session
) -> None:
    # The publisher never reads one status by id; only the sandbox's answer is compared.
    [missing] = cassette(MASTODON, "test_status_missing.yaml")
    ours = masto(sandbox, http, "GET", "/api/v1/statuses/0")
    assert ours.status_code == status_of(missing)
    assert shape_gaps(body_of(missing), ours.json()) == []


def test_mastodon_publisher_reads_the_recorded_instance_and_account(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    serve_instance(replay)
    [me, _] = cassette(MASTODON, "test_verify_credentials.yaml")
    replay.answer("GET", r"/mastodon/api/v1/accounts/verify_credentials", *masto_answer(me))
    publisher = masto_publisher(env_via(sandbox, replay, "mastodon"), http)
    assert publisher.limits() == {"max_characters": 500, "image_size_limit": 16_777_216,
                                  "description_limit": 10_000}
    assert publisher.check_credentials().account == "@mastodonpy_test@mastodon.example"

    instance = masto(sandbox, http, "GET", "/api/v2/instance")
    assert shape_gaps(body_of(recorded_instance()), instance.json(), depth=2,
                      ignore=MASTODON_NEWER_KEYS) == []
    account = masto(sandbox, http, "GET", "/api/v1/accounts/verify_credentials")
    assert shape_gaps(body_of(me), account.json(),
                      ignore=MASTODON_NEWER_KEYS | MASTODON_NULLABLE) == []


def test_mastodon_publisher_follows_the_recorded_link_header_to_the_next_page(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    [page] = cassette(MASTODON, "test_fetch_next_previous.yaml")
    [me, _] = cassette(MASTODON, "test_verify_credentials.yaml")
    replay.answer("GET", r"/mastodon/api/v1/accounts/verify_credentials", *masto_answer(me))
    replay.answer("GET", r"/mastodon/api/v1/accounts/\d+/statuses", *masto_answer(page))
    # The cassette stops after the first page: the next one is served empty.
    replay.answer("GET", r"/mastodon/api/v1/accounts/\d+/statuses", 200, [])
    posts = masto_publisher(env_via(sandbox, replay, "mastodon"), http).recent_posts(limit=10)
    assert [p.text for p in posts][:2] == ["Toot number 9!", "Toot number 8!"]
    assert len(posts) == 5
    second = replay.served[-1]
    assert second["query"]["max_id"] == ["117020580489281910"]  # from the recorded Link
    assert second["query"]["limit"] == ["10"]


def test_mastodon_sandbox_pages_account_statuses_with_a_link_header_and_the_publisher_follows(
    sandbox: Sandbox, http: requests.Session
) -> None:
    [page] = cassette(MASTODON, "test_fetch_next_previous.yaml")
    for n in range(12):
        masto(sandbox, http, "POST", "/api/v1/statuses", data={"status": f"Toot number {n}!"})
    first = masto(sandbox, http, "GET", f"/api/v1/accounts/{MASTODON_ACCOUNT}/statuses",
                  params={"limit": 5})
    assert first.status_code == 200
    assert shape_gaps(body_of(page), first.json(),
                      ignore=MASTODON_NEWER_KEYS | MASTODON_NULLABLE | {"account"}) == []
    assert set(first.links) == {"next", "prev"}  # as recorded
    recorded_next = headers_of(page)["link"].split(";")[0]
    assert re.search(r"\?limit=5&max_id=\d+>$", recorded_next)
    assert re.search(r"\?limit=5&max_id=\d+$", first.links["next"]["url"])
    texts = [s["content"] for s in first.json()]
    assert texts[0] == "<p>Toot number 11!</p>"
    second = http.get(first.links["next"]["url"], headers={
        "Authorization": "Bearer sandbox-mastodon-token"}, timeout=10)
    third = http.get(second.links["next"]["url"], headers={
        "Authorization": "Bearer sandbox-mastodon-token"}, timeout=10)
    assert second.json()[0]["content"] == "<p>Toot number 6!</p>"
    assert len(third.json()) == 2
    assert "next" not in third.links  # not full: the last page
    newer = http.get(second.links["prev"]["url"], headers={
        "Authorization": "Bearer sandbox-mastodon-token"}, timeout=10)
    assert [s["id"] for s in newer.json()] == [s["id"] for s in first.json()]

    # Reconciling asks for 50, more than one page of 40: the publisher follows the Link.
    for n in range(12, 45):
        masto(sandbox, http, "POST", "/api/v1/statuses", data={"status": f"Toot number {n}!"})
    posts = masto_publisher(sandbox.env(), http).recent_posts(limit=50)
    assert len(posts) == 45
    assert posts[0].text == "Toot number 44!" and posts[-1].text == "Toot number 0!"


def test_mastodon_sandbox_rate_limits_each_family_apart_as_the_recordings_show(
    sandbox: Sandbox, http: requests.Session
) -> None:
    # Every recorded answer names its family's limit: the sandbox names the same one.
    for recording in MASTODON["recordings"]:
        for interaction in recording["interactions"]:
            method = interaction["request"]["method"]
            path = urlsplit(interaction["request"]["uri"]).path
            path = re.sub(r"/accounts/\d+/", f"/accounts/{MASTODON_ACCOUNT}/", path)
            ours = masto(sandbox, http, method, path, data={"status": ""})
            assert ours.headers["X-RateLimit-Limit"] == headers_of(interaction)[
                "x-ratelimit-limit"], (method, path)
            reset = datetime.fromisoformat(ours.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
            assert reset > datetime.now(UTC)
    sandbox.reset()

    card = (CARDS / "card_landscape_1600x900.jpg").read_bytes()
    uploads = [masto(sandbox, http, "POST", "/api/v2/media",
                     files={"file": ("card.jpg", card, "image/jpeg")}) for _ in range(31)]
    assert [u.status_code for u in uploads[:30]] == [200] * 30
    assert uploads[29].headers["X-RateLimit-Remaining"] == "0"
    assert uploads[30].status_code == 429
    assert uploads[30].json() == {"error": "Too many requests"}
    # Statuses and deletes have their own counters: they still go through.
    status = masto(sandbox, http, "POST", "/api/v1/statuses",
                   data={"status": "still", "media_ids[]": uploads[0].json()["id"]})
    assert status.status_code == 200
    assert status.headers["X-RateLimit-Limit"] == "300"
    assert status.headers["X-RateLimit-Remaining"] == "299"
    deleted = masto(sandbox, http, "DELETE", f"/api/v1/statuses/{status.json()['id']}")
    assert deleted.status_code == 200
    assert (deleted.headers["X-RateLimit-Limit"], deleted.headers["X-RateLimit-Remaining"]) == (
        "30", "29")
    # And the publisher reads the 429 of the spent media bucket as retryable at its reset.
    with pytest.raises(PostRetryable, match="rate limited while uploading the card") as exc:
        masto_publisher(sandbox.env(), http).publish(request_for("mastodon"))
    assert exc.value.reset_at is not None
    assert exc.value.reset_at - datetime.now(UTC) <= timedelta(minutes=30)


# -- Bluesky ----------------------------------------------------------------------------


def lexicon(nsid: str) -> dict[str, Any]:
    return dict(BLUESKY["lexicons"][nsid])


def lexicon_type(value: Any, schema: dict[str, Any]) -> bool:
    wanted = schema.get("type")
    if wanted in ("string",):
        return isinstance(value, str)
    if wanted == "boolean":
        return isinstance(value, bool)
    if wanted == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if wanted == "array":
        return isinstance(value, list)
    if wanted in ("blob", "ref", "object"):
        return isinstance(value, dict)
    return True  # unknown


def lexicon_gaps(nsid: str, answer: dict[str, Any]) -> list[str]:
    output = lexicon(nsid)["output"]
    gaps = [f"{nsid}: {key} is required" for key in output.get("required", []) if key not in answer]
    for key, schema in output.get("properties", {}).items():
        if key in answer and not lexicon_type(answer[key], schema):
            gaps.append(f"{nsid}: {key} is not a {schema.get('type')}")
    return gaps


def xrpc(sandbox: Sandbox, http: requests.Session, method: str, nsid: str,
         token: str | None = None, **kwargs: Any) -> requests.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return http.request(method, f"{sandbox.api_url('bluesky')}/xrpc/{nsid}", headers=headers,
                        timeout=10, **kwargs)


def test_bluesky_sandbox_answers_what_each_lexicon_requires(
    sandbox: Sandbox, http: requests.Session
) -> None:
    password = sandbox.env()["BLUESKY_APP_PASSWORD"]
    session = xrpc(sandbox, http, "POST", "com.atproto.server.createSession",
                   json={"identifier": HANDLE, "password": password}).json()
    access, refresh = session["accessJwt"], session["refreshJwt"]
    answers: dict[str, dict[str, Any]] = {"com.atproto.server.createSession": session}
    answers["com.atproto.server.getSession"] = xrpc(
        sandbox, http, "GET", "com.atproto.server.getSession", access).json()
    card = (CARDS / "card_landscape_1600x900.jpg").read_bytes()
    blob = xrpc(sandbox, http, "POST", "com.atproto.repo.uploadBlob", access, data=card,
                headers={"Content-Type": "image/jpeg"}).json()
    answers["com.atproto.repo.uploadBlob"] = blob
    record = {"$type": "app.bsky.feed.post", "text": "t", "createdAt": "2026-11-22T10:00:00Z",
              "embed": {"$type": "app.bsky.embed.images",
                        "images": [{"alt": "a", "image": blob["blob"]}]}}
    made = xrpc(sandbox, http, "POST", "com.atproto.repo.createRecord", access,
                json={"repo": DID, "collection": "app.bsky.feed.post", "record": record}).json()
    answers["com.atproto.repo.createRecord"] = made
    rkey = made["uri"].rsplit("/", 1)[1]
    params = {"repo": DID, "collection": "app.bsky.feed.post"}
    answers["com.atproto.repo.getRecord"] = xrpc(
        sandbox, http, "GET", "com.atproto.repo.getRecord", params={**params, "rkey": rkey}).json()
    answers["com.atproto.repo.listRecords"] = xrpc(
        sandbox, http, "GET", "com.atproto.repo.listRecords", params=params).json()
    answers["com.atproto.repo.deleteRecord"] = xrpc(
        sandbox, http, "POST", "com.atproto.repo.deleteRecord", access,
        json={**params, "rkey": rkey}).json()
    answers["com.atproto.server.refreshSession"] = xrpc(
        sandbox, http, "POST", "com.atproto.server.refreshSession", refresh).json()
    for nsid, answer in answers.items():
        assert lexicon_gaps(nsid, answer) == [], nsid

    # getProfile: app.bsky.actor.defs#profileViewDetailed, whose required keys are did
    # and handle (the lexicon in the recordings names the ref only).
    assert lexicon("app.bsky.actor.getProfile")["output"]["ref"] == (
        "app.bsky.actor.defs#profileViewDetailed")
    for actor in (HANDLE, DID):
        profile = xrpc(sandbox, http, "GET", "app.bsky.actor.getProfile", access,
                       params={"actor": actor})
        assert profile.status_code == 200
        assert {"did": DID, "handle": HANDLE}.items() <= profile.json().items()
    unknown = xrpc(sandbox, http, "GET", "app.bsky.actor.getProfile", access,
                   params={"actor": "someone.else.example"})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "InvalidRequest"
    missing = xrpc(sandbox, http, "GET", "app.bsky.actor.getProfile", access)
    assert missing.status_code == 400


def test_bluesky_publisher_works_with_answers_that_hold_only_what_the_lexicons_require(
    sandbox: Sandbox, replay: Replay, http: requests.Session
) -> None:
    password = sandbox.env()["BLUESKY_APP_PASSWORD"]
    full = xrpc(sandbox, http, "POST", "com.atproto.server.createSession",
                json={"identifier": HANDLE, "password": password}).json()
    required = lexicon("com.atproto.server.createSession")["output"]["required"]
    replay.answer("POST", r"/bluesky/xrpc/com\.atproto\.server\.createSession", 200,
                  {k: full[k] for k in required}, times=2)
    rkey = post_tid("marieke/bluesky")
    uri = f"at://{DID}/app.bsky.feed.post/{rkey}"
    replay.answer("POST", r"/bluesky/xrpc/com\.atproto\.repo\.putRecord", 200,
                  {"uri": uri, "cid": "bafyreib2rxk3rh6kzwq"})
    replay.answer("GET", r"/bluesky/xrpc/com\.atproto\.server\.getSession", 200,
                  {"handle": HANDLE, "did": DID})
    env = env_via(sandbox, replay, "bluesky")
    publisher = BlueskyPublisher(BlueskySettings(handle=HANDLE), http, env)
    published = publisher.publish(request_for("bluesky", caption="Vraag door."))
    assert published.remote_id == uri
    assert published.url == f"https://bsky.app/profile/{HANDLE}/post/{rkey}"
    assert publisher.check_credentials().account.startswith("@" + HANDLE)


# -- every recording is used, or says why not ---------------------------------------------

REPLAYED: dict[str, list[str]] = {
    "x recordings cassettes/test_client_create_and_delete_tweet.yaml": [
        "test_x_publisher_records_the_id_of_the_recorded_create_and_deletes_it",
        "test_x_sandbox_answers_create_and_delete_in_the_recorded_shape"],
    "x recordings cassettes/test_client_get_me.yaml": [
        "test_x_publisher_reads_the_account_from_the_recorded_get_me"],
    "x recordings cassettes/test_client_get_users_tweets.yaml": [
        "test_x_publisher_lists_the_recorded_users_tweets_and_the_sandbox_pages_like_x"],
    "x reported_error_bodies POST /2/tweets duplicate": [
        "test_x_recorded_duplicate_is_rejected_as_a_duplicate_and_the_sandbox_answers_it_alike"],
    "x reported_error_bodies POST /2/tweets duplicate, headers": [
        "test_x_recorded_duplicate_is_rejected_as_a_duplicate_and_the_sandbox_answers_it_alike"],
    "x reported_error_bodies 429": [
        "test_x_recorded_429_is_retryable_and_matches_the_sandbox_rate_limit"],
    "x documented_request_schemas": [
        "test_x_one_shot_upload_takes_the_documented_fields_and_only_its_categories"],
    "facebook recordings testdata/base/error_data.json": [
        "test_facebook_recorded_code_100_is_refused_and_the_sandbox_answers_the_same_keys"],
    "facebook recordings testdata/error.json": [
        "test_facebook_recorded_code_100_is_refused_and_the_sandbox_answers_the_same_keys"],
    "facebook recordings testdata/facebook/apidata/posts/feed_fields_p1.json": [
        "test_facebook_publisher_reads_the_recorded_posts_page_and_the_sandbox_lists_alike"],
    "facebook reported_error_bodies app throttling": [
        "test_facebook_recorded_throttling_is_retryable_and_the_sandbox_throttles_alike"],
    "facebook reported_error_bodies page throttling": [
        "test_facebook_recorded_throttling_is_retryable_and_the_sandbox_throttles_alike"],
    "facebook reported_error_bodies duplicate content answered as 368, not 506": [
        "test_facebook_368_already_posted_is_a_duplicate_not_an_account_block"],
    "facebook reported_error_bodies 368 with error_data/subcode": [
        "test_facebook_368_for_reported_content_stays_an_account_block"],
    "facebook reported_error_bodies 506": [
        "test_facebook_506_is_a_duplicate_in_the_publisher_and_the_sandbox"],
    "instagram recordings testdata/instagram/apidata/publish/create_photo.json": [
        "test_instagram_publisher_records_the_recorded_media_id_after_the_recorded_container",
        "test_instagram_sandbox_answers_the_recorded_shapes"],
    "instagram recordings testdata/instagram/apidata/publish/container_info.json": [
        "test_instagram_publisher_records_the_recorded_media_id_after_the_recorded_container",
        "test_instagram_sandbox_answers_the_recorded_shapes"],
    "instagram recordings testdata/instagram/apidata/publish/publish_container.json": [
        "test_instagram_publisher_records_the_recorded_media_id_after_the_recorded_container",
        "test_instagram_sandbox_answers_the_recorded_shapes"],
    "instagram recordings testdata/instagram/apidata/users/content_publish_limit.json": [
        "test_instagram_publisher_records_the_recorded_media_id_after_the_recorded_container",
        "test_instagram_sandbox_answers_the_recorded_shapes"],
    "linkedin reported_bodies POST /rest/posts duplicate": [
        "test_linkedin_recorded_duplicate_is_rejected_and_the_sandbox_answers_the_same_body"],
    "linkedin reported_bodies DUPLICATE_POST after delete (ghost URN, 24-48 h)": [
        "test_linkedin_ghost_of_a_deleted_post_is_404_yet_blocks_the_same_text_for_two_days"],
    "linkedin reported_bodies inactive LinkedIn-Version": [
        "test_linkedin_recorded_426_403_and_429_are_classified_and_the_sandbox_answers_alike"],
    "linkedin reported_bodies legacy 403 shape": [
        "test_linkedin_recorded_426_403_and_429_are_classified_and_the_sandbox_answers_alike"],
    "linkedin reported_bodies 429 daily throttle": [
        "test_linkedin_recorded_426_403_and_429_are_classified_and_the_sandbox_answers_alike"],
    "mastodon recordings tests/cassettes/test_status_delete_media.yaml": [
        "test_mastodon_publisher_posts_through_the_recorded_upload_and_status_and_deletes",
        "test_mastodon_sandbox_answers_upload_status_and_delete_in_the_recorded_shapes",
        "test_mastodon_sandbox_rate_limits_each_family_apart_as_the_recordings_show"],
    "mastodon recordings tests/cassettes/test_media_post[False].yaml": [
        "test_mastodon_publisher_waits_for_the_recorded_202_upload_then_posts"],
    "mastodon recordings tests/cassettes/test_lang_for_errors.yaml": [
        "test_mastodon_recorded_localized_422_is_rejected_with_the_instances_words"],
    "mastodon recordings tests/cassettes/test_unauthed_home_tl_throws.yaml": [
        "test_mastodon_recorded_401_refuses_the_token_and_the_sandbox_answers_it_exactly"],
    "mastodon recordings tests/cassettes/test_status_missing.yaml": [
        "test_mastodon_recorded_missing_status_is_the_sandboxs_404"],
    "mastodon recordings tests/cassettes/test_instance.yaml": [
        "test_mastodon_publisher_reads_the_recorded_instance_and_account"],
    "mastodon recordings tests/cassettes/test_verify_credentials.yaml": [
        "test_mastodon_publisher_reads_the_recorded_instance_and_account"],
    "mastodon recordings tests/cassettes/test_fetch_next_previous.yaml": [
        "test_mastodon_publisher_follows_the_recorded_link_header_to_the_next_page",
        "test_mastodon_sandbox_pages_account_statuses_with_a_link_header_and_the_publisher_follows"],
    **{f"bluesky lexicons {nsid}": [
        "test_bluesky_sandbox_answers_what_each_lexicon_requires",
        "test_bluesky_publisher_works_with_answers_that_hold_only_what_the_lexicons_require"]
       for nsid in ("com.atproto.server.createSession", "com.atproto.server.getSession",
                    "com.atproto.repo.uploadBlob", "com.atproto.repo.createRecord")},
    **{f"bluesky lexicons {nsid}": ["test_bluesky_sandbox_answers_what_each_lexicon_requires"]
       for nsid in ("com.atproto.server.refreshSession", "com.atproto.repo.getRecord",
                    "com.atproto.repo.listRecords", "com.atproto.repo.deleteRecord",
                    "app.bsky.actor.getProfile")},
    "bluesky getProfile_on_a_PDS": [
        "test_bluesky_sandbox_answers_what_each_lexicon_requires"],
}

NOT_APPLICABLE: dict[str, str] = {
    "facebook reported_error_bodies page-usage header": (
        "X-Page-Usage is a usage report on answers that succeeded; the publisher reads only "
        "X-Business-Use-Case-Usage (for the wait after a throttle), so there is nothing to "
        "parse, and the sandbox does not send the header"),
    "instagram recordings testdata/instagram/apidata/medias/insights.json": (
        "insights: the publisher posts and never reads reach or impressions, and the "
        "sandbox serves no insights"),
    "instagram recordings testdata/instagram/apidata/medias/insights_new.json": (
        "insights (total_value shape): as above"),
    "bluesky lexicons app.bsky.feed.getPosts": (
        "an AppView view; the publisher reads its own records from the PDS (getRecord, "
        "listRecords), and the sandbox, a PDS, does not serve it"),
}


def recording_keys() -> list[str]:
    keys: list[str] = []
    for platform, data in (("x", X), ("facebook", FACEBOOK), ("instagram", INSTAGRAM),
                           ("linkedin", LINKEDIN), ("mastodon", MASTODON)):
        for entry in data.get("recordings", []):
            keys.append(f"{platform} recordings {entry['path']}")
        for section in ("reported_error_bodies", "reported_bodies"):
            for entry in data.get(section, []):
                keys.append(f"{platform} {section} {entry['what']}")
        if "documented_request_schemas" in data:
            keys.append(f"{platform} documented_request_schemas")
    keys += [f"bluesky lexicons {nsid}" for nsid in BLUESKY["lexicons"]]
    keys.append("bluesky getProfile_on_a_PDS")
    return keys


def test_every_recording_is_replayed_or_says_why() -> None:
    keys = recording_keys()
    assert len(keys) == len(set(keys))
    assert sorted(set(keys) - set(REPLAYED) - set(NOT_APPLICABLE)) == []
    assert sorted((set(REPLAYED) | set(NOT_APPLICABLE)) - set(keys)) == []
    assert set(REPLAYED).isdisjoint(NOT_APPLICABLE)
    here = globals()
    for names in REPLAYED.values():
        for name in names:
            assert callable(here.get(name)), name


def test_the_recordings_keep_their_sources_and_licences() -> None:
    readme = (RECORDINGS / "README.md").read_text(encoding="utf-8")
    for path in sorted(RECORDINGS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data.get("licence"), path.name
        assert f"`{path.name}`" in readme
        for entry in data.get("recordings", []):
            assert entry.get("source_repo") and entry.get("commit"), (path.name, entry.get("path"))
        for section in ("reported_error_bodies", "reported_bodies"):
            for entry in data.get(section, []):
                assert str(entry.get("source", "")).startswith("https://"), (path.name, entry)
