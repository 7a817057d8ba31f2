from django.db import migrations


def add_capabilities(apps, schema_editor):
    from towngrid.accounts.roles import DEFAULT_ROLES

    Role = apps.get_model("accounts", "Role")
    for code, _name, _kind, all_capabilities, _description in DEFAULT_ROLES:
        capabilities = [c for c in all_capabilities if c.startswith("cases.")]
        role = Role.objects.filter(code=code).first()
        if role is None or not capabilities:
            continue
        role.capabilities = sorted(set(role.capabilities or []) | set(capabilities))
        role.save(update_fields=["capabilities"])


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial"), ("accounts", "0003_default_roles")]
    operations = [migrations.RunPython(add_capabilities, migrations.RunPython.noop)]
