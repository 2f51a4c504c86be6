"""The bench settings' URLconf: the product's URLs first and unchanged, then the bare baselines."""

from django.urls import path

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401  (the product's error pages)
from config.urls import urlpatterns as product_urlpatterns

from .api import BareInbox
from .flows import BareFlow

urlpatterns = [
    *product_urlpatterns[:-1],
    path("bench-bare/api/inbox/", BareInbox.as_view(), name="bench-bare-inbox"),
    path("bench-bare/flow/", BareFlow.instance.urls),
    product_urlpatterns[-1],  # the pages' catch-all prefix ("") stays last
]
