from django.contrib.auth.hashers import PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 with fewer rounds: a check takes tens of milliseconds, not hundreds."""

    iterations = 60_000
