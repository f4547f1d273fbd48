"""The sandbox itself, over real HTTP: auth, validation, faults, feeds, hosting, life cycle."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from dotenv import dotenv_values
from requests_oauthlib import OAuth1

from campaign.sandbox import Fault, Sandbox, SandboxError
from campaign.sandbox.x import weighted_length

CARDS = Path(__file__).resolve().parent / "fixtures" / "cards"
PORTRAIT = CARDS / "card_portrait_1080x1350.jpg"


@pytest.fixture(scope="module")
def running() -> Iterator[Sandbox]:
    with Sandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running: Sandbox) -> Sandbox:
    running.reset()
    return running


def x_auth(sandbox: Sandbox, **wrong: str) -> OAuth1:
    env = {**sandbox.env(), **wrong}
    return OAuth1(
        env["X_API_KEY"], env["X_API_SECRET"], env["X_ACCESS_TOKEN"], env["X_ACCESS_TOKEN_SECRET"]
    )


def x_post(sandbox: Sandbox, route: str, body: Any, **wrong: str) -> requests.Response:
    # Signed for the real host, as tweepy does, and sent to the sandbox.
    request = requests.Request(
        "POST", "https://api.twitter.com" + route, json=body, auth=x_auth(sandbox, **wrong)
    ).prepare()
    request.url = sandbox.api_url("x") + route
    with requests.Session() as session:
        return session.send(request, timeout=10)


def graph(sandbox: Sandbox, platform: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    token = sandbox.env()["FACEBOOK_PAGE_TOKEN" if platform == "facebook" else "INSTAGRAM_TOKEN"]
    headers = kwargs.pop("headers", {"Authorization": f"Bearer {token}"})
    return requests.request(
        method, f"{sandbox.api_url(platform)}/v25.0/{path}", headers=headers, timeout=10, **kwargs
    )


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


# -- auth ----------------------------------------------------------------------------


def test_x_refuses_missing_and_wrong_oauth_with_xs_401_body(sandbox: Sandbox) -> None:
    bare = requests.post(f"{sandbox.api_url('x')}/2/tweets", json={"text": "hoi"}, timeout=5)
    assert bare.status_code == 401
    assert bare.json() == {
        "title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized",
    }
    # The right key and token with a wrong secret: the signature does not verify.
    signed_wrong = x_post(sandbox, "/2/tweets", {"text": "hoi"}, X_API_SECRET="not-the-secret")
    assert signed_wrong.status_code == 401
    assert x_post(sandbox, "/2/tweets", {"text": "hoi"}).status_code == 201


def test_graph_refuses_missing_and_wrong_tokens_with_graph_bodies(sandbox: Sandbox) -> None:
    missing = graph(sandbox, "facebook", "GET", "me", headers={})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == 104
    wrong = graph(sandbox, "facebook", "GET", "me", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 400
    error = wrong.json()["error"]
    assert (error["code"], error["type"]) == (190, "OAuthException")
    assert error["fbtrace_id"]
    # The token in the query string, as Meta's SDK sends it, is accepted too.
    token = sandbox.env()["INSTAGRAM_TOKEN"]
    ok = requests.get(
        f"{sandbox.api_url('instagram')}/v25.0/17841400000000001",
        params={"fields": "id,username", "access_token": token}, timeout=5,
    )
    assert ok.json() == {"id": "17841400000000001", "username": "campaign_sandbox"}


# -- validation ------------------------------------------------------------------------


def test_x_upload_without_media_category_is_an_invalid_request(sandbox: Sandbox) -> None:
    response = x_post(sandbox, "/2/media/upload", {"media": b64(PORTRAIT)})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert body["errors"][0]["message"] == "$.media_category: is missing but it is required"


def test_x_refuses_fields_its_schema_does_not_know(sandbox: Sandbox) -> None:
    upload = x_post(
        sandbox, "/2/media/upload",
        {"media": b64(PORTRAIT), "media_category": "tweet_image", "media_kind": "image/jpeg"},
    )
    assert upload.status_code == 400
    assert "$.media_kind: is not defined in the schema" in upload.json()["errors"][0]["message"]
    # media_type and shared are documented one-shot fields (docs.x.com): accepted.
    documented = x_post(
        sandbox, "/2/media/upload",
        {"media": b64(PORTRAIT), "media_category": "tweet_image", "media_type": "image/jpeg",
         "shared": True},
    )
    assert documented.status_code == 200
    tweet = x_post(sandbox, "/2/tweets", {"text": "hoi", "language": "nl"})
    assert tweet.status_code == 400
    assert "$.language" in tweet.json()["errors"][0]["message"]


def test_x_refuses_a_text_over_280_weighted_and_unknown_media(sandbox: Sandbox) -> None:
    too_long = x_post(sandbox, "/2/tweets", {"text": "é" * 281})
    assert too_long.status_code == 403
    assert "too long" in too_long.json()["detail"]
    assert x_post(sandbox, "/2/tweets", {"text": "漢" * 141}).status_code == 403  # weight 2 each
    assert x_post(sandbox, "/2/tweets", {"text": "漢" * 140}).status_code == 201
    unknown = x_post(sandbox, "/2/tweets", {"text": "hoi", "media": {"media_ids": ["42"]}})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["message"] == "Your media IDs are invalid."


def test_weighted_length_counts_as_twitter_text_does() -> None:
    assert weighted_length("hallo") == 5
    assert weighted_length("zie https://www.example.org/een/heel/lang/pad/dat/niet/telt") == 4 + 23
    assert weighted_length("👍") == 2
    assert weighted_length("👩‍👩‍👧") == 2  # one ZWJ sequence
    assert weighted_length("“curly” – quotes") == 16


def test_x_refuses_a_second_post_with_the_same_text(sandbox: Sandbox) -> None:
    assert x_post(sandbox, "/2/tweets", {"text": "precies hetzelfde"}).status_code == 201
    again = x_post(sandbox, "/2/tweets", {"text": "precies hetzelfde"})
    assert again.status_code == 403
    assert again.json()["detail"] == "You are not allowed to create a Tweet with duplicate content."


def test_facebook_refuses_unknown_params_non_images_and_long_captions(sandbox: Sandbox) -> None:
    files = {"source": ("card.jpg", PORTRAIT.read_bytes(), "image/jpeg")}
    unknown = graph(sandbox, "facebook", "POST", "100000000000001/photos",
                    data={"caption": "hoi", "alt_text": "x"}, files=files)
    assert unknown.json()["error"]["code"] == 100
    not_image = graph(sandbox, "facebook", "POST", "100000000000001/photos",
                      data={"caption": "hoi"}, files={"source": ("card.jpg", b"not a jpeg", "image/jpeg")})
    assert not_image.json()["error"]["code"] == 324
    no_file = graph(sandbox, "facebook", "POST", "100000000000001/photos", data={"caption": "hoi"})
    assert no_file.json()["error"]["message"] == "(#324) Requires upload file"
    other_page = graph(sandbox, "facebook", "POST", "999/photos", data={"caption": "hoi"}, files=files)
    assert (other_page.json()["error"]["code"], other_page.json()["error"]["error_subcode"]) == (100, 33)
    too_long = graph(sandbox, "facebook", "POST", "100000000000001/photos",
                     data={"caption": "a" * 63207}, files=files)
    assert too_long.json()["error"]["code"] == 100
    assert requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json() == []


def _host(sandbox: Sandbox, data: bytes, name: str = "abcdefgh1234.jpg") -> str:
    response = requests.put(f"{sandbox.url}/_sandbox/media/{name}", data=data, timeout=5)
    assert response.status_code == 201, response.text
    return str(response.json()["url"])


def test_instagram_fetches_the_image_url_and_refuses_what_meta_refuses(sandbox: Sandbox) -> None:
    def container(url: str) -> dict[str, Any]:
        return graph(sandbox, "instagram", "POST", "17841400000000001/media",
                     data={"image_url": url, "caption": "hoi"}).json()

    unreachable = container("http://127.0.0.1:9/card.jpg")["error"]
    assert (unreachable["code"], unreachable["error_subcode"]) == (9004, 2207052)
    png = container(_host(sandbox, (CARDS / "card_square_1080x1080.png").read_bytes(), "pngpngpng1.png"))
    assert png["error"]["code"] == 9004
    wide = container(_host(sandbox, (CARDS / "card_too_wide_2000x800.jpg").read_bytes(), "widewide1.jpg"))
    assert (wide["error"]["code"], wide["error"]["error_subcode"]) == (36003, 2207009)
    missing = container(f"{sandbox.url}/_sandbox/media/nothere123.jpg")
    assert missing["error"]["error_subcode"] == 2207052
    ok = container(_host(sandbox, PORTRAIT.read_bytes()))
    assert ok["id"]


def test_instagram_publishes_only_finished_containers(sandbox: Sandbox) -> None:
    url = _host(sandbox, PORTRAIT.read_bytes())
    made = graph(sandbox, "instagram", "POST", "17841400000000001/media",
                 data={"image_url": url, "caption": "Een verhaal", "alt_text": "Kaart"}).json()
    early = graph(sandbox, "instagram", "POST", "17841400000000001/media_publish",
                  data={"creation_id": made["id"]}).json()
    assert (early["error"]["code"], early["error"]["error_subcode"]) == (9007, 2207027)
    statuses = [
        graph(sandbox, "instagram", "GET", made["id"], params={"fields": "status_code"}).json()
        for _ in range(2)
    ]
    assert [s["status_code"] for s in statuses] == ["IN_PROGRESS", "FINISHED"]
    published = graph(sandbox, "instagram", "POST", "17841400000000001/media_publish",
                      data={"creation_id": made["id"]}).json()
    status = graph(sandbox, "instagram", "GET", made["id"], params={"fields": "status_code"}).json()
    assert status["status_code"] == "PUBLISHED"
    limit = graph(sandbox, "instagram", "GET", "17841400000000001/content_publishing_limit",
                  params={"fields": "quota_usage,config"}).json()
    assert limit["data"][0]["quota_usage"] == 1
    assert limit["data"][0]["config"]["quota_total"] >= 25
    [post] = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json()
    assert (post["id"], post["alt_text"], post["platform"]) == (published["id"], "Kaart", "instagram")


def test_instagram_caption_limits(sandbox: Sandbox) -> None:
    url = _host(sandbox, PORTRAIT.read_bytes())
    long = graph(sandbox, "instagram", "POST", "17841400000000001/media",
                 data={"image_url": url, "caption": "a" * 2201}).json()
    assert long["error"]["code"] == 100
    tags = " ".join(f"#tag{i}" for i in range(31))
    many = graph(sandbox, "instagram", "POST", "17841400000000001/media",
                 data={"image_url": url, "caption": tags}).json()
    assert many["error"]["code"] == 100


# -- faults --------------------------------------------------------------------------


def test_faults_api_validates_and_counts(sandbox: Sandbox) -> None:
    bad = requests.post(f"{sandbox.url}/_sandbox/faults",
                        json={"platform": "x", "call": "create", "kind": "explode"}, timeout=5)
    assert bad.status_code == 400
    assert "rate_limit" in bad.json()["error"]
    bad_call = requests.post(f"{sandbox.url}/_sandbox/faults",
                             json={"platform": "x", "call": "nope", "kind": "server_error"}, timeout=5)
    assert bad_call.status_code == 400 and "upload" in bad_call.json()["error"]
    assert requests.post(f"{sandbox.url}/_sandbox/faults",
                         json={"platform": "x", "call": "create_tweet", "kind": "server_error",
                               "times": 2}, timeout=5).status_code == 201
    statuses = [x_post(sandbox, "/2/tweets", {"text": f"poging {i}"}).status_code for i in range(3)]
    assert statuses == [503, 503, 201]
    faults = requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json()
    assert faults["pending"] == [] and len(faults["met"]) == 2


def test_rate_limit_fault_carries_the_reset_header(sandbox: Sandbox) -> None:
    requests.post(f"{sandbox.url}/_sandbox/faults", json={
        "platform": "x", "call": "create", "kind": "rate_limit", "reset_after": 90}, timeout=5)
    response = x_post(sandbox, "/2/tweets", {"text": "te snel"})
    assert response.status_code == 429
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert 85 <= int(response.headers["x-rate-limit-reset"]) - time.time() <= 91


def test_dropped_response_closes_the_connection_after_creating(sandbox: Sandbox) -> None:
    requests.post(f"{sandbox.url}/_sandbox/faults", json={
        "platform": "x", "call": "create", "kind": "drop_response"}, timeout=5)
    with pytest.raises(requests.ConnectionError):
        x_post(sandbox, "/2/tweets", {"text": "verloren antwoord"})
    [post] = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json()
    assert post["caption"] == "verloren antwoord"


def test_reset_forgets_posts_and_faults(sandbox: Sandbox) -> None:
    x_post(sandbox, "/2/tweets", {"text": "weg ermee"})
    requests.post(f"{sandbox.url}/_sandbox/faults", json={
        "platform": "facebook", "call": "create", "kind": "server_error"}, timeout=5)
    assert requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5).status_code == 200
    assert requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json() == []
    assert requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json()["pending"] == []


# -- feeds and hosting ------------------------------------------------------------------


def test_feed_pages_escape_text_and_show_cards_with_alt(sandbox: Sandbox) -> None:
    files = {"source": ("card.jpg", PORTRAIT.read_bytes(), "image/jpeg")}
    graph(sandbox, "facebook", "POST", "100000000000001/photos", files=files, data={
        "caption": "<script>alert('x')</script> & meer", "alt_text_custom": 'Kaart "met" <b>'})
    page = requests.get(f"{sandbox.url}/_sandbox/feed/facebook", timeout=5)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; meer" in page.text
    assert 'alt="Kaart &quot;met&quot; &lt;b&gt;"' in page.text
    [post] = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json()
    image = requests.get(f"{sandbox.url}/_sandbox/image/facebook/{post['id']}", timeout=5)
    assert image.content == PORTRAIT.read_bytes()
    index = requests.get(f"{sandbox.url}/", timeout=5).text
    assert "/_sandbox/feed/x" in index and "/_sandbox/feed/instagram" in index


def test_media_hosting_put_get_delete(sandbox: Sandbox) -> None:
    url = _host(sandbox, PORTRAIT.read_bytes(), "Zm9vYmFyYmF6.jpg")
    fetched = requests.get(url, timeout=5)
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert fetched.content == PORTRAIT.read_bytes()
    assert requests.delete(url, timeout=5).status_code == 204
    assert requests.get(url, timeout=5).status_code == 404
    media = f"{sandbox.url}/_sandbox/media"
    assert requests.put(f"{media}/../../etc.jpg", data=b"x", timeout=5).status_code in (400, 404)
    assert requests.put(f"{media}/notanimage1.jpg", data=b"x", timeout=5).status_code == 400


def test_requests_log_keeps_no_token(sandbox: Sandbox) -> None:
    token = sandbox.env()["INSTAGRAM_TOKEN"]
    requests.get(f"{sandbox.api_url('instagram')}/v25.0/17841400000000001",
                 params={"fields": "id", "access_token": token}, timeout=5)
    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).text
    assert "17841400000000001" in log
    assert token not in log


# -- life cycle ------------------------------------------------------------------------


def test_binds_to_loopback_by_default() -> None:
    with Sandbox(port=0) as sandbox:
        assert sandbox.url.startswith("http://127.0.0.1:")
        assert sandbox._server is not None
        assert sandbox._server.server_address[0] == "127.0.0.1"


def test_a_second_sandbox_on_the_same_port_fails_clearly() -> None:
    with Sandbox(port=0) as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(SandboxError) as caught:
            Sandbox(port=port).start()
    assert "already running" in str(caught.value)
    assert str(port) in str(caught.value)


def test_a_port_held_by_another_program_is_named() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(SandboxError) as caught:
            Sandbox(port=port).start()
    assert "another program" in str(caught.value)


def test_env_file_points_a_shell_at_the_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    sandbox.write_env_file(env_file)
    values = dotenv_values(env_file)
    assert values == sandbox.env()
    for platform in ("X", "FACEBOOK", "INSTAGRAM"):
        assert values[f"CAMPAIGN_{platform}_API_URL"] == f"{sandbox.url}/{platform.lower()}"
    shell = subprocess.run(
        ["bash", "-c", f'set -a; . "{env_file}"; set +a; echo "$CAMPAIGN_X_API_URL $X_API_KEY"'],
        capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]},
    )
    assert shell.stdout.strip() == f"{sandbox.url}/x {values['X_API_KEY']}"


def test_campaign_sandbox_command_serves_and_writes_the_env_file(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env_file = tmp_path / "sandbox.env"
    campaign = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "campaign"
    process = subprocess.Popen(
        [str(campaign), "sandbox", "--port", str(port), "--env-file", str(env_file)],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stderr is not None
        line = ""
        while "running" not in line:
            line = process.stderr.readline()
            assert line, "the sandbox command ended early"
        health = requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=5).json()
        assert health["sandbox"] == "campaign"
        assert dotenv_values(env_file)["CAMPAIGN_X_API_URL"] == f"http://127.0.0.1:{port}/x"
        second = subprocess.run([str(campaign), "sandbox", "--port", str(port)],
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert "already running" in second.stderr
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_slow_response_creates_first_and_answers_late(sandbox: Sandbox) -> None:
    requests.post(f"{sandbox.url}/_sandbox/faults", json={
        "platform": "x", "call": "create", "kind": "slow_response", "delay": 1.5}, timeout=5)
    started = time.monotonic()
    response = x_post(sandbox, "/2/tweets", {"text": "traag antwoord"})
    assert response.status_code == 201
    assert time.monotonic() - started >= 1.5
    assert [p["caption"] for p in sandbox.posts()] == ["traag antwoord"]


def test_stop_does_not_wait_for_a_held_request() -> None:
    sandbox = Sandbox(port=0)
    sandbox.start()
    sandbox.add_fault(Fault(platform="x", call="create", kind="timeout", delay=60))
    held = requests.Request(
        "POST", "https://api.twitter.com/2/tweets", json={"text": "vast"}, auth=x_auth(sandbox)
    ).prepare()
    held.url = sandbox.api_url("x") + "/2/tweets"
    with requests.Session() as session, pytest.raises(requests.Timeout):
        session.send(held, timeout=(2, 0.5))
    started = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - started < 5


# -- the metrics endpoints (issue 18) --------------------------------------------------------


def _stored(sandbox: Sandbox, platform: str, post_id: str, caption: str = "een verhaal") -> None:
    from campaign.sandbox.core import SandboxPost

    api = sandbox.platforms[platform]
    with api.lock:
        api.posts[post_id] = SandboxPost(platform, post_id, caption, "", b"", "", 0, 0, "a",
                                         extra={"rkey": post_id.rsplit("/", 1)[-1]})


def x_get(sandbox: Sandbox, route: str, params: dict[str, str]) -> requests.Response:
    request = requests.Request("GET", "https://api.twitter.com" + route, params=params,
                               auth=x_auth(sandbox)).prepare()
    request.url = sandbox.api_url("x") + request.path_url
    with requests.Session() as session:
        return session.send(request, timeout=10)


def test_x_tweet_lookup_takes_1_to_100_ids_and_known_parameters(sandbox: Sandbox) -> None:
    _stored(sandbox, "x", "1860000000000000001")
    many = x_get(sandbox, "/2/tweets", {"ids": ",".join(str(i) for i in range(1, 102))})
    assert many.status_code == 400 and "between 1 and 100" in many.json()["errors"][0]["message"]
    odd = x_get(sandbox, "/2/tweets", {"ids": "1", "metrics": "all"})
    assert odd.status_code == 400
    sandbox.clock.set(advance=timedelta(hours=5))
    answer = x_get(sandbox, "/2/tweets", {"ids": "1860000000000000001,5",
                                          "tweet.fields": "public_metrics"}).json()
    [tweet] = answer["data"]
    assert set(tweet["public_metrics"]) == {"retweet_count", "reply_count", "like_count",
                                            "quote_count", "bookmark_count", "impression_count"}
    assert "non_public_metrics" not in tweet  # only what was asked
    assert answer["errors"][0]["resource_id"] == "5"


def test_facebook_post_fields_and_insights_names(sandbox: Sandbox) -> None:
    post = "100000000000001_300000000000009"
    _stored(sandbox, "facebook", post)
    sandbox.clock.set(advance=timedelta(days=3))
    fields = graph(sandbox, "facebook", "GET", post,
                   params={"fields": "shares,comments.summary(true)"}).json()
    assert fields["comments"]["summary"]["total_count"] >= 0 and fields["comments"]["data"] == []
    assert "shares" not in fields or fields["shares"]["count"] > 0  # left out while 0
    insights = graph(sandbox, "facebook", "GET", f"{post}/insights",
                     params={"metric": "post_media_view,post_reactions_by_type_total"}).json()
    assert [m["name"] for m in insights["data"]] == ["post_media_view",
                                                     "post_reactions_by_type_total"]
    assert isinstance(insights["data"][1]["values"][0]["value"], dict)
    assert insights["data"][0]["id"] == f"{post}/insights/post_media_view/lifetime"


def test_instagram_insights_refuse_an_unknown_metric_with_the_valid_ones(sandbox: Sandbox) -> None:
    _stored(sandbox, "instagram", "17800000000000009")
    sandbox.clock.set(advance=timedelta(hours=3))
    answer = graph(sandbox, "instagram", "GET", "17800000000000009/insights",
                   params={"metric": "reach,engagement"})
    error = answer.json()["error"]
    assert error["code"] == 100 and error["message"].startswith("(#100) metric[1] must be one of")
    ok = graph(sandbox, "instagram", "GET", "17800000000000009/insights", params={"metric": "reach"})
    assert ok.status_code == 200 and ok.json()["data"][0]["name"] == "reach"


def test_linkedin_statistics_finder(sandbox: Sandbox) -> None:
    _stored(sandbox, "linkedin", "urn:li:share:7300000000000000009")
    token = sandbox.env()["LINKEDIN_TOKEN"]
    headers = {"Authorization": f"Bearer {token}", "LinkedIn-Version": "202605",
               "X-Restli-Protocol-Version": "2.0.0"}
    url = f"{sandbox.api_url('linkedin')}/rest/organizationalEntityShareStatistics"
    org = "urn%3Ali%3Aorganization%3A1000001"

    def get(query: str) -> requests.Response:
        return requests.get(f"{url}?q=organizationalEntity&{query}", headers=headers, timeout=10)

    assert get(f"organizationalEntity={org}&shares=urn%3Ali%3Ashare%3A1").status_code == 400
    assert get("organizationalEntity=urn%3Ali%3Aorganization%3A9&shares=List()").status_code == 403
    [element] = get(f"organizationalEntity={org}&shares=List(urn%3Ali%3Ashare%3A7300000000000000009"
                    ",urn%3Ali%3Ashare%3A5)").json()["elements"]
    assert element["share"] == "urn:li:share:7300000000000000009"
    assert set(element["totalShareStatistics"]) == {
        "impressionCount", "uniqueImpressionsCount", "clickCount", "likeCount", "commentCount",
        "shareCount", "engagement"}
    [totals] = get(f"organizationalEntity={org}").json()["elements"]
    assert "share" not in totals and totals["organizationalEntity"] == "urn:li:organization:1000001"


def test_bluesky_get_posts_takes_at_most_25_uris(sandbox: Sandbox) -> None:
    session = requests.post(f"{sandbox.api_url('bluesky')}/xrpc/com.atproto.server.createSession",
                            json={"identifier": "kankercentrum.example.org",
                                  "password": sandbox.env()["BLUESKY_APP_PASSWORD"]},
                            timeout=10).json()
    headers = {"Authorization": f"Bearer {session['accessJwt']}"}
    url = f"{sandbox.api_url('bluesky')}/xrpc/app.bsky.feed.getPosts"
    many = requests.get(url, params={"uris": [f"at://a/b/{i}" for i in range(26)]},
                        headers=headers, timeout=10)
    assert many.status_code == 400 and many.json()["error"] == "InvalidRequest"
    assert requests.get(url, headers=headers, timeout=10).status_code == 400
    assert requests.get(url, params={"uris": "at://a/b/1"}, headers=headers,
                        timeout=10).json() == {"posts": []}


def test_a_reset_puts_the_clock_back_to_the_wall(sandbox: Sandbox) -> None:
    sandbox.clock.set(speed=14400, advance=timedelta(days=3))
    sandbox.reset()
    assert sandbox.clock.speed == 1.0
    assert abs(sandbox.clock.now() - datetime.now(UTC)) < timedelta(minutes=1)
