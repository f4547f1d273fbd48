"""Fixtures of the platform tests: one sandbox per module (reset for each test) and a
session. A module that needs its sandbox otherwise defines its own `sandbox`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from campaign.sandbox import Sandbox


@pytest.fixture(scope="module")
def running() -> Iterator[Sandbox]:
    with Sandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running: Sandbox) -> Sandbox:
    running.reset()
    return running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
