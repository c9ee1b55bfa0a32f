"""HTTP adapter of the link safety port: the JSON contract in docs/link-safety.openapi.yaml, for
a checking service (an in-house one, or a wrapper of GoPlus or MistTrack).

IM's own lists answer first: the local adapter's official channels and denylist are the
wallet's own word, and they answer when the service is down. The service is asked about the rest;
a failing or malformed answer is logged as a warning and reported as ``Reason.UNAVAILABLE``
(or as the local lookalike finding, if there is one), never raised.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests

from bot.link_safety.records import UNAVAILABLE, Candidate, Reason, Status, Verdict
from bot.link_safety.service import LinkSafety

logger = logging.getLogger(__name__)

MAX_LABEL = 120  # the contract's limit: a label is shown to the user


class HttpLinkSafety(LinkSafety):
    """The link safety port over a checking service's HTTP API, with a bearer token, after
    ``local``."""

    def __init__(self, url: str, *, token: str, local: LinkSafety, timeout: float = 2.0) -> None:
        self._url = url.rstrip("/") + "/check"
        self._local = local
        self._timeout = (timeout, timeout)
        self._session = requests.Session()
        self._session.headers.update(
            {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )

    def check(self, candidate: Candidate) -> Verdict:
        local = self._local.check(candidate)
        if local.status is not Status.UNKNOWN:
            return local
        remote = self._ask(candidate)
        if remote is None:
            return local if local.reason is Reason.LOOKALIKE_OF_OFFICIAL else UNAVAILABLE
        if remote.status is Status.UNKNOWN and local.reason is Reason.LOOKALIKE_OF_OFFICIAL:
            return local
        return remote

    def close(self) -> None:
        """Closes the pooled connections."""
        self._session.close()

    def _ask(self, candidate: Candidate) -> Verdict | None:
        body = {"kind": candidate.kind.value, "value": candidate.value, "chain": candidate.chain}
        started = time.monotonic()
        try:
            response = self._session.post(self._url, json=body, timeout=self._timeout)
        except requests.RequestException as error:
            logger.warning(
                "link safety check of a %s failed: %s", candidate.kind.value, type(error).__name__
            )
            return None
        elapsed_ms = (time.monotonic() - started) * 1000
        if response.status_code != 200:
            logger.warning(
                "link safety check of a %s answered HTTP %s in %.0f ms",
                candidate.kind.value,
                response.status_code,
                elapsed_ms,
            )
            return None
        try:
            verdict = _verdict(response.json())
        except (ValueError, TypeError, KeyError):
            logger.warning(
                "link safety check of a %s answered malformed JSON", candidate.kind.value
            )
            return None
        logger.info(
            "link safety check of a %s: %s in %.0f ms",
            candidate.kind.value,
            verdict.status.value,
            elapsed_ms,
        )
        return verdict


def _verdict(data: Any) -> Verdict:
    """The verdict in a service's answer; ValueError, TypeError or KeyError if malformed."""
    label = data["label"]
    if label is not None and not (isinstance(label, str) and 0 < len(label) <= MAX_LABEL):
        raise ValueError("label")
    return Verdict(Status(data["status"]), label, Reason(data["reason"]))
