"""Keep codes in step with their objects: when a registry object moves to another grid or
building group, its codes (live and revoked) follow, so the scope of the code rows and the
door-plate selection stay right. Runs inside the registry action's transaction."""

from __future__ import annotations

from django.dispatch import receiver

from towngrid.registry.signals import registry_changed


@receiver(registry_changed, dispatch_uid="codes.codes.registry_changed")
def _on_registry_changed(sender, instance=None, created=False, **kwargs) -> None:
    if instance is None or created:
        return
    from .actions import sync_grid

    sync_grid(instance)
