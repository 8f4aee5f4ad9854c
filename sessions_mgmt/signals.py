"""The app's signals, for projects that keep state bound to a session."""

from django.dispatch import Signal

#: Sent when sessions are ended through ``sessions_mgmt.services`` (revoked, expired or
#: timed out, password change, …). ``sessions`` is a list of ``services.Row`` (``pk``,
#: ``session_key``, ``user_id``, ``public_id``), ``reason`` one of the ``services``
#: constants, ``detail`` what ended an ``"expired"`` one (``"idle_timeout"``,
#: ``"absolute_timeout"``, ``"expiry"``, ``"gone"``; else None). Receivers run in-process:
#: use it to revoke tokens bound to those sessions.
session_revoked = Signal()
#: Sent when a session signs in or is adopted: ``device_session``, ``request``.
session_started = Signal()
#: Sent when a session's IP address or User-Agent changed since its row was last updated
#: (noticed at the next touch): ``device_session_id``, ``user_id``, ``old_ip``, ``new_ip``,
#: ``user_agent_changed``, ``request``.
session_client_changed = Signal()
