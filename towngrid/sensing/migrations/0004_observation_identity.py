"""A reading is identified by (device, message id, observed time) on both databases.

PostgreSQL's partitioned table has had that unique key since 0002 (its keys must hold the
partition column); SQLite's changes to match. On PostgreSQL the key is dropped and made again,
the same."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sensing", "0003_latestvalue_version")]

    operations = [
        migrations.RemoveConstraint(model_name="observation", name="sensing_obs_unique_msg"),
        migrations.AddConstraint(
            model_name="observation",
            constraint=models.UniqueConstraint(
                fields=["device", "message_id", "observed_at"], name="sensing_obs_unique_msg"
            ),
        ),
    ]
