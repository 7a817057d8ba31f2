from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import User


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=10,
        help_text="TOTP code, for accounts with two-factor authentication (administrators).",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    new_password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class ScopeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    grid_code = serializers.CharField(allow_null=True)
    grid_name = serializers.CharField(allow_null=True)
    grid_level = serializers.IntegerField(allow_null=True)
    department = serializers.CharField(allow_null=True)
    department_code = serializers.CharField(allow_null=True)


class MeSerializer(serializers.ModelSerializer):
    role = serializers.SlugRelatedField(slug_field="code", read_only=True)
    role_name = serializers.CharField(source="role.name", read_only=True, default=None)
    scope = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()
    password_change_required = serializers.SerializerMethodField(
        help_text="null, or why the password must be changed first: must_change | expired"
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "display_name",
            "role",
            "role_name",
            "scope",
            "capabilities",
            "is_demo",
            "password_change_required",
        ]

    @extend_schema_field(ScopeSerializer)
    def get_scope(self, user) -> dict:
        from .access import scope_kind_of

        kind = scope_kind_of(user)
        grid = user.scope if kind == "grid" and user.scope_id else None
        department = user.department if kind == "department" and user.department_id else None
        return {
            "kind": str(kind),
            "grid_code": grid.code if grid else None,
            "grid_name": grid.name if grid else None,
            "grid_level": grid.level if grid else None,
            "department": department.name if department else None,
            "department_code": department.code if department else None,
        }

    def get_capabilities(self, user) -> list[str]:
        from .roles import CAPABILITIES

        return sorted(c for c in CAPABILITIES if user.can(c))

    def get_password_change_required(self, user) -> str | None:
        from .access import password_change_required

        return password_change_required(user)
