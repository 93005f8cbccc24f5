"""Create the first (administrator) account if there is no user yet.

Credentials come from ``KILN_ADMIN_USERNAME`` / ``KILN_ADMIN_PASSWORD`` / ``KILN_ADMIN_EMAIL``;
without a password one is generated and printed once.
"""

import os

from django.core.management.base import BaseCommand

from console.services import first_user_ensure


class Command(BaseCommand):
    help = "Create the first administrator account when the database has no user yet."

    def handle(self, *args: object, **options: object) -> None:
        username = os.environ.get("KILN_ADMIN_USERNAME", "admin")
        user, generated = first_user_ensure(
            username=username,
            password=os.environ.get("KILN_ADMIN_PASSWORD") or None,
            email=os.environ.get("KILN_ADMIN_EMAIL", ""),
        )
        if user is None:
            self.stdout.write("Users exist already; no first user created.")
        elif generated:
            self.stdout.write(self.style.WARNING(
                f"Created the first user {username!r} with password: {generated}\n"
                "This password is shown once: write it down, then change it (manage.py changepassword)."
            ))
        else:
            self.stdout.write(f"Created the first user {username!r} (password from KILN_ADMIN_PASSWORD).")
