"""Create (or reset) the demo site's two users and print how to sign in as them."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERS = [
    # username, password, is_staff/superuser
    ("alice", "alice-demo-password", True),
    ("bob", "bob-demo-password", False),
]


class Command(BaseCommand):
    help = "Create the demo users alice (staff, may use /admin/) and bob."

    def handle(self, *args, **options):
        User = get_user_model()
        for username, password, staff in DEMO_USERS:
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.is_staff = user.is_superuser = staff
            user.set_password(password)
            user.save()
            role = " (staff: /admin/)" if staff else ""
            self.stdout.write(f"  username: {username:<6} password: {password}{role}")
