"""Read shapes of the sensing API. No logic: actions and queries do the work."""

from __future__ import annotations

from rest_framework import serializers

from .models import Alarm, DeadLetter, Device, DeviceType, Protocol


class DeviceTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeviceType
        fields = ["code", "name", "metrics", "silence_minutes"]


class DeviceSerializer(serializers.ModelSerializer):
    device_type = serializers.SlugRelatedField(slug_field="code", read_only=True)
    device_type_name = serializers.CharField(source="device_type.name", read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    owner_department = serializers.SlugRelatedField(slug_field="code", read_only=True)
    component = serializers.SlugRelatedField(slug_field="code", read_only=True)
    latest = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = [
            "id", "code", "name", "device_type", "device_type_name", "model", "grid_code",
            "lng", "lat", "address", "component", "protocol", "owner_department", "state",
            "state_display", "last_seen_at", "battery", "is_active", "latest",
        ]  # fmt: skip

    def get_latest(self, device: Device) -> dict | None:
        if not _has_latest(device):
            return None
        return {"observed_at": device.latest.observed_at, "values": device.latest.values}


def _has_latest(device: Device) -> bool:
    from .models import LatestValue

    try:
        return device.latest is not None
    except LatestValue.DoesNotExist:
        return False


class DeviceCreateSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=100)
    device_type = serializers.CharField(max_length=40)
    lng = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    model = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    protocol = serializers.ChoiceField(choices=Protocol.choices, default=Protocol.MQTT)
    component_code = serializers.CharField(
        max_length=16, required=False, allow_blank=True, default=""
    )
    owner_department = serializers.CharField(max_length=40, required=False, allow_blank=True)


class AlarmSerializer(serializers.ModelSerializer):
    device = serializers.SlugRelatedField(slug_field="code", read_only=True)
    device_name = serializers.CharField(source="device.name", read_only=True)
    severity_display = serializers.CharField(source="get_severity_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    case = serializers.SlugRelatedField(slug_field="number", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    cleared_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Alarm
        fields = [
            "id", "device", "device_name", "alarm_type", "name", "severity", "severity_display",
            "status", "status_display", "started_at", "last_seen_at", "count", "acknowledged_at",
            "acknowledged_by", "cleared_at", "cleared_by", "details", "case", "grid_code",
            "version",
        ]  # fmt: skip


class AlarmActionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    expected_version = serializers.IntegerField(required=False, min_value=0)


class DeadLetterSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeadLetter
        fields = [
            "id", "received_at", "transport", "topic", "payload", "reasons", "device_code",
            "replayed_at", "replay_result",
        ]  # fmt: skip


class ReplaySerializer(serializers.Serializer):
    payload = serializers.CharField(required=False, allow_blank=False, max_length=1_000_000)
