"""Sensing: devices, observations over MQTT and HTTP, threshold rules, alarms that become cases."""
