"""Address poisoning: lookalike addresses in a user's own history (issue 20).

A poisoner sends a zero-value or dust transfer from an address that shares the first and last
four characters of one the user sent to, so that the next copy from the history picks theirs.
Addresses are compared per chain, in any case on EVM chains (``same_address``); two addresses
look alike when they differ but share those characters (``looks_alike``). Of two alike
addresses, the genuine one is the one the user used first; an address that first appeared as the
sender of dust is never the genuine one. Zero-value "sends" a poisoner makes appear in the
user's outgoing history count as bait, not as use (``split_baits``); an address the user pasted
is judged against what they paid (``pasted_lookalike``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.wallet.records import Transaction, is_dust

# The port's EVM chains and the names the NLU's chain entity gives them: one 0x address each,
# whose letters' case is only a checksum.
EVM_CHAINS = frozenset({"ETH", "ETHEREUM", "ERC20", "BSC", "BNB", "BEP20", "POLYGON", "MATIC"})
# Characters compared at each end of an address (after "0x" on EVM chains).
END = 4


def is_evm(chain: str) -> bool:
    return chain.strip().upper() in EVM_CHAINS


def same_address(chain: str, a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are one address on ``chain``."""
    return _key(chain, a) == _key(chain, b)


def looks_alike(chain: str, a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are different addresses with the same first and last four
    characters: one passes for the other at a glance."""
    ends = _ends(chain, a)
    return ends is not None and ends == _ends(chain, b) and _key(chain, a) != _key(chain, b)


@dataclass(frozen=True)
class Lookalike:
    """An ``address`` that imitates ``imitates``, the genuine address the user sent to before:
    when it first appeared in the history, and the dust transfer that brought it, if any."""

    chain: str
    address: str
    imitates: str
    first_seen: datetime
    dust: Transaction | None


def lookalikes(sent: Iterable[Transaction], dust: Iterable[Transaction]) -> list[Lookalike]:
    """Every lookalike in the user's history, newest first: senders of dust that look like an
    address the user sent to, and destinations that look like one the user sent to earlier."""
    found: list[Lookalike] = []
    for seen in _history(sent, dust).values():
        for address in seen:
            genuine = _genuine_for(address, seen)
            if genuine is not None:
                found.append(address.imitating(genuine))
    return sorted(found, key=lambda lookalike: lookalike.first_seen, reverse=True)


def poisoned_destination(
    tx: Transaction, sent: Iterable[Transaction], dust: Iterable[Transaction]
) -> Lookalike | None:
    """The destination of the outgoing transfer ``tx`` when it imitates an address the user
    sent to before it (``sent``, the user's other outgoing transfers); None otherwise.

    Only what came before ``tx`` counts. A destination the user had sent to before is trusted,
    unless it first appeared as the sender of dust (``dust``): then that earlier transfer was
    poisoned too.
    """
    earlier = [t for t in sent if t.tx_hash != tx.tx_hash and t.created_at < tx.created_at]
    baits = [t for t in dust if t.created_at < tx.created_at]
    seen = _history(earlier, baits).get(_chain(tx.chain), [])
    destination = _key(tx.chain, tx.to_address)
    address = next((a for a in seen if a.key == destination), None)
    if address is None:
        address = _Address(tx.chain, tx.to_address, destination)
    elif address.first_sent is not None and not address.bait:
        return None
    if address.first_sent is None:
        address.first_sent = tx.created_at
    genuine = _genuine_for(address, seen)
    return address.imitating(genuine) if genuine is not None else None


def pasted_lookalike(
    address: str, sent: Sequence[Transaction], baits: Sequence[Transaction]
) -> Lookalike | None:
    """``address`` (pasted, not yet paid) when it imitates one the user paid: a lookalike found
    in the history, or a new address alike the first one paid. One the user paid before, and no
    bait, is trusted."""
    known = lookalikes(sent, baits)
    found = next((item for item in known if same_address(item.chain, item.address, address)), None)
    if found is not None:
        return found
    if any(same_address(tx.chain, tx.to_address, address) for tx in sent):
        return None
    paid = sorted(
        (tx for tx in sent if looks_alike(tx.chain, address, tx.to_address)),
        key=lambda tx: tx.created_at,
    )
    if not paid:
        return None
    genuine = paid[0]
    return Lookalike(genuine.chain, address, genuine.to_address, genuine.created_at, None)


def split_baits(
    sent: Iterable[Transaction], dust: Iterable[Transaction]
) -> tuple[list[Transaction], list[Transaction]]:
    """The user's real outgoing transfers, and the baits: incoming ``dust``, and the zero-value
    "transfers" a poisoner makes appear as sent by the user (an ERC-20 ``transferFrom`` of 0)."""
    real: list[Transaction] = []
    fake: list[Transaction] = []
    for tx in sent:
        (fake if is_dust(tx.currency, tx.amount) else real).append(tx)
    return real, [*dust, *fake]


# ---------------------------------------------------------------------------------------------
# The history: each address once per chain, with its first transfer and its first dust.


@dataclass
class _Address:
    chain: str
    address: str
    key: str
    first_sent: datetime | None = None  # the user's first transfer to it
    first_dust: Transaction | None = None  # its first dust transfer to the user

    @property
    def first_seen(self) -> datetime:
        times = [self.first_sent, self.first_dust.created_at if self.first_dust else None]
        return min(t for t in times if t is not None)

    @property
    def bait(self) -> bool:
        """It first appeared as the sender of dust, before the user ever sent to it."""
        return self.first_dust is not None and (
            self.first_sent is None or self.first_dust.created_at < self.first_sent
        )

    def imitating(self, genuine: _Address) -> Lookalike:
        return Lookalike(
            self.chain, self.address, genuine.address, self.first_seen, self.first_dust
        )


def _history(sent: Iterable[Transaction], dust: Iterable[Transaction]) -> dict[str, list[_Address]]:
    """The addresses the user sent to and the senders of dust, by chain."""
    by_key: dict[tuple[str, str], _Address] = {}

    def address(chain: str, value: str) -> _Address:
        key = _key(chain, value)
        return by_key.setdefault((_chain(chain), key), _Address(chain, value.strip(), key))

    for tx in sent:
        seen = address(tx.chain, tx.to_address)
        if seen.first_sent is None or tx.created_at < seen.first_sent:
            seen.first_sent = tx.created_at
    for tx in dust:
        seen = address(tx.chain, tx.from_address)
        if seen.first_dust is None or tx.created_at < seen.first_dust.created_at:
            seen.first_dust = tx
    by_chain: dict[str, list[_Address]] = defaultdict(list)
    for (chain, _), seen in by_key.items():
        by_chain[chain].append(seen)
    return by_chain


def _genuine_for(address: _Address, seen: Iterable[_Address]) -> _Address | None:
    """The address ``address`` imitates: the first-used of the alike addresses the user sent
    to that are no bait, used before ``address`` unless ``address`` is bait itself."""
    genuine = [
        other
        for other in seen
        if other.first_sent is not None
        and not other.bait
        and looks_alike(address.chain, address.address, other.address)
        and (
            address.bait
            or (address.first_sent is not None and other.first_sent < address.first_sent)
        )
    ]
    return min(genuine, key=lambda other: (other.first_sent, other.key), default=None)


def _chain(chain: str) -> str:
    return chain.strip().upper()


def _key(chain: str, address: str) -> str:
    address = address.strip()
    return address.lower() if is_evm(chain) else address


def _ends(chain: str, address: str) -> tuple[str, str] | None:
    """The first and last characters an eye compares; None for a value too short to have both."""
    body = _key(chain, address)
    if is_evm(chain) and body.startswith("0x"):
        body = body[2:]
    return (body[:END], body[-END:]) if len(body) >= 2 * END else None
