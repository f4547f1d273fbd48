"""Two machines (SPEC §15): any number of `campaign run` on one shared database; one posts.

With a PostgreSQL ledger, every `campaign run` bids for the lead: a lease row (`lead`:
token, host, pid, expiry on the database's clock), taken only when no one else holds a
lease that is still running, and renewed by its holder every `renew` seconds for another
`seconds`. The others stand by, trying again every `poll` seconds, and say who posts.

The rules that keep a post exactly once across machines:

- **A claim proves the lead.** `Ledger.claim` (the move to *publishing*, before any request
  is sent) checks in its own transaction, under the ledger's write lock and on the
  database's clock, that the lease is this scheduler's and has at least `margin` seconds
  left. A scheduler that lost the lead, or whose connection is gone, cannot claim, and the
  publish path never sends without a claim.
- **A standby takes over only once the lease has run out**, at least `margin` seconds
  after the old leader's last possible claim: the request of that claim has had its time.
  It then starts the scheduler as after a crash: every post left *publishing* is looked up
  on the platform before anything is sent (`publish.reconcile_all`), under the publish
  lock (a session advisory lock, which the old leader's session held while it posted).
- **A leader that loses the database stops posting at once**: when a renewal fails, its
  connection breaks, or a claim is refused, its scheduler is stopped; it stands by, and
  leads again only by taking the lease anew (then reconciling and planning afresh, so
  that the post whose claim was refused gets its job again).

The lease lasts `CAMPAIGN_LEAD_SECONDS` (45 s unless set; the tests and the benchmark make
it short): renewed every 5 s, a claim needs 30 s of it left, a standby looks every 3 s;
a standby takes over within 48 s of the leader's death (under the 60 s SPEC §15 asks).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from campaign.errors import LedgerError
from campaign.i18n import _
from campaign.ledger import LeadClaim, Ledger, Scheduler

log = logging.getLogger("campaign.lead")

LEAD_SECONDS_ENV = "CAMPAIGN_LEAD_SECONDS"


@dataclass(frozen=True)
class LeadTerms:
    seconds: float = 45.0

    @property
    def renew(self) -> float:
        return self.seconds / 9

    @property
    def margin(self) -> float:
        return self.seconds * 2 / 3

    @property
    def poll(self) -> float:
        return max(0.05, self.seconds / 15)


def lead_terms(env: Mapping[str, str]) -> LeadTerms:
    value = env.get(LEAD_SECONDS_ENV)
    try:
        return LeadTerms(max(0.5, float(value))) if value else LeadTerms()
    except ValueError:
        return LeadTerms()


class Runnable(Protocol):
    """What `run_scheduler` runs: `scheduler.Scheduler`."""

    done: threading.Event

    def run(self, install_signals: bool = True) -> None: ...


R = TypeVar("R", bound=Runnable)


def _me() -> str:
    return f"{os.uname().nodename} (pid {os.getpid()})"


class Lead:
    """This process's bid for the lead, on a connection of its own (so that a long post on
    the scheduler's connection never delays a renewal)."""

    def __init__(self, url: str, terms: LeadTerms, say: Callable[[str], None]) -> None:
        self.url = url
        self.terms = terms
        self.say = say
        self.token = secrets.token_hex(8)
        self.lost = threading.Event()
        self._db: Ledger | None = None
        self._renewing: threading.Thread | None = None
        self._stop_renewing = threading.Event()

    def _ledger(self) -> Ledger:
        if self._db is None or self._db.broken:
            if self._db is not None:
                self._db.close()
            self._db = None
            self._db = Ledger.open(self.url)
        return self._db

    def _drop(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def claim(self) -> LeadClaim:
        return LeadClaim(self.token, self.terms.margin)

    def wait(self, stop: threading.Event) -> bool:
        """Stand by until this process leads (True), or until `stop` is set (False)."""
        told: str | None = None
        while not stop.is_set():
            try:
                db = self._ledger()
                previous: list[Scheduler] = []
                if db.take_lead(self.token, self.terms.seconds, took_over=previous):
                    for gone in previous:  # staff hear of it, once per takeover
                        db.add_alert(f"takeover:{self.token}:{gone.host}:{gone.pid}", _(
                            "{me} took over posting: {host} (pid {pid}) stopped answering "
                            "the shared database. Posts it had under way are checked on "
                            "their platforms before anything is sent again; see to that "
                            "machine.").format(me=_me(), host=gone.host, pid=gone.pid),
                            datetime.now(UTC))
                    self.lost.clear()
                    self._stop_renewing.clear()
                    self._renewing = threading.Thread(target=self._renew, daemon=True,
                                                      name="campaign-lead")
                    self._renewing.start()
                    return True
                leader = db.leader()
                holder = f"{leader.host} (pid {leader.pid})" if leader else "?"
                if holder != told:
                    told = holder
                    self.say(_("standing by: posting from {leader}; this machine ({me}) takes "
                               "over if it stops").format(leader=holder, me=_me()))
            except Exception as exc:  # the database away: keep trying, quietly
                log.warning("the shared database does not answer (%s); trying again in %s s",
                            exc, self.terms.poll)
                self._drop()
            stop.wait(self.terms.poll)
        return False

    def _renew(self) -> None:
        while not self._stop_renewing.wait(self.terms.renew):
            try:
                held = self._ledger().take_lead(self.token, self.terms.seconds)
            except Exception as exc:
                log.error("the lease could not be renewed (%s): this scheduler stops posting", exc)
                self._drop()
                held = False
            if not held:
                self.lost.set()
                return

    def step_down(self) -> None:
        """Stop renewing (the lease runs out by itself unless taken again)."""
        self._stop_renewing.set()
        if self._renewing is not None:
            self._renewing.join(self.terms.renew + 15)
            self._renewing = None

    def leave(self, *, release: bool) -> None:
        """This process stops: no longer listed, and with `release` its lead is free now."""
        self.step_down()
        try:
            self._ledger().leave(self.token, release=release)
        except Exception as exc:
            log.warning("could not sign off from the shared database (%s)", exc)
        self._drop()


def run_scheduler(ledger: Ledger, make: Callable[[], R], *, install_signals: bool = True,
                  say: Callable[[str], None] = log.info,
                  env: Mapping[str, str] | None = None) -> R | None:
    """Run the scheduler that `make` builds on `ledger`, until it is stopped (SIGTERM,
    SIGINT) or done; the last scheduler run is returned (None if this one never led).

    On a ledger file: at once (the file's SchedulerLock keeps it to one). On a shared
    database: each time this process takes the lead; between, it stands by."""
    if not ledger.shared or ledger.url is None:
        scheduler = make()
        scheduler.run(install_signals=install_signals)
        return scheduler
    stop = threading.Event()
    current: list[Runnable] = []

    def stopping(*_: object) -> None:
        stop.set()
        for running in current:
            running.done.set()

    if install_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stopping)
    lead = Lead(ledger.url, lead_terms(env if env is not None else os.environ), say)
    last: R | None = None
    finished = False
    try:
        while not stop.is_set() and not finished:
            if not lead.wait(stop):
                break
            interrupted = threading.Event()
            try:
                if ledger.broken:
                    ledger.reconnect()
                ledger.lead, ledger.lead_refused = lead.claim, False
                say(_("posting from this machine ({me})").format(me=_me()))
                scheduler = make()
                current[:] = [scheduler]
                last = scheduler

                def watch(scheduler: Runnable = scheduler,
                          interrupted: threading.Event = interrupted) -> None:
                    while not scheduler.done.wait(lead.terms.poll):
                        if stop.is_set() or lead.lost.is_set() or ledger.broken or \
                                ledger.lead_refused:
                            interrupted.set()
                            scheduler.done.set()
                threading.Thread(target=watch, daemon=True, name="campaign-lead-watch").start()
                scheduler.run(install_signals=False)
                finished = not interrupted.is_set() and not stop.is_set()
            except (LedgerError, OSError, RuntimeError) as exc:
                log.error("the scheduler stopped: %s", exc)
            except Exception as exc:  # psycopg's errors: the database went away
                log.error("the scheduler stopped: the shared database failed (%s)", exc)
            finally:
                current.clear()
            if not finished and not stop.is_set():
                lead.step_down()
                say(_("stopped posting from this machine: the shared database was lost or "
                      "another machine took over; standing by"))
                stop.wait(lead.terms.poll)
    finally:
        lead.leave(release=True)
    return last
