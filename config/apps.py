"""django-axes under a Chinese name: its AppConfig has no verbose_name, so the admin index showed "Axes"."""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _


class AxesConfig(AxesAppConfig):
    verbose_name = _("登录防护")
