"""Bench-only Django app: the bare baselines the benchmarks measure beside the product, in the same
gunicorn and the same run (bench/bare_settings.py installs it; the product never does).

- `flows.BareFlow`: a plain viewflow 2.4 flow of the score step's shape — four parallel View tasks,
  one per expert, joined, then a review View — whose View nodes are viewflow's stock
  `UpdateProcessView` (a form POST, session authentication and CSRF, the engine's lock, `execute()`);
  `bench/complete_tasks.py` completes its tasks beside ours.
- `api.BareInbox`: a minimal authenticated DRF list of `Task.objects.inbox(flow_classes, user)`,
  viewflow's own manager, serialised with a plain ModelSerializer; `bench/inbox.py` requests it beside
  ours.
"""
