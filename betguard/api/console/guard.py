"""Who is signed in, and what each request must prove: a live session (or, when
configured, the SSO proxy's user header), the role a page needs, and on every form the
session's CSRF token. Refusals are pages, not JSON: a person reads them.

Security headers on every console answer: a Content-Security-Policy allowing only the
app's own scripts and styles (no inline script), no framing, no sniffing, and
``Cache-Control: no-store``: the pages show money and people's decisions.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from betguard.api.params import context
from betguard.config.settings import Settings
from betguard.models.domain.access import Actor, Role
from betguard.services import accounts
from betguard.services.accounts import SignedIn, SignInRules
from betguard.services.context import Context

PREFIX = "/console"
SESSION_COOKIE = "betguard_session"
LOGIN_CSRF_COOKIE = "betguard_login_csrf"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass(frozen=True)
class ConsoleConfig:
    rules: SignInRules
    secure_cookies: bool
    forwarded_user_header: str | None
    decisions_per_minute: int
    proposal_lifetime: timedelta
    secret: bytes  # keys the CSRF tokens of single sign-on (no session to keep them in)

    @classmethod
    def of(cls, settings: Settings) -> ConsoleConfig:
        rules = SignInRules(lockout_after=settings.console_lockout_after,
                            lockout_seconds=settings.console_lockout_seconds,
                            address_limit=settings.console_address_sign_in_limit,
                            idle=timedelta(minutes=settings.console_idle_minutes),
                            absolute=timedelta(hours=settings.console_session_hours))
        secret = (settings.console_secret.get_secret_value().encode()
                  if settings.console_secret is not None else secrets.token_bytes(32))
        return cls(rules, settings.mode == "production", settings.console_forwarded_user_header,
                   settings.console_decisions_per_minute,
                   timedelta(hours=settings.proposal_hours), secret)


class Refused(Exception):
    """A console request refused: shown as a page with ``status`` and ``message``."""

    def __init__(self, status: int, message: str, *, sign_in: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.sign_in = sign_in  # send the person to the sign-in page instead


class SecurityHeaders:
    """The headers above on every answer under ``/console``. Plain ASGI: the API's own
    requests pass through untouched, at the cost of one string comparison."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)


def config(request: Request) -> ConsoleConfig:
    found: ConsoleConfig = request.app.state.console
    return found


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _from_proxy(request: Request, ctx: Context, header: str, secret: bytes) -> SignedIn | None:
    name = request.headers.get(header)
    if not name:
        return None
    actor = accounts.actor_named(ctx, name, via="console-sso")
    if actor is None:
        raise Refused(403, f"the sign-on proxy named {name!r}, who has no active account "
                      "here: an admin adds it with betguard user add")
    # Under SSO the proxy authenticates every request and there is no session: the CSRF
    # token is per person, keyed with BETGUARD_CONSOLE_SECRET (a forger cannot compute it).
    token = hmac.new(secret, name.encode(), "sha256").hexdigest()
    return SignedIn(actor, token, started_at=ctx.clock())


async def current(request: Request) -> SignedIn | None:
    ctx: Context = context(request)
    settings = config(request)
    if settings.forwarded_user_header:
        return await run_in_threadpool(_from_proxy, request, ctx, settings.forwarded_user_header,
                                       settings.secret)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await run_in_threadpool(accounts.session_of, ctx, token, rules=settings.rules)


def needs(role: Role) -> Callable[[Request], Awaitable[SignedIn]]:
    """A dependency: the signed-in person, who must hold ``role`` (or above)."""

    async def signed_in(request: Request) -> SignedIn:
        person = await current(request)
        if person is None:
            raise Refused(401, "your session has ended: sign in again", sign_in=True)
        if not person.actor.role.may(role):
            raise Refused(403, f"{person.actor.name} is a {person.actor.role.value}: this "
                          f"needs the {role.value} role or above")
        request.state.person = person
        return person

    return signed_in


Viewer = Annotated[SignedIn, Depends(needs(Role.VIEWER))]
OperatorPerson = Annotated[SignedIn, Depends(needs(Role.OPERATOR))]
ApproverPerson = Annotated[SignedIn, Depends(needs(Role.APPROVER))]
AdminPerson = Annotated[SignedIn, Depends(needs(Role.ADMIN))]


async def checked_form(request: Request, person: SignedIn) -> FormData:
    """The posted form, once its CSRF token is the session's own and the request comes
    from this site (``Origin``, when the browser sends one)."""
    _same_origin(request)
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, person.csrf_token):
        raise Refused(403, "this form's security token is missing or out of date: reload "
                      "the page and try again (nothing was changed)")
    return form


def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None:
        return
    expected = f"{request.url.scheme}://{request.url.netloc}"
    if origin != expected:
        raise Refused(403, f"a form from another site ({origin}) was refused; nothing was "
                      "changed")


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def check_login_token(request: Request, form: FormData) -> None:
    _same_origin(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = form.get("csrf")
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(sent, cookie):
        raise Refused(403, "the sign-in form's security token is missing or out of date: "
                      "reload the page and try again")


def limit_decisions(ctx: Context, actor: Actor, per_minute: int) -> None:
    if accounts.decisions_in_last_minute(ctx, actor) >= per_minute:
        raise Refused(429, f"{actor.name}: more than {per_minute} decisions in a minute; "
                      "wait a moment (nothing was changed)")
