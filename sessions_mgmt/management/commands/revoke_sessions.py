"""``manage.py revoke_sessions``: end sessions by user, by inactivity, by sign-in time
(an incident cutoff), or everyone's.

Selectors combine: ``--user alice --inactive-for 30d`` ends alice's sessions idle for 30
days. ``--expired`` prunes, among the selected rows (all rows when alone), only those whose
session has expired or left the store. ``--all``, and ``--signed-in-before`` without
``--user``, ask for confirmation unless ``--no-input``. ``--expired`` also brings the
remaining rows' copies of their sessions' activity up to date (``services.refresh_rows``):
run it periodically (say hourly) as the pruning job. A session adopted when the app was
installed has no known sign-in time, and counts as signed in before any
``--signed-in-before`` moment.
Work is done in batches (``--batch-size``), so memory does not grow with the number of
sessions; every ending goes through ``sessions_mgmt.services``.

Under contention (sign-ins writing meanwhile; on SQLite, whose one writer at a time makes
the others wait at most its timeout, then fail with "database is locked"; elsewhere a
deadlock or a lock timeout) a step that fails with the database's ``OperationalError`` is
tried again, up to ``RETRIES`` times after pauses that grow from ``BACKOFF`` seconds. Each
batch is committed on its own and ended rows are gone, so the next attempt, like a new run
of the same command, continues where the last stopped; cutoffs (``--signed-in-before``,
``--inactive-for``) are computed once, before any attempt, and do not move. If the
database stays busy, a ``CommandError`` says how many sessions were ended and that the
rest are still live and still listed (never a traceback): run the command again, with the
``--signed-in-before`` moment it gives, so that a cutoff given as a duration stays put.
"""

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import OperationalError, connections
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sessions_mgmt import services
from sessions_mgmt.conf import app_settings
from sessions_mgmt.models import DeviceSession

