"""Wallet care: follow-ups on transfers, address poisoning and approval risk, on the wallet port."""
