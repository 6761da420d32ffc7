"""The ops command line, run as the real ``betguard`` console script against the
running stack: bets in every state, read back and decided through the CLI."""

from __future__ import annotations

import os
import pty
import secrets
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store.tables import Bet, Review
from betguard.services.intake import place_bet
from betguard.services.results import report_result
from tests.integration.harness import BETGUARD, Stack, bet_payload, wait_until
from tests.integration.ops import betguard, label, one_error_line

pytestmark = pytest.mark.integration





@dataclass(frozen=True)
class Cast:
    """Bets in every state the commands must show, placed once for the module."""

    pending: BetSnapshot  # sleepy, 777.00: its first check is a minute away
    quiet: BetSnapshot  # sleepy: re-checked by hand
    lost: BetSnapshot  # sleepy: its wake-up gets "lost" for the sweep to find
    settled: BetSnapshot
    refunded: BetSnapshot
    checked: BetSnapshot  # pending, checked again and again after two malformed answers
    old: BetSnapshot  # placed two hours ago
    reviews: list[BetSnapshot]  # in review at the deadline
    conflicts: list[BetSnapshot]  # refunded, then a late win opened a conflict review


@pytest.fixture(scope="module")
def cast(stack: Stack) -> Cast:
    pending, quiet, lost = (stack.place("sleepy", fate="never", stake=s)
                            for s in ("777.00", "10.00", "10.00"))
    settled = stack.place("patient", fate="returned", payout="25.00")
    report_result(stack.context, "patient", settled.bet_ref, payout="25.00", currency="EUR")
    refunded = stack.place("fencing", fate="unknown", stake="12.50")
    checked = stack.place("patient", fate="never")
    stack.sim("POST", "/_sim/faults", {"bet_ref": checked.bet_ref, "fault": "not_json", "times": 2})
    conflicts = [stack.place("fencing", fate="unknown", stake="8.00") for _ in range(2)]
    reviews = [stack.place("reviewer", fate="never") for _ in range(4)]
    old = place_old_bet(stack, hours=2)
    for bet in [refunded, old, *conflicts]:
        stack.wait_for_state(bet.id, BetState.REFUNDED)
    for bet in conflicts:
        report_result(stack.context, "fencing", bet.bet_ref, payout="120.00", currency="EUR")
    wait_until(lambda: "provider_answered" in stack.kinds(checked.id), 20)
    reviews = [stack.wait_for_state(bet.id, BetState.IN_REVIEW) for bet in reviews]
    return Cast(pending, quiet, lost, stack.bet(settled.id), stack.bet(refunded.id), checked,
                old, reviews, conflicts)


def place_old_bet(stack: Stack, *, hours: int) -> BetSnapshot:
    ref = f"bet-{secrets.token_hex(6)}"
    stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "5.00", "currency": "EUR",
                                     "fate": "never"})
    placed_at = (datetime.now(UTC) - timedelta(hours=hours)).isoformat()
    payload = {**bet_payload("patient", ref, "5.00"), "placed_at": placed_at}
    return place_bet(stack.context, payload).bet


# -- reading ---------------------------------------------------------------------------------

