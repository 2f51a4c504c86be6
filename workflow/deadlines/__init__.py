"""Due dates, the working-day calendar, reminders and the office dashboard.

- `rules`: when things are due and when people are told (phase dues, traffic lights, the schedule of
  reminders, overdue notice and escalation from a round's config) — plain functions;
- `calendar`: China's working days (holidays, 调休, the office's overrides);
- `selectors`: the tasks' effective dues;
- `services`: due rows for new tasks, the office's extensions, keeping dues in step with the round;
- `events`: the notices about tasks (new, returned, reminder, overdue, escalated, due changed);
- `reminders`: the sweep that sends what has come due (Celery beat, `workflow.tasks`);
- `dashboard`: the office's view of a round (红黄绿灯) and 一键催办.

docs/deadlines.md describes the behaviour.
"""
