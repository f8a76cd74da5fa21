"""The portal: server-rendered pages after the manual's screens (SPEC §6, §6.1).

Every page reads the Manager; every form posts one command, then redirects
to a page that shows the outcome (a flash message). Each form carries a fresh
request id, passed to the Manager as ``request_id``, so a double submit or a
reload applies the command once (R13). A command's error comes back as a
message chosen by the error's ``code`` in the visitor's language, never as the
library's text or a trace. Forms carry a CSRF token; sessions live on the
server (a Litestar store), so signing out ends them; every response carries
the security headers of SPEC §6.1; a little htmx (no inline script) updates
the history and the allocation step in place.
"""

from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from babel.dates import format_date, format_time
from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders, State, UploadFile
from litestar.exceptions import HTTPException, NotFoundException
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.params import FromPath, MultipartBody, URLEncodedBody
from litestar.response import Redirect
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.types import (
    ControllerRouterHandler,
    Message,
    Scope,
    ScopeSession,
)
from litestar.utils.scope.state import ScopeState

from axis_licensing import errors
from axis_licensing.http import _auth, _i18n
from axis_licensing.http._access import Ask, visible_organizations
from axis_licensing.http._edge import MAX_UPLOAD, allow, license_response, parse_bound
from axis_licensing.http._problems import error_code, error_details, problem_response, status_of
from axis_licensing.http._signin import account_names, password_signin
from axis_licensing.manager import Manager
from axis_licensing.model import Action, LicenseKind, Organization, Period
from axis_licensing.shell.operations import OPERATIONS, Check, Param

__all__ = [
    "ROUTES",
    "SESSION_STORE",
    "error_handler",
    "security_headers",
    "session_config",
    "session_store",
    "state",
]


TEMPLATES = Path(__file__).resolve().parent / "templates"
HISTORY_PAGE = 20
HORIZON = 5

Req = Request[Any, Any, Any]
#: A form's fields, as the browser posts them.
Form = URLEncodedBody[dict[str, str]]
#: A path segment.
Seg = FromPath[str]


def _form_post(path: str) -> post:
    """The route of a form a signed-in page posts (not in the API's schema)."""
    return post(path, include_in_schema=False, sync_to_thread=True)


def _page_get(path: str) -> get:
    """The route of a signed-in page that reads the store (not in the API's schema)."""
    return get(path, sync_to_thread=True, include_in_schema=False)


#: The name of the Litestar store that holds the portal's sessions.
SESSION_STORE = "axis_sessions"
#: How long a session lasts without a new sign-in.
SESSION_SECONDS = 8 * 3600
_NEW_SESSION = "axis_licensing.new_session"
_LANG_COOKIE = "axis_lang"
#: The actor of what time does (expiry, compensation, growth), as the library records it (R11).
SYSTEM_ACTOR = "system"
#: Paths that are not the portal: no session, and the API's own headers.
_NOT_PORTAL = ("/v1", "/openapi.json", "/static", "/docs")

#: The headers of SPEC §6.1 on every portal response. The portal runs no inline
#: script and no inline style; htmx's indicator style is switched off in base.html.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
)
#: Redoc (``/docs``) needs inline script and styles; it still may not be framed.
_DOCS_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", "frame-ancestors 'none'"),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
)


class _Sessions(ServerSideSessionBackend):
    """Server-side sessions that take a new id at sign-in (no session fixation)."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        """The new id chosen at sign-in, else the cookie's, else a new one."""
        state = cast(dict[str, Any], connection.scope).setdefault("state", {})
        fresh = state.get(_NEW_SESSION)
        if fresh is True:
            fresh = state[_NEW_SESSION] = self.generate_session_id()
        if isinstance(fresh, str):
            return fresh
        return super().get_session_id(connection)

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        """Store the session; at sign-in, drop the one it replaces and the expired ones."""
        old = connection.cookies.get(self.config.key)
        state = cast(dict[str, Any], connection.scope).get("state", {})
        await super().store_in_message(scope_session, message, connection)
        if state.get(_NEW_SESSION) is None:
            return
        store = self.config.get_store_from_app(connection.scope["app"])
        if old and old != "null":
            await self.delete(old, store)
        if isinstance(store, MemoryStore | FileStore):
            await store.delete_expired()  # abandoned sessions do not pile up


class _SessionConfig(ServerSideSessionConfig):
    _backend_class = _Sessions


