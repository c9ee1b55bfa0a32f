"""The wallet port (WalletService), its records and errors, and its SQL and HTTP adapters."""
