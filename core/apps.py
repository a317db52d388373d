from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared infrastructure that knows no app: errors, API base classes, Redis clients,
    time, health, the periodic-task runner of the embedded mode."""

    name = "core"

    def ready(self) -> None:
        # Registers the schema extensions with drf-spectacular.
        from core import schema  # noqa: F401
