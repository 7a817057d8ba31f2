"""The default three-colour rule sets (codes/rules_default.py), added for kinds that have none."""

from django.db import migrations


def install(apps, schema_editor):
    from towngrid.codes.rules_default import install_default_colour_rules

    install_default_colour_rules(apps)


class Migration(migrations.Migration):
    dependencies = [("codes", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
