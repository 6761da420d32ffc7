"""The console's pages and forms. Every page checks the person's role on the server;
every form checks its CSRF token; every decision goes through the same services as the
API and the CLI (four eyes included) and is written to the access log under the
person's account."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool

from betguard.api.console import forms, reads
from betguard.api.console.guard import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    AdminPerson,
    ApproverPerson,
    OperatorPerson,
    Refused,
    Viewer,
    address,
    check_login_token,
    checked_form,
    config,
    current,
    limit_decisions,
    new_login_token,
)
from betguard.api.console.money_effects import options
from betguard.api.errors import status_of
from betguard.api.params import RowId, context
from betguard.models.domain.access import Actor, Role
from betguard.models.domain.errors import BetguardError, InvalidCommand
from betguard.models.domain.events import ReviewReason
from betguard.models.domain.money import wire_amount
from betguard.models.domain.states import BetState
from betguard.ops.views import age, short_time
from betguard.services import accounts, approvals, bulk_rechecks, game_pauses
from betguard.services.accounts import SignedIn, SignInRefused
from betguard.services.context import Context
from betguard.services.notifications import resend_dead
from betguard.services.reviews import Resolve, describe_recheck, order_recheck

HERE = Path(__file__).parent
# Every value is escaped (a bet reference or a note holding <script> shows as text).
templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(HERE / "templates"),
                                            autoescape=True, undefined=StrictUndefined))
templates.env.globals.update(short_time=short_time, age=age, Role=Role)
templates.env.filters["money"] = wire_amount


def brief(facts: Mapping[str, Any]) -> str:
    """One side's facts of a reconciliation difference in a line: rows as their status,
    payout and currency, other values as they are."""
    def one(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(one(item) for item in value) or "none"
        if isinstance(value, dict):
            shown = [str(value[key]) for key in ("status", "payout", "currency", "row_id")
                     if value.get(key) is not None]
            return " ".join(shown) or "{}"
        return str(value)

    return "; ".join(f"{key}: {one(value)}" for key, value in sorted(facts.items())) or "none"


templates.env.filters["brief"] = brief
router = APIRouter(prefix=PREFIX, include_in_schema=False)
T = TypeVar("T")

# What a finished form says on the page it leads to: fixed texts, never taken from the
# address bar as they are, so a link cannot make the console say something else.
NOTICES = {
    "resolved": "Decision applied.",
    "proposed": "Proposed: it waits for a second person with the approver role.",
    "approved": "Approved: the decision is applied.",
    "rejected": "Rejected: nothing moved.",
    "rechecked": "Re-check ordered.",
    "resent": "Dead letters sent again.",
    "bulk": "Bulk re-check started: its bets are checked at the provider's pace.",
    "paused": "Paused: the game server was told.",
    "resumed": "Resumed: the game server was told.",
    "account": "Account changed (in the access log).",
}


def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    person: SignedIn | None = getattr(request.state, "person", None)
    notice = NOTICES.get(request.query_params.get("done", ""))
    response: HTMLResponse = templates.TemplateResponse(
        request, template, status_code=status,
        context={"person": person, "notice": notice, "error": None} | values)
    return response


def refused_page(request: Request, refused: Refused) -> Response:
    if refused.sign_in:
        target = f"{PREFIX}/login?next={quote(request.url.path)}"
        return RedirectResponse(target, status_code=303)
    return page(request, "refused.html", status=refused.status, message=refused.message)


async def work(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work (the database) off the event loop."""
    return await run_in_threadpool(call, *args, **kwargs)


def ctx_of(request: Request) -> Context:
    return context(request)


def back(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}", status_code=303)


