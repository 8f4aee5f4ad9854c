"""A proxy of the user model, as projects often have (staff, customers), so the tests cover
users saved and deleted through a proxy."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import User
from django.db import models


class Member(User):
    class Meta:
        proxy = True


class Partner(AbstractBaseUser):
    """An account of another model than AUTH_USER_MODEL, as some projects sign in through
    a backend of their own (API partners, kiosks)."""

    username = models.CharField(max_length=150, unique=True)

    USERNAME_FIELD = "username"
