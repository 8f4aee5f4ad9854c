"""Device-bound sessions: W3C Device Bound Session Credentials (DBSC), as Chrome speaks it.

With ``SESSIONS_MGMT_DEVICE_BOUND`` on, the response to a sign-in offers the browser a
binding (``Secure-Session-Registration``). A browser that supports it makes a key pair on
the device and proves it holds the private key by signing our challenge (a JWT in
``Secure-Session-Response``); we keep the public key on the session's row and answer with a
short-lived *bound cookie*. From then on the session is only valid together with a fresh
bound cookie, and only the device's key can get a new one (``refresh``): a session cookie
copied to another machine stops working there. A browser without DBSC ignores the header
and its session works as before.

Decisions, where the draft leaves them to the server:

- **Only the sign-in response offers a binding.** Its challenge is signed (no storage) and
  names the session's row, so only that response can lead to a binding; someone who later
  steals the cookie of an unbound session cannot bind it to their own device.
- **The bound cookie is checked without I/O.** It is signed (Django's ``Signer``) with the
  binding's identifier, which the session itself holds (``state.BOUND_KEY``), and with its
  time of issue: the middleware compares it with the session the request loads anyway, so a
  request of a bound session adds no query (docs/PERFORMANCE.md).
- **Challenges are signed, and each is accepted once.** A refresh challenge carries its
  time of issue; the session remembers the newest one answered, and an older one (a proof
  replayed or cached by the browser) gets a fresh challenge instead.
- **A refused request changes nothing.** It goes on with an empty session and no session
  cookie, as a stranger's would; the bound session is left as it is for its device, whose
  next refresh puts it right. ``SESSIONS_MGMT_DEVICE_BOUND_REFUSED = "sign_in"`` sends such
  page loads (GET) to the sign-in page instead.
- **Turning the setting off stops the enforcement** (and hides "Protected"): nobody is locked
  out by a binding whose endpoints are gone.
"""

import logging
import secrets
import time
from functools import lru_cache
from hmac import compare_digest

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import history, services
from .conf import app_settings
from .internal import state as codec
from .internal import store
from .internal.flows.context import signed_in_now
from .internal.flows.request import save_session
from .internal.state import BOUND_KEY
from .models import DeviceSession

logger = logging.getLogger(__name__)

#: The signature algorithms Chrome offers, and the only ones accepted (never ``none``, never
#: a shared-secret one: the key must be the device's own).
ALGORITHMS = ("ES256", "RS256")
#: Seconds a sign-in's registration challenge stays valid (the browser answers within
#: seconds of the sign-in response).
REGISTRATION_WINDOW = 300
#: Seconds a refresh challenge stays valid: the browser signs it right after the 403.
CHALLENGE_AGE = 120
#: Seconds a bound cookie is accepted past its ``Max-Age``: a request the browser sent just
#: before the cookie ran out is not refused on arrival.
COOKIE_GRACE = 30
#: Longest proof (JWT) read: a P-256 proof with its key is about 400 characters, an RSA-4096
#: one about 1,500.
MAX_PROOF_LENGTH = 8192
#: Seconds between two "proof refused" events of one session in the history.
REFUSAL_EVENT_INTERVAL = 300

REGISTRATION_HEADER = "Secure-Session-Registration"
CHALLENGE_HEADER = "Secure-Session-Challenge"
_PROOF = "HTTP_SECURE_SESSION_RESPONSE"
_SESSION_ID = "HTTP_SEC_SECURE_SESSION_ID"
_REGISTER_SALT = "sessions_mgmt.dbsc.register"
_REFRESH_SALT = "sessions_mgmt.dbsc.refresh"
_COOKIE_SALT = "sessions_mgmt.dbsc.cookie"
# Request attribute: the session a refused request came with, for the refresh endpoint.
_REFUSED_SESSION_ATTR = "_sessions_mgmt_refused_session"
# JWK members that only a private key has: a "public key" carrying them is refused.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class Refused(Exception):
    """A registration or refresh that is turned down: ``status`` (4xx) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- every request: the guard, and the offer after a sign-in -------------------------------


def guard(request: HttpRequest) -> HttpResponse | None:
    """Before the view: a request of a bound session without its fresh bound cookie goes on
    as a stranger's (or, by setting, is sent to sign in). Reads the session the request
    would load anyway, and nothing else; a session it did not need stays "not accessed"
    (no activity, no ``Vary: Cookie``)."""
    session = request.session
    accessed = session.accessed
    bound = session.get(BOUND_KEY)
    session.accessed = accessed
    return None if bound is None else _decide(request, bound)


async def aguard(request: HttpRequest) -> HttpResponse | None:
    """``guard`` for an async request: loading the session is the only I/O."""
    session = request.session
    accessed = session.accessed
    bound = await session.aget(BOUND_KEY)
    session.accessed = accessed
    return None if bound is None else _decide(request, bound)


def _decide(request: HttpRequest, bound: str) -> HttpResponse | None:
    if _fresh_cookie(request, codec.binding_id(bound)):
        return None
    return _refuse(request)


def _cookie_signer() -> signing.Signer:
    return app_settings.memo("dbsc_signer", lambda: signing.Signer(salt=_COOKIE_SALT))


def _cookie_value(binding_id: str) -> str:
    """A bound cookie: the binding's identifier and the time of issue, signed."""
    return _cookie_signer().sign(f"{binding_id}:{int(time.time())}")


