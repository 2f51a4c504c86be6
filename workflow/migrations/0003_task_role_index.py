"""An index for the tasks of a role whoever holds them (viewflow 2.4 has none).

`tasks_for(user, "all")` is `owner = me OR (owner_permission, owner_permission_obj_pk) IN my roles`.
0001's queue index is partial (unclaimed tasks only), so the role half of that OR had no index and
PostgreSQL scanned every task: on 510k tasks (bench/inbox.py) a unit staff member's `?scope=all`
page took ~220 ms and its count ~85 ms. With this index the OR is a BitmapOr of two index scans:
0.6 ms and 0.2 ms.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("workflow", "0002_deadlines_calendar")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS wf_task_role_obj ON viewflow_task (owner_permission, owner_permission_obj_pk)",
            "DROP INDEX IF EXISTS wf_task_role_obj",
        )
    ]
