"""Accounts of the workspace (`campaign serve`): who may do what, passwords, sign-in, sessions.

Roles, each allowed what the one before it may, and more:

    editor    look at the week and the status, write and edit stories
    approver  also approve a version, pause and resume, withdraw, rehearse
    admin     also add and remove accounts

Passwords are hashed with argon2 (argon2-cffi) and kept in the campaign's real
ledger, also when the workspace shows a rehearsal. A session is a random
token in an HttpOnly cookie; the ledger keeps only its sha256, with the
session's CSRF token and expiry. After `MAX_FAILURES` failed sign-ins for a
name within `LOCKOUT`, that name waits `LOCKOUT` before it may try again,
whether the password is right or not.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from campaign.errors import UserError
from campaign.i18n import _, ngettext
from campaign.ledger import Ledger

Role = Literal["editor", "approver", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
Action = Literal["look", "write", "approve", "pause", "withdraw", "rehearse", "accounts"]
_ALLOWED: dict[Role, frozenset[str]] = {
    "editor": frozenset({"look", "write"}),
    "approver": frozenset({"look", "write", "approve", "pause", "withdraw", "rehearse"}),
    "admin": frozenset({"look", "write", "approve", "pause", "withdraw", "rehearse", "accounts"}),
}
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=8)
MIN_PASSWORD = 10
_HASHER = PasswordHasher()
# Verified against when the name does not exist, so that the time taken does not tell.
_DUMMY_HASH = _HASHER.hash("campaign: no such account")


class SignInRefused(UserError):
    """The sign-in did not succeed; the message says why in words that do not help a guesser."""


@dataclass(frozen=True)
class Session:
    token: str  # goes in the cookie; the ledger has only its sha256
    user: str
    role: Role
    csrf: str


def may(role: str, action: Action) -> bool:
    return action in _ALLOWED.get(role, frozenset())  # type: ignore[call-overload]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(_("the password is too short: use at least {n} characters (a few words "
                          "in a row are easy to remember)").format(n=MIN_PASSWORD))
    return _HASHER.hash(password)


def add_user(ledger: Ledger, name: str, role: str, password: str, now: datetime,
             by: str | None = None) -> None:
    if role not in ROLES:
        raise UserError(_("{role!r} is not a role: use one of {roles}").format(
            role=role, roles=", ".join(ROLES)))
    if not name.strip() or len(name) > 80 or any(c in name for c in "\r\n\t"):
        raise UserError(_("a name is one line of at most 80 characters, e.g. anna or Anna de "
                          "Vries"))
    if not ledger.add_user(name.strip(), role, hash_password(password), now, by):
        raise UserError(_("there is already an account {name!r}: choose another name, or "
                          "`campaign users reset-password {name}`").format(name=name))


def sign_in(ledger: Ledger, name: str, password: str, now: datetime) -> Session:
    """A new session, or SignInRefused (a wrong name and a wrong password read the same)."""
    failures = ledger.login_failures(name, now - LOCKOUT)
    if len(failures) >= MAX_FAILURES:
        wait = failures[-MAX_FAILURES] + LOCKOUT - now
        minutes = max(1, round(wait.total_seconds() / 60))
        raise SignInRefused(ngettext(
            "too many failed sign-ins for this name: wait {n} minute, then try again (or ask "
            "an admin to reset the password)",
            "too many failed sign-ins for this name: wait {n} minutes, then try again (or ask "
            "an admin to reset the password)", minutes).format(n=minutes))
    account = ledger.user(name)
    try:
        _HASHER.verify(account[2] if account else _DUMMY_HASH, password)
        ok = account is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or account is None:
        ledger.login_failed(name, now)
        raise SignInRefused(_("the name or the password is not right: try again"))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    ledger.create_session(token_hash(token), account[0], csrf, now, now + SESSION_LIFETIME)
    return Session(token, account[0], account[1], csrf)  # type: ignore[arg-type]


def session_of(ledger: Ledger, token: str | None, now: datetime) -> Session | None:
    if not token:
        return None
    found = ledger.session(token_hash(token), now)
    if found is None:
        return None
    return Session(token, found[0], found[1], found[2])  # type: ignore[arg-type]


__all__ = ["ROLES", "Session", "SignInRefused", "add_user", "may", "session_of", "sign_in"]
