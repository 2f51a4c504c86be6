"""Domain writes, one module per area. Import the area module, not names from this package
(`from cases.services import submissions`); there are no re-exports here.

- `audit`: the audit-log writer every service calls after a change.
- `common`: what the areas share: amounts in points (`parse_points`), the office check.
- `rounds`: units, rounds and groups set up by the office, and the round's own state changes
  (start, cases done, results submitted, approve, return, close).
- `submissions`: the unit's self-assessment and its head's sign-off.
- `inspections`: inspection records, findings, special bonuses, attachments.
- `sheets`: the experts' score sheets.
- `decisions`: the case's status, and the group's decisions on it (panel override, proposed grade).

Every service is keyword-only and atomic, validates and raises before changing anything, and
audits what it changed. Errors: django ValidationError (field -> messages) for bad input,
PermissionDenied for a user who may not do this, `cases.errors.Conflict` for a state that no
longer allows it. Reads live in `cases.selectors`.
"""
