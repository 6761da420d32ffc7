"""Four eyes and people's accounts on the command line: ``betguard user`` manages the
accounts, and a big decision typed by one name waits for an account with the approver
role, never the proposer's, before money moves."""

from __future__ import annotations

import secrets

from betguard.models.domain.states import BetState
from tests.integration.harness import Stack, run_betguard
from tests.integration.ops import betguard, label, one_error_line


def _user(stack: Stack, *args: str, password: str) -> tuple[int, str, str]:
    import subprocess

    from tests.integration.harness import BETGUARD

    done = subprocess.run([BETGUARD, "user", *args, "--password-stdin", "--by", "tests"],
                          env=dict(stack.env), input=password + "\n", capture_output=True,
                          text=True, timeout=60, check=False)
    return done.returncode, done.stdout, done.stderr


def test_user_add_makes_an_account_that_user_list_shows_and_disable_ends(
        stack: Stack) -> None:
    name = f"ops-{secrets.token_hex(3)}"
    code, out, err = _user(stack, "add", name, "--role", "approver",
                           password="correct horse battery")
    assert code == 0 and f"account {name} added (approver)" in out, err
    listed = betguard(stack, "user", "list", "--json").json()
    assert {"name": name, "role": "approver", "disabled": False, "locked_until": None} in listed
    disabled = betguard(stack, "user", "disable", name, "--by", "tests")
    assert disabled.code == 0 and "disabled" in disabled.out
    assert [a["disabled"] for a in betguard(stack, "user", "list", "--json").json()
            if a["name"] == name] == [True]


def test_a_short_password_and_a_bad_name_are_refused_naming_the_field(stack: Stack) -> None:
    code, _, err = _user(stack, "add", f"ops-{secrets.token_hex(3)}", "--role", "viewer",
                         password="short")
    assert code == 1 and "password: must be at least 12 characters" in err
    code, _, err = _user(stack, "add", "Bad Name!", "--role", "viewer",
                         password="long enough password")
    assert code == 1 and "name: " in err


def test_a_big_refund_typed_on_the_cli_waits_for_an_approver_account(stack: Stack) -> None:
    bet = stack.place("reviewer", fate="never", stake="800.00")
    stack.wait_for_state(bet.id, BetState.IN_REVIEW)
    proposed = betguard(stack, "review", "resolve", label(bet), "--refund",
                        "--note", "provider lost it", "--operator", "alice")
    assert proposed.code == 0 and "waits for an approver" in proposed.out, proposed.err
    assert stack.bet(bet.id).state is BetState.IN_REVIEW
    [waiting] = [p for p in betguard(stack, "review", "proposals", "--json").json()
                 if p["ref"] == label(bet)]

    # A name with no account acts as an operator: it may propose, never approve.
    one_error_line(betguard(stack, "review", "approve", str(waiting["id"]), "--note", "ok",
                            "--operator", "mallory"), "only an approver or an admin")
    approver = f"approver-{secrets.token_hex(3)}"
    assert _user(stack, "add", approver, "--role", "approver",
                 password="a long approver password")[0] == 0
    done = run_betguard(stack.env, "review", "approve", str(waiting["id"]),
                        "--note", "confirmed", "--operator", approver)
    assert done.code == 0 and f"approved by {approver}" in done.out, done.err
    stack.wait_for_state(bet.id, BetState.REFUNDED)
    refunds = [r for r in stack.truth()["refunds"].values() if r["bet_ref"] == bet.bet_ref]
    assert len(refunds) == 1
