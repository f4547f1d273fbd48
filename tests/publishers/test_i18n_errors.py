"""The messages staff read when posting fails, in Dutch (issue 17).

For each platform one rejected and one retryable row of its error policy table is answered
by the sandbox ('answer' fault, as in test_error_policy.py) while `use_language("nl")` is
active: the message is Dutch (not the English one, with the row's Dutch words and fix), and
keeps what staff and support need as it was: the platform, the status the platform
answered (for Graph, its error code: Graph's quote names the code, not the HTTP status)
and no secret.
"""

from __future__ import annotations

import re

import pytest
import requests

from campaign.errors import PostRejected, PostRetryable, PublishError
from campaign.i18n import _, use_language
from campaign.publishers.transport import network_error
from campaign.sandbox import Fault, Sandbox
from tests.publishers.test_error_policy import CALLS, ROWS, _sent_now, policy_of

# (platform, row of its table, what it must raise)
CASES_NL = [
    ("x", "credentials refused", PostRejected), ("x", "rate limited", PostRetryable),
    ("facebook", "token expired", PostRejected), ("facebook", "throttled", PostRetryable),
    ("instagram", "token expired", PostRejected), ("instagram", "throttled", PostRetryable),
    ("linkedin", "token refused", PostRejected), ("linkedin", "daily limit", PostRetryable),
    ("mastodon", "token refused", PostRejected), ("mastodon", "rate limited", PostRetryable),
    ("bluesky", "refused", PostRejected), ("bluesky", "rate limited", PostRetryable),
]
DUTCH = re.compile(r"\b(bij|het|de|een|weigerde|opnieuw|geprobeerd|toegangssleutel|verzoeken|"
                   r"zet|maak|kijk|controleer)\b")
ENGLISH = re.compile(r"\b(while|refused|the|retried|create|check)\b")


def _publish(platform: str, row: str, sandbox: Sandbox) -> PublishError:
    from tests.publishers.test_contract import CASES, live, make_request

    sandbox.reset()
    case = next(c for c in CASES if c.platform == platform)
    status, body, headers = ROWS[platform][row]
    call, times = CALLS.get((platform, row), ("create", 1))
    sandbox.add_fault(Fault(platform, call, "answer", times=times, status=status, body=body,
                            headers=_sent_now(headers)))
    with requests.Session() as session:
        publisher = case.build(session, 15.0)
        with pytest.raises(PublishError) as raised:
            publisher.publish(make_request(case))
    assert live(sandbox, platform) == []
    return raised.value


@pytest.mark.parametrize(("platform", "row", "expected"), CASES_NL,
                         ids=[f"{p}: {r}" for p, r, _e in CASES_NL])
def test_a_failed_post_is_told_in_dutch(platform: str, row: str, expected: type, sandbox: Sandbox,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.publishers.test_contract import CASES

    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    english = str(_publish(platform, row, sandbox))
    with use_language("nl"):
        error = _publish(platform, row, sandbox)
        message = str(error)
        rule = next(r for r in policy_of(platform).rules if r.name == row)
        reason, fix = _(rule.reason), _(rule.fix)
    print(f"\n{platform}/{row}:\n  en: {english}\n  nl: {message}")
    assert type(error) is expected, message
    assert message != english
    assert reason != rule.reason and fix != rule.fix  # the row has its Dutch
    assert DUTCH.search(message), message
    assert reason.split("{")[0].strip() in message
    assert fix.split("{")[0].strip() in message  # the fix, in Dutch
    assert not ENGLISH.search(message.split(": ", 1)[1].split("(")[0]), message
    # What stays as it was: the platform, the answer's status (Graph: its code), no secret.
    assert error.platform == platform and message.startswith(f"{platform} (")
    status, body, _headers = ROWS[platform][row]
    if platform in ("facebook", "instagram"):
        assert isinstance(body, dict)
        assert f"(code {body['error']['code']}" in message
    else:
        assert f"({status}" in message
    case = next(c for c in CASES if c.platform == platform)
    for secret in case.secrets:
        assert sandbox.env()[secret] not in message


def test_a_network_failure_is_told_in_dutch() -> None:
    lost = requests.ConnectionError("Connection aborted.")
    with use_language("nl"):
        unknown = network_error("x", lost, what="creating the post", creates=True, story="01-a")
        retry = network_error("x", requests.ReadTimeout("read timed out"),
                              what="uploading the card", creates=False, story="01-a")
    assert str(unknown) == ("x (01-a): de verbinding viel weg nadat het verzoek was verstuurd bij "
                            "het plaatsen van het bericht: het bericht is misschien al geplaatst; "
                            "zoek het op het account op voordat je het opnieuw probeert")
    assert str(retry) == ("x (01-a): er kwam niet op tijd antwoord bij het uploaden van de kaart: "
                          "er is nog niets geplaatst; het wordt opnieuw geprobeerd")