def session_config(*, secure: bool, exclude: Sequence[str] = ()) -> ServerSideSessionConfig:
    """The portal's server-side sessions: a cookie holds only a random id (SPEC §6.1).

    Args:
        secure: send the cookie over HTTPS only.
        exclude: more paths outside the portal (the service's health and metrics).

    Returns:
        The session middleware's configuration, reading the store :data:`SESSION_STORE`.
    """
    return _SessionConfig(
        key="axis_session",
        store=SESSION_STORE,
        httponly=True,
        secure=secure,
        samesite="lax",
        max_age=SESSION_SECONDS,
        exclude=[*_NOT_PORTAL, *exclude],
    )


def session_store(chosen: Store | str | Path | None) -> Store:
    """The store of the portal's sessions.

    Args:
        chosen: a Litestar store; a directory for a ``FileStore`` that several
            worker processes share (created, private to the user); or None for
            an in-memory store of this process.

    Returns:
        The store.

    Raises:
        InvalidInput: the directory cannot be created.
    """
    if chosen is None:
        return MemoryStore()
    if isinstance(chosen, Store):
        return chosen
    folder = Path(chosen)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise errors.InvalidInput(
            f"cannot create the session directory: {exc.strerror}", param="session_store"
        ) from exc
    return FileStore(folder)


async def security_headers(message: Message, scope: Scope) -> None:
    """Add SPEC §6.1's headers to every portal response, and ``no-store`` to its pages.

    The API (``/v1``, ``/openapi.json``) keeps its own headers; static files keep
    their caching.
    """
    if message["type"] != "http.response.start":
        return
    path = scope.get("path", "")
    if path.startswith(("/v1", "/openapi.json")):
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in _DOCS_HEADERS if path.startswith("/docs") else SECURITY_HEADERS:
        headers[name] = value
    if not path.startswith("/static"):
        headers["cache-control"] = "no-store"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_i18n.gettext_, _i18n.ngettext_, newstyle=True)  # type: ignore[attr-defined]
    return env


_ENV = _environment()


def state(manager: Manager) -> State:
    """The application state the portal needs: the Manager."""
    return State({"manager": manager})


class _SignIn(Exception):
    """The visitor has no valid session: send them to the sign-in page."""


def _manager(request: Req) -> Manager:
    manager: Manager = request.app.state["manager"]
    return manager


def _lang(request: Req) -> str:
    chosen = request.session.get("lang") if "session" in request.scope else None
    if chosen not in _i18n.LANGUAGES:
        chosen = request.cookies.get(_LANG_COOKIE)  # pages outside any route have no session
    if chosen in _i18n.LANGUAGES:
        return str(chosen)
    return _i18n.negotiate(request.headers.get("accept-language"))


def _actor(request: Req) -> str:
    account = request.session.get("account")  # signed in with a password (SPEC §8)
    if isinstance(account, str):
        return _signed_in_account(request, account)
    token = request.session.get("token")
    if not isinstance(token, str):
        raise _SignIn
    actor = _auth.bearer_actor(_manager(request), f"Bearer {token}")
    if actor is None:
        request.clear_session()
        raise _SignIn
    return actor


def _signed_in_account(request: Req, account_id: str) -> str:
    """The session's account while it exists; its roles are checked on every page (SPEC §8)."""
    _auth.forget_request_token()
    try:
        _manager(request).accounts.get(account_id)
    except errors.NotFound:
        request.clear_session()
        raise _SignIn from None
    return account_id


def _csrf(request: Req) -> str:
    token = ScopeState.from_scope(request.scope).csrf_token
    return token if isinstance(token, str) else ""


def _flash(request: Req, kind: str, message: str, **params: Any) -> None:
    request.session["flash"] = {"kind": kind, "message": message, "params": params}


def _error_flash(request: Req, exc: errors.LicensingError) -> None:
    """Show ``exc`` on the next page by its code and details, never its English message."""
    request.session["flash"] = {"kind": "error", **_error_of(exc)}


def _error_of(exc: errors.LicensingError) -> dict[str, Any]:
    return {"code": error_code(exc), "details": error_details(exc)}


