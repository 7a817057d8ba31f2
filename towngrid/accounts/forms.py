from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .backends import DEMO_REFUSED, LOCKED


class LoginForm(AuthenticationForm):
    def get_invalid_login_error(self):
        reason, until = getattr(self.request, "auth_failure", (None, None))
        if reason == LOCKED and until:
            minutes = max(1, int((until - timezone.now()).total_seconds() // 60) + 1)
            return forms.ValidationError(
                _("登录失败次数过多，账户已锁定，请 %(minutes)s 分钟后再试。")
                % {"minutes": minutes},
                code="locked",
            )
        if reason == DEMO_REFUSED:
            return forms.ValidationError(
                _("生产模式下不允许使用演示账户登录。"), code="demo_refused"
            )
        return forms.ValidationError(_("用户名或密码不正确。"), code="invalid_login")


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("用途"), max_length=100, required=False)
    days = forms.TypedChoiceField(
        label=gettext_lazy("有效期"),
        coerce=int,
        choices=[
            (7, gettext_lazy("7 天")),
            (30, gettext_lazy("30 天")),
            (90, gettext_lazy("90 天")),
            (365, gettext_lazy("1 年")),
        ],
        initial=30,
    )


class PasswordChangeForm(forms.Form):
    """Old password and the new one twice; the rules are checked by ``actions.change_password``."""

    old_password = forms.CharField(
        label=gettext_lazy("原密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    new_password1 = forms.CharField(
        label=gettext_lazy("新密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=gettext_lazy("确认新密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", gettext_lazy("两次输入的新密码不一致。"))
        return data
