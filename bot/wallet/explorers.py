"""Block-explorer links of a transaction, per chain.

A chain is named as the wallet port names it (``ETH``, ``TRON``, …) or as the NLU's ``chain``
entity does (``ERC20``, ``TRC20``, …); both lead to the same explorer.
"""

from __future__ import annotations

import re

_TX_PAGES = {
    "ETH": "https://etherscan.io/tx/{}",
    "TRON": "https://tronscan.org/#/transaction/{}",
    "BSC": "https://bscscan.com/tx/{}",
    "POLYGON": "https://polygonscan.com/tx/{}",
    "BTC": "https://mempool.space/tx/{}",
    "SOL": "https://solscan.io/tx/{}",
    "LTC": "https://blockchair.com/litecoin/transaction/{}",
}
_ALIASES = {
    "ERC20": "ETH",
    "ETHEREUM": "ETH",
    "TRC20": "TRON",
    "TRX": "TRON",
    "BEP20": "BSC",
    "BNB": "BSC",
    "MATIC": "POLYGON",
    "BITCOIN": "BTC",
    "SOLANA": "SOL",
    "LITECOIN": "LTC",
}
_SAFE_HASH = re.compile(r"[0-9A-Za-z]{20,128}")


def explorer_link(chain: str | None, tx_hash: str) -> str | None:
    """The explorer page of ``tx_hash`` on ``chain``; None for an unknown chain or a value that
    is no transaction hash."""
    name = (chain or "").strip().upper()
    page = _TX_PAGES.get(_ALIASES.get(name, name))
    return page.format(tx_hash) if page and _SAFE_HASH.fullmatch(tx_hash) else None