def _local_path(value: object, fallback: str) -> str:
    """``value`` if it is a path on this site (never another host), else ``fallback``."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
        return value if "\\" not in value else fallback
    return fallback


def _as_date(value: date | str | None) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return value


def _fmt_date(lang: str) -> Callable[[date | str | None], str]:
    """Days as dates in the page's language (Babel); details' ISO strings too."""

    def fmt(value: date | str | None) -> str:
        day = _as_date(value)
        return "—" if day is None else format_date(day, format="medium", locale=lang)

    return fmt


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _fmt_instant(lang: str, zone: str | None) -> Callable[[datetime], str]:
    """Instants in the organization's zone, with the zone named (SPEC §6.1).

    ``10:29 (Europe/Stockholm)`` says which clock it is; a page without an
    organization shows UTC and says so.
    """
    tz = _zone(zone)

    def fmt(value: datetime) -> str:
        local = value.astimezone(tz)
        day = format_date(local.date(), format="medium", locale=lang)
        clock = format_time(local, format="short", locale=lang)
        return f"{day} {clock} ({tz.key})"

    return fmt


def _last_day(end: date | str | None) -> date | None:
    """The last day inside a range whose ``end`` is exclusive, as the library's ends are.

    The portal shows every end of a period or window this way (SPEC §6.1).
    """
    day = _as_date(end)
    return None if day is None else day - timedelta(days=1)


#: How many organizations the switch and the organizations page list (filtered, then paged).
SWITCH_SIZE = 500


def _orgs_of(manager: Manager, actor: str) -> list[Organization]:
    return visible_organizations(manager, actor, limit=SWITCH_SIZE)


def _account_names(request: Req) -> Callable[[str], str]:
    return account_names(_manager(request))


def render(request: Req, template: str, *, http_status: int = 200, **context: Any) -> Response[str]:
    """Render a page in the visitor's language, with the top bar's context."""
    lang = _lang(request)
    _i18n.using(lang)
    flash = request.session.pop("flash", None) if "session" in request.scope else None
    base = {
        "lang": lang,
        "languages": _i18n.LANGUAGES,
        "csrf_token": _csrf(request),
        "path": request.url.path,
        "query": request.url.query,
        "flash": flash,
        "fmt_date": _fmt_date(lang),
        "fmt_instant": _fmt_instant(lang, None),
        "last_day": _last_day,
        "new_request_id": new_request_id,
        "system_actor": SYSTEM_ACTOR,
        "account_name": _account_names(request),  # SPEC §8: the history shows account names
        "htmx": request.headers.get("hx-request") == "true",
        "actor": None,
        "org": None,
        "orgs": [],
        "product": None,
        "tab": None,
    }
    base.update(context)
    if base["org"] is not None:
        base["fmt_instant"] = _fmt_instant(lang, base["org"].timezone)
    html = _ENV.get_template(template).render(base)
    return Response(html, status_code=http_status, media_type="text/html")


#: The prefix of a counts parameter's form fields: ``q_core``, ``d_door``.
_COUNT_PREFIXES = {"quantities": "q_", "devices": "d_", "preloaded": "p_"}


def _counts_from(form: Mapping[str, Any], param: str) -> dict[str, int]:
    """Counts for parameter ``param`` from form fields ``<prefix><type>``; empty fields are 0.

    Raises:
        InvalidInput: a field that is not a whole number.
    """
    prefix = _COUNT_PREFIXES[param]
    counts: dict[str, int] = {}
    for name, raw in form.items():
        if not name.startswith(prefix):
            continue
        text = str(raw).strip()
        if not text:
            continue
        if not text.isdigit() or len(text) > 9:
            raise errors.InvalidInput(
                f"{name[len(prefix) :]} must be a whole number of at most 9 digits, got {text!r}",
                param=param,
            )
        if int(text):
            counts[name[len(prefix) :]] = int(text)
    return counts


def _request_id(data: Mapping[str, Any]) -> str | None:
    """The form's request id (a hidden field), passed to the Manager as ``request_id``."""
    text = str(data.get("request_id") or "").strip()
    return text or None


def new_request_id() -> str:
    """A fresh request id for a form: 128 random bits in R14's id alphabet."""
    return secrets.token_urlsafe(16)


def _int_field(form: Mapping[str, Any], name: str, default: int = 0) -> int:
    text = str(form.get(name, "")).strip()
    if not text:
        return default
    if not text.lstrip("-").isdigit() or len(text) > 9:
        raise errors.InvalidInput(f"{name} must be a whole number, got {text!r}", param=name)
    return int(text)


def _form_value(p: Param, form: Mapping[str, Any]) -> object:
    """The value of ``p`` as a form sends it: counts from their fields, integers, text."""
    if p.check is Check.COUNTS:
        return _counts_from(form, p.name)
    if p.check is Check.INT:
        return _int_field(form, p.name, p.default if isinstance(p.default, int) else 0)
    text = str(form.get(p.name, "")).strip()
    return p.default if not text and not p.required else text


