from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "考评业务"

    def ready(self) -> None:
        from cases import accounts  # noqa: F401  (connects the account signal receivers)
