"""The task API under /api/v1/: tasks and their actions, launch, deadline extensions, diagrams, the dashboard."""