def run_form(page: _Page, name: str, form: Mapping[str, Any], **fixed: object) -> Any:
    """Run the declared command ``name`` with the values a form posted (SPEC §6.1).

    The fields are the declaration's parameters, read by their names (counts from
    ``q_``/``d_``/``p_`` fields); ``fixed`` gives those the page's path holds. The
    library checks them all, as for any caller, and the form's request id makes a
    double submit apply once.

    Raises:
        LicensingError: what the command raises.
    """
    op = OPERATIONS[name]
    values = {
        p.name: fixed[p.name] if p.name in fixed else _form_value(p, form)
        for p in op.params
        if p.name not in ("actor", "request_id")
    }
    return page.manager.execute(name, **values, actor=page.actor, request_id=_request_id(form))


def form_command(
    page: _Page,
    name: str,
    form: Mapping[str, Any],
    *,
    back: str,
    done: Callable[[Any], str],
    **fixed: object,
) -> Response[Any]:
    """Run the declared command ``name`` from a form (:func:`run_form`), then redirect.

    An error is flashed and the browser sent ``back``; after a success,
    ``done(result)`` flashes what happened and says where to go.

    Raises:
        KeyError: ``name`` is not a declared operation (a bug in the caller).
    """
    try:
        result = run_form(page, name, form, **fixed)
    except errors.LicensingError as exc:
        _error_flash(page.request, exc)
        return Redirect(path=back)
    return Redirect(path=done(result))


class _Page:
    """What every signed-in page of an organization starts from."""

    #: Whether the roles and the authorize hooks are asked here about the page's action.
    asks_hooks: ClassVar[bool] = True

    def __init__(self, request: Req, org_id: str | None, action: str, product: str | None = None):
        """Check that the signed-in actor may ``action`` in ``org_id``, before anything is read.

        A page that shows or reviews a command asks the roles and hooks here;
        a handler that runs the command itself is a :class:`_CommandPage`.

        Raises:
            PermissionDenied: the actor may not.
        """
        self.request = request
        self.manager = _manager(request)
        self.actor = _actor(request)
        self.org_id = org_id
        if org_id is not None:
            ask = Ask(self.actor, org_id, action, product)
            allow(self.manager, ask, hook=self.asks_hooks)
            request.session["org"] = org_id

    def context(self, **more: Any) -> dict[str, Any]:
        orgs = _orgs_of(self.manager, self.actor)
        # the current organization is read by its id, never looked for in a page of them
        current = None if self.org_id is None else self.manager.organization(self.org_id)
        if current is not None and current not in orgs:
            orgs = sorted([*orgs, current], key=lambda o: o.org_id)
        return {"actor": self.actor, "orgs": orgs, "org": current, **more}


class _CommandPage(_Page):
    """The page of a handler that runs command ``action`` itself.

    The Manager asks the roles and hooks about it, once, after checking its
    input (SPEC §4): here only the request's own limits apply.
    """

    asks_hooks = False


def _org_url(org_id: str, *parts: str) -> str:
    quoted = [urllib.parse.quote(p, safe="") for p in (org_id, *parts)]
    return "/orgs/" + "/".join(quoted)


@get("/favicon.ico", sync_to_thread=False, include_in_schema=False, status_code=204)
def favicon() -> None:
    """No icon: 204, so a browser's request for one is answered, not a 404."""


# -- sign in, language, organizations ------------------------------------------------------------


@_page_get("/")
def home(request: Req) -> Response[Any]:
    """The organization last used, or the list of organizations."""
    page = _Page(request, None, "organizations")
    org = request.session.get("org")
    if isinstance(org, str) and page.manager.plugin_manager.authorize(
        page.actor, org, "organizations", None
    ):
        return Redirect(path=_org_url(org, "products"))
    return Redirect(path="/orgs")


@get("/signin", sync_to_thread=False, include_in_schema=False)
def signin_page(request: Req) -> Response[str]:
    """The sign-in page: paste an access token."""
    return render(request, "signin.html")


