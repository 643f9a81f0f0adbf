"""Every API route and the permission it must declare: one line per route.

``public`` = no credentials needed, ``authenticated`` = any logged-in user, otherwise a
permission of ``core.permissions.TABLE``. The permission-matrix test fails when a route is
missing here, when a line has no route, or when the route declares something else.
"""

ROUTES: dict[tuple[str, str], str] = {
    # departments
    ("GET", "/api/v1/departments"): "authenticated",
    ("POST", "/api/v1/departments"): "departments.manage",
    ("PATCH", "/api/v1/departments/{dept_id}"): "departments.manage",
    # compliance
    ("POST", "/api/v1/compliance/runs"): "compliance.run",
    ("GET", "/api/v1/compliance/jobs/{job_id}"): "compliance.read",
    ("GET", "/api/v1/compliance/runs"): "compliance.read",
    ("GET", "/api/v1/compliance/runs/{run_id}"): "compliance.read",
    ("GET", "/api/v1/compliance/runs/{run_id}/results"): "compliance.read",
    ("POST", "/api/v1/compliance/runs/{run_id}/assessments"): "compliance.assess",
    ("GET", "/api/v1/compliance/runs/{run_id}/report"): "compliance.read",
    ("GET", "/api/v1/compliance/catalogs"): "compliance.read",
    ("GET", "/api/v1/compliance/evidence/{digest}"): "compliance.read",
    # backups and drills
    ("GET", "/api/v1/backups/plans"): "backups.read",
    ("PUT", "/api/v1/backups/plans/{plan_id}"): "backups.run",
    ("DELETE", "/api/v1/backups/plans/{plan_id}"): "backups.run",
    ("POST", "/api/v1/backups/plans/{plan_id}/runs"): "backups.run",
    ("POST", "/api/v1/backups/plans/{plan_id}/drills"): "drills.run",
    ("POST", "/api/v1/backups/plans/{plan_id}/prune"): "backups.run",
    ("GET", "/api/v1/backups/plans/{plan_id}/offsite"): "backups.read",
    ("GET", "/api/v1/backups/jobs/{job_id}"): "backups.read",
    ("GET", "/api/v1/backups/runs"): "backups.read",
    ("GET", "/api/v1/backups/runs/{run_id}"): "backups.read",
    ("GET", "/api/v1/backups/drills"): "backups.read",
    ("GET", "/api/v1/backups/drills/{drill_id}"): "backups.read",
    ("GET", "/api/v1/backups/drills/{drill_id}/report"): "backups.read",
    ("POST", "/api/v1/backups/plans/{plan_id}/restore"): "backups.restore",
    ("GET", "/api/v1/backups/restores"): "backups.read",
    ("GET", "/health"): "public",
    # personal information
    ("GET", "/api/v1/privacy/inventory"): "privacy.read",
    ("GET", "/api/v1/privacy/policy"): "privacy.read",
    ("POST", "/api/v1/privacy/grants"): "privacy.unmask",
    ("GET", "/api/v1/privacy/events/{index}/{event_id}"): "privacy.unmask",
    # notifications
    ("GET", "/api/v1/notifications/channels"): "notifications.read",
    ("POST", "/api/v1/notifications/channels"): "notifications.manage",
    ("PUT", "/api/v1/notifications/channels/{channel_id}"): "notifications.manage",
    ("DELETE", "/api/v1/notifications/channels/{channel_id}"): "notifications.manage",
    ("POST", "/api/v1/notifications/channels/{channel_id}/test"): "notifications.manage",
    ("GET", "/api/v1/notifications/deliveries"): "notifications.read",
    ("GET", "/metrics"): "public",
    # auth
    ("POST", "/api/v1/auth/login"): "public",
    ("POST", "/api/v1/auth/logout"): "authenticated",
    ("GET", "/api/v1/auth/me"): "authenticated",
    ("POST", "/api/v1/auth/password"): "authenticated",
    ("POST", "/api/v1/auth/totp/setup"): "authenticated",
    ("POST", "/api/v1/auth/totp/enable"): "authenticated",
    ("POST", "/api/v1/auth/totp/disable"): "authenticated",
    # users
    ("GET", "/api/v1/users"): "users.read",
    ("POST", "/api/v1/users"): "users.manage",
    ("GET", "/api/v1/users/apikeys"): "users.read",
    ("POST", "/api/v1/users/apikeys"): "apikeys.create",
    ("DELETE", "/api/v1/users/apikeys/{key_id}"): "users.manage",
    ("GET", "/api/v1/users/requests"): "approvals.read",
    ("POST", "/api/v1/users/requests/{request_id}/approve"): "users.approve",
    ("POST", "/api/v1/users/requests/{request_id}/reject"): "users.approve",
    ("GET", "/api/v1/users/{username}"): "users.read",
    ("PATCH", "/api/v1/users/{username}"): "users.manage",
    ("POST", "/api/v1/users/{username}/reset-password"): "users.manage",
    ("POST", "/api/v1/users/{username}/unlock"): "users.manage",
    # audit
    ("GET", "/api/v1/audit"): "audit.read",
    ("GET", "/api/v1/audit/verify"): "audit.verify",
    # rules (detections)
    ("GET", "/api/v1/rules"): "rules.read",
    ("GET", "/api/v1/rules/import-report"): "rules.read",
    ("POST", "/api/v1/rules/enabled"): "rules.manage",
    ("GET", "/api/v1/rules/{rule_id}"): "rules.read",
    ("PUT", "/api/v1/rules/{rule_id}/suppression"): "rules.manage",
    ("GET", "/api/v1/rules/{rule_id}/exceptions"): "rules.read",
    ("POST", "/api/v1/rules/{rule_id}/exceptions"): "exceptions.manage",
    ("DELETE", "/api/v1/rules/{rule_id}/exceptions/{exception_id}"): "exceptions.manage",
    # alerts
    ("GET", "/api/v1/alerts"): "alerts.read",
    ("GET", "/api/v1/alerts/export"): "alerts.read",
    ("POST", "/api/v1/alerts/bulk"): "alerts.update",
    ("GET", "/api/v1/alerts/{alert_id}"): "alerts.read",
    ("GET", "/api/v1/alerts/{alert_id}/events"): "alerts.read",
    ("GET", "/api/v1/overview"): "alerts.read",
    ("GET", "/api/v1/attack/matrix"): "alerts.read",
    ("POST", "/api/v1/alerts/{alert_id}/status"): "alerts.update",
    ("POST", "/api/v1/alerts/{alert_id}/assign"): "alerts.update",
    ("POST", "/api/v1/alerts/{alert_id}/comments"): "alerts.update",
    # cases
    ("GET", "/api/v1/cases"): "cases.read",
    ("POST", "/api/v1/cases"): "cases.manage",
    ("GET", "/api/v1/cases/{case_id}"): "cases.read",
    ("PATCH", "/api/v1/cases/{case_id}"): "cases.manage",
    ("POST", "/api/v1/cases/{case_id}/alerts"): "cases.manage",
    ("POST", "/api/v1/cases/{case_id}/alerts/remove"): "cases.manage",
    ("POST", "/api/v1/cases/{case_id}/notes"): "cases.manage",
    ("POST", "/api/v1/cases/{case_id}/merge"): "cases.manage",
    # platform
    ("GET", "/api/v1/platform/health"): "platform.health",
    # events
    ("GET", "/api/v1/events"): "events.read",
    ("GET", "/api/v1/events/top"): "events.read",
    ("GET", "/api/v1/events/histogram"): "events.read",
}
