from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "storage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console.resource_kinds import ResourceKind, register_resource_kind
        from storage.selectors import storage_exists

        # Sharing a storage path that names nothing is a 404 (the owner's home always exists).
        register_resource_kind(ResourceKind("storage", exists=storage_exists))