@post("/signin", sync_to_thread=False, include_in_schema=False)
def signin(request: Req, data: Form) -> Response[Any]:
    """Check an account's password (SPEC §8) or a token (the authenticate hook); open a session."""
    account_id = str(data.get("account_id", "")).strip()
    if account_id or "password" in data:
        signed = password_signin(request, account_id, str(data.get("password", "")))
        if signed is None:  # one answer, whatever was wrong
            _flash(request, "error", "This account and password do not match.")
            return Redirect(path="/signin")
        session: dict[str, Any] = {"account": signed}
    else:
        token = str(data.get("token", "")).strip()
        actor = _auth.bearer_actor(_manager(request), f"Bearer {token}") if token else None
        if actor is None:
            _flash(request, "error", "This access token is not valid.")
            return Redirect(path="/signin")
        session = {"token": token}
    lang = request.session.get("lang")
    cast(dict[str, Any], request.scope).setdefault("state", {})[_NEW_SESSION] = True
    request.set_session({**session, **({"lang": lang} if lang else {})})
    return Redirect(path="/")


@post("/signout", sync_to_thread=False, include_in_schema=False)
def signout(request: Req) -> Response[Any]:
    """End the session: it is deleted from the store, so a copy of the cookie stops working."""
    request.clear_session()
    return Redirect(path="/signin")


@get("/lang/{code:str}", sync_to_thread=False, include_in_schema=False)
def switch_language(request: Req, code: Seg) -> Response[Any]:
    """Choose the portal's language (the switch in the top bar)."""
    target = request.query_params.get("next")
    if code not in _i18n.LANGUAGES:
        return Redirect(path=_local_path(target, "/"))
    request.session["lang"] = code
    chosen = Cookie(
        key=_LANG_COOKIE, value=code, max_age=365 * 86400, samesite="lax", httponly=True
    )
    return Redirect(path=_local_path(target, "/"), cookies=[chosen])


@_page_get("/orgs")
def organizations(request: Req) -> Response[Any]:
    """The organizations this actor may use, and a form to create one."""
    page = _Page(request, None, "organizations")
    return render(request, "organizations.html", **page.context())


@get("/switch", sync_to_thread=False, include_in_schema=False)
def switch_organization(request: Req) -> Response[Any]:
    """The organization switch of the top bar."""
    org = request.query_params.get("org")
    return Redirect(path=_org_url(org, "products") if org else "/orgs")


@_form_post("/orgs/new")
def create_organization(request: Req, data: Form) -> Response[Any]:
    """Create an organization (R1)."""
    page = _Page(request, None, "organizations")
    org_id = str(data.get("org_id", "")).strip()
    try:
        allow(page.manager, Ask(page.actor, org_id, "create_organization"), hook=False)
        run_form(page, "create_organization", data)
    except errors.LicensingError as exc:
        _error_flash(request, exc)
        return Redirect(path="/orgs")
    _flash(request, "success", "Organization %(org)s created.", org=org_id)
    return Redirect(path=_org_url(org_id, "products"))


# -- products --------------------------------------------------------------------------------------


@_page_get("/orgs/{org_id:str}/products")
def products(request: Req, org_id: Seg) -> Response[Any]:
    """The product list: license state and trial end, with the alerts (manual: product list)."""
    page = _Page(request, org_id, "products")
    statuses = page.manager.products(org_id)
    alerts = page.manager.alerts(org_id)
    names = {p.code: p.name for p in page.manager.catalog.products}
    return render(
        request,
        "products.html",
        **page.context(statuses=statuses, alerts=alerts, names=names, tab="products"),
    )


def _missing(wanted: Mapping[str, int], held: Mapping[str, int]) -> dict[str, int]:
    """What the wallet lacks, per license type, to cover ``wanted``."""
    return {t: n - held.get(t, 0) for t, n in wanted.items() if n > held.get(t, 0)}


def _product_page(request: Req, org_id: Seg, product: Seg, action: str) -> tuple[_Page, Any]:
    page = _Page(request, org_id, action, product)
    spec = page.manager.catalog.product(product)
    return page, spec


@_page_get("/orgs/{org_id:str}/products/{product:str}")
def product_overview(request: Req, org_id: Seg, product: Seg) -> Response[Any]:
    """A product's overview: its license state, and "Start subscription"."""
    page, spec = _product_page(request, org_id, product, "status")
    status = page.manager.status(org_id, spec.code)
    alerts = [a for a in page.manager.alerts(org_id) if a.product == spec.code]
    return render(
        request,
        "product.html",
        **page.context(spec=spec, status=status, alerts=alerts, tab="products", sub="overview"),
    )