def _opened_cookie(value: str) -> str:
    """What a bound cookie says, if we signed it (``BadSignature`` if not). The signature
    of a cookie is checked once per process: the same cookie comes with every request of
    its browser for minutes, and only cookies that passed are kept (4,096 at most, dropped
    when the settings or the secret keys change)."""
    opened = app_settings.memo(
        "dbsc_opened", lambda: lru_cache(maxsize=4096)(_cookie_signer().unsign)
    )
    return opened(value)


def _fresh_cookie(request: HttpRequest, binding_id: str) -> bool:
    value = request.COOKIES.get(app_settings.DEVICE_BOUND_COOKIE_NAME)
    if not value:
        return False
    try:
        signed_id, _sep, issued = _opened_cookie(value).rpartition(":")
    except signing.BadSignature:
        return False
    age = time.time() - int(issued)
    return age <= app_settings.DEVICE_BOUND_COOKIE_AGE + COOKIE_GRACE and _same(
        signed_id, binding_id
    )


def _refuse(request: HttpRequest) -> HttpResponse | None:
    """Handle the request as a stranger's: an empty session in place of the bound one, no
    session cookie (so nothing downstream ends, saves or deletes the bound session or its
    cookie) and no user."""
    setattr(request, _REFUSED_SESSION_ATTR, request.session)
    request.session = store.engine()()
    request.COOKIES = {
        name: value
        for name, value in request.COOKIES.items()
        if name != app_settings.SESSION_COOKIE_NAME
    }
    request.user = AnonymousUser()

    async def auser():
        return request.user

    request.auser = auser
    if (
        app_settings.DEVICE_BOUND_REFUSED == "sign_in"
        and request.method in ("GET", "HEAD")
        and request.path != resolve_url(settings.LOGIN_URL)
    ):
        # No message: MessageMiddleware, inside this one, has not run and would not save it.
        return redirect_to_login(request.get_full_path())
    return None


def refused(request: HttpRequest) -> bool:
    """Whether the guard handled this request as a stranger's."""
    return hasattr(request, _REFUSED_SESSION_ATTR)


def offer(request: HttpRequest, response: HttpResponse) -> None:
    """After a sign-in: offer the browser a binding for the new session (a browser without
    DBSC ignores the header). The challenge is signed, not stored: it names the session's
    row and when it was issued."""
    if not signed_in_now(request) or response.status_code >= 400:
        return
    session = request.session
    state = codec.read(session) if SESSION_KEY in session else None
    if state is None:
        return
    try:
        path = reverse("sessions_mgmt:bound_register")
    except NoReverseMatch:  # the app's URLs are not included (check E007 says so)
        logger.warning("Device-bound sessions are on, but sessions_mgmt.urls is not included")
        return
    challenge = signing.Signer(salt=_REGISTER_SALT).sign(f"{state['id']}:{_now_ms()}")
    algorithms = " ".join(ALGORITHMS)
    response[REGISTRATION_HEADER] = f'({algorithms});path="{path}";challenge="{challenge}"'


# --- the two endpoints ------------------------------------------------------------------


