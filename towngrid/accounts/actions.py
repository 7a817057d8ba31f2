"""Writes for accounts: every change goes through here and is audited."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from towngrid.core.audit import record

from .models import ApiToken, User, hash_token


@transaction.atomic
def issue_token(user: User, *, name: str = "", days: int | None = 30) -> tuple[ApiToken, str]:
    """Issue an API token and return it with its key; the key is not stored and cannot be shown
    again."""
    key = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[:8],
        key_hash=hash_token(key),
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )
    record(user, "accounts.token_issued", token, changes={"name": name, "days": days})
    return token, key


@transaction.atomic
def revoke_token(actor: User, token: ApiToken, *, reason: str = "") -> None:
    token.revoked = True
    token.save(update_fields=["revoked"])
    record(actor, "accounts.token_revoked", token, reason=reason)


def record_login(user: User) -> None:
    record(user, "accounts.login", user)


def record_login_failure(username: str, reason: str) -> None:
    record(None, "accounts.login_failed", object_type="accounts.user", object_repr=username[:200], reason=reason)


def record_logout(user: User) -> None:
    record(user, "accounts.logout", user)
