"""The commands the README and the docs show work as written.

Each ``betguard ...`` line of their shell blocks names a real command with real options
and answers ``--help``; and every line of the operator's pages (the ops commands,
reconciliation and its differences) is run as printed against the running stack. Their
example names (``acme/BET-123``, the provider ``lotus``, difference ``42``) stand for
objects the stack makes fit for the line: a bet in review where the page resolves one, a
refund the wallet stopped taking where the page takes a way out of it, and so on."""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import click
import pytest

from betguard.cli import main
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.services.reconcile import reconcile
from betguard.services.results import report_result
from tests.integration.harness import BETGUARD, Run, Stack, pg_round_id, wait_until
from tests.integration.ops import betguard, label, rejected_refund

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "CONTRIBUTING.md"]
# The pages whose every line is run as written (the others show set-up, drills and
# production processes: the demo, drill and install tests run those).
OPERATOR_PAGES = [ROOT / "docs" / "operations.md", ROOT / "docs" / "providers" / "README.md"]
FEED_LAG = 2.0  # the harness policy's feed_lag for pgsoft


@dataclass(frozen=True)
class Shown:
    page: Path
    line: str  # as a person types it: continuations joined, the comment cut off

    @property
    def words(self) -> list[str]:
        return shlex.split(self.line)

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}: {self.line}"


