"""Pages an intranet can serve on its own: no asset from another host, Chinese error pages, a favicon."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from tests.factories import UserFactory

EXTERNAL = re.compile(r"""(?:src|href)=["'](?:https?:)?//""")


@pytest.mark.django_db
def test_api_docs_load_nothing_from_another_host():
    client = Client()
    client.force_login(UserFactory())
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not EXTERNAL.search(html), html
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    # The start-up script is a file of its own (no inline script), and it is served.
    assert "<script>" not in html.replace(" ", "")
    script = next(a for a in assets if "script" in a and a.startswith("/api/docs/"))
    assert client.get(script)["Content-Type"].startswith("application/javascript")
    for asset in assets:
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), asset


def test_favicon_is_served():
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert finders.find(response["Location"].removeprefix("/static/"))


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/no-such-page/", "/cases/999999999/"])
def test_not_found_page_is_chinese(path):
    client = Client()
    client.force_login(UserFactory())
    page = client.get(path)
    assert page.status_code == 404
    assert "页面不存在" in page.content.decode()


def test_server_error_page_is_chinese(rf):
    from django.views.defaults import server_error

    page = server_error(rf.get("/"))
    assert page.status_code == 500
    assert "服务器错误" in page.content.decode()


@pytest.mark.django_db
def test_forbidden_page_is_ours_and_chinese():
    client = Client()
    client.force_login(UserFactory())  # no role: the audit log is the office's and the auditor's
    page = client.get("/audit/")
    assert page.status_code == 403
    html = page.content.decode()
    assert "无权访问" in html
    assert 'class="brand"' in html  # the product's own layout, not the engine's English page


@pytest.mark.django_db
def test_error_pages_speak_english_when_chosen():
    client = Client()
    client.force_login(UserFactory())
    client.cookies["django_language"] = "en"
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert "Page not found (404)" in page.content.decode()


def test_admin_names_the_product():
    from django.contrib import admin

    assert str(admin.site.site_header) == "考评工作平台管理后台"
