"""Limits on wrong passwords, wherever a password is checked (ASVS 4.0.3 V2.2.1).

A thief holding a stolen cookie could otherwise guess the account's password on any page
that checks one, change it, and so sign the owner out of every other device. So every
password check (signing in, changing the password, "Confirm it's you" on the page and in
the API) goes through ``attempt()``, which counts it in the shared cache *before* the slow
hash runs: parallel guesses cannot get past the limit, and all app servers see one count.

Four counters, each over a window of ``window`` seconds from its first wrong password
(``SESSIONS_MGMT_PASSWORD_LIMITS``, defaults in ``DEFAULT_LIMITS``), in the manner of
django-axes and allauth, so that they hit the one guessing, not the people beside them:

- ``session``: wrong passwords sent from one signed-in session (5);
- ``address_account``: against one account from one client address, when signing in (10):
  an attacker's guesses, or a person's typos, at one account from an office or a proxy's
  address refuse nobody else's password there;
- ``address``: from one client address, every account and channel together (100): looser,
  it bounds guessing many accounts from one place;
- ``account``: against one account when signing in, from anywhere (50): it bounds guessing
  from many addresses.

A client address counts as itself, an IPv4-mapped IPv6 address as its IPv4 address, and
an IPv6 address as its /64 (a single host is usually given a whole /64, so its addresses
are one client's). A refusal says how long is left of the window that refused it.

A check made from inside one of the account's own signed-in sessions (confirming, changing
the password, signing in again as itself) is refused by its session's and its address's
counters, never by the account's: a session is only had
by signing in, which the account's ceiling bounds, or by stealing a cookie, which the owner
can revoke. So a thief's wrong guesses lock the thief's own session out, and nobody can
lock the owner out of confirming and signing the thief out. Signing in is refused by the
address's and the account's counters, also from a session of another account.

A refused check is not counted (a refused address cannot use up an account's ceiling), and
a right password takes its count back: the counts are wrong passwords plus checks in flight.
"""

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.cache import caches
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext

from .conf import app_settings
from .network import client_ip

DEFAULT_LIMITS = {
    "session": 5,
    "address_account": 10,
    "address": 100,
    "account": 50,
    "window": 15 * 60,
}
_PREFIX = "sessions_mgmt:pw"
logger = logging.getLogger(__name__)

# Set while an ``attempt()`` is open, so that an ``authenticate()`` it runs (and the
# throttled backend in it) does not count the same check twice.
_counting: ContextVar[bool] = ContextVar("sessions_mgmt_counting", default=False)


class Throttled(Exception):
    """Too many wrong passwords: the check was refused without looking at the password.
    ``window``: the seconds left until the counter that refused it lets checks through;
    ``status``: the HTTP status that says so."""

    status = 429

    def __init__(self, window: int) -> None:
        self.window = window
        super().__init__(message(window))


class CountingUnavailable(Throttled):
    """The cache that counts wrong passwords cannot be reached, and checks are refused
    meanwhile (``SESSIONS_MGMT_PASSWORD_LIMITS_CACHE_DOWN = "refuse"``, the default):
    uncounted, guesses would be unlimited."""

    status = 503
    RETRY_AFTER = 30

    def __init__(self) -> None:
        self.window = self.RETRY_AFTER
        Exception.__init__(
            self,
            gettext("Checking passwords is briefly unavailable. Please try again in a minute."),
        )


def message(window: int | None = None) -> str:
    """What people are told when a check is refused, ``window`` seconds before it is
    allowed again (the whole window when unknown)."""
    window = limits()["window"] if window is None else window
    minutes = max(1, math.ceil(window / 60))
    return ngettext(
        "Too many wrong passwords. Please wait %(minutes)d minute, then try again.",
        "Too many wrong passwords. Please wait %(minutes)d minutes, then try again.",
        minutes,
    ) % {"minutes": minutes}


def limits() -> dict:
    """The limits in force (``DEFAULT_LIMITS`` overridden by the setting), or ``{}``
    when ``SESSIONS_MGMT_PASSWORD_LIMITS`` is ``None`` (no limits)."""
    configured = app_settings.PASSWORD_LIMITS
    if configured is None:
        return {}
    return {**DEFAULT_LIMITS, **configured}


def _digest(value: str) -> str:
    """Cache keys name no session key, address or username in the clear."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def account_id(username: str) -> str:
    """One account however its name is typed (``Alice`` and ``alice`` count together)."""
    return username.casefold()


def client(address: str | None) -> str | None:
    """The client an address stands for, for counting: an IPv4-mapped address as its IPv4
    address, an IPv6 address as its /64."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _counters(request: HttpRequest | None, account: str | None) -> list[tuple[str, int]]:
    """The (cache key, limit) pairs this check counts against, the narrowest first."""
    found = limits()
    session = getattr(request, "session", None) if request is not None else None
    user = getattr(request, "user", None) if request is not None else None
    signed_in = bool(
        session is not None and session.session_key and user is not None and user.is_authenticated
    )
    counters = []
    if signed_in:
        counters.append((f"{_PREFIX}:s:{_digest(session.session_key)}", found["session"]))
    address = client(client_ip(request)) if request is not None else None
    if address and account is not None:
        pair = f"{address}\n{account_id(account)}"
        counters.append((f"{_PREFIX}:aa:{_digest(pair)}", found["address_account"]))
    if address:
        counters.append((f"{_PREFIX}:a:{_digest(address)}", found["address"]))
    if account is not None and not (signed_in and _is_own(user, account)):
        counters.append((f"{_PREFIX}:u:{_digest(account_id(account))}", found["account"]))
    return counters


