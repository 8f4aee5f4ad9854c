"""The one codec of the state the app keeps inside each session: read, write, the
steady-state check and the live values lists show. Nothing else parses these strings.

A tracked session holds, under ``STATE_KEY``, one short string ``"id|t|s|a|ip|ua|x|e"``:
the row's pk (``id``), the unix times of the row's last update (``t``), of sign-in or
adoption (``s``) and of the last request (``a``), the IP then (``ip``), a crc32 of the
User-Agent then (``ua``), when the store ends the session (``x``) and the raw
``set_expiry()`` value it followed (``e``). A string, not a dict: every signed-in request
decodes the session, and a nested dict of 8 keys cost it about 35,000 CPU instructions
more (docs/PERFORMANCE.md). A device-bound session also holds its binding under
``BOUND_KEY``: ``"binding id|issue time of the last challenge it answered"``.
"""

import json
import time
from datetime import UTC, datetime

#: Session data key of a tracked session's state.
STATE_KEY = "_smgmt"
#: Where versions before 0.2 kept the state, as a dict: still read, never written. A new
#: key, so that during a rolling upgrade an older server finds no state it cannot read
#: (it adopts the session again, as it would a session from before the app) instead of
#: failing on a string.
LEGACY_STATE_KEY = "_sessions_mgmt"
#: Session data key of a device-bound session's binding (see ``binding``).
BOUND_KEY = "_smgmt_b"
#: Session data key Django keeps a custom expiry under (``set_expiry()``).
EXPIRY_KEY = "_session_expiry"


def read(session) -> dict | None:
    """The tracking state of a session (or of its stored data, a mapping), or None if it
    has none. Sessions that hold the older dict (under ``LEGACY_STATE_KEY``) still read."""
    raw = session.get(STATE_KEY)
    if raw is None:
        return session.get(LEGACY_STATE_KEY)
    if not isinstance(raw, str):
        return raw
    pk, t, s, a, ip, ua, x, e = raw.split("|", 7)
    state = {"id": int(pk), "t": int(t), "s": int(s), "a": float(a), "ip": ip or None}
    state["ua"] = int(ua)
    if x:
        state["x"] = float(x)
    state["e"] = json.loads(e) if e else None
    return state


def tracked(session) -> bool:
    """Whether the session holds a state of the app's (without reading it)."""
    return STATE_KEY in session or LEGACY_STATE_KEY in session


def write(session, state: dict) -> None:
    """Store ``state`` in the session (which marks it modified), as ``read`` reads; a
    legacy dict, if any, goes."""
    session.pop(LEGACY_STATE_KEY, None)
    e = state.get("e")
    expiry = "" if e is None else json.dumps(e)
    now = state.get("t", 0)
    x = repr(float(state["x"])) if state.get("x") is not None else ""
    session[STATE_KEY] = (
        f"{state['id']}|{int(now)}|{int(state.get('s', now))}|{float(state.get('a', now))!r}"
        f"|{state.get('ip') or ''}|{state.get('ua', 0)}|{x}|{expiry}"
    )


def clear(session) -> None:
    """Remove the app's state from a session (a new sign-in starts without one, and
    unbound: the browser's key was proved for the sign-in before)."""
    for key in (STATE_KEY, LEGACY_STATE_KEY, BOUND_KEY):
        if key in session:
            del session[key]


def expires_at(state: dict) -> datetime:
    """When the store ends a tracked session, by its state."""
    return datetime.fromtimestamp(state["x"], tz=UTC)


def quiet_and_fresh(session, touch_interval: float) -> bool:
    """The steady-state check, on the raw string without parsing it all: the session holds
    a state touched within ``touch_interval`` seconds, for the same kind of expiry it has
    now. It runs on every request (docs/PERFORMANCE.md)."""
    raw = session.get(STATE_KEY)
    if raw.__class__ is not str:
        return False
    start = raw.find("|") + 1
    if time.time() - int(raw[start : raw.find("|", start)]) >= touch_interval:
        return False
    expiry = session.get(EXPIRY_KEY)
    return raw[raw.rfind("|") + 1 :] == ("" if expiry is None else json.dumps(expiry))


def live_values(data) -> dict:
    """A session's liveness, from its stored data (``store.session_data``): when it was
    last active (to the touch interval, or exactly with an idle timeout), its IP then and
    when the store ends it, as the ``DeviceSession`` fields they update. Empty when the
    data holds no state (a session being signed in right now: its row is up to date)."""
    state = read(data)
    if state is None:
        return {}
    values = {
        "last_active_at": datetime.fromtimestamp(max(state["t"], state.get("a", 0)), tz=UTC),
        "ip": state.get("ip"),
    }
    if state.get("x"):
        values["expires_at"] = datetime.fromtimestamp(state["x"], tz=UTC)
    return values


def ends_with_browser(data, expire_at_browser_close: bool) -> bool:
    """Whether a session ends when its browser closes (no "Remember me"), from its stored
    ``data``: its ``set_expiry()`` value the state records was 0, or it had none and the
    project's sessions end at browser close (``SESSION_EXPIRE_AT_BROWSER_CLOSE``)."""
    state = read(data)
    if state is None:
        return False
    expiry = state.get("e")
    return expiry == 0 or (expiry is None and expire_at_browser_close)


def binding(session) -> tuple[str, int] | None:
    """A device-bound session's binding id and the issue time (ms) of the last challenge
    it answered, or None if the session is not bound."""
    bound = session.get(BOUND_KEY)
    if bound is None:
        return None
    binding_id, _, used = bound.partition("|")
    return binding_id, int(used or 0)


def binding_id(raw: str) -> str:
    """The binding id of a raw ``BOUND_KEY`` value (the guard reads the raw value itself,
    sync or async)."""
    return raw.partition("|")[0]


def write_binding(session, binding_id: str, issued: int) -> None:
    """Bind the session, or record the last challenge it answered."""
    session[BOUND_KEY] = f"{binding_id}|{issued}"
