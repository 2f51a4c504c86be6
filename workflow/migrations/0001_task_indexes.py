"""Indexes that viewflow 2.4 lacks for our inbox, queue and round look-ups."""

from django.db import migrations

INDEXES = [
    # inbox / archive: WHERE owner_id = ? AND status = ? ORDER BY created DESC
    ("wf_task_owner_status_created", "viewflow_task (owner_id, status, created DESC)"),
    # queue: WHERE owner_id IS NULL AND status = 'NEW' AND owner_permission = ? AND owner_permission_obj_pk IN (...)
    ("wf_task_queue", "viewflow_task (owner_permission, owner_permission_obj_pk, created DESC) WHERE owner_id IS NULL"),
    ("wf_task_process_flowtask", "viewflow_task (process_id, flow_task)"),
    ("wf_process_flow_artifact", "viewflow_process (flow_class, artifact_object_id)"),
]


class Migration(migrations.Migration):
    dependencies = [("viewflow", "0015_task_scheduled")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {name} ON {definition}",
            f"DROP INDEX IF EXISTS {name}",
        )
        for name, definition in INDEXES
    ]