def test_help_works_without_any_environment() -> None:
    for args in (["--help"], ["bets", "list", "--help"], ["review", "resolve", "--help"]):
        done = subprocess.run([BETGUARD, *args], env={"PATH": os.environ.get("PATH", "")},
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    assert "--acknowledge" in done.stdout and "BETGUARD_OPERATOR" in done.stdout


def test_bets_list_shows_the_newest_bets_first_as_the_database_has_them(
    stack: Stack, cast: Cast
) -> None:
    listed = betguard(stack, "bets", "list", "--json", "--limit", "1000").json()

    with stack.context.db.unit_of_work() as session:
        rows = {b.id: b for b in session.scalars(select(Bet))}
        session.expunge_all()
    newest_first = sorted(rows.values(), key=lambda b: (b.placed_at, b.id), reverse=True)
    assert [item["id"] for item in listed] == [b.id for b in newest_first]
    for item in listed:
        row = rows[item["id"]]
        assert item["ref"] == f"{row.provider}/{row.bet_ref}"
        assert (Decimal(item["stake"]), item["currency"]) == (row.stake, row.currency)
        assert datetime.fromisoformat(item["placed_at"]) == row.placed_at
        if item["state"] in ("settled", "refunded"):  # final: cannot have moved since
            assert item["state"] == row.state
            assert (item["payout"] and Decimal(item["payout"])) == row.payout
    [pending] = [item for item in listed if item["id"] == cast.pending.id]
    assert (pending["state"], pending["stake"], pending["attempts"]) == ("pending", "777.00", 0)
    assert datetime.fromisoformat(pending["next_check_at"]) == cast.pending.next_check_at


def test_bets_list_filters_by_state_provider_amount_and_age(stack: Stack, cast: Cast) -> None:
    big = betguard(stack, "bets", "list", "--json", "--state", "pending", "--provider", "sleepy",
                   "--amount-at-least", "700").json()
    final = [item for provider in ("patient", "fencing") for item in betguard(
        stack, "bets", "list", "--json", "--state", "settled", "--state", "refunded",
        "--provider", provider).json()]
    old = betguard(stack, "bets", "list", "--json", "--older-than", "1h").json()
    newest = betguard(stack, "bets", "list", "--json", "--limit", "2").json()

    assert [item["id"] for item in big] == [cast.pending.id]
    assert {item["state"] for item in final} <= {"settled", "refunded"}
    assert {cast.settled.id, cast.refunded.id} <= {item["id"] for item in final}
    # other tests of the session placed bets in the past too: the list is the database's
    assert [item["id"] for item in old] == ids_placed_before(stack, timedelta(hours=1))
    assert cast.old.id in [item["id"] for item in old]
    assert all(item["age_seconds"] >= 3600 for item in old)
    assert len(newest) == 2


def test_bets_list_prints_a_plain_table_when_stdout_is_not_a_terminal(
    stack: Stack, cast: Cast
) -> None:
    run = betguard(stack, "bets", "list", "--provider", "sleepy")

    header, *lines = run.out.splitlines()
    assert header.split() == ["ref", "state", "stake", "payout", "placed", "age", "next",
                              "check", "attempts"]
    [row] = [line for line in lines if label(cast.pending) in line]
    assert row.split()[:4] == [label(cast.pending), "pending", "777.00", "EUR"]
    assert "\x1b" not in run.out


def test_bets_list_draws_a_coloured_table_on_a_terminal(stack: Stack, cast: Cast) -> None:
    master, terminal = pty.openpty()
    env = {k: v for k, v in stack.env.items() if k != "NO_COLOR"}
    process = subprocess.Popen([BETGUARD, "bets", "list", "--provider", "sleepy"],
                               stdout=terminal, stderr=subprocess.DEVNULL,
                               env=env | {"TERM": "xterm-256color", "COLUMNS": "200"})
    os.close(terminal)
    screen = b""
    while chunk := read_or_eof(master):
        screen += chunk
    os.close(master)

    assert process.wait(timeout=60) == 0
    assert "┏" in screen.decode() and b"\x1b[" in screen
    assert cast.pending.bet_ref in screen.decode()


def read_or_eof(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # Linux reports a terminal closed by its last writer as EIO
        return b""


@pytest.mark.parametrize(("who", "lines"), [
    ("refunded", ["placed: stake 12.50 EUR", "check 1: provider says unknown (",
                  "refund decided: provider accepted the cancel request", "(key refund:",
                  "reviews: none"]),
    ("checked", ["check 1: provider error ProviderInvalidResponse: ", "rescheduled check 2 for ",
                 ": provider says pending ("]),
    ("old", ["cancel accepted", "refund decided: provider accepted the cancel request"]),
])
def test_bets_show_tells_a_bets_story_one_line_per_event(
    stack: Stack, cast: Cast, who: str, lines: list[str]
) -> None:
    bet: BetSnapshot = getattr(cast, who)
    run = betguard(stack, "bets", "show", label(bet))

    assert run.code == 0, run.err
    assert run.out.splitlines()[0].split()[:2] == [label(bet), f"#{bet.id}"]
    assert all(line in run.out for line in lines), run.out


def test_bets_show_json_by_id_matches_the_history_in_the_database(
    stack: Stack, cast: Cast
) -> None:
    shown = betguard(stack, "bets", "show", f"#{cast.conflicts[0].id}", "--json").json()

    history = stack.history(cast.conflicts[0].id)
    assert (shown["bet"]["state"], shown["bet"]["stake"]) == ("refunded", "8.00")
    assert [(e["kind"], e["actor"], datetime.fromisoformat(e["at"])) for e in shown["events"]] \
        == [(e.kind, e.actor, e.at) for e in history]
    assert all(e["explanation"] for e in shown["events"])
    assert shown["events"][-1]["explanation"] == (
        "review opened (conflict): decided refunded, but game-server says settled, "
        "payout 120.00 EUR")
    [review] = shown["reviews"]
    assert (review["reason"], review["resolved_at"]) == ("conflict", None)


def test_review_list_shows_the_open_queue_oldest_first(stack: Stack, cast: Cast) -> None:
    listed = betguard(stack, "review", "list", "--json").json()
    conflicts = betguard(stack, "review", "list", "--reason", "conflict")

    with stack.context.db.unit_of_work() as session:
        reasons = {r.id: r.reason for r in session.scalars(select(Review))}
    opened = [datetime.fromisoformat(item["opened_at"]) for item in listed]
    assert opened == sorted(opened)
    assert all(item["resolved_at"] is None and reasons[item["id"]] == item["reason"]
               for item in listed)
    why = {item["bet_id"]: item["why"] for item in listed}
    assert {why[bet.id] for bet in cast.reviews} == {
        "deadline passed; policy sends unreturned bets to review"}
    assert all(label(bet) in conflicts.out for bet in cast.conflicts)
    assert "decided refunded, but game-server says settled" in conflicts.out
    assert label(cast.reviews[0]) not in conflicts.out


def test_stats_match_the_database(stack: Stack, cast: Cast) -> None:
    before = count_by_provider_and_state(stack)
    stats = betguard(stack, "stats", "--json").json()
    after = count_by_provider_and_state(stack)

    assert stats["bets"] in (before, after)  # workers keep moving bets meanwhile
    oldest = oldest_pending_ref(stack, "sleepy")  # other tests leave sleepy bets pending too
    assert stats["oldest_pending"]["sleepy"]["ref"] == oldest
    assert cast.pending.placed_at >= bet_placed_at(stack, oldest)
    errors = stats["provider_errors"]["patient"]
    assert errors["errors"] >= 2 and errors["answered"] >= 1
    assert errors["rate"] == round(errors["errors"] / (errors["answered"] + errors["errors"]), 4)
    assert stats["open_reviews"]["conflict"] >= 2 and stats["open_reviews"]["deadline"] >= 4
    human = betguard(stack, "stats").out
    for title in ("oldest pending bet", "provider errors, last hour", "open reviews",
                  "stuck refunds"):
        assert title in human


def ids_placed_before(stack: Stack, age: timedelta) -> list[int]:
    """Ids of the bets placed more than ``age`` ago, newest first (as ``bets list``)."""
    cutoff = datetime.now(UTC) - age
    with stack.context.db.unit_of_work() as session:
        return list(session.scalars(select(Bet.id).where(Bet.placed_at <= cutoff)
                                    .order_by(Bet.placed_at.desc(), Bet.id.desc())))


def oldest_pending_ref(stack: Stack, provider: str) -> str:
    with stack.context.db.unit_of_work() as session:
        ref = session.scalars(select(Bet.bet_ref)
                              .where(Bet.provider == provider, Bet.state == "pending")
                              .order_by(Bet.placed_at, Bet.id).limit(1)).one()
    return f"{provider}/{ref}"


def bet_placed_at(stack: Stack, label_: str) -> datetime:
    provider, ref = label_.split("/", 1)
    with stack.context.db.unit_of_work() as session:
        return session.scalars(select(Bet.placed_at).where(
            Bet.provider == provider, Bet.bet_ref == ref)).one()


def count_by_provider_and_state(stack: Stack) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    with stack.context.db.unit_of_work() as session:
        rows = session.execute(select(Bet.provider, Bet.state, func.count())
                               .group_by(Bet.provider, Bet.state))
        for provider, state, count in rows:
            counts.setdefault(provider, {})[state] = count
    return counts


def test_stats_list_a_refund_the_wallet_keeps_failing_as_stuck(stack: Stack) -> None:
    stack.sim("POST", "/_sim/knobs", {"wallet_error_rate": 1.0})
    try:
        bet = stack.place("fencing", fate="unknown", stake="3.00")
        wait_until(lambda: stack.kinds(bet.id).count("refund_failed") >= 3, 30)
        stuck = betguard(stack, "stats", "--json").json()["stuck_refunds"]
    finally:
        stack.sim("POST", "/_sim/knobs", {"wallet_error_rate": 0.0})

    [item] = [item for item in stuck if item["bet_id"] == bet.id]
    assert item["ref"] == label(bet) and item["failures"] >= 3
    stack.wait_for_state(bet.id, BetState.REFUNDED)


# -- deciding --------------------------------------------------------------------------------

def test_resolving_a_review_with_a_payout_settles_the_bet(stack: Stack, cast: Cast) -> None:
    bet = cast.reviews[0]
    run = betguard(stack, "review", "resolve", label(bet), "--settle", "40",
                   "--note", "support confirmed a win", "--operator", "alice")

    assert run.code == 0 and "now settled (payout 40.00 EUR)" in run.out, run.err
    settled = stack.bet(bet.id)
    assert (settled.state, settled.payout) == (BetState.SETTLED, Decimal("40.00"))
    [review] = stack.reviews(bet.id)
    assert (review.resolution, review.operator) == ("settled", "alice")
    story = betguard(stack, "bets", "show", label(bet)).out
    assert "review resolved by alice: settled — support confirmed a win" in story


def test_resolving_a_review_with_a_refund_returns_the_stake_once(stack: Stack, cast: Cast) -> None:
    bet = cast.reviews[1]
    result = betguard(stack, "review", "resolve", f"#{bet.id}", "--refund", "--json",
                      "--note", "provider lost the round", "--operator", "alice").json()

    assert result["resolution"] == "refunded"
    assert result["bet"]["state"] in ("refund_pending", "refunded")
    stack.wait_for_state(bet.id, BetState.REFUNDED)
    refunds = [r for r in stack.truth()["refunds"].values() if r["bet_ref"] == bet.bet_ref]
    assert len(refunds) == 1


def test_resolving_with_a_recheck_puts_the_bet_back_to_pending_until_the_new_deadline(
    stack: Stack, cast: Cast
) -> None:
    bet = cast.reviews[2]
    asked = datetime.now(UTC)
    run = betguard(stack, "review", "resolve", label(bet), "--recheck", "--deadline", "30m",
                   "--note", "provider asks for time", BETGUARD_OPERATOR="carol")

    assert run.code == 0, run.err
    pending = stack.bet(bet.id)
    assert pending.state is BetState.PENDING
    assert asked + timedelta(minutes=30) <= pending.deadline <= asked + timedelta(minutes=31)
    [review] = stack.reviews(bet.id)
    assert (review.resolution, review.operator) == ("recheck", "carol")
    wait_until(lambda: stack.kinds(bet.id)[-1] == "check_rescheduled", 20)


def test_acknowledging_a_conflict_review_closes_it_and_leaves_the_refund_alone(
    stack: Stack, cast: Cast
) -> None:
    bet = cast.conflicts[1]
    run = betguard(stack, "review", "resolve", f"#{bet.id}", "--acknowledge",
                   "--note", "refund stands, provider informed", "--operator", "dave")

    assert run.code == 0, run.err
    assert (stack.bet(bet.id).state, stack.bet(bet.id).payout) == (BetState.REFUNDED, None)
    still_open = betguard(stack, "review", "list", "--reason", "conflict", "--json").json()
    everything = betguard(stack, "review", "list", "--all", "--reason", "conflict",
                          "--json").json()
    assert bet.id not in {item["bet_id"] for item in still_open}
    [closed] = [item for item in everything if item["bet_id"] == bet.id]
    assert (closed["resolution"], closed["operator"]) == ("acknowledged", "dave")


def test_recheck_orders_a_check_of_a_pending_bet_now(stack: Stack, cast: Cast) -> None:
    bet = stack.bet(cast.quiet.id)  # read now: a slow module outlives its first check's minute
    answered = stack.kinds(bet.id).count("provider_answered")
    result = betguard(stack, "recheck", label(bet), "--operator", "bob", "--json").json()

    assert (result["ref"], result["attempt"]) == (label(bet), bet.check_attempt)
    wait_until(lambda: stack.kinds(bet.id).count("provider_answered") > answered, 20)
    ordered = next(e for e in stack.history(bet.id) if e.kind == "recheck_ordered")
    assert ordered.actor == "operator:bob"


def test_a_recheck_while_a_check_waits_for_the_provider_says_so_and_sends_nothing(
    stack: Stack,
) -> None:
    ref = f"bet-{secrets.token_hex(6)}"
    stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                     "fate": "never"})
    stack.sim("POST", "/_sim/knobs", {"timeout_seconds": 3.0})  # the answer is held 3 s
    try:
        stack.sim("POST", "/_sim/faults", {"bet_ref": ref, "fault": "timeout", "times": 1})
        bet = place_bet(stack.context, bet_payload("slow", ref)).bet
        wait_until(lambda: stack.kinds(bet.id)[-1] == "check_started", 10)
        result = betguard(stack, "recheck", label(bet), "--operator", "bob", "--json").json()
        text = betguard(stack, "recheck", label(bet), "--operator", "bob")
        wait_until(lambda: "provider_answered" in stack.kinds(bet.id), 20)
    finally:
        stack.sim("POST", "/_sim/knobs", {"timeout_seconds": 5.0})

    assert (result["ordered"], result["dispatched_at"]) == (False, None)
    assert result["in_flight_until"] is not None
    assert "a check is in flight until" in text.out and "its answer will come" in text.out
    history = stack.kinds(bet.id)
    assert "recheck_ordered" not in history
    assert history[:history.index("provider_answered")].count("check_started") == 1
    report_result(stack.context, "slow", ref, payout="0.00", currency="EUR")


