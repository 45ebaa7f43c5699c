from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ajeya.core"
    label = "core"
    verbose_name = "Core"