def _is_own(user, account: str) -> bool:
    """Whether ``account`` names the user signed in in this session: only a check made
    inside one of the account's own sessions skips the account's ceiling. Any other
    session (another account's, signed in to guess from) counts like a stranger."""
    return account_id(account) == account_id(str(user.get_username()))


def _incr(cache, key: str, window: int) -> int:
    """Add one, atomically on Redis and Memcached; the window starts with the first."""
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add() and incr(): a new window
        cache.add(key, 1, window)
        return 1
    if count <= 1:
        # Redis recreates an expired key without a lifetime on INCR: give it one.
        cache.touch(key, window)
    return count


def _decr(cache, key: str) -> None:
    try:
        if cache.decr(key) <= 0:
            cache.delete(key)  # nothing counted (or a key recreated without a lifetime)
    except ValueError:  # expired meanwhile: nothing to take back
        pass


class Attempt:
    """One password check in progress: call ``succeeded()`` when the password was right."""

    def __init__(self, cache, keys: list[str], first: list[str] | None = None) -> None:
        self._cache = cache
        self._keys = keys
        self._first = first or []  # the counters this check started a window of

    @property
    def opened_session_window(self) -> bool:
        """Whether this check was the first of its session's window: a wrong password then
        is worth telling the owner about (once per window)."""
        return any(key.startswith(f"{_PREFIX}:s:") for key in self._first)

    def failed(self, window: int, started: float) -> None:
        """A wrong password: the windows it started get their end written beside them, so
        that a refusal can say how long is left. Only after a wrong password, so that a
        right one costs no write."""
        try:
            for key in self._first:
                self._cache.set(f"{key}:end", started + window, window)
        except Exception as exc:  # only the message's "minutes left" is lost
            logger.warning("Could not note when a wrong-password window ends: %r", exc)

    def succeeded(self) -> None:
        """A right password is not a wrong one: take its count back (it never resets a
        counter, so that signing in to one's own account clears nothing for an attacker
        at the same address). The cache failing now costs the person nothing: the count
        stays until its window ends."""
        keys, self._keys = self._keys, []
        try:
            for key in keys:
                _decr(self._cache, key)
        except Exception as exc:
            logger.warning("Could not take back a right password's count: %r", exc)


@contextmanager
def attempt(request: HttpRequest | None, account: str | None = None) -> Iterator[Attempt]:
    """Count a password check before it runs; raise ``Throttled`` instead if a counter is
    over its limit. ``account`` is the username being signed in to (None from inside a
    session, where the session itself counts)."""
    if _counting.get():  # an outer attempt() already counts this check
        yield Attempt(None, [])
        return
    found = limits()
    if not found:
        token = _counting.set(True)
        try:
            yield Attempt(None, [])
        finally:
            _counting.reset(token)
        return
    cache = caches[app_settings.PASSWORD_LIMITS_CACHE]
    counted, first, over, started = [], [], False, time.time()
    try:
        for key, limit in _counters(request, account):
            counted.append(key)
            count = _incr(cache, key, found["window"])
            if count == 1:
                first.append(key)
            if count > limit:
                over = True
                break
        if over:
            for key in counted:  # a refused check is not a wrong password
                _decr(cache, key)
            end = cache.get(f"{counted[-1]}:end")
    except Exception as exc:
        if app_settings.PASSWORD_LIMITS_CACHE_DOWN != "allow":
            logger.error(
                "The cache %r cannot count wrong passwords (%r): password checks are "
                'refused until it is back (SESSIONS_MGMT_PASSWORD_LIMITS_CACHE_DOWN = "refuse").',
                app_settings.PASSWORD_LIMITS_CACHE,
                exc,
            )
            _refuse(request, CountingUnavailable())
        logger.warning(
            "The cache %r cannot count wrong passwords (%r): this check runs uncounted "
            '(SESSIONS_MGMT_PASSWORD_LIMITS_CACHE_DOWN = "allow").',
            app_settings.PASSWORD_LIMITS_CACHE,
            exc,
        )
        counted, first, over = [], [], False
    if over:
        left = found["window"] if end is None else max(1, math.ceil(end - time.time()))
        _refuse(request, Throttled(left))
    token = _counting.set(True)
    check = Attempt(cache, counted, first)
    try:
        yield check
    finally:
        _counting.reset(token)
    if check._keys:  # not taken back: a wrong password (or a check that failed)
        check.failed(found["window"], started)


#: Request attribute: the refusal (a ``Throttled``) of a check made in this request, so that
#: a form can say why and the middleware can answer a cache that is down with a 503.
THROTTLED_ATTR = "sessions_mgmt_throttled"


def _refuse(request: HttpRequest | None, refusal: Throttled) -> None:
    if request is not None:
        setattr(request, THROTTLED_ATTR, refusal)
    raise refusal


def was_throttled(request: HttpRequest | None) -> bool:
    return bool(getattr(request, THROTTLED_ATTR, False))


def refusal(request: HttpRequest | None) -> Throttled | None:
    """The refusal of a check made in this request, if one was refused."""
    return getattr(request, THROTTLED_ATTR, None)