def test_sweep_dispatches_a_lost_wakeup_and_names_it(stack: Stack, cast: Cast) -> None:
    _, took = timed_sweep(stack)
    for _ in range(6):
        # The wake-up is lost and the bet falls due just before the command sweeps
        # (no grace); beat, with its half-second grace, would see it only afterwards.
        due = datetime.now(UTC) + timedelta(seconds=max(0.0, took - 0.35))
        with stack.context.db.unit_of_work() as session:
            session.execute(update(Bet).where(Bet.id == cast.lost.id).values(next_check_at=due))
            session.commit()
        report, took = timed_sweep(stack)
        kinds = [d["kind"] for d in report["dispatched"]]
        assert (report["checks_dispatched"], report["refunds_dispatched"]) == (
            kinds.count("check"), kinds.count("refund"))
        if cast.lost.id in {d.get("bet_id") for d in report["dispatched"]}:
            break
    else:
        pytest.fail("beat's sweep came first every time")
    assert "check_dispatched_by_sweep" in stack.kinds(cast.lost.id)
    human = betguard(stack, "sweep")
    assert human.code == 0 and human.out.startswith("dispatched ")


def timed_sweep(stack: Stack) -> tuple[Any, float]:
    started = time.monotonic()
    report = betguard(stack, "sweep", "--json", BETGUARD_DUE_GRACE="0").json()
    return report, time.monotonic() - started