def register(request: HttpRequest) -> HttpResponse:
    """The browser's registration: verify its proof with the key it sends, keep the key on
    the row, mark the session bound, and answer the session's instructions and its first
    bound cookie."""
    session = request.session
    state = codec.read(session) if SESSION_KEY in session else None
    if state is None:
        raise Refused(401, _("Sign in first."))
    if BOUND_KEY in session:
        raise Refused(409, _("This sign-in is already bound to a device."))
    key, jti = _verify(_header(request, _PROOF), None)
    row_id, issued = _open_challenge(jti, _REGISTER_SALT, REGISTRATION_WINDOW)
    if row_id != str(state["id"]):
        raise Refused(400, _("The challenge was not issued to this sign-in."))
    binding_id = secrets.token_urlsafe(16)
    using = services.primary()
    with transaction.atomic(using=using):
        rows = DeviceSession.objects.using(using).filter(
            pk=state["id"], session_key=session.session_key, bound_at__isnull=True
        )
        if not rows.update(bound_key=key, bound_at=timezone.now()):
            raise Refused(409, _("This sign-in has ended or is already bound to a device."))
        codec.write_binding(session, binding_id, issued)
        if not save_session(session):
            raise Refused(403, _("This sign-in has ended."))
        history.bound(DeviceSession.objects.using(using).get(pk=state["id"]))
    return _instructions(request, binding_id)


def refresh(request: HttpRequest) -> HttpResponse:
    """The browser asks for a new bound cookie: without a proof, it gets a challenge (403);
    with a proof of a fresh challenge signed by the session's key, the cookie."""
    session = getattr(request, _REFUSED_SESSION_ATTR, None) or request.session
    binding_id = _unquote(request.META.get(_SESSION_ID, ""))
    if not binding_id or len(binding_id) > 64:
        raise Refused(400, _("The Sec-Secure-Session-Id header is missing or malformed."))
    bound = codec.binding(session) if SESSION_KEY in session else None
    if bound is None or not _same(bound[0], binding_id):
        # Revoked, signed out, expired, or another session's identifier.
        raise Refused(403, _("This sign-in has ended, or is not the one bound to this device."))
    used = bound[1]
    if _PROOF not in request.META:
        return _challenge(binding_id)
    state = codec.read(session)
    row = (
        DeviceSession.objects.using(services.primary())
        .filter(pk=state["id"], session_key=session.session_key, bound_at__isnull=False)
        .first()
    )
    if row is None or not isinstance(row.bound_key, dict):
        # Never verified against a key the proof brings: only the stored one will do.
        raise Refused(403, _("This sign-in has ended."))
    try:
        jti = _verify(_header(request, _PROOF), row.bound_key)[1]
        challenged_id, issued = _open_challenge(jti, _REFRESH_SALT, None)
        if not _same(challenged_id, binding_id):
            raise Refused(400, _("The challenge was not issued to this sign-in."))
    except Refused:
        _record_refusal(row)
        raise
    if issued <= used or _now_ms() - issued > CHALLENGE_AGE * 1000:
        return _challenge(binding_id)  # answered before, or too old: ask again
    codec.write_binding(session, binding_id, issued)
    if not save_session(session):
        raise Refused(403, _("This sign-in has ended."))
    return _instructions(request, binding_id)


def _challenge(binding_id: str) -> HttpResponse:
    challenge = signing.Signer(salt=_REFRESH_SALT).sign(f"{binding_id}:{_now_ms()}")
    response = JsonResponse({"error": _("Sign this challenge with the device's key.")}, status=403)
    response[CHALLENGE_HEADER] = f'"{challenge}";id="{binding_id}"'
    return response


def _instructions(request: HttpRequest, binding_id: str) -> HttpResponse:
    """The session's instructions (what the browser keeps and refreshes), with a new
    bound cookie."""
    attributes = _cookie_attributes()
    response = JsonResponse(
        {
            "session_identifier": binding_id,
            "refresh_url": reverse("sessions_mgmt:bound_refresh"),
            "scope": {
                "origin": f"https://{request.get_host()}",
                "include_site": False,
                "scope_specification": [],
            },
            "credentials": [
                {
                    "type": "cookie",
                    "name": app_settings.DEVICE_BOUND_COOKIE_NAME,
                    "attributes": "; ".join(
                        name if value is True else f"{name}={value}"
                        for name, value in attributes.items()
                    ),
                }
            ],
        }
    )
    response.set_cookie(
        app_settings.DEVICE_BOUND_COOKIE_NAME,
        _cookie_value(binding_id),
        max_age=app_settings.DEVICE_BOUND_COOKIE_AGE,
        domain=attributes.get("Domain"),
        path=attributes["Path"],
        secure=True,
        httponly=True,
        samesite=attributes.get("SameSite"),
    )
    return response


