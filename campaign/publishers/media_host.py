"""Public copies of Instagram cards: Instagram fetches the image from a URL (SPEC §6).

    MediaHost            put(path) -> Hosted(name, url); remove(name); check()
    ├── DirectoryHost    copy into a folder a web server publishes under a base URL
    ├── S3Host           any S3-compatible store through boto3, pre-signed GET, 1 hour
    └── SandboxHost      the sandbox's `/_sandbox/media` (rehearsals)

Names are random (never the story's name). The publisher removes the copy once
the post is published or has failed; `remove` is idempotent, so withdrawal may
call it again.
"""

from __future__ import annotations

import abc
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from campaign.errors import PostRetryable, UserError
from campaign.i18n import _
from campaign.platforms import InstagramSettings

PRESIGNED_SECONDS = 3600  # SPEC §6: the pre-signed GET URL lives one hour
MEDIA_HOST_VARIABLE = "CAMPAIGN_INSTAGRAM_MEDIA_HOST"  # overrides media_host (the sandbox env)
SANDBOX_URL_VARIABLE = "CAMPAIGN_SANDBOX_URL"


@dataclass(frozen=True)
class Hosted:
    name: str  # the random file or object name; what `remove` takes
    url: str  # where Instagram fetches it


def random_name(suffix: str = ".jpg") -> str:
    """A name that says nothing about the story and cannot be guessed."""
    return secrets.token_urlsafe(18) + suffix


class MediaHost(abc.ABC):
    """Somewhere that serves a card at a public URL for Instagram to fetch."""

    #: True for a host on this machine (the sandbox's): its URLs need not be HTTPS.
    local: bool = False

    @abc.abstractmethod
    def put(self, path: Path) -> Hosted:
        """Publish a copy of `path` under a random name; raise PostRetryable if it fails."""

    @abc.abstractmethod
    def remove(self, name: str) -> None:
        """Delete the copy; a copy already gone is not an error."""

    @abc.abstractmethod
    def check(self) -> str:
        """A sentence for `doctor` saying where copies go; raise UserError if unusable."""


class DirectoryHost(MediaHost):
    """Copies cards into `media_dir`, which a web server publishes as `media_base_url`."""

    def __init__(self, directory: Path, base_url: str) -> None:
        self.directory = directory
        self.base_url = base_url.rstrip("/")

    def put(self, path: Path) -> Hosted:
        name = random_name(path.suffix.lower() or ".jpg")
        target = self.directory / name
        # The folder is not created here: it is the web server's, and a missing one means
        # a wrong media_dir or an unmounted share, which a human should see.
        try:
            tmp = target.with_suffix(target.suffix + ".part")
            shutil.copyfile(path, tmp)
            os.chmod(tmp, 0o644)  # the web server must be able to read it
            tmp.replace(target)  # never serve a half-written file
        except OSError as exc:
            raise PostRetryable(
                "instagram",
                _("could not copy the card into media_dir {folder} ({error}): check that the "
                  "folder exists and is writable").format(folder=self.directory,
                                                          error=exc.strerror),
            ) from exc
        return Hosted(name, f"{self.base_url}/{name}")

    def remove(self, name: str) -> None:
        if "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"not a hosted file name: {name!r}")
        (self.directory / name).unlink(missing_ok=True)

    def check(self) -> str:
        if not self.directory.is_dir() or not os.access(self.directory, os.W_OK):
            raise UserError(
                _("instagram: media_dir {folder} is not a writable folder: create it and let "
                  "campaign write to it").format(folder=self.directory)
            )
        return _("cards are copied to {folder} and served as {url}/...").format(
            folder=self.directory, url=self.base_url)


