"""Migrate a fresh sqlite database and add the admin user (run by the test
before the servers start: python3 -m djsite.setup_db, REALAPP_DB set)."""
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsite.settings")
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)
User.objects.create_superuser("admin", "admin@example.test", "s3cret-pw")
