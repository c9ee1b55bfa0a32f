"""Which model each server runs: every server (``host:port``) records the digest of the model it
loaded, at start and after each pull that loaded one (``bot.improvement.pulling``), for the
console's list of servers.

The rows live in the handoff database's ``server_models`` table (``bot.improvement.tables``), on
the review store's one engine (``ReviewStore.servers``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.improvement.labels import utc_now
from bot.improvement.models import ModelError
from bot.improvement.tables import MAX_SERVER_ID, servers

DIGEST = re.compile(r"[0-9a-f]{64}\Z")
ATTEMPTS = 3  # to record a server's model while another process records the same server


@dataclass(frozen=True)
class ServerModel:
    """The model a server (``host:port``) loaded last, and when."""

    server_id: str
    digest: str
    loaded_at: datetime


class ServerModels:
    """The model each server loaded last, in the handoff database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def report_loaded(self, server_id: str, digest: str) -> None:
        """Records that server ``server_id`` (``host:port``) now runs the model ``digest``."""
        if not server_id or len(server_id) > MAX_SERVER_ID:
            raise ModelError(f"a server id is 1 to {MAX_SERVER_ID} characters, not {server_id!r}")
        if not DIGEST.match(digest):
            raise ModelError(f"{digest!r} is not a model digest (64 lowercase hex digits)")
        values = {"digest": digest, "loaded_at": utc_now()}
        for attempt in range(ATTEMPTS):
            try:
                with self.engine.begin() as connection:
                    updated = connection.execute(
                        servers.update().where(servers.c.server_id == server_id).values(**values)
                    )
                    if updated.rowcount == 0:
                        connection.execute(servers.insert().values(server_id=server_id, **values))
                return
            except sa.exc.IntegrityError:
                # Another process inserted the same server between our update and insert.
                if attempt == ATTEMPTS - 1:
                    raise

    def loaded(self) -> list[ServerModel]:
        """Every server that reported a model, by id."""
        query = sa.select(servers).order_by(servers.c.server_id)
        with self.engine.connect() as connection:
            return [
                ServerModel(row.server_id, row.digest, row.loaded_at)
                for row in connection.execute(query)
            ]
