"""A proxy of the user model, as projects often have (staff, customers), so the tests cover
users saved and deleted through a proxy."""

from django.contrib.auth.models import User


class Member(User):
    class Meta:
        proxy = True
