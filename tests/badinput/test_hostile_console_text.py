"""The console shows hostile text as text: a note holding markup, a script, a template
expression or entities reads back character for character on the bet's page, escaped,
and the page carries no script but the app's own."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from markupsafe import escape

from tests.badinput.console_cases import CASES, TextCase
from tests.e2e.console import form_token, new_person, signed_in
from tests.integration.api_server import Api
from tests.integration.harness import Stack


@pytest.fixture(scope="module")
def in_review(api: Api, stack: Stack) -> dict[str, dict[str, Any]]:
    """One bet in review per case, placed together (they reach review together)."""
    placed = {case.name: api.place(stack, "reviewer", fate="never") for case in CASES}
    return {name: api.wait_for_state(bet, "in_review")["bet"] for name, bet in placed.items()}


@pytest.fixture(scope="module")
def operator(api: Api, stack: Stack) -> requests.Session:
    return signed_in(api.url, new_person(stack.context, "operator"))


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_a_hostile_note_reads_back_as_text_on_the_bets_page(
        case: TextCase, api: Api, in_review: dict[str, dict[str, Any]],
        operator: requests.Session) -> None:
    bet = in_review[case.name]
    page_url = f"{api.url}/console/bets/{bet['id']}"
    decided = operator.post(f"{page_url}/decide", timeout=10, data={
        "csrf": form_token(operator.get(page_url, timeout=10).text), "resolution": "recheck",
        "note": case.text})
    assert decided.status_code == 200, decided.text[:500]  # after the redirect
    page = operator.get(page_url, timeout=10).text
    story = page.split('id="story"')[1]
    assert str(escape(case.text.strip())) in story  # Jinja's own escaping, character for character
    if any(c in case.text for c in "<>\"'&"):
        assert case.text not in page
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/console/static/console.js" defer>']
