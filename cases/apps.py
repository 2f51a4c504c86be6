from django.apps import AppConfig
from django.core import checks


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "考评业务"

    def ready(self) -> None:
        from cases import accounts  # noqa: F401  (connects the account signal receivers)
        from cases.social.crypto import check_sample_data_key

        checks.register(check_sample_data_key, checks.Tags.security)
