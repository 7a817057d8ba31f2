from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import actions
from .forms import LoginForm


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        actions.record_login(form.get_user())
        return response

    def form_invalid(self, form):
        reason, _until = getattr(self.request, "auth_failure", (None, None))
        username = form.data.get("username", "")
        if username:
            actions.record_login_failure(username, reason or "invalid")
        return super().form_invalid(form)


@require_POST
def logout_view(request):
    if request.user.is_authenticated:
        actions.record_logout(request.user)
    logout(request)
    return redirect("accounts:login")


@login_required
def profile(request):
    return render(request, "accounts/profile.html", {"profile_user": request.user})
