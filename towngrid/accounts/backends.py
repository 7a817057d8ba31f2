"""Password login with lockout after repeated failures, and no demo accounts in production."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.utils import timezone

from .models import User

LOCKED = "locked"
DEMO_REFUSED = "demo_refused"
BAD_CREDENTIALS = "bad_credentials"


class LockoutBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            User().set_password(password)  # same work as a real check, against timing probes
            _note(request, BAD_CREDENTIALS)
            return None
        now = timezone.now()
        if user.locked_until and user.locked_until > now:
            _note(request, LOCKED, user.locked_until)
            return None
        if user.is_demo and settings.PRODUCTION:
            _note(request, DEMO_REFUSED)
            return None
        if not user.check_password(password) or not self.user_can_authenticate(user):
            user.failed_logins += 1
            fields = ["failed_logins"]
            if user.failed_logins >= settings.LOGIN_FAILURE_LIMIT:
                user.locked_until = now + timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
                user.failed_logins = 0
                fields.append("locked_until")
                _note(request, LOCKED, user.locked_until)
            else:
                _note(request, BAD_CREDENTIALS)
            user.save(update_fields=fields)
            return None
        if user.failed_logins or user.locked_until:
            user.failed_logins = 0
            user.locked_until = None
            user.save(update_fields=["failed_logins", "locked_until"])
        return user

    def get_user(self, user_id):
        user = super().get_user(user_id)
        if user is not None and user.is_demo and settings.PRODUCTION:
            return None
        return user


def _note(request, reason: str, until=None) -> None:
    """Leave the reason on the request so the login page and the token endpoint can say it."""
    if request is not None:
        request.auth_failure = (reason, until)
