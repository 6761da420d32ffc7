"""The statements that place many bets at once name the bets table's columns as the
table defines them: a column added to the table is placed, staged and copied too."""

from __future__ import annotations

import re

from sqlalchemy import Column, MetaData, String

from betguard.models.store.bulk import PlacingSql, placing_sql
from betguard.models.store.repository import BETS, EVENTS

PLACED = tuple(column.name for column in BETS.columns if column.name != "id")


def names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",")]


def after(statement: str, pattern: str) -> list[str]:
    """The comma-separated names ``pattern``'s group holds in ``statement``."""
    match = re.search(pattern, statement, re.S)
    assert match is not None, pattern
    return names(match.group(1))


def column_lists(sql: PlacingSql) -> dict[str, list[str]]:
    """Each list of bet columns the statements name (the staging table's and the COPY's
    without their sequence number and event columns)."""
    into_bets = rf"INSERT INTO {BETS.name} \(([^)]*)\)"
    staged = after(sql.staging_table, r"placing_bets \(\s*(.*?)\s*\) ON COMMIT")
    values = after(sql.insert_one, r"VALUES \((.*?)\)\s*ON CONFLICT")
    return {
        "insert_one": after(sql.insert_one, into_bets),
        "insert_one values": [value.removeprefix("%(").removesuffix(")s") for value in values],
        "staging_table": [declared.split()[0] for declared in staged][1:-3],
        "copy_staged": after(sql.copy_staged, r"COPY placing_bets \(([^)]*)\)")[1:-3],
        "place_staged insert": after(sql.place_staged, into_bets),
        "place_staged select": after(sql.place_staged, r"SELECT (.*?)\s+FROM placing_bets"),
    }


def test_every_column_list_is_the_tables_columns_but_its_generated_id_in_order() -> None:
    sql = placing_sql(BETS, EVENTS)
    assert sql.columns == PLACED
    assert column_lists(sql) == dict.fromkeys(column_lists(sql), list(PLACED))


def test_a_column_added_to_the_table_is_placed_staged_and_copied() -> None:
    bets = BETS.to_metadata(MetaData())
    bets.append_column(Column("promo_code", String(32), nullable=True))
    sql = placing_sql(bets, EVENTS)
    assert sql.columns == (*PLACED, "promo_code")
    assert all(names == [*PLACED, "promo_code"] for names in column_lists(sql).values())
    assert "promo_code text" in sql.staging_table


def test_each_column_is_staged_in_the_loosest_type_of_its_values() -> None:
    staged = placing_sql(BETS, EVENTS).staging_table
    for declared in ("bet_ref text", "stake numeric", "placed_at timestamptz",
                     "check_attempt integer", "payout numeric", "final_at timestamptz"):
        assert declared in staged
