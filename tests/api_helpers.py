"""Small helpers for driving the REST API in tests (also usable by benchmarks)."""

from __future__ import annotations

API = "/api/v1"


def ok(resp, status: int = 200):
    """The JSON body of a response that must have `status`."""
    assert resp.status_code == status, f"{resp.status_code} != {status}: {resp.content[:2000]!r}"
    return resp.json() if resp.content else None


def all_pages(client, url: str, params: dict | None = None) -> list[dict]:
    """Every row of a paginated list (follows `next`)."""
    rows: list[dict] = []
    body = ok(client.get(url, params or {}))
    while True:
        if not isinstance(body, dict) or "results" not in body:
            return rows + list(body)
        rows.extend(body["results"])
        if not body.get("next"):
            return rows
        body = ok(client.get(body["next"]))


def tasks(client, scope: str = "queue", **params) -> list[dict]:
    return all_pages(client, f"{API}/tasks/", {"scope": scope, **params})


def find_task(client, step: str, *, scope: str = "queue", case: int | None = None) -> dict:
    """The one task of `step` (for `case`) in the user's `scope`; fails if there is not exactly one."""
    found = [t for t in tasks(client, scope, step=step) if case is None or (t["case"] and t["case"]["id"] == case)]
    assert len(found) == 1, f"expected one {step} task in {scope} (case {case}), got {found}"
    return found[0]


def act(client, task_id: int, action: str, status: int = 200, **data):
    return ok(client.post(f"{API}/tasks/{task_id}/{action}/", data, format="json"), status)


def ids(rows) -> set[int]:
    return {row["id"] for row in rows}
