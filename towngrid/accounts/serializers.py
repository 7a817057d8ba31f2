from rest_framework import serializers

from .models import User


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class ScopeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    grid_code = serializers.CharField(allow_null=True)
    grid_name = serializers.CharField(allow_null=True)
    department = serializers.CharField(allow_null=True)


class MeSerializer(serializers.ModelSerializer):
    role = serializers.SlugRelatedField(slug_field="code", read_only=True)
    role_name = serializers.CharField(source="role.name", read_only=True, default=None)
    scope = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "role", "role_name", "scope", "capabilities"]

    def get_scope(self, user) -> dict:
        from .access import scope_kind_of

        return {
            "kind": scope_kind_of(user),
            "grid_code": user.scope.code if user.scope_id else None,
            "grid_name": user.scope.name if user.scope_id else None,
            "department": user.department.name if user.department_id else None,
        }

    def get_capabilities(self, user) -> list[str]:
        from .roles import CAPABILITIES

        return sorted(c for c in CAPABILITIES if user.can(c))
