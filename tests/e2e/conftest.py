"""Browser journeys: Playwright for Python driving Debian's Chromium against pytest-django's live server."""

import os
import shutil
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases import models as m
from cases.rubrics.services import rubric_create
from cases.services import rounds as round_services
from workflow import services

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "journey-pass-123"


@pytest.fixture(scope="session", autouse=True)
def _orm_beside_playwright():
    """Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it
    (and the live server's database set-up) are ordinary synchronous calls, which Django would otherwise
    refuse inside a running loop. Session-scoped: it must be in place before the session-scoped browser
    and live server start (an autouse fixture of this folder only starts when its tests run)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM) or os.environ.get("CI"):
        return  # on CI a missing Chromium must fail, not skip
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not installed (apt-get install chromium)")
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"],
    }


def _user(username, **extra):
    user = m.User(username=username, display_name=username, **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def launched_round(db):
    """One unit with a staff member and a head, one group with a leader and an expert, launched."""
    office = _user("office", org_role=m.OrgRole.OFFICE)
    unit = m.Unit.objects.create(code="U01", name="省委办公厅", category=m.UnitCategory.PARTY)
    staff, head = _user("staff"), _user("head")
    m.UnitMembership.objects.create(user=staff, unit=unit, role=m.UnitRole.STAFF)
    m.UnitMembership.objects.create(user=head, unit=unit, role=m.UnitRole.HEAD)
    rubric = rubric_create(spec={
        "code": "e2e", "title": "测试细则", "sections": [
            {"code": "1", "title": "组织领导", "max": "10", "items": [{"code": "1.1", "content": "有领导小组", "max": "10"}]}]})
    now = timezone.now()
    round = round_services.round_create(
        user=office, title="半年跟踪考评", kind=m.RoundKind.HALF_YEAR, year=now.year, rubric=rubric,
        prepare_due=now + timedelta(days=5), inspect_due=now + timedelta(days=10), review_due=now + timedelta(days=15),
        approve_due=now + timedelta(days=20), report_due=now + timedelta(days=25),
        config={"report_char_limit": 200},
    )
    round_services.group_create(user=office, round=round, number=1, name="第一组", members=[
        {"user": _user("leader"), "role": m.GroupRole.LEADER}, {"user": _user("expert"), "role": m.GroupRole.EXPERT}],
        units=[unit])
    services.round_launch(user=office, round_id=round.pk)
    return round


@pytest.fixture
def page(page):
    """pytest-playwright's page, failing the test on any Content-Security-Policy violation Chromium
    reports (it logs each refused script, style or frame to the console) and on any uncaught
    JavaScript error: the pages must work under the policy, not only be served with it."""
    problems = []

    def on_console(message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.problems = problems
    yield page
    assert problems == [], problems


def login(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header")).to_contain_text(username)
