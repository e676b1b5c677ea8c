"""A store made before a column existed gets it in place, with derived values filled in."""
from __future__ import annotations

from sqlalchemy import Engine, insert, inspect, select, text

from dashboard.model import Citizen, citizen_search_key
from dashboard.store import init_store


def test_an_older_store_gets_new_columns_and_citizen_search_keys(fresh_engine: Engine) -> None:
    init_store(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.execute(text('ALTER TABLE citizens DROP COLUMN search_text'))
    assert "search_text" not in {c["name"] for c in inspect(fresh_engine).get_columns("citizens")}
    with fresh_engine.begin() as conn:
        conn.execute(text("INSERT INTO citizens (id, name, email, phone, consent) VALUES "
                          "('c1', 'María Gómez', 'maria@example.org', '+34 942 000 111', '{}'),"
                          "('c2', 'Íñigo Ruiz', NULL, NULL, '{}')"))
    init_store(fresh_engine)
    with fresh_engine.connect() as conn:
        keys = dict(conn.execute(select(Citizen.id, Citizen.search_text)).all())
    assert keys == {"c1": citizen_search_key("María Gómez", "maria@example.org",
                                             "+34 942 000 111"),
                    "c2": citizen_search_key("Íñigo Ruiz", None, None)}
    assert "maria gomez" in keys["c1"] and "34942000111" in keys["c1"]
    with fresh_engine.begin() as conn:  # new rows still get the column's default
        conn.execute(insert(Citizen).values(id="c3", name="X", consent={}))
    init_store(fresh_engine)  # nothing left to do: idempotent