# -- refusing --------------------------------------------------------------------------------

def test_an_unknown_reference_is_one_error_line_and_exit_code_1(stack: Stack) -> None:
    one_error_line(betguard(stack, "bets", "show", "refunder/no-such-bet"),
                   "error: no bet refunder/no-such-bet")
    one_error_line(betguard(stack, "recheck", "#987654321", "--operator", "bob"),
                   "error: no bet #987654321")
    one_error_line(betguard(stack, "review", "resolve", "patient/nope", "--refund",
                            "--note", "n", "--operator", "bob"), "error: no bet patient/nope")
    one_error_line(betguard(stack, "bets", "show", "nonsense"), "provider/bet_ref or #id")


def test_settling_a_refunded_bet_is_refused_and_changes_nothing(stack: Stack, cast: Cast) -> None:
    bet = cast.conflicts[0]
    version = stack.row(bet.id).version

    with_review = betguard(stack, "review", "resolve", label(bet), "--settle", "120",
                           "--note", "n", "--operator", "eve")
    without = betguard(stack, "review", "resolve", label(cast.refunded), "--settle", "1",
                       "--note", "n", "--operator", "eve")

    one_error_line(with_review, "is refunded; only acknowledging its review is possible")
    one_error_line(without, "has no open review")
    assert stack.row(bet.id).version == version and stack.bet(bet.id).payout is None
    assert [r.resolved_at for r in stack.reviews(bet.id)] == [None]