@_form_post("/orgs/{org_id:str}/products/{product:str}/start")
def start_subscription(request: Req, org_id: Seg, product: Seg, data: Form) -> Response[Any]:
    """Start the subscription (R2); the trial begins (R3)."""
    page = _CommandPage(request, org_id, "start_subscription", product)
    back = _org_url(org_id, "products", product)

    def done(_: object) -> str:
        _flash(request, "success", "Subscription started.")
        return back

    return form_command(
        page, "start_subscription", data, back=back, done=done, org_id=org_id, product=product
    )


@_page_get("/orgs/{org_id:str}/products/{product:str}/wallet")
def wallet(request: Req, org_id: Seg, product: Seg) -> Response[Any]:
    """The product wallet: redeem a key; lots with their expiry (R6)."""
    page, spec = _product_page(request, org_id, product, "wallet")
    held = page.manager.wallet(org_id, spec.code)
    alerts = [
        a
        for a in page.manager.alerts(org_id)
        if a.product == spec.code and a.kind == "lots_expiring"
    ]
    return render(
        request,
        "wallet.html",
        **page.context(
            spec=spec,
            wallet=held,
            subscription=held.balance(LicenseKind.SUBSCRIPTION),
            hardware=held.balance(LicenseKind.HARDWARE),
            alerts=alerts,
            tab="products",
            sub="wallet",
        ),
    )


@_form_post("/orgs/{org_id:str}/products/{product:str}/wallet/redeem")
def redeem_key(request: Req, org_id: Seg, product: Seg, data: Form) -> Response[Any]:
    """Redeem a license key into the wallet (R6, R10)."""
    page = _CommandPage(request, org_id, "redeem_key")

    def done(redeemed: Any) -> str:
        _flash(
            request,
            "success",
            "Key …%(tail)s redeemed: %(count)s licenses added.",
            tail=redeemed.key_tail,
            count=sum(redeemed.quantities.values()),
        )
        return _org_url(org_id, "products", redeemed.product, "wallet")

    back = _org_url(org_id, "products", product, "wallet")
    return form_command(page, "redeem_key", data, back=back, done=done, org_id=org_id)


@_page_get("/orgs/{org_id:str}/products/{product:str}/licensing")
def licensing(request: Req, org_id: Seg, product: Seg) -> Response[Any]:
    """Product licensing: the need per year and the allocation form (R4, R7)."""
    page, spec = _product_page(request, org_id, product, "need")
    status = page.manager.status(org_id, spec.code)
    need = page.manager.need(org_id, spec.code, horizon=HORIZON) if status.period else None
    held = page.manager.wallet(org_id, spec.code).balance(LicenseKind.SUBSCRIPTION)
    current = need.periods[0].shortfall if need else {}
    wallet_short = _missing(current, held)
    # "Allocate the need" through each year: can the wallet cover what it takes? (SPEC §6.1)
    through: dict[str, int] = {}
    covered_through: list[bool] = []
    for p in need.periods if need else ():
        for t, n in p.shortfall.items():
            through[t] = through.get(t, 0) + n
        covered_through.append(not _missing(through, held))
    return render(
        request,
        "licensing.html",
        **page.context(
            spec=spec,
            status=status,
            need=need,
            wallet_balance=dict(held),
            wallet_short=wallet_short,
            covered_through=covered_through,
            types=[t.code for t in spec.license_types],
            tab="products",
            sub="licensing",
        ),
    )


@_form_post("/orgs/{org_id:str}/products/{product:str}/licensing/review")
def review_allocation(request: Req, org_id: Seg, product: Seg, data: Form) -> Response[Any]:
    """The confirmation step of "Confirm allocation": what goes to which period."""
    page, spec = _product_page(request, org_id, product, "allocate")
    back = _org_url(org_id, "products", spec.code, "licensing")
    try:
        mode = data.get("mode", "quantities")
        if mode == "need":
            through = _int_field(data, "through")
            need = page.manager.need(org_id, spec.code, horizon=max(through, 0))
            rows: list[tuple[Period | None, Mapping[str, int]]] = [
                (p.period, p.shortfall) for p in need.periods[: through + 1] if p.shortfall
            ]
            plan: dict[str, Any] = {"mode": "need", "through": through}
        else:
            period = _int_field(data, "period")
            quantities = _counts_from(data, "quantities")
            if not quantities:
                raise errors.InvalidInput(
                    "enter at least one license to allocate", param="quantities"
                )
            need = page.manager.need(org_id, spec.code, horizon=max(period, 0))
            target = need.periods[period].period if 0 <= period < len(need.periods) else None
            rows = [(target, quantities)]
            plan = {"mode": "quantities", "period": period, "quantities": quantities}
    except errors.LicensingError as exc:
        _error_flash(request, exc)
        if request.headers.get("hx-request") == "true":
            # htmx would swap in only the form; the whole page shows the message
            return Response("", headers={"HX-Redirect": back})
        return Redirect(path=back)
    wanted: dict[str, int] = {}
    for _, counts in rows:
        for t, n in counts.items():
            wanted[t] = wanted.get(t, 0) + n
    held = page.manager.wallet(org_id, spec.code).balance(LicenseKind.SUBSCRIPTION)
    missing = _missing(wanted, held)
    return render(
        request,
        "confirm.html",
        **page.context(
            spec=spec,
            rows=rows,
            plan=plan,
            back=back,
            covered=not missing,
            missing=missing,
            tab="products",
            sub="licensing",
        ),
    )


