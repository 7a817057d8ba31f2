from django.db import migrations

# Capabilities added with the registry, codes, sensing, programs and reports apps.
PREFIXES = ("registry.", "codes.", "colours.", "sensing.", "programs.", "reports.", "personal.")


def add_capabilities(apps, schema_editor):
    from towngrid.accounts.roles import DEFAULT_ROLES

    Role = apps.get_model("accounts", "Role")
    for code, _name, _kind, all_capabilities, _description in DEFAULT_ROLES:
        capabilities = [c for c in all_capabilities if c.startswith(PREFIXES)]
        role = Role.objects.filter(code=code).first()
        if role is None or not capabilities:
            continue
        role.capabilities = sorted(set(role.capabilities or []) | set(capabilities))
        role.save(update_fields=["capabilities"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_password_age")]
    operations = [migrations.RunPython(add_capabilities, migrations.RunPython.noop)]
