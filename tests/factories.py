"""factory-boy factories: users, and device sessions backed by a real session-store session."""

from datetime import timedelta
from importlib import import_module

import factory
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils import timezone

from sessions_mgmt.internal.state import write as write_state
from sessions_mgmt.models import DeviceSession

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)


def store_session(user, *, tracked_row_id: int | None = None, expiry=None) -> str:
    """Create a signed-in session for ``user`` in the configured store; return its key."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    if expiry is not None:
        store.set_expiry(expiry)
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if tracked_row_id is not None:
        now = int(timezone.now().timestamp())
        write_state(store, {"id": tracked_row_id, "t": now, "s": now, "a": now})
    store.save()
    return store.session_key


class DeviceSessionFactory(factory.django.DjangoModelFactory):
    """A row whose session really exists in the store (``session_key`` from ``store_session``)."""

    class Meta:
        model = DeviceSession

    user = factory.SubFactory(UserFactory)
    session_key = factory.LazyAttribute(lambda row: store_session(row.user))
    user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
    browser = "Firefox"
    os = "Linux"
    device_type = DeviceSession.DeviceType.DESKTOP
    device_name = "Firefox on Linux"
    ip = "192.0.2.10"
    first_ip = factory.SelfAttribute("ip")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=14))
