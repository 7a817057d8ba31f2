"""A reading is identified by (device, observed time, message id) on both databases, and that
key is the observation table's only index.

PostgreSQL's partitioned table has had a unique key with the time since 0002 (its keys must hold
the partition column); SQLite's changes to match. The key's column order serves every lookup of
a device's readings by time, so the separate (device, observed_at) index goes: one index fewer
to maintain on every insert."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sensing", "0003_latestvalue_version")]

    operations = [
        migrations.RemoveConstraint(model_name="observation", name="sensing_obs_unique_msg"),
        migrations.RemoveIndex(model_name="observation", name="sensing_obs_device_time"),
        migrations.AddConstraint(
            model_name="observation",
            constraint=models.UniqueConstraint(
                fields=["device", "observed_at", "message_id"], name="sensing_obs_unique_msg"
            ),
        ),
    ]
