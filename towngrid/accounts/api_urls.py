from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.ObtainTokenView.as_view(), name="api-auth-token"),
    path("auth/token/revoke/", api.RevokeTokenView.as_view(), name="api-auth-token-revoke"),
    path("me/", api.MeView.as_view(), name="api-me"),
    path("me/password/", api.ChangePasswordView.as_view(), name="api-me-password"),
]
