"""Create the demo site's missing users and print how to sign in as them.

Run by every ``make run``. A user who already exists is left alone: resetting her password
would be a password change, which signs her out everywhere (and says so in her history).
A new user is created with her password in one save, so her history does not begin with
"Password changed" (a create, then ``set_password()`` and a second save, would be one)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERS = [
    # username, password, is_staff/superuser
    ("alice", "alice-demo-password", True),
    ("bob", "bob-demo-password", False),
]


class Command(BaseCommand):
    help = (
        "Create the demo users alice (staff, may use /admin/) and bob, if missing; "
        "existing users (and their passwords and sessions) are left as they are."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        for username, password, staff in DEMO_USERS:
            role = " (staff: /admin/)" if staff else ""
            exists = User.objects.filter(username=username).exists()
            if not exists:
                User.objects.create_user(
                    username,
                    email=f"{username}@example.com",
                    password=password,
                    is_staff=staff,
                    is_superuser=staff,
                )
            if exists:
                self.stdout.write(
                    f"  username: {username:<6} already exists, password left as it was "
                    f"(created with: {password}){role}"
                )
            else:
                self.stdout.write(f"  username: {username:<6} password: {password}{role}")
