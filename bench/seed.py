"""Fast seeding for the benchmarks: sessions straight into the store and rows in bulk."""

import uuid
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends import db as db_engine
from django.core.cache import caches
from django.utils import timezone
from django.utils.crypto import get_random_string

from sessions_mgmt.models import DeviceSession

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Version/17.1 Mobile/15E148 Safari/604.1"


def seed_sessions(user, count: int, *, batch: int = 5000) -> list[str]:
    """``count`` signed-in sessions of ``user`` in the configured store, each with its row."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    data = {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
        HASH_SESSION_KEY: user.get_session_auth_hash(),
    }
    encoded = store_class().encode(data)
    expires = timezone.now() + timedelta(days=14)
    keys = []
    for start in range(0, count, batch):
        chunk = [
            get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
            for _ in range(min(batch, count - start))
        ]
        keys += chunk
        if issubclass(store_class, db_engine.SessionStore):
            model = store_class.get_model_class()
            model.objects.bulk_create(
                [model(session_key=k, session_data=encoded, expire_date=expires) for k in chunk]
            )
        if hasattr(store_class, "cache_key_prefix"):
            caches[settings.SESSION_CACHE_ALIAS].set_many(
                {store_class.cache_key_prefix + k: data for k in chunk}, timeout=14 * 86400
            )
        if not issubclass(store_class, db_engine.SessionStore) and not hasattr(
            store_class, "cache_key_prefix"
        ):
            for k in chunk:
                store = store_class(k)
                store.update(data)
                store.save(must_create=True)
        now = timezone.now()
        DeviceSession.objects.bulk_create(
            [
                DeviceSession(
                    user=user,
                    session_key=k,
                    public_id=uuid.uuid4(),
                    user_agent=UA,
                    browser="Safari",
                    os="iOS",
                    device_type="mobile",
                    device_name="Safari on iPhone",
                    ip="198.51.100.7",
                    created_at=now,
                    last_active_at=now,
                    expires_at=expires,
                )
                for k in chunk
            ]
        )
    return keys
