"""Settings for the benchmarks that measure a bare baseline beside the product in the same server:
the product's settings (`config.settings`, unchanged) plus the bench-only app `bench.bare` and a
URLconf that adds its URLs after the product's. Used only by bench/ scripts (DJANGO_SETTINGS_MODULE
through `_common.BARE_SETTINGS`); the product never imports it."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.bare.apps.BareConfig"]
ROOT_URLCONF = "bench.bare.urls"