@_form_post("/orgs/{org_id:str}/products/{product:str}/licensing/allocate")
def allocate(request: Req, org_id: Seg, product: Seg, data: Form) -> Response[Any]:
    """Allocate, once confirmed (R7, R8)."""
    page = _CommandPage(request, org_id, "allocate", product)
    back = _org_url(org_id, "products", product, "licensing")

    def done(allocated: Any) -> str:
        count = sum(allocated.quantities.values())
        _flash(request, "success", "%(count)s licenses allocated.", count=count)
        return back

    name = "allocate_need" if data.get("mode") == "need" else "allocate"
    return form_command(page, name, data, back=back, done=done, org_id=org_id, product=product)


# -- systems ---------------------------------------------------------------------------------------


@_page_get("/orgs/{org_id:str}/systems")
def systems(request: Req, org_id: Seg) -> Response[Any]:
    """Systems: register one, upload a system file, see which are licensed (R9, R12)."""
    page = _Page(request, org_id, "systems")
    listed = page.manager.systems(org_id, limit=500)
    alerts = [a for a in page.manager.alerts(org_id) if a.system_id is not None]
    catalog = page.manager.catalog
    return render(
        request,
        "systems.html",
        **page.context(
            systems=listed,
            alerts=alerts,
            catalog_products=catalog.products,
            tab="systems",
            max_upload=MAX_UPLOAD,
        ),
    )


@_form_post("/orgs/{org_id:str}/systems/new")
def register_system(request: Req, org_id: Seg, data: Form) -> Response[Any]:
    """Register a system with its devices (R1)."""
    product = str(data.get("product", ""))
    page = _CommandPage(request, org_id, "register_system", product)
    system_id = str(data.get("system_id", "")).strip()

    def done(_: object) -> str:
        _flash(request, "success", "System %(system)s registered.", system=system_id)
        return _org_url(org_id, "systems", system_id)

    back = _org_url(org_id, "systems")
    return form_command(page, "register_system", data, back=back, done=done, org_id=org_id)


@post(
    "/orgs/{org_id:str}/system-files",
    include_in_schema=False,
    request_max_body_size=MAX_UPLOAD + 64 * 1024,
    sync_to_thread=True,
    status_code=200,
)
def upload_system_file(
    request: Req,
    org_id: Seg,
    data: MultipartBody[dict[str, Any]],
) -> Response[Any]:
    """Upload a system file; the answer is the license file to download (R12)."""
    page = _CommandPage(request, org_id, "upload_system_file")
    upload = data.get("file")
    try:
        if not isinstance(upload, UploadFile):
            raise errors.InvalidInput("choose a system file to upload", param="file")
        content = upload.file.read(MAX_UPLOAD + 1)
        if len(content) > MAX_UPLOAD:
            raise errors.InvalidInput("the system file is larger than 1 MiB", param="file")
        license_file = page.manager.upload_system_file(
            org_id, content, actor=page.actor, request_id=_request_id(data)
        )
    except errors.LicensingError as exc:
        _error_flash(request, exc)
        return Redirect(path=_org_url(org_id, "systems"))
    return license_response(license_file)


@_page_get("/orgs/{org_id:str}/systems/{system_id:str}")
def system(request: Req, org_id: Seg, system_id: Seg) -> Response[Any]:
    """One system: devices, hardware, extension licenses (R9)."""
    page = _Page(request, org_id, "system_status")
    status = page.manager.system_status(org_id, system_id)
    spec = page.manager.catalog.product(status.product)
    held = page.manager.wallet(org_id, status.product).balance(LicenseKind.HARDWARE)
    return render(
        request,
        "system.html",
        **page.context(
            system=status,
            spec=spec,
            types=[t.code for t in spec.license_types],
            hardware_balance=held,
            tab="systems",
        ),
    )