DURATION = re.compile(r"^(\d+)([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
PROGRESS_EVERY = 5.0  # seconds between two progress lines
# A busy database is tried again RETRIES times, after pauses of BACKOFF seconds, doubled
# each time up to BACKOFF_MAX: with SQLite's default 5 s timeout, under a minute in all.
RETRIES = 5
BACKOFF = 0.5
BACKOFF_MAX = 4.0


def parse_duration(value: str, option: str = "--inactive-for") -> timedelta:
    match = DURATION.match(value.strip().lower())
    if not match:
        raise CommandError(
            f"{option}: {value!r} is not a duration; use a number and a unit, "
            "e.g. 45m, 12h, 30d or 2w."
        )
    return timedelta(**{UNITS[match[2]]: int(match[1])})


def parse_moment(value: str) -> datetime:
    """``--signed-in-before``: an ISO 8601 date-time (without an offset, in ``TIME_ZONE``)
    or a duration meaning that long ago. Never in the future: that would end everything."""
    if DURATION.match(value.strip().lower()):
        return timezone.now() - parse_duration(value, "--signed-in-before")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            f"--signed-in-before: {value!r} is neither an ISO 8601 date-time "
            "(2026-11-28T09:30:00+00:00) nor a duration (12h, 3d)."
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > timezone.now():
        raise CommandError(f"--signed-in-before: {value!r} is in the future.")
    return moment


def database_busy(exc: Exception) -> OperationalError | None:
    """The database's ``OperationalError`` (a lock, a deadlock, a lost connection) behind
    ``exc``, if that is what failed: raised as is, or as the cause of a
    ``SessionStoreError`` (the ``db`` and ``cached_db`` engines keep sessions there)."""
    if isinstance(exc, OperationalError):
        return exc
    if isinstance(exc, services.SessionStoreError) and isinstance(exc.__cause__, OperationalError):
        return exc.__cause__
    return None


def sessions_of_users(sessions: int, users: int) -> dict:
    """The two counts of a summary line, each with its plural: "1 session", "2 users"."""
    return {
        "sessions": ngettext("%(count)s session", "%(count)s sessions", sessions)
        % {"count": f"{sessions:,}"},
        "users": ngettext("%(count)s user", "%(count)s users", users) % {"count": f"{users:,}"},
    }


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise CommandError(f"--batch-size: {value!r} is not a whole number of at least 1.")
    return number


class Progress:
    """Counts what was ended, and says so on stderr every few seconds on long runs."""

    def __init__(self, stream, expected: int) -> None:
        self.stream, self.expected = stream, expected
        self.done, self.users = 0, set()
        self.last = time.monotonic()

    def __call__(self, batch: list[services.Row]) -> None:
        self.add(len(batch), {row.user_id for row in batch})

    def add(self, count: int, user_ids: set) -> None:
        self.done += count
        self.users.update(user_ids)
        if time.monotonic() - self.last >= PROGRESS_EVERY:
            self.last = time.monotonic()
            self.stream.write(
                ngettext(
                    "  %(done)s of %(expected)s session revoked…",
                    "  %(done)s of %(expected)s sessions revoked…",
                    self.expected,
                )
                % {"done": f"{self.done:,}", "expected": f"{self.expected:,}"}
            )


class Command(BaseCommand):
    help = "End signed-in sessions: of some users, inactive ones, expired ones, or everyone's."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user",
            action="append",
            default=[],
            metavar="USER",
            help="Username, email or id of a user whose sessions to end (repeatable).",
        )
        parser.add_argument("--all", action="store_true", help="End the sessions of every user.")
        parser.add_argument(
            "--inactive-for",
            metavar="DURATION",
            help="Only sessions not active for this long: 45m, 12h, 30d, 2w.",
        )
        parser.add_argument(
            "--signed-in-before",
            metavar="WHEN",
            help="Only sessions signed in before WHEN: an ISO 8601 date-time "
            "(2026-11-28T09:30:00Z; without an offset, in TIME_ZONE) or a duration meaning "
            "that long ago (12h, 3d). An incident cutoff: with no --user, everyone's.",
        )
        parser.add_argument(
            "--expired",
            action="store_true",
            help="Prune rows whose session has expired or is gone from the session store.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print what would be ended; end nothing (rows' copies of their sessions' "
            "activity are still brought up to date).",
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation (needed with --all when not at a terminal).",
        )
        parser.add_argument(
            "--batch-size",
            default=None,
            metavar="N",
            help=f"Sessions per batch (default {app_settings.REVOKE_BATCH_SIZE}).",
        )

    def handle(self, *args, **options) -> None:
        users, everyone = options["user"], options["all"]
        inactive_for, expired = options["inactive_for"], options["expired"]
        before = options["signed_in_before"]
        if not (users or everyone or inactive_for or expired or before):
            raise CommandError(
                "Say whose sessions to end: --user USER, --all, --inactive-for DURATION, "
                "--signed-in-before WHEN or --expired."
            )
        if users and everyone:
            raise CommandError("--user and --all exclude each other.")
        batch_size = (
            positive_int(options["batch_size"])
            if options["batch_size"] is not None
            else app_settings.REVOKE_BATCH_SIZE
        )
        # Computed once, here: attempts made again (see ``retrying``) keep the same cutoffs.
        cutoff = timezone.now() - parse_duration(inactive_for) if inactive_for else None
        signed_in_before = parse_moment(before) if before else None

        rows = DeviceSession.objects.all()
        if users:
            self.user_ids = self.find_users(users)
            rows = rows.filter(user__in=self.user_ids)
        if cutoff is not None:
            rows = rows.filter(last_active_at__lt=cutoff)
            # A row's last activity is a copy (the session holds the truth, see
            # services.refresh_rows) and never newer than it: bring the candidates' copies
            # up to date, so that the filter, evaluated after, sees real activity.
            self.refresh(rows, batch_size)
        if signed_in_before is not None:
            # A session adopted from before the app has no known sign-in time: before any.
            rows = rows.filter(Q(created_at__lt=signed_in_before) | Q(sign_in_known=False))

        if expired:  # prune the dead among the selected rows; live ones are left alone
            self.prune(rows, batch_size, options)
            return
        self.revoke(rows, batch_size, options, signed_in_before)

    def find_users(self, identifiers: list[str]) -> list:
        User = get_user_model()
        email_field = User.get_email_field_name()
        found, missing = [], []
        for identifier in identifiers:
            lookups = [Q(**{User.USERNAME_FIELD: identifier})]
            if email_field:
                lookups.append(Q(**{f"{email_field}__iexact": identifier}))
            if identifier.isdigit():
                lookups.append(Q(pk=int(identifier)))
            for lookup in lookups:
                matches = list(User._default_manager.filter(lookup)[:2])
                if len(matches) == 1:
                    found.append(matches[0].pk)
                    break
                if len(matches) > 1:
                    raise CommandError(f"--user {identifier!r} matches more than one user.")
            else:
                missing.append(identifier)
        if missing:
            raise CommandError(
                "No such user: " + ", ".join(repr(m) for m in missing) + ". Nothing was revoked."
            )
        return found

    def retrying(self, step: Callable, left: Callable[[], str]):
        """Return ``step()``, tried again while the database is busy (see the module's
        docstring); when it still is after the last attempt, raise ``CommandError``, which
        goes on with ``left()``: what was done and what is left. Other errors are raised
        as they are."""
        pause = BACKOFF
        for attempt in range(1, RETRIES + 2):
            try:
                return step()
            except (OperationalError, services.SessionStoreError) as exc:
                error = database_busy(exc)
                if error is None:
                    raise
                if attempt > RETRIES:
                    raise CommandError(
                        f"The database stayed busy through {attempt} attempts ({error}). {left()}"
                    ) from exc
            self.stderr.write(f"  The database is busy ({error}); trying again in {pause:g} s…")
            time.sleep(pause)
            pause = min(pause * 2, BACKOFF_MAX)
            connection = connections[services.primary()]
            if not connection.in_atomic_block:  # a broken connection is replaced
                connection.close_if_unusable_or_obsolete()

    def revoke(self, rows, batch_size: int, options, signed_in_before) -> None:
        totals = self.retrying(
            lambda: rows.aggregate(sessions=Count("pk"), users=Count("user", distinct=True)),
            lambda: "Nothing was revoked; run the command again.",
        )
        sessions, users = totals["sessions"], totals["users"]
        if options["dry_run"]:
            self.describe(rows, sessions, users)
            return
        everyones = options["all"] or (options["signed_in_before"] and not options["user"])
        if sessions and everyones and options["interactive"]:
            self.confirm(sessions, users)

        progress = Progress(self.stderr, sessions)
        if not options["inactive_for"]:
            # Sessions the app has not seen yet (from before it was installed) have no row to
            # select; their sign-in time is unknown, so any cutoff covers them.
            self.retrying(
                lambda: services.revoke_unseen(self.user_ids if options["user"] else None),
                lambda: "Nothing was revoked; run the command again.",
            )

        def end() -> None:
            if options["all"] and not (options["inactive_for"] or options["signed_in_before"]):
                services.end_all_sessions(
                    batch_size=positive_int(options["batch_size"])
                    if options["batch_size"] is not None
                    else None,
                    on_batch=progress.add,
                )
            else:
                services.end_sessions(
                    rows, reason=services.COMMAND, batch_size=batch_size, on_batch=progress
                )

        def unfinished() -> str:
            again = "Run the command again to end them"
            if signed_in_before is not None:  # the same moment, whatever the clock says then
                again += f" (with --signed-in-before {signed_in_before.isoformat()})"
            return (
                f"{progress.done:,} of {sessions:,} sessions were ended; the other "
                f"{max(sessions - progress.done, 0):,} are still live and still listed. "
                f"{again}: it continues where this run stopped."
            )

        try:
            self.retrying(end, unfinished)
        except services.SessionStoreError as exc:
            raise CommandError(
                f"The session store failed after {progress.done:,} sessions were ended: {exc}. "
                "The rest are still live and still listed; run the command again."
            ) from exc
        done = progress.done
        self.stdout.write(
            _("Revoked %(sessions)s of %(users)s.") % sessions_of_users(done, len(progress.users))
        )

    def prune(self, rows, batch_size: int, options) -> None:
        try:
            found = self.retrying(
                lambda: services.prune_dead(
                    rows, batch_size=batch_size, dry_run=options["dry_run"]
                ),
                lambda: (
                    "Rows pruned so far are gone; the rest are still listed. Run the command again."
                ),
            )
        except services.SessionStoreError as exc:
            raise CommandError(
                f"The session store failed: {exc}. Rows pruned so far are gone; the rest are "
                "still listed. Run the command again."
            ) from exc
        if options["dry_run"]:
            pruned = ngettext(
                "Would prune %(count)s expired or vanished session.",
                "Would prune %(count)s expired or vanished sessions.",
                found,
            )
        else:
            pruned = ngettext(
                "Pruned %(count)s expired or vanished session.",
                "Pruned %(count)s expired or vanished sessions.",
                found,
            )
        self.stdout.write(pruned % {"count": f"{found:,}"})
        refreshed = self.refresh(rows, batch_size)
        if refreshed:
            self.stdout.write(
                ngettext(
                    "Brought %(count)s row up to date with its session.",
                    "Brought %(count)s rows up to date with their sessions.",
                    refreshed,
                )
                % {"count": f"{refreshed:,}"}
            )
        if not options["dry_run"]:
            scrubbed = self.retrying(
                services.scrub_history,
                lambda: (
                    "Old events' IP addresses and User-Agents are not all removed yet; "
                    "run the command again."
                ),
            )
            if scrubbed:
                self.stdout.write(
                    ngettext(
                        "Removed IP addresses and User-Agents from %(count)s event older "
                        "than %(days)s.",
                        "Removed IP addresses and User-Agents from %(count)s events older "
                        "than %(days)s.",
                        scrubbed,
                    )
                    % {
                        "count": f"{scrubbed:,}",
                        "days": ngettext("%(days)d day", "%(days)d days", app_settings.HISTORY_DAYS)
                        % {"days": app_settings.HISTORY_DAYS},
                    }
                )

    def refresh(self, rows, batch_size: int) -> int:
        try:
            return self.retrying(
                lambda: services.refresh_rows(rows, batch_size=batch_size),
                lambda: (
                    "Rows were being brought up to date with their sessions; this step "
                    "ended no session. Run the command again."
                ),
            )
        except services.SessionStoreError as exc:
            raise CommandError(
                f"The session store failed while reading sessions' activity: {exc}. "
                "This step ended no session; run the command again."
            ) from exc

    def describe(self, rows, sessions: int, users: int) -> None:
        per_user = (
            rows.values("user__" + get_user_model().USERNAME_FIELD)
            .annotate(n=Count("pk"))
            .order_by("-n")[:20]
        )
        for line in per_user:
            name = line["user__" + get_user_model().USERNAME_FIELD]
            self.stdout.write(f"  {name}: {line['n']:,}")
        if users > 20:
            self.stdout.write(
                ngettext("  … and %(count)s more user", "  … and %(count)s more users", users - 20)
                % {"count": f"{users - 20:,}"}
            )
        self.stdout.write(
            _("Would revoke %(sessions)s of %(users)s. (dry run)")
            % sessions_of_users(sessions, users)
        )

    def confirm(self, sessions: int, users: int) -> None:
        try:
            answer = input(
                _("This signs out %(sessions)s of %(users)s. Type 'yes' to continue: ")
                % sessions_of_users(sessions, users)
            )
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            raise CommandError("Cancelled: nothing was revoked.")
