"""Sessions the app has not seen yet: signed in before it was installed, with no row and no
state, and not used since (a stolen cookie nobody has tried yet). They cannot be listed
without scanning the whole store, but every revocation must end them too.

So a revocation that covers a user (sign out of all other devices, the admin's action, a
password change, ``revoke_sessions --user``) or everyone (``--all``, ``--signed-in-before``)
records a cutoff, and a session with no state of the app's is checked against the cutoffs
before its user reaches a view: one query, for such sessions only. Its sign-in time is
unknown, so it counts as signed in before any cutoff and is refused. A session that is not
refused is adopted as before (``flows.sign_in.adopt``).

All of this applies only while such sessions can exist: until ``SESSION_COOKIE_AGE`` after
the app's first migration ran (``SESSIONS_MGMT_UNSEEN_SESSIONS_FOR`` seconds instead, where
the project gave some sessions longer lives with ``set_expiry()``; ``0`` for a project that
had no signed-in users when it installed the app). Meanwhile ``request.user`` is guarded
before each view (a lazy wrapper, no query for a tracked session); after that no cutoff is
written and no request is checked.
"""

import functools
import time

from django.contrib.auth import SESSION_KEY
from django.db import DatabaseError, connections, router
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Q

from ..conf import app_settings
from ..models import DeviceSession, UnseenCutoff
from . import state as codec


@functools.cache
def _installed(using: str) -> float | None:
    """When the app's first migration ran on ``using`` (unix time), once per process."""
    try:
        applied = (
            MigrationRecorder(connections[using])
            .migration_qs.filter(app="sessions_mgmt", name="0001_initial")
            .values_list("applied", flat=True)
            .first()
        )
    except DatabaseError:
        return None
    return None if applied is None else applied.timestamp()


def _until() -> float:
    """When the last session from before the app can expire (unix time)."""
    lifetime = app_settings.UNSEEN_SESSIONS_FOR
    if lifetime is None:
        lifetime = app_settings.SESSION_COOKIE_AGE
    if lifetime <= 0:
        return 0.0
    installed = _installed(router.db_for_write(UnseenCutoff))
    return float("inf") if installed is None else installed + lifetime  # unknown: the safe side


def until() -> float:
    """When the last session from before the app can expire (worked out once per
    configuration)."""
    return app_settings.memo("unseen_until", _until)


def possible() -> bool:
    """Whether sessions from before the app may still exist: a clock comparison, once
    the moment is known (worked out once per configuration: one query)."""
    return time.time() < app_settings.memo("unseen_until", _until)


def cut_off(users=None) -> None:
    """Refuse, from now on, the unseen sessions of ``users`` (ids or users), or of
    everyone with ``users=None``. Inside the revocation's transaction, where there is one."""
    if not possible():
        return
    using = router.db_for_write(UnseenCutoff)
    if users is None:
        UnseenCutoff.objects.using(using).create(user=None)
        return
    ids = {getattr(user, "pk", user) for user in users}
    UnseenCutoff.objects.using(using).bulk_create(UnseenCutoff(user_id=pk) for pk in ids)


def refused(session) -> bool:
    """Whether this session is one the app has not seen (signed in, with no state and no
    row), and a revocation cut it off. Costs nothing for a tracked session."""
    if SESSION_KEY not in session or codec.tracked(session):
        return False
    using = router.db_for_write(UnseenCutoff)
    cut = UnseenCutoff.objects.using(using).filter(
        Q(user_id=session[SESSION_KEY]) | Q(user__isnull=True)
    )
    rows = DeviceSession.objects.using(using).filter(session_key=session.session_key)
    return cut.exists() and not rows.exists()
