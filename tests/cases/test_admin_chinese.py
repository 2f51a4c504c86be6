"""The admin speaks Chinese: every app, model and column it shows (it said "Audit entrys", "Deliverys",
"Axes", "Access attempts")."""

import re

import pytest
from django.contrib import admin

from cases import models as m
from tests.factories import make_round, make_user

pytestmark = pytest.mark.django_db

# Proper names and protocol words that stay as they are in a Chinese interface.
ALLOWED = {"ID", "IP", "HTTP", "GET", "POST", "SHA", "Accept", "API"}
LABELS = re.compile(r'<th scope="col"[^>]*>(.*?)</th>|<th scope="row"><a [^>]*>(.*?)</a>|<caption>(.*?)</caption>', re.S)


def english_words(html: str) -> set[str]:
    """The English words of the admin's app, model and column labels on a page."""
    words = set()
    for groups in LABELS.findall(html):
        text = re.sub(r"<[^>]+>", " ", " ".join(groups))
        words |= {w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED}
    return words


def test_english_words_finds_english_labels():
    page = '<caption><a class="section">Axes</a></caption><th scope="row"><a href="/x/">Audit entrys</a></th>'
    assert english_words(page) == {"Axes", "Audit", "entrys"}


def test_admin_index_and_every_changelist_have_chinese_labels(client):
    make_round(units=2, experts=1, launch=True)  # rows in the changelists, not only headers
    superuser = make_user("admin-zh", org_role=m.OrgRole.OFFICE, is_staff=True, is_superuser=True)
    client.force_login(superuser)

    index = client.get("/admin/")
    assert index.status_code == 200
    assert "考评业务" in index.content.decode()
    found = {"/admin/": english_words(index.content.decode())}
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = client.get(url)
        assert response.status_code == 200, url
        found[url] = english_words(response.content.decode())
    english = {url: sorted(words) for url, words in found.items() if words}
    assert english == {}, english
