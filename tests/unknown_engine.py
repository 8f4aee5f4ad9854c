"""An engine that is not one of Django's, for the system check's test."""

from django.contrib.sessions.backends.base import SessionBase


class SessionStore(SessionBase):
    pass
