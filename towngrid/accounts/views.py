from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, password_validation, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from towngrid.demo.data import DEMO_PASSWORD

from . import actions, second_factor
from .access import password_change_required, password_max_age_days, scope_kind_of
from .forms import LoginForm, PasswordChangeForm, TokenForm
from .models import ScopeKind
from .roles import CAPABILITIES


def demo_logins() -> list[dict]:
    """The headline demo accounts (one per role) to list on the login page, only in a debug,
    non-production server. The demo's many staff logins are not listed: the README names their
    pattern."""
    if not settings.DEBUG or settings.PRODUCTION:
        return []
    from towngrid.demo.build import demo_logins as headline_logins

    return [{**row, "where": row["scope"]} for row in headline_logins()]


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["demo_logins"] = demo_logins()
        ctx["demo_password"] = DEMO_PASSWORD
        return ctx

    def form_valid(self, form):
        user = form.get_user()
        if second_factor.needed(user):
            # The password was right; the session is not logged in until the code is.
            second_factor.begin(self.request, user, self.get_success_url())
            return redirect("accounts:second_factor")
        response = super().form_valid(form)
        actions.record_login(user)
        return response

    def form_invalid(self, form):
        reason, _until = getattr(self.request, "auth_failure", (None, None))
        username = form.data.get("username", "")
        if username:
            actions.record_login_failure(username, reason or "invalid")
        return super().form_invalid(form)


def admin_login(request, extra_context=None):
    """The admin's login is this one, so the lockout, the audit and the second factor hold there
    too."""
    return LoginView.as_view()(request)


def second_factor_view(request):
    """Step two of a login that needs a one-time code: enter it, or, the first time, enrol an
    authenticator app from the QR code and confirm with its first code."""
    pending = second_factor.pending(request)
    if pending is None:
        messages.error(request, _("验证已超时，请重新登录。"))
        return redirect("accounts:login")
    user, state = pending
    error = ""
    if request.method == "POST":
        try:
            next_url = second_factor.complete(request, user, state, request.POST.get("code", ""))
        except second_factor.SecondFactorError as exc:
            error = str(exc)
            if exc.start_over:
                messages.error(request, error)
                return redirect("accounts:login")
        else:
            return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    context = {"profile_user": user, "error": error, "enrolling": not user.totp_confirmed_at}
    if context["enrolling"]:
        secret = second_factor.enrolment_secret(request, state)
        context.update(
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            qr_svg=second_factor.qr_svg(secret, user.username),
        )
    return render(request, "accounts/second_factor.html", context, status=400 if error else 200)


@require_POST
def logout_view(request):
    if request.user.is_authenticated:
        actions.record_logout(request.user)
    logout(request)
    return redirect("accounts:login")


@login_required
def profile(request):
    user = request.user
    new_key = None
    form = TokenForm()
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            token = get_object_or_404(user.api_tokens, pk=request.POST.get("token"), revoked=False)
            actions.revoke_token(user, token, reason=_("用户在个人资料页吊销"))
            messages.success(request, _("令牌 %(prefix)s… 已吊销。") % {"prefix": token.prefix})
            return redirect("accounts:profile")
        form = TokenForm(request.POST)
        if form.is_valid():
            _token, new_key = actions.issue_token(
                user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
            form = TokenForm()
    kind = scope_kind_of(user)
    capabilities = (
        list(CAPABILITIES.values())
        if user.is_superuser
        else [CAPABILITIES.get(c, c) for c in (user.role.capabilities if user.role else [])]
    )
    tokens = user.api_tokens.filter(revoked=False).order_by("-created_at")
    return render(
        request,
        "accounts/profile.html",
        {
            "profile_user": user,
            "scope_kind": ScopeKind(kind).label,
            "capabilities": capabilities,
            "tokens": tokens,
            "now": timezone.now(),
            "form": form,
            "new_key": new_key,
        },
    )


@login_required
def password_change(request):
    """Change the own password; the page every user whose password must be changed first (an
    initial password, or an expired one) is sent to by the password gate."""
    user = request.user
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.change_password(
                user, form.cleaned_data["old_password"], form.cleaned_data["new_password1"]
            )
        except actions.AccountActionError as exc:
            form.add_error(None, str(exc))
        else:
            update_session_auth_hash(request, user)  # stay logged in with the new password
            messages.success(request, _("密码已修改。"))
            return redirect(next_url or "accounts:password_change_done")
    return render(
        request,
        "accounts/password_change.html",
        {
            "form": form,
            "next": next_url,
            "reason": password_change_required(user),
            "max_age_days": password_max_age_days(),
            "rules": password_validation.password_validators_help_texts(),
        },
    )


@login_required
def password_change_done(request):
    return render(request, "accounts/password_change_done.html")
