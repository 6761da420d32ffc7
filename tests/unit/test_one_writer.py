"""One writer of a bet's state: only the verbs of ``betguard.models.domain.transitions`` build a
``Change``, and only the repository and its bulk form update the bets table. A scan of
the sources keeps it so."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("betguard", "services", "tasks", "models")
CHANGE_BUILDERS = {"models/domain/transitions.py"}
BET_WRITERS = {"models/store/repository.py", "models/store/bulk.py"}
BET_TABLE_NAMES = {"Bet", "BETS"}
RAW_BET_UPDATE = re.compile(r"\bUPDATE\s+bets\b", re.IGNORECASE)


def sources() -> dict[str, str]:
    return {path.relative_to(ROOT).as_posix(): path.read_text()
            for folder in SCANNED for path in sorted((ROOT / folder).rglob("*.py"))
            if "__pycache__" not in path.parts and "migrations" not in path.parts}


def _called(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _names(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def raw_changes(source: str) -> list[int]:
    """Lines that build a ``Change`` directly."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and _called(node) == "Change"]


def bet_updates(source: str) -> list[int]:
    """Lines that update the bets table: ``update(Bet)``, ``update(BETS)`` or raw SQL."""
    lines = [node.lineno for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Call) and _called(node) == "update" and node.args
             and _names(node.args[0]) in BET_TABLE_NAMES]
    lines += [node.lineno for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.Constant) and isinstance(node.value, str)
              and RAW_BET_UPDATE.search(node.value)]
    return sorted(lines)


def test_the_scan_finds_each_way_of_writing_a_bet_outside_the_verbs() -> None:
    source = '''
from sqlalchemy import update, text
change = Change(BetState.PENDING, {"next_check_at": now}, ())
other = transitions.Change(BetState.PENDING, {}, ())
session.execute(update(Bet).values(next_check_at=now))
session.execute(sqlalchemy.update(BETS).values(state=BetState.SETTLED.value))
session.execute(text("update bets set next_check_at = now()"))
session.execute(update(Notification).values(attempts=0))
'''
    assert raw_changes(source) == [3, 4]
    assert bet_updates(source) == [5, 6, 7]


def test_the_scan_reads_the_sources_where_changes_are_built_and_performed() -> None:
    found = sources()
    assert raw_changes(found["models/domain/transitions.py"])
    assert bet_updates(found["models/store/repository.py"])
    assert bet_updates(found["models/store/bulk.py"])


def test_only_the_transition_verbs_build_a_change() -> None:
    offenders = [f"{path}:{line}" for path, source in sources().items()
                 if path not in CHANGE_BUILDERS for line in raw_changes(source)]
    assert offenders == []


def test_only_the_repository_and_its_bulk_form_update_bets() -> None:
    offenders = [f"{path}:{line}" for path, source in sources().items()
                 if path not in BET_WRITERS for line in bet_updates(source)]
    assert offenders == []
