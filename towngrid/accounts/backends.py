"""Password login with lockout after repeated failures, and no demo accounts in production.

The same backend serves the login page, the admin's login and the API token endpoint, so the
lockout counts failures from all of them together. Failure reasons are left on the request
(``request.auth_failure``) for the page and the API to word, and are audited by the
``user_login_failed`` receiver in ``accounts.actions``.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db.models import F
from django.utils import timezone

from . import actions  # noqa: F401 - connects the login/logout audit receivers
from .models import User

LOCKED = "locked"
DEMO_REFUSED = "demo_refused"
BAD_CREDENTIALS = "bad_credentials"
INACTIVE = "inactive"


def demo_refused(user) -> bool:
    """Demo accounts (well-known passwords) never work on a production server."""
    return bool(getattr(user, "is_demo", False)) and bool(getattr(settings, "PRODUCTION", False))


class LockoutBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            User().set_password(password)  # same work as a real check, against timing probes
            _note(request, BAD_CREDENTIALS)
            return None
        now = timezone.now()
        if user.locked_until and user.locked_until > now:
            _note(request, LOCKED, user.locked_until)
            return None
        if demo_refused(user):
            _note(request, DEMO_REFUSED)
            return None
        if not user.check_password(password):
            until = _count_failure(user, now)
            _note(request, LOCKED if until else BAD_CREDENTIALS, until)
            return None
        if not self.user_can_authenticate(user):
            _note(request, INACTIVE)
            return None
        if user.failed_logins or user.locked_until:
            User._default_manager.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
            user.failed_logins, user.locked_until = 0, None
        return user

    def get_user(self, user_id):
        # Called for every request with a session: a demo session dies when production starts.
        user = super().get_user(user_id)
        if user is not None and demo_refused(user):
            return None
        return user


def _count_failure(user: User, now) -> object | None:
    """Count one failed password; lock the account when the limit is reached. The counter is
    incremented in the database, so parallel guesses cannot slip past the limit."""
    manager = User._default_manager
    manager.filter(pk=user.pk).update(failed_logins=F("failed_logins") + 1)
    failures = manager.filter(pk=user.pk).values_list("failed_logins", flat=True).first() or 0
    if failures < settings.LOGIN_FAILURE_LIMIT:
        return None
    until = now + timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    manager.filter(pk=user.pk).update(failed_logins=0, locked_until=until)
    from towngrid.core.audit import record

    record(
        None,
        "accounts.locked",
        user,
        changes={"locked_until": until.isoformat()},
        reason=f"{failures} failed logins",
    )
    return until


def _note(request, reason: str, until=None) -> None:
    """Leave the reason on the request so the login page and the token endpoint can say it."""
    if request is not None:
        request.auth_failure = (reason, until)


class PasswordComplexityValidator:
    """MLPS 2.0 password complexity: at least ``min_classes`` of lower-case letters, upper-case
    letters, digits and other characters. Add to ``AUTH_PASSWORD_VALIDATORS`` as
    ``towngrid.accounts.backends.PasswordComplexityValidator``."""

    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    @staticmethod
    def classes(password: str) -> int:
        return sum(
            [
                any(c.islower() for c in password),
                any(c.isupper() for c in password),
                any(c.isdigit() for c in password),
                any(not c.isalnum() for c in password),
            ]
        )

    def validate(self, password, user=None):
        from django.core.exceptions import ValidationError

        if self.classes(password) < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self):
        return f"密码须包含小写字母、大写字母、数字、其他字符中的至少 {self.min_classes} 类。"