class S3Host(MediaHost):
    """Puts cards into an S3-compatible bucket and hands out pre-signed GET URLs.

    boto3 reads the keys itself (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or its
    other usual places); it is the optional `s3` extra, imported only here.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
        prefix: str = "campaign-media/",
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        if client is None:
            try:
                import boto3  # optional dependency: the s3 extra
                from botocore.config import Config
            except ImportError:
                raise UserError(
                    _("instagram: media_host = s3 needs boto3: install it with "
                      "pip install 'campaign[s3]'")
                ) from None
            # Signature v4: v2 pre-signed URLs are deprecated and refused by many stores.
            client = boto3.client(
                "s3", endpoint_url=endpoint_url, region_name=region,
                config=Config(signature_version="s3v4"),
            )
        self.client = client

    def put(self, path: Path) -> Hosted:
        name = random_name(path.suffix.lower() or ".jpg")
        key = self.prefix + name
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=path.read_bytes(),
                ContentType="image/png" if path.suffix.lower() == ".png" else "image/jpeg",
            )
            url = self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=PRESIGNED_SECONDS,
            )
        except Exception as exc:  # botocore's errors share no useful base worth importing
            raise PostRetryable(
                "instagram",
                _("could not upload the card to bucket {bucket} ({error}): check s3_bucket, "
                  "s3_endpoint_url and the AWS_* keys").format(bucket=self.bucket,
                                                               error=type(exc).__name__),
            ) from exc
        return Hosted(name, str(url))

    def remove(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)

    def check(self) -> str:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise UserError(
                _("instagram: bucket {bucket} cannot be reached ({error}): check s3_bucket, "
                  "s3_endpoint_url, s3_region and the AWS_* keys").format(
                    bucket=self.bucket, error=type(exc).__name__)
            ) from exc
        return _("cards go to bucket {bucket} with pre-signed links of one hour").format(
            bucket=self.bucket)


class SandboxHost(MediaHost):
    """The sandbox hosts Instagram cards in a rehearsal (`POST /_sandbox/media`)."""

    local = True

    def __init__(self, sandbox_url: str, session: requests.Session) -> None:
        self.sandbox_url = sandbox_url.rstrip("/")
        self.session = session

    def put(self, path: Path) -> Hosted:
        name = random_name(path.suffix.lower() or ".jpg")
        try:
            response = self.session.put(
                f"{self.sandbox_url}/_sandbox/media/{name}", data=path.read_bytes(), timeout=30
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            raise PostRetryable(
                "instagram", _("the sandbox did not take the card ({error}): is it running "
                               "at {url}?").format(error=type(exc).__name__,
                                                               url=self.sandbox_url),
            ) from exc
        return Hosted(name, str(response.json()["url"]))

    def remove(self, name: str) -> None:
        self.session.delete(f"{self.sandbox_url}/_sandbox/media/{name}", timeout=30)

    def check(self) -> str:
        try:
            self.session.get(f"{self.sandbox_url}/_sandbox/health", timeout=10).raise_for_status()
        except requests.RequestException as exc:
            raise UserError(
                _("instagram: the sandbox at {url} does not answer: start it with "
                  "campaign sandbox").format(url=self.sandbox_url)
            ) from exc
        return _("cards are hosted by the sandbox at {url}").format(url=self.sandbox_url)


def sandbox_root(instagram_api_url: str, env: Mapping[str, str]) -> str:
    """The sandbox's own base URL: CAMPAIGN_SANDBOX_URL, or the Instagram base minus its prefix."""
    explicit = env.get(SANDBOX_URL_VARIABLE, "").strip()
    if explicit:
        return explicit.rstrip("/")
    base = instagram_api_url.rstrip("/")
    return base[: -len("/instagram")] if base.endswith("/instagram") else base


def make_media_host(
    settings: InstagramSettings,
    session: requests.Session,
    instagram_api_url: str,
    env: Mapping[str, str] | None = None,
) -> MediaHost:
    """The media host the settings (or CAMPAIGN_INSTAGRAM_MEDIA_HOST) ask for."""
    values = os.environ if env is None else env
    kind = values.get(MEDIA_HOST_VARIABLE, "").strip() or settings.media_host
    if kind == "sandbox":
        return SandboxHost(sandbox_root(instagram_api_url, values), session)
    if kind == "s3":
        if not settings.s3_bucket:
            raise UserError(_("instagram: media_host = s3 needs s3_bucket: set it in campaign.toml"))
        return S3Host(
            settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
        )
    if kind == "directory":
        if not (settings.media_dir and settings.media_base_url):
            raise UserError(
                _("instagram: media_host = directory needs media_dir and media_base_url: set both")
            )
        return DirectoryHost(Path(settings.media_dir), settings.media_base_url)
    raise UserError(
        _("instagram: {variable} is {kind!r}: use directory, s3 or sandbox").format(
            variable=MEDIA_HOST_VARIABLE, kind=kind)
    )


__all__ = [
    "PRESIGNED_SECONDS",
    "DirectoryHost",
    "Hosted",
    "MediaHost",
    "S3Host",
    "SandboxHost",
    "make_media_host",
    "random_name",
    "sandbox_root",
]
