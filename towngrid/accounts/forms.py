from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext as _

from .backends import DEMO_REFUSED, LOCKED


class LoginForm(AuthenticationForm):
    def get_invalid_login_error(self):
        reason, until = getattr(self.request, "auth_failure", (None, None))
        if reason == LOCKED and until:
            minutes = max(1, int((until - timezone.now()).total_seconds() // 60) + 1)
            return forms.ValidationError(
                _("登录失败次数过多，账户已锁定，请 %(minutes)s 分钟后再试。") % {"minutes": minutes},
                code="locked",
            )
        if reason == DEMO_REFUSED:
            return forms.ValidationError(_("生产模式下不允许使用演示账户登录。"), code="demo_refused")
        return forms.ValidationError(_("用户名或密码不正确。"), code="invalid_login")
