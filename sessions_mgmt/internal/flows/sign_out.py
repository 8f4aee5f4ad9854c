"""Sign-out: Django itself ends the request's session (``logout()``, ``flush()``, a new
sign-in in the same browser), and the app ends it through the door, row and key in one
transaction."""

from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from ...models import DeviceSession
from . import end
from .context import FORGOTTEN_KEY_ATTR


@sensitive_variables()
def forget(request: HttpRequest, session_key: str, *, signed_out: bool = False) -> None:
    """End, through the door, a session that Django itself is ending (``logout()``,
    ``flush()``, a new sign-in in the same browser); ``signed_out``: the person signed out,
    which the history records. Row and store key go in one transaction: if the store
    fails, the row stays and the session, still working, stays listed (``logout()`` then
    fails too, as it would without the app)."""
    end.end_sessions(
        DeviceSession.objects.filter(session_key=session_key),
        reason=end.SIGNED_OUT if signed_out else end.REPLACED,
    )
    setattr(request, FORGOTTEN_KEY_ATTR, session_key)