@pytest.mark.parametrize(("args", "message"), [
    (["--settle", "lots"], "error: payout: 'lots' is not a decimal number"),
    (["--recheck", "--deadline", "tomorrow"], "error: --deadline: 'tomorrow' is neither"),
    (["--recheck", "--deadline", "2000-01-01T00:00:00Z"], "deadline: must be in the future"),
])
def test_a_malformed_decision_is_one_error_line_and_the_review_stays_open(
    stack: Stack, cast: Cast, args: list[str], message: str
) -> None:
    bet = cast.reviews[3]
    version = stack.row(bet.id).version

    run = betguard(stack, "review", "resolve", label(bet), *args, "--note", "n",
                   "--operator", "eve")

    one_error_line(run, message)
    assert stack.row(bet.id).version == version
    assert [r.resolved_at for r in stack.reviews(bet.id)] == [None]


@pytest.mark.parametrize(("args", "message"), [
    (["--settle", "5", "--refund", "--operator", "eve"], "exactly one of"),
    (["--operator", "eve"], "exactly one of"),
    (["--refund", "--deadline", "30m", "--operator", "eve"], "--deadline goes with --recheck"),
    (["--refund"], "Missing option '--operator'"),
])
def test_a_misused_resolve_command_is_a_usage_error(
    stack: Stack, cast: Cast, args: list[str], message: str
) -> None:
    bet = cast.reviews[3]

    run = betguard(stack, "review", "resolve", label(bet), *args, "--note", "n")

    assert run.code == 2 and "Usage:" in run.err and message in run.err, run.err
    assert stack.bet(bet.id).state is BetState.IN_REVIEW


def test_bad_list_filters_and_a_recheck_of_a_settled_bet_are_one_error_line(
    stack: Stack, cast: Cast
) -> None:
    one_error_line(betguard(stack, "bets", "list", "--older-than", "5x"),
                   "error: --older-than: '5x' is not a duration like 30m, 2h or 1d")
    one_error_line(betguard(stack, "bets", "list", "--amount-at-least", "many"),
                   "error: --amount-at-least: 'many'")
    one_error_line(betguard(stack, "recheck", label(cast.settled), "--operator", "bob"),
                   "is settled, not pending")
