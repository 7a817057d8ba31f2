from django.db import migrations


def add_capabilities(apps, schema_editor):
    from towngrid.cases.workflow import CASE_CAPABILITIES_BY_ROLE

    Role = apps.get_model("accounts", "Role")
    for code, capabilities in CASE_CAPABILITIES_BY_ROLE.items():
        role = Role.objects.filter(code=code).first()
        if role is None:
            continue
        role.capabilities = sorted(set(role.capabilities or []) | set(capabilities))
        role.save(update_fields=["capabilities"])


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial"), ("accounts", "0003_default_roles")]
    operations = [migrations.RunPython(add_capabilities, migrations.RunPython.noop)]
