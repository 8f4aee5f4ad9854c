"""Reads: the user's sessions that work, one of them, their liveness, and the history.

Nothing here writes or ends anything (``services`` does, through its one door); every
decision reads the primary database and asks the session store, through its one alive rule
(``store.works``), which sessions work. ``services`` re-exports these for the public API.
"""

import logging
import uuid
from collections.abc import Sequence

from django.conf import settings
from django.db import router
from django.views.decorators.debug import sensitive_variables

from .. import history
from ..location import locate
from ..models import DeviceSession, DeviceSessionQuerySet
from . import state, store
from .store import SessionStoreError

logger = logging.getLogger(__name__)


def primary() -> str:
    """The database alias decisions read: the one rows are written to, never a replica."""
    return router.db_for_write(DeviceSession)


def user_sessions(user) -> DeviceSessionQuerySet:
    """Every row of the user, read from the primary database, most recently active first.

    Not filtered by the rows' ``expires_at``: that is a copy, and a session whose copy is
    out of date must still be found (and ended) while its cookie works.
    """
    return DeviceSession.objects.using(primary()).filter(user=user).order_by("-last_active_at")


#: The row fields that copy a live session's state; ``refresh_rows`` brings them up to date.
LIVE_FIELDS = ("last_active_at", "ip", "location", "expires_at")


def _apply_liveness(row: DeviceSession, data) -> bool:
    """Give ``row`` its session's live values, from the session's stored ``data``; whether
    its copy changed. A row's copy is never newer than the session, except for a session
    being signed in right now, whose data is still empty."""
    values = state.live_values(data)
    if not values:
        return False
    if values["last_active_at"] <= row.last_active_at:
        del values["last_active_at"]
    if values["ip"] != row.ip:
        values["location"] = locate(values["ip"])
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


@sensitive_variables()
def list_devices(user, current_session_key: str | None) -> list[DeviceSession]:
    """The user's sessions whose cookies work, for display: the current one first, flagged
    ``is_current``, then the most recently active.

    The session store answers both which sessions work (``store.works``: Django's own
    rule) and how live they are (last active, IP, expiry: the touch records them in the
    session, not the row), in one query or one cache call for the whole list; so a session
    is listed exactly while it can be used, whatever its row says. Rows of sessions that
    have ended are left for pruning.
    """
    rows = list(user_sessions(user))
    try:
        live = store.working([(row.session_key, user) for row in rows])
    except SessionStoreError as exc:
        # Nothing is hidden: with the store unreachable, every row stays listed (and no
        # cookie works meanwhile, since no session can be loaded).
        logger.warning("Listing sessions without the store's word on them: %r", exc)
        live = {row.session_key: {} for row in rows}
    rows = [row for row in rows if row.session_key in live]
    for row in rows:
        _apply_liveness(row, live[row.session_key])
        row.is_current = current_session_key is not None and row.session_key == current_session_key
    rows.sort(key=lambda row: (not row.is_current, -row.last_active_at.timestamp()))
    return rows


def get_session(user, public_id: str | uuid.UUID) -> DeviceSession:
    """The user's session with this public id; another user's id is treated as unknown.

    Raises ``DeviceSession.DoesNotExist`` for unknown, malformed and foreign ids alike, so
    a caller cannot tell them apart.
    """
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        raise DeviceSession.DoesNotExist from None
    return user_sessions(user).get(public_id=public_id)


@sensitive_variables()
def live_session(user, public_id: str | uuid.UUID, current_session_key: str | None):
    """One of the user's sessions whose cookie works, flagged ``is_current``, with its live
    values, for its details page. Unknown, malformed, foreign *and* ended ids all raise
    ``DeviceSession.DoesNotExist``: what is not listed has no details either."""
    row = get_session(user, public_id)
    row.is_current = row.session_key == current_session_key
    live = store.working([(row.session_key, user)])
    if row.session_key not in live and not row.is_current:
        raise DeviceSession.DoesNotExist
    data = live.get(row.session_key, {})
    _apply_liveness(row, data)
    row.ends_with_browser = state.ends_with_browser(data, settings.SESSION_EXPIRE_AT_BROWSER_CLOSE)
    return row


def with_liveness(rows: Sequence[DeviceSession]) -> Sequence[DeviceSession]:
    """Give these rows (the admin's page of them, say) their sessions' live values, in
    one round trip to the store; rows of ended sessions keep their last copy."""
    live = store.session_data([row.session_key for row in rows])
    for row in rows:
        if row.session_key in live:
            _apply_liveness(row, live[row.session_key])
    return rows


def session_events(user, row: DeviceSession):
    """What happened to one session, newest first."""
    return events_of(user).filter(session_id=row.public_id)


def events_of(user):
    """The user's security history, newest first (a queryset, for slicing and paging)."""
    return history.events_of(user).using(primary())
