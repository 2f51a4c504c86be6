"""The notification API and page: only ever the requesting user's rows. Three personas: Alice owns
the notifications (unit staff), Bob is a colleague with a wider role (office: sees every case, but
not other people's messages), Charlie is an outsider with no role."""

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import models as m
from notifications import services
from notifications.models import Notification, NotificationPreference
from tests.api_helpers import API, ok
from tests.factories import make_user

pytestmark = pytest.mark.django_db
URL = f"{API}/notifications/"


@pytest.fixture
def people(monkeypatch):
    from notifications import outbox

    monkeypatch.setattr(outbox, "kick", lambda: True)
    alice = make_user("alice", org_role="", email="alice@example.org")
    bob = make_user("bob", org_role=m.OrgRole.OFFICE, email="bob@example.org")
    charlie = make_user("charlie", email="charlie@example.org")
    mine = [
        services.notification_create(recipient=alice, event="task_assigned", subject=f"任务{i}", link=f"/tasks/{i}/")
        for i in range(3)
    ]
    bobs = services.notification_create(recipient=bob, event="reminder", subject="提醒：请审定")
    return alice, bob, charlie, mine, bobs


def test_list_shows_only_my_notifications_newest_first(api, people):
    alice, bob, charlie, mine, bobs = people
    body = ok(api(alice).get(URL))
    assert body["count"] == 3 and [r["id"] for r in body["results"]] == [n.pk for n in reversed(mine)]
    assert set(body["results"][0]) == {"id", "event", "subject", "body", "link", "created", "read_at", "is_read"}
    assert [r["id"] for r in ok(api(bob).get(URL))["results"]] == [bobs.pk]
    assert ok(api(charlie).get(URL))["count"] == 0


def test_unread_filter_and_count(api, people):
    alice, bob, charlie, mine, _ = people
    mine[0].read_at = timezone.now()
    mine[0].save()
    unread = ok(api(alice).get(URL, {"unread": "true"}))["results"]
    assert {r["id"] for r in unread} == {mine[1].pk, mine[2].pk}
    assert [r["id"] for r in ok(api(alice).get(URL, {"unread": "false"}))["results"]] == [mine[0].pk]
    assert ok(api(alice).get(f"{URL}unread-count/")) == {"unread": 2}
    assert ok(api(bob).get(f"{URL}unread-count/")) == {"unread": 1}
    assert ok(api(charlie).get(f"{URL}unread-count/")) == {"unread": 0}


def test_detail_and_mark_read_are_mine_only(api, people):
    alice, bob, charlie, mine, bobs = people
    target = mine[1]
    for other in (bob, charlie):
        assert api(other).get(f"{URL}{target.pk}/").status_code == 404
        resp = api(other).post(f"{URL}{target.pk}/read/")
        assert resp.status_code == 404 and set(resp.json()) == {"detail"}
    target.refresh_from_db()
    assert target.read_at is None

    body = ok(api(alice).post(f"{URL}{target.pk}/read/"))
    assert body["is_read"] is True and body["read_at"]
    first_read = body["read_at"]
    assert ok(api(alice).post(f"{URL}{target.pk}/read/"))["read_at"] == first_read  # idempotent
    assert api(alice).post(f"{URL}{bobs.pk}/read/").status_code == 404
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_read_all_marks_only_mine(api, people):
    alice, bob, charlie, mine, bobs = people
    assert ok(api(charlie).post(f"{URL}read-all/")) == {"marked": 0}
    assert ok(api(alice).post(f"{URL}read-all/")) == {"marked": 3}
    assert ok(api(alice).post(f"{URL}read-all/")) == {"marked": 0}
    assert not Notification.objects.filter(recipient=alice, read_at__isnull=True).exists()
    assert Notification.objects.get(pk=bobs.pk).read_at is None


def test_preferences_get_put_patch(api, people):
    alice, bob, charlie, *_ = people
    assert ok(api(alice).get(f"{URL}preferences/")) | {"updated": None} == {
        "email_enabled": True, "sms_enabled": True, "daily_digest": False, "updated": None,
    }
    body = ok(api(alice).put(f"{URL}preferences/", {"email_enabled": True, "sms_enabled": False, "daily_digest": True},
                             format="json"))
    assert (body["email_enabled"], body["sms_enabled"], body["daily_digest"]) == (True, False, True)
    body = ok(api(alice).patch(f"{URL}preferences/", {"email_enabled": False}, format="json"))
    assert (body["email_enabled"], body["sms_enabled"], body["daily_digest"]) == (False, False, True)
    pref = NotificationPreference.objects.get()
    assert pref.user == alice and (pref.email_enabled, pref.sms_enabled, pref.daily_digest) == (False, False, True)
    # the others keep their defaults and cannot reach Alice's
    assert ok(api(bob).get(f"{URL}preferences/"))["daily_digest"] is False
    assert ok(api(charlie).get(f"{URL}preferences/"))["email_enabled"] is True
    # and notification_create follows them
    n = services.notification_create(recipient=alice, event="x", subject="测试", channels=("email", "sms"))
    assert not n.deliveries.exists()


def test_bad_preferences_are_400_with_field_messages(api, people):
    alice, *_ = people
    resp = api(alice).put(f"{URL}preferences/", {"email_enabled": "maybe"}, format="json")
    body = ok(resp, 400)
    assert body["detail"] == "输入有误。" and "email_enabled" in body["errors"]
    assert not NotificationPreference.objects.exists()


@pytest.mark.parametrize(("method", "path"), [
    ("get", ""), ("get", "unread-count/"), ("post", "read-all/"), ("get", "preferences/"), ("put", "preferences/"),
])
def test_anonymous_gets_nothing(api, people, method, path):
    resp = getattr(api(), method)(f"{URL}{path}")
    assert resp.status_code in (401, 403) and "detail" in resp.json()


# --- the page and the bell -----------------------------------------------------------------------------------


def test_bell_and_page(client, people):
    alice, bob, charlie, mine, bobs = people
    client.force_login(alice)
    page = client.get(reverse("notifications:list"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'class="badge">3<' in html and "任务0" in html and "提醒：请审定" not in html

    resp = client.post(reverse("notifications:read", args=[mine[0].pk]), {"next": "/notifications/?show=unread"})
    assert resp.status_code == 302 and resp["Location"] == "/notifications/?show=unread"
    assert 'class="badge">2<' in client.get(reverse("notifications:list")).content.decode()
    unread_page = client.get(reverse("notifications:list"), {"show": "unread"}).content.decode()
    assert "任务1" in unread_page and "任务0" not in unread_page

    assert client.post(reverse("notifications:read", args=[bobs.pk])).status_code == 404
    assert client.post(reverse("notifications:read", args=[mine[1].pk]), {"next": "https://evil.example/"})["Location"] \
        == reverse("notifications:list")

    client.post(reverse("notifications:read_all"))
    html = client.get(reverse("notifications:list")).content.decode()
    assert 'class="badge"' not in html and "已将 1 条通知标为已读" in html

    client.post(reverse("notifications:preferences"), {"email_enabled": "on", "daily_digest": "on"})
    pref = NotificationPreference.objects.get(user=alice)
    assert (pref.email_enabled, pref.sms_enabled, pref.daily_digest) == (True, False, True)


def test_page_needs_login_and_speaks_english(client, people):
    assert client.get(reverse("notifications:list")).status_code == 302
    client.force_login(people[2])
    client.cookies["django_language"] = "en"
    html = client.get(reverse("notifications:list")).content.decode()
    assert "Notifications" in html and "Mark all as read" in html and "No notifications." in html