@_form_post("/orgs/{org_id:str}/systems/{system_id:str}/{what:str}")
def system_command(
    request: Req, org_id: Seg, system_id: Seg, what: Seg, data: Form
) -> Response[Any]:
    """A system's forms: report devices, register hardware, allocate extension licenses."""
    actions = {
        "devices": "report_devices",
        "hardware": "register_hardware",
        "extension": "allocate_to_hardware",
    }
    if what not in actions:
        raise NotFoundException()
    page = _CommandPage(request, org_id, actions[what])
    serial = str(data.get("serial", "")).strip()
    back = _org_url(org_id, "systems", system_id)

    def done(_: object) -> str:
        if what == "devices":
            _flash(request, "success", "Devices reported.")
        elif what == "hardware":
            _flash(request, "success", "Hardware %(serial)s registered.", serial=serial)
        else:
            _flash(request, "success", "Extension licenses allocated to %(serial)s.", serial=serial)
        return back

    # an extension's unit says which system: the form's serial
    fixed = {} if what == "extension" else {"system_id": system_id}
    return form_command(page, actions[what], data, back=back, done=done, org_id=org_id, **fixed)


# -- history ---------------------------------------------------------------------------------------


@_page_get("/orgs/{org_id:str}/history")
def history(request: Req, org_id: Seg) -> Response[Any]:
    """The history, filtered and paged; htmx swaps only the table (R11)."""
    page = _Page(request, org_id, "history")
    q = request.query_params
    filters = {k: str(q.get(k) or "") for k in ("product", "action", "actor", "since", "until")}
    error = None
    items: list[Any] = []
    more = False
    try:
        offset = max(0, _int_field(q, "offset"))
        found = page.manager.history(
            org_id,
            product=filters["product"] or None,
            actor=filters["actor"] or None,
            actions=[filters["action"]] if filters["action"] else None,
            since=parse_bound(filters["since"] or None, "since"),
            until=parse_bound(filters["until"] or None, "until"),
            limit=HISTORY_PAGE + 1,
            offset=offset,
        )
        items, more = found[:HISTORY_PAGE], len(found) > HISTORY_PAGE
    except errors.LicensingError as exc:
        offset = 0
        error = _error_of(exc)
    keep = urllib.parse.urlencode({k: v for k, v in filters.items() if v})
    template = "_history_table.html" if request.headers.get("hx-target") == "history" else None
    return render(
        request,
        template or "history.html",
        **page.context(
            items=items,
            filters=filters,
            offset=offset,
            page_size=HISTORY_PAGE,
            more=more,
            keep=keep,
            error=error,
            actions=[a.value for a in Action],
            catalog_products=page.manager.catalog.products,
            tab="history",
        ),
    )


# -- errors ----------------------------------------------------------------------------------------


def error_handler(request: Req, exc: Exception) -> Response[Any]:
    """The one exception handler: problems for the API, pages for the portal (SPEC §6)."""
    path = request.url.path
    if path.startswith(("/v1", "/openapi.json", "/docs", "/static")):
        return problem_response(request, exc)
    if isinstance(exc, _SignIn):
        return Redirect(path="/signin")
    if isinstance(exc, errors.LicensingError):
        status = status_of(exc)
        error = _error_of(exc)
    else:
        problem = problem_response(request, exc)
        status = problem.status_code or 500
        code = "not_found" if status == 404 else "internal_error"
        if isinstance(exc, HTTPException) and status == 403:
            code = "permission_denied"
        error = {"code": code, "details": {}}
    try:
        actor = _actor(request) if "session" in request.scope else None
    except _SignIn:
        actor = None
    try:
        return render(request, "error.html", http_status=status, actor=actor, error=error)
    except Exception as failure:  # the page itself failed: answer a bare problem, never a trace
        return problem_response(request, failure)


ROUTES: list[ControllerRouterHandler] = [
    home,
    favicon,
    signin_page,
    signin,
    signout,
    switch_language,
    organizations,
    switch_organization,
    create_organization,
    products,
    product_overview,
    start_subscription,
    wallet,
    redeem_key,
    licensing,
    review_allocation,
    allocate,
    systems,
    register_system,
    upload_system_file,
    system,
    system_command,
    history,
]