def _cookie_attributes() -> dict:
    """The bound cookie's attributes, as the session cookie's (always Secure, HttpOnly)."""
    attributes = {}
    if settings.SESSION_COOKIE_DOMAIN:
        attributes["Domain"] = settings.SESSION_COOKIE_DOMAIN
    attributes.update(Path=settings.SESSION_COOKIE_PATH, Secure=True, HttpOnly=True)
    if settings.SESSION_COOKIE_SAMESITE:
        attributes["SameSite"] = settings.SESSION_COOKIE_SAMESITE
    return attributes


# --- reading what the browser sent --------------------------------------------------------


def _same(a: str, b: str) -> bool:
    """Constant-time equality of two strings, whatever characters a header brought."""
    return compare_digest(a.encode(), b.encode())


def _unquote(value: str) -> str:
    """A header value sent as a structured-field string (quoted) or bare."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def _header(request: HttpRequest, name: str) -> str:
    value = _unquote(request.META.get(name, ""))
    if not value:
        raise Refused(400, _("The Secure-Session-Response header is missing."))
    if len(value) > MAX_PROOF_LENGTH:
        raise Refused(400, _("The Secure-Session-Response header is too long."))
    return value


def _public_key(jwk, algorithm: str) -> dict:
    """The public members of the key a registration sends, as they are stored: a P-256 key
    for ES256, an RSA key for RS256; a key with private members is refused."""
    if not isinstance(jwk, dict) or _PRIVATE_MEMBERS & jwk.keys():
        raise Refused(400, _("The proof must carry the device's public key."))
    if algorithm == "ES256":
        members, expected = ("kty", "crv", "x", "y"), {"kty": "EC", "crv": "P-256"}
    else:
        members, expected = ("kty", "n", "e"), {"kty": "RSA"}
    key = {member: jwk.get(member) for member in members}
    if not all(isinstance(value, str) and value for value in key.values()) or any(
        key[member] != value for member, value in expected.items()
    ):
        raise Refused(400, _("The device's key does not match the proof's algorithm."))
    return key


def _verify(token: str, stored_key: dict | None) -> tuple[dict, str]:
    """Check a proof (a ``dbsc+jwt``): its algorithm, its key (the stored one, or at
    registration the one it carries) and its signature. Returns the key and the signed
    ``jti`` (the challenge); anything else is ``Refused`` (400)."""
    import jwt  # the device-bound extra (PyJWT with cryptography), only when in use

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Refused(400, _("The proof is not a well-formed JWT.")) from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise Refused(400, _("The proof's algorithm is not ES256 or RS256."))
    if header.get("typ", "dbsc+jwt") != "dbsc+jwt":
        raise Refused(400, _("The proof is not a DBSC proof."))
    key = _public_key(header.get("jwk") if stored_key is None else stored_key, algorithm)
    try:
        verifier = jwt.PyJWK(key, algorithm=algorithm)
        if algorithm == "RS256" and verifier.key.key_size < 2048:
            raise Refused(400, _("The device's RSA key is shorter than 2048 bits."))
        claims = jwt.decode(
            token,
            verifier,
            algorithms=[algorithm],
            options={"require": ["jti"], "verify_aud": False, "verify_iss": False},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        logger.info("Device-bound proof refused: %r", exc)
        raise Refused(400, _("The proof is not signed by the device's key.")) from None
    jti = claims.get("jti")
    if not isinstance(jti, str):
        raise Refused(400, _("The proof does not name a challenge."))
    return key, jti


def _open_challenge(jti: str, salt: str, max_age: int | None) -> tuple[str, int]:
    """(what the challenge names, when it was issued in ms), if we signed it."""
    try:
        subject, _sep, issued = signing.Signer(salt=salt).unsign(jti).rpartition(":")
        issued_ms = int(issued)
    except (signing.BadSignature, ValueError):
        raise Refused(400, _("The proof answers a challenge this site did not issue.")) from None
    if max_age is not None and _now_ms() - issued_ms > max_age * 1000:
        raise Refused(400, _("The challenge has expired. Sign in again to bind this device."))
    return subject, issued_ms


def _record_refusal(row: DeviceSession) -> None:
    """A proof that failed for a bound session: into its history, at most every few
    minutes (whoever holds a copied cookie could otherwise fill it)."""
    try:
        first = cache.add(f"sessions_mgmt:proof-refused:{row.pk}", 1, REFUSAL_EVENT_INTERVAL)
    except Exception:  # the cache is down: the event matters more than its pace
        logger.warning("Cache unavailable while recording a refused device proof", exc_info=True)
        first = True
    if first:
        history.proof_refused(row)


def _now_ms() -> int:
    return int(time.time() * 1000)
