from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.handoff.passwords import hash_password
from bot.handoff.store import HandoffStore


def test_a_store_from_before_disabling_and_roles_gains_the_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "create table handoff_agents (username varchar(64) primary key,"
            " display_name varchar(64) not null, password_hash varchar(255) not null)"
        )
        connection.exec_driver_sql(
            "insert into handoff_agents values ('li', '小李', ?)", (hash_password("old password"),)
        )
    store = HandoffStore.from_url(url)
    assert store.agents.role("li") == "agent"  # agents from before roles work tickets only
    assert store.agents.login("li", "old password", timedelta(hours=1))
    assert store.agents.disable("li")
    assert store.agents.login("li", "old password", timedelta(hours=1)) is None
    HandoffStore.from_url(url)  # opening it again finds the column there