# -- signing in and out -------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, next: str = "") -> Response:
    if await current(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_form(request, next=next)


def _login_form(request: Request, *, next: str = "", error: str | None = None,
                name: str = "", status: int = 200) -> Response:
    token = new_login_token()
    response = page(request, "login.html", status=status, csrf=token, next=_safe_next(next),
                    error=error, name=name)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax",
                        secure=config(request).secure_cookies, path=PREFIX)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    check_login_token(request, form)
    name = str(form.get("name") or "")[:64]
    password = str(form.get("password") or "")
    settings = config(request)
    try:
        opened = await work(accounts.sign_in, ctx_of(request), name, password,
                            address=address(request), rules=settings.rules)
    except SignInRefused as refused:
        status = 429 if "too many" in refused.public else 401
        return _login_form(request, next=str(form.get("next") or ""), error=refused.public,
                           name=name, status=status)
    response = RedirectResponse(_safe_next(str(form.get("next") or "")), status_code=303)
    response.set_cookie(SESSION_COOKIE, opened.token, httponly=True, samesite="lax",
                        secure=settings.secure_cookies, path=PREFIX,
                        max_age=int(settings.rules.absolute.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, person: Viewer) -> Response:
    await checked_form(request, person)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await work(accounts.sign_out, ctx_of(request), token, address=address(request))
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def _safe_next(target: str) -> str:
    """Only a console path: a sign-in never sends anyone to another site."""
    if target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX


# -- reading --------------------------------------------------------------------------


@router.get("")
async def overview(request: Request, person: Viewer) -> Response:
    return page(request, "overview.html", view=await work(reads.overview, ctx_of(request)))


@router.get("/overview/live")
async def overview_live(request: Request, person: Viewer) -> Response:
    """The overview's numbers alone, for the page's script to swap in every few seconds."""
    return page(request, "_numbers.html", view=await work(reads.overview, ctx_of(request)))


@router.get("/reviews")
async def review_queue(request: Request, person: Viewer) -> Response:
    query = request.query_params
    ctx = ctx_of(request)
    try:
        wanted = reads.ReviewFilter(
            reason=forms.choice(query, "reason", {r.value for r in ReviewReason}),
            provider=forms.choice(query, "provider", set(ctx.policies)),
            min_amount=forms.amount(query, "min_amount"),
            max_amount=forms.amount(query, "max_amount"),
            older_than_minutes=forms.number(query, "older_than_minutes"))
    except BetguardError as bad:
        return page(request, "reviews.html", status=422, queue=[], error=str(bad),
                    query=query, providers=sorted(ctx.policies), reasons=list(ReviewReason))
    queue = await work(reads.review_queue, ctx, wanted)
    return page(request, "reviews.html", queue=queue, query=query, error=None,
                providers=sorted(ctx.policies), reasons=list(ReviewReason),
                now=ctx.clock())


@router.get("/bets")
async def bet_search(request: Request, person: Viewer) -> Response:
    query = request.query_params
    ctx = ctx_of(request)
    values: dict[str, Any] = dict(providers=sorted(ctx.policies),
                                  states=[s.value for s in BetState], query=query)
    try:
        wanted = reads.BetSearch(
            ref=forms.text(query, "ref", required=False, limit=128),
            player=forms.text(query, "player", required=False, limit=128),
            round=forms.text(query, "round", required=False, limit=128),
            provider=forms.choice(query, "provider", set(ctx.policies)),
            state=forms.choice(query, "state", {s.value for s in BetState}),
            placed_from=forms.moment(query, "placed_from"),
            placed_to=forms.moment(query, "placed_to"))
    except BetguardError as bad:
        return page(request, "bets.html", status=422, bets=None, error=str(bad), **values)
    bets = None if wanted.empty else await work(reads.search, ctx, wanted)
    return page(request, "bets.html", bets=bets, error=None, **values)


@router.get("/bets/{bet_id}")
async def bet_page(request: Request, bet_id: RowId, person: Viewer) -> Response:
    return await _bet_page(request, bet_id)


async def _bet_page(request: Request, bet_id: int, *, error: str | None = None,
                    status: int = 200, form: Mapping[str, Any] | None = None) -> Response:
    ctx = ctx_of(request)
    try:
        found = await work(reads.bet_page, ctx, bet_id)
    except BetguardError as missing:
        return page(request, "refused.html", status=404, message=str(missing))
    policy = ctx.policy(found.bet.provider)
    choices = options(found.bet, has_open_review=bool(found.open_reviews),
                      threshold=policy.four_eyes_above)
    return page(request, "bet.html", status=status, found=found, options=choices,
                threshold=policy.four_eyes_above, error=error, form=form or {},
                now=ctx.clock(), pending=found.bet.state == BetState.PENDING.value)


@router.get("/proposals")
async def proposal_list(request: Request, person: Viewer) -> Response:
    ctx = ctx_of(request)
    everything = request.query_params.get("all") == "1"
    found = await work(approvals.listing, ctx, state=None if everything else "open")
    return page(request, "proposals.html", proposals=list(reversed(found)) if everything
                else found, everything=everything)


@router.get("/differences")
async def difference_list(request: Request, person: Viewer) -> Response:
    everything = request.query_params.get("all") == "1"
    rows = await work(reads.differences, ctx_of(request), show_all=everything)
    return page(request, "differences.html", rows=rows, everything=everything)


@router.get("/notifications")
async def dead_letter_list(request: Request, person: Viewer) -> Response:
    return page(request, "dead_letters.html",
                rows=await work(reads.dead_letters, ctx_of(request)))


@router.get("/access")
async def access_log(request: Request, person: AdminPerson) -> Response:
    account = request.query_params.get("account") or None
    return page(request, "access.html", rows=await work(reads.access_log, ctx_of(request),
                                                        account), account=account)


# -- deciding -------------------------------------------------------------------------


@router.post("/bets/{bet_id}/decide")
async def decide(request: Request, bet_id: RowId, person: OperatorPerson) -> Response:
    form = await checked_form(request, person)
    ctx = ctx_of(request)
    try:
        await work(limit_decisions, ctx, person.actor, config(request).decisions_per_minute)
        provider, bet_ref = await work(reads.name_of, ctx, bet_id)
        resolution = forms.resolution(form)
        command = Resolve(provider, bet_ref, resolution,
                          person.actor.name, forms.text(form, "note") or "",
                          payout=forms.text(form, "payout", required=False, limit=40),
                          deadline=forms.moment(form, "deadline"),
                          reference=forms.text(form, "reference", required=False, limit=200))
        done = await work(approvals.decide, ctx, command, person.actor,
                          lifetime=config(request).proposal_lifetime)
    except BetguardError as refused:
        return await _bet_page(request, bet_id, error=str(refused),
                               status=status_of(refused), form=form)
    proposed = isinstance(done, approvals.Proposed)
    await _log(request, person.actor, "proposed" if proposed else "decided",
               bet=bet_id, resolution=resolution.value,
               proposal=done.proposal_id if isinstance(done, approvals.Proposed) else None)
    return back(f"{PREFIX}/bets/{bet_id}", "proposed" if proposed else "resolved")


@router.post("/bets/{bet_id}/recheck")
async def recheck(request: Request, bet_id: RowId, person: OperatorPerson) -> Response:
    await checked_form(request, person)
    ctx = ctx_of(request)
    try:
        await work(limit_decisions, ctx, person.actor, config(request).decisions_per_minute)
        provider, bet_ref = await work(reads.name_of, ctx, bet_id)
        done = await work(order_recheck, ctx, provider, bet_ref, operator=person.actor.name)
    except BetguardError as refused:
        return await _bet_page(request, bet_id, error=str(refused),
                               status=status_of(refused))
    await _log(request, person.actor, "recheck_ordered", bet=bet_id,
               message=describe_recheck(done))
    return back(f"{PREFIX}/bets/{bet_id}", "rechecked")


@router.post("/proposals/{proposal_id}/approve")
async def approve(request: Request, proposal_id: RowId, person: ApproverPerson) -> Response:
    return await _decide_proposal(request, proposal_id, person, approve=True)


@router.post("/proposals/{proposal_id}/reject")
async def reject(request: Request, proposal_id: RowId, person: OperatorPerson) -> Response:
    return await _decide_proposal(request, proposal_id, person, approve=False)


async def _decide_proposal(request: Request, proposal_id: int, person: SignedIn, *,
                           approve: bool) -> Response:
    form = await checked_form(request, person)
    ctx = ctx_of(request)
    try:
        await work(limit_decisions, ctx, person.actor, config(request).decisions_per_minute)
        note = forms.text(form, "note") or ""
        view = await work(approvals.find, ctx, proposal_id)
        if approve:
            await work(approvals.approve, ctx, proposal_id, person.actor, note)
        else:
            await work(approvals.reject, ctx, proposal_id, person.actor, note)
    except BetguardError as refused:
        found = await work(approvals.listing, ctx, state="open")
        return page(request, "proposals.html", status=status_of(refused), proposals=found,
                    everything=False, error=f"proposal #{proposal_id}: {refused}"
                    if f"#{proposal_id}" not in str(refused) else str(refused))
    await _log(request, person.actor, "approved" if approve else "rejected",
               proposal=proposal_id, bet=view.label, resolution=view.resolution)
    return back(f"{PREFIX}/bets/{view.bet_id}", "approved" if approve else "rejected")


@router.post("/notifications/resend")
async def resend(request: Request, person: OperatorPerson) -> Response:
    form = await checked_form(request, person)
    ctx = ctx_of(request)
    event_ids = [str(value) for value in form.getlist("event_id") if str(value)]
    if not event_ids:
        return page(request, "dead_letters.html", status=422,
                    rows=await work(reads.dead_letters, ctx),
                    error="event_id: choose at least one dead letter to send again")
    await work(limit_decisions, ctx, person.actor, config(request).decisions_per_minute)
    sent = await work(resend_dead, ctx, event_ids)
    await _log(request, person.actor, "notification_resent", event_ids=event_ids,
               notifications=sent)
    return back(f"{PREFIX}/notifications", "resent")


async def _log(request: Request, actor: Actor, action: str, **detail: Any) -> None:
    await work(accounts.record, ctx_of(request), actor, action, address=address(request),
               detail={key: value for key, value in detail.items() if value is not None})




# -- bulk work after an outage -----------------------------------------------------


@router.get("/bulk")
async def bulk_page(request: Request, person: Viewer) -> Response:
    return await _bulk_page(request)


@router.get("/bulk/live")
async def bulk_live(request: Request, person: Viewer) -> Response:
    """The jobs' progress alone, for the page's script to swap in every few seconds."""
    return page(request, "_jobs.html", jobs=await work(bulk_rechecks.recent, ctx_of(request)))


async def _bulk_page(request: Request, *, error: str | None = None, status: int = 200,
                     form: Mapping[str, Any] | None = None) -> Response:
    ctx = ctx_of(request)
    return page(request, "bulk.html", status=status, error=error, form=form or {},
                providers=sorted(ctx.policies),
                jobs=await work(bulk_rechecks.recent, ctx),
                pauses=await work(game_pauses.current, ctx))


@router.post("/bulk/recheck")
async def bulk_recheck(request: Request, person: OperatorPerson) -> Response:
    form = await checked_form(request, person)
    ctx = ctx_of(request)
    try:
        await work(limit_decisions, ctx, person.actor, config(request).decisions_per_minute)
        provider = forms.choice(form, "provider", set(ctx.policies), required=True) or ""
        placed_from = forms.moment(form, "placed_from")
        placed_to = forms.moment(form, "placed_to")
        if placed_from is None or placed_to is None:
            raise InvalidCommand(f"{'placed_from' if placed_from is None else 'placed_to'}: "
                                 "must not be empty")
        job = await work(bulk_rechecks.start, ctx, provider, placed_from, placed_to,
                         person.actor, forms.text(form, "note") or "")
    except BetguardError as refused:
        return await _bulk_page(request, error=str(refused), status=status_of(refused),
                                form=form)
    await _log(request, person.actor, "bulk_recheck", job=job.id, provider=job.provider,
               bets=job.total)
    return back(f"{PREFIX}/bulk", "bulk")


@router.post("/pauses/{action}")
async def pause_or_resume(request: Request, action: str, person: OperatorPerson) -> Response:
    form = await checked_form(request, person)
    ctx = ctx_of(request)
    if action not in ("hold", "release"):
        raise Refused(404, f"no such action: {action}")
    try:
        await work(limit_decisions, ctx, person.actor, config(request).decisions_per_minute)
        provider = forms.choice(form, "provider", set(ctx.policies), required=True) or ""
        game_id = forms.text(form, "game_id", limit=128) or ""
        flip = game_pauses.hold if action == "hold" else game_pauses.release
        changed = await work(flip, ctx, provider, game_id, person.actor)
    except BetguardError as refused:
        return await _bulk_page(request, error=str(refused), status=status_of(refused),
                                form=form)
    await _log(request, person.actor, "game_paused" if action == "hold" else "game_resumed",
               provider=provider, game_id=game_id, changed=changed)
    return back(f"{PREFIX}/bulk", "paused" if action == "hold" else "resumed")


# -- accounts (admins) --------------------------------------------------------------


@router.get("/accounts")
async def account_list(request: Request, person: AdminPerson) -> Response:
    return await _accounts_page(request)


async def _accounts_page(request: Request, *, error: str | None = None, status: int = 200,
                         done: str | None = None) -> Response:
    people = await work(accounts.list_accounts, ctx_of(request))
    return page(request, "accounts.html", status=status, error=error, people=people,
                roles=[role.value for role in Role], done=done)


@router.post("/accounts/{action}")
async def change_account(request: Request, action: str, person: AdminPerson) -> Response:
    """Add, disable or reset an account: what ``betguard user`` does, logged under the
    admin's name. An admin never disables their own account (nobody could undo it here)."""
    form = await checked_form(request, person)
    ctx = ctx_of(request)
    where = address(request)
    try:
        name = forms.text(form, "name", limit=64) or ""
        if action == "add":
            await work(accounts.add_account, ctx, name, forms.text(form, "role") or "",
                       forms.text(form, "password", limit=512) or "", by=person.actor.name,
                       address=where)
        elif action == "disable":
            if name == person.actor.name:
                raise InvalidCommand("name: you cannot disable your own account")
            await work(accounts.disable_account, ctx, name, by=person.actor.name,
                       address=where)
        elif action == "reset":
            await work(accounts.reset_account, ctx, name,
                       forms.text(form, "password", limit=512) or "", by=person.actor.name,
                       role=forms.text(form, "role", required=False), address=where)
        else:
            raise Refused(404, f"no such action: {action}")
    except BetguardError as refused:
        return await _accounts_page(request, error=str(refused), status=status_of(refused))
    return RedirectResponse(f"{PREFIX}/accounts?done=account", status_code=303)
