"""Public copies of Instagram cards: a served folder, and S3 through moto's real server.

Both hosts are also used end to end: the sandbox's Instagram fetches the card
from the host over HTTP, as Meta does, and the copy is gone after publishing.
"""

from __future__ import annotations

import functools
import stat
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from campaign.errors import PostRetryable, UserError
from campaign.platforms import InstagramSettings
from campaign.publishers.base import PublishRequest
from campaign.publishers.instagram import InstagramPublisher
from campaign.publishers.media_host import (
    PRESIGNED_SECONDS,
    DirectoryHost,
    MediaHost,
    S3Host,
    SandboxHost,
    make_media_host,
)
from campaign.sandbox import Sandbox

CARD = Path(__file__).resolve().parent.parent / "fixtures" / "cards" / "card_portrait_1080x1350.jpg"
IG_ID = "17841400000000001"


@pytest.fixture
def served_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder published by a real web server on 127.0.0.1, as media_dir would be."""
    folder = tmp_path / "media"
    folder.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    # Fake keys: boto3 must never look further (instance metadata is off this machine).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3

    client = boto3.client("s3", endpoint_url=moto_url, region_name="eu-west-1")
    client.create_bucket(
        Bucket="campaign-cards", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    yield client
    for item in client.list_objects_v2(Bucket="campaign-cards").get("Contents", []):
        client.delete_object(Bucket="campaign-cards", Key=item["Key"])
    client.delete_bucket(Bucket="campaign-cards")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    running_sandbox.reset()
    for key, value in running_sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CAMPAIGN_INSTAGRAM_MEDIA_HOST")  # each test passes its own host
    return running_sandbox


def publish_through(host: MediaHost, session: requests.Session) -> str:
    settings = InstagramSettings(account_id=IG_ID, media_dir="/unused", media_base_url="https://e.org")
    publisher = InstagramPublisher(settings, session, media_host=host, poll_interval=0.05)
    published = publisher.publish(
        PublishRequest(
            story_id="marieke", post_key="marieke/instagram", card_path=CARD,
            caption="Vraag door. #ZeldzameKanker", alt_text="Een kaart",
            card_width=1080, card_height=1350,
        )
    )
    return published.remote_id


# -- directory -----------------------------------------------------------------------


def test_directory_host_copies_under_a_random_name_and_removes(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    host = DirectoryHost(tmp_path / "media", "https://www.example.org/campaign-media")
    first, second = host.put(CARD), host.put(CARD)

    assert first.name != second.name
    for hosted in (first, second):
        assert "card" not in hosted.name and "marieke" not in hosted.name
        assert hosted.name.endswith(".jpg") and len(hosted.name) >= 24
        assert hosted.url == f"https://www.example.org/campaign-media/{hosted.name}"
        copy = tmp_path / "media" / hosted.name
        assert copy.read_bytes() == CARD.read_bytes()
        assert stat.S_IMODE(copy.stat().st_mode) == 0o644
    host.remove(first.name)
    host.remove(first.name)  # already gone: fine
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == [second.name]
    with pytest.raises(ValueError):
        host.remove("../campaign.toml")


def test_directory_host_names_a_missing_folder(tmp_path: Path) -> None:
    host = DirectoryHost(tmp_path / "missing", "https://e.org/m")
    with pytest.raises(UserError) as caught:
        host.check()
    assert "missing" in str(caught.value)
    with pytest.raises(PostRetryable) as putting:
        host.put(CARD)
    assert "exists and is writable" in str(putting.value)
    assert not (tmp_path / "missing").exists()


def test_instagram_publishes_from_a_served_folder_and_the_copy_is_removed(
    served_folder: tuple[Path, str], sandbox: Sandbox
) -> None:
    folder, base_url = served_folder
    with requests.Session() as session:
        media_id = publish_through(DirectoryHost(folder, base_url), session)

    [post] = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json()
    assert post["id"] == media_id
    assert post["image_bytes"] == CARD.stat().st_size
    assert list(folder.iterdir()) == []


# -- s3 --------------------------------------------------------------------------------


@pytest.mark.integration  # moto's S3 server on 127.0.0.1
def test_s3_host_uploads_and_hands_out_a_one_hour_presigned_url(s3: Any, moto_url: str) -> None:
    host = S3Host("campaign-cards", endpoint_url=moto_url, region="eu-west-1")
    hosted = host.put(CARD)

    query = parse_qs(urlsplit(hosted.url).query)
    assert query["X-Amz-Expires"] == [str(PRESIGNED_SECONDS)] == ["3600"]
    assert "marieke" not in hosted.url and "card_portrait" not in hosted.url
    fetched = requests.get(hosted.url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == CARD.read_bytes()
    assert fetched.headers["Content-Type"] == "image/jpeg"
    unsigned = requests.get(hosted.url.split("?", 1)[0], timeout=10)
    assert unsigned.status_code == 403  # the bucket is private; only the signed URL works

    host.remove(hosted.name)
    assert requests.get(hosted.url, timeout=10).status_code == 404
    assert "campaign-cards" in host.check()  # the bucket is reachable


@pytest.mark.integration  # moto's S3 server on 127.0.0.1
def test_instagram_publishes_from_s3_and_the_object_is_removed(
    s3: Any, moto_url: str, sandbox: Sandbox
) -> None:
    host = S3Host("campaign-cards", endpoint_url=moto_url, region="eu-west-1")
    with requests.Session() as session:
        media_id = publish_through(host, session)

    [post] = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json()
    assert post["id"] == media_id
    assert s3.list_objects_v2(Bucket="campaign-cards").get("KeyCount") == 0


@pytest.mark.integration  # moto's S3 server on 127.0.0.1
def test_s3_host_check_names_a_missing_bucket(s3: Any, moto_url: str) -> None:
    with pytest.raises(UserError) as caught:
        S3Host("no-such-bucket", endpoint_url=moto_url, region="eu-west-1").check()
    assert "no-such-bucket" in str(caught.value)


# -- choosing a host ---------------------------------------------------------------------


def test_make_media_host_follows_settings_and_the_sandbox_variable(moto_url: str) -> None:
    with requests.Session() as session:
        directory = make_media_host(
            InstagramSettings(account_id=IG_ID, media_dir="/srv/m", media_base_url="https://e.org/m"),
            session, "https://graph.facebook.com", env={},
        )
        assert isinstance(directory, DirectoryHost)
        assert directory.base_url == "https://e.org/m"
        s3_settings = InstagramSettings(
            account_id=IG_ID, media_host="s3", s3_bucket="b", s3_endpoint_url=moto_url,
            s3_region="eu-west-1",
        )
        assert isinstance(
            make_media_host(s3_settings, session, "https://graph.facebook.com",
                            env={"AWS_ACCESS_KEY_ID": "x"}),
            S3Host,
        )
        rehearsal = make_media_host(
            s3_settings, session, "http://127.0.0.1:8931/instagram",
            env={"CAMPAIGN_INSTAGRAM_MEDIA_HOST": "sandbox"},
        )
        assert isinstance(rehearsal, SandboxHost)
        assert rehearsal.sandbox_url == "http://127.0.0.1:8931"
        with pytest.raises(UserError) as caught:
            make_media_host(s3_settings, session, "x", env={"CAMPAIGN_INSTAGRAM_MEDIA_HOST": "ftp"})
        assert "directory, s3 or sandbox" in str(caught.value)
