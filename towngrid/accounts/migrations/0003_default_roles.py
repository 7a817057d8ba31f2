from django.db import migrations


def install_roles(apps, schema_editor):
    from towngrid.accounts.roles import DEFAULT_ROLES

    Role = apps.get_model("accounts", "Role")
    for sort, (code, name, scope_kind, capabilities, description) in enumerate(DEFAULT_ROLES):
        Role.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "scope_kind": scope_kind,
                "capabilities": capabilities,
                "description": description,
                "sort": sort,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_initial")]
    operations = [migrations.RunPython(install_roles, migrations.RunPython.noop)]
