"""The demo's one model: a proxy of Django's user, as projects often have (staff, customers),
so that the tests cover users saved and deleted through a proxy."""

from django.contrib.auth.models import User


class Member(User):
    class Meta:
        proxy = True
        verbose_name = "member"
