"""The link safety port: what the assistant may ask about a pasted address, link or contact."""

from __future__ import annotations

from abc import ABC, abstractmethod

from bot.link_safety.records import Candidate, Kind, Status, Verdict


class LinkSafety(ABC):
    """Tells whether an address, link or contact is official, a known scam or unknown.

    ``check`` never raises for a failing backend: it answers ``Reason.UNAVAILABLE`` instead, so
    that a safety question always gets an answer.
    """

    @abstractmethod
    def check(self, candidate: Candidate) -> Verdict:
        """What is known about ``candidate``."""

    def denylisted(self, chain: str, address: str) -> bool:
        """Whether ``address`` on ``chain`` (an approval's spender) is a known scam."""
        verdict = self.check(Candidate(Kind.ADDRESS, address, chain))
        return verdict.status is Status.DENYLISTED