def shell_lines(pages: list[Path]) -> list[Shown]:
    """Every command line of the pages' ``sh`` blocks."""
    shown = []
    for page in pages:
        for block in re.findall(r"```sh\n(.*?)```", page.read_text(), flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = shlex.join(shlex.split(line, comments=True))
                if line:
                    shown.append(Shown(page, line))
    return shown


def betguard_args(shown: Shown) -> list[str] | None:
    """The arguments of a ``betguard`` line (past any VAR=value prefixes), or None."""
    words = shown.words
    while words and "=" in words[0]:
        words.pop(0)
    return words[1:] if words and words[0].endswith("betguard") else None


def shown_commands() -> list[Shown]:
    return [shown for shown in shell_lines(PAGES) if betguard_args(shown) is not None]


def resolve(args: list[str]) -> tuple[list[str], click.Command]:
    path: list[str] = []
    command: click.Command = main
    for word in args:
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        path.append(word)
        command = command.commands[word]
    return path, command


def option_names(command: click.Command) -> set[str]:
    return {name for param in command.params for name in getattr(param, "opts", [])}


def test_the_readme_and_the_docs_show_the_operator_commands() -> None:
    shown = {" ".join(resolve(betguard_args(line) or [])[0]) for line in shown_commands()}

    assert {"stats", "bets list", "bets show", "review list", "review resolve", "recheck",
            "sweep", "demo", "reconcile", "differences list", "differences resolve"} <= shown


@pytest.mark.parametrize("shown", shown_commands(), ids=str)
def test_each_command_the_pages_show_exists_with_its_options(shown: Shown) -> None:
    args = betguard_args(shown) or []
    path, command = resolve(args)
    used = {word.split("=")[0] for word in args if word.startswith("--")}

    assert path, f"no betguard command in {shown}"
    unknown = used - option_names(command)
    assert not unknown, f"{shown}: unknown options {unknown}"
    done = subprocess.run([BETGUARD, *path, "--help"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout


# -- the operator's pages, run as written ---------------------------------------------------


@dataclass(frozen=True)
class Examples:
    """What each example name of the operator's pages stands for on the stack."""

    bets: dict[str, BetSnapshot]  # "acme/BET-123" -> a bet fit for the line naming it
    names: dict[str, str]  # every other example word -> the stack's own

    def written(self, shown: Shown) -> list[str]:
        """The line's arguments with each example name put for its stand-in."""
        args = []
        for word in betguard_args(shown) or []:
            bet = self.bets.get(word)
            args.append(label(bet) if bet is not None else self.names.get(word, word))
        return args


def in_review(stack: Stack) -> BetSnapshot:
    bet = stack.place("reviewer", fate="never")
    return stack.wait_for_state(bet.id, BetState.IN_REVIEW)


def in_conflict(stack: Stack) -> BetSnapshot:
    """Refunded, then a late win: a conflict review on a final bet."""
    bet = stack.wait_for_state(stack.place("fencing", fate="unknown", stake="8.00").id,
                               BetState.REFUNDED)
    report_result(stack.context, "fencing", bet.bet_ref, payout="120.00", currency="EUR")
    wait_until(lambda: [r.reason for r in stack.reviews(bet.id)] == ["conflict"], 20)
    return bet


def open_difference(stack: Stack) -> int:
    """A round the PG-like provider played that betguard never heard of: reconciled, it
    stays an open difference until a person closes it."""
    start, ref = datetime.now(UTC), pg_round_id()
    stack.pgsoft_sim.call("POST", "/_sim/bets", {
        "bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "returned",
        "payout": "5.00", "lag": 0}, expect=201)
    time.sleep(FEED_LAG + 0.5)  # past the feed's lag: the horizon covers the round
    report = reconcile(stack.context, "pgsoft", start, datetime.now(UTC))
    [difference] = [found for found in report.differences if found.bet_ref == ref]
    assert difference.kind == "missing_here", difference
    return difference.id


@pytest.fixture(scope="module")
def examples(stack: Stack) -> Examples:
    settle, refund, recheck = (in_review(stack) for _ in range(3))
    bets = {
        "acme/BET-123": settle, "acme/BET-124": refund, "acme/BET-125": recheck,
        "acme/BET-126": in_conflict(stack),
        "acme/BET-127": stack.place("sleepy", fate="never"),
        "acme/BET-130": rejected_refund(stack, for_good=False),
        "acme/BET-131": rejected_refund(stack, for_good=True),
        "acme/BET-132": rejected_refund(stack, for_good=True),
    }
    return Examples(bets, {"acme": "sleepy", "lotus": "pgsoft",
                           "42": str(open_difference(stack))})


def operator_lines() -> list[Shown]:
    return [shown for shown in shell_lines(OPERATOR_PAGES) if betguard_args(shown) is not None]


@dataclass(frozen=True)
class Ran:
    folder: Path  # where the lines ran: the reports they write land there
    runs: dict[str, Run]  # by the line as the page shows it


@pytest.fixture(scope="module")
def ran(stack: Stack, examples: Examples, tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """Every line of the operator's pages, run once, in the order the pages give them."""
    folder = tmp_path_factory.mktemp("documented")
    runs = {shown.line: betguard(stack, *examples.written(shown), cwd=folder, timeout=120)
            for shown in operator_lines()}
    return Ran(folder, runs)


@pytest.mark.parametrize("shown", operator_lines(), ids=str)
def test_each_line_of_the_operators_pages_runs_as_written(ran: Ran, shown: Shown) -> None:
    run = ran.runs[shown.line]
    # reconcile's exit code 1 is its answer "differences found", as the page says
    allowed = {0, 1} if (betguard_args(shown) or [""])[0] == "reconcile" else {0}

    assert run.code in allowed, f"{shown}: exit {run.code}\n{run.err}"
    assert run.err == "" or run.code == 1, run.err


def test_the_resolutions_the_pages_show_do_what_the_pages_say(
    stack: Stack, examples: Examples, ran: Ran,
) -> None:
    bet = {name: bet.id for name, bet in examples.bets.items()}
    settled = stack.bet(bet["acme/BET-123"])
    assert (settled.state, settled.payout) == (BetState.SETTLED, Decimal("25.00"))
    stack.wait_for_state(bet["acme/BET-124"], BetState.REFUNDED)
    assert stack.bet(bet["acme/BET-125"]).state is BetState.PENDING  # checked again
    acknowledged = stack.reviews(bet["acme/BET-126"])
    assert [(r.resolution, r.operator) for r in acknowledged] == [("acknowledged", "alice")]
    assert stack.bet(bet["acme/BET-126"]).state is BetState.REFUNDED  # the refund stands
    stack.wait_for_state(bet["acme/BET-130"], BetState.REFUNDED)  # retried, same key
    outside = [e for e in stack.history(bet["acme/BET-131"]) if e.kind == "bet_refunded"]
    assert [e.detail["reference"] for e in outside] == ["TRX-88412"]
    won = stack.bet(bet["acme/BET-132"])
    assert (won.state, won.payout) == (BetState.SETTLED, Decimal("40.00"))
    closed = betguard(stack, "differences", "list", "--all", "--json").json()
    [difference] = [d for d in closed if str(d["id"]) == examples.names["42"]]
    assert difference["resolution"], difference
    assert (ran.folder / "recon.csv").is_file() and (ran.folder / "recon.html").is_file()
