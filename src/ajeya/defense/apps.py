from django.apps import AppConfig


class DefenseConfig(AppConfig):
    name = "ajeya.defense"
    label = "defense"
    verbose_name = "Defence: detection, lockdown, investigation"

    def ready(self) -> None:
        from ajeya.defense import models
        from ajeya.ledger.registry import register

        register(models.Alert, "defense.alert")
        register(models.Canary, "defense.canary")
        register(models.Lockdown, "defense.lockdown")
        register(models.Incident, "defense.incident", subject_attname="number")
        from ajeya.defense.lockdown import write_guard
        from ajeya.ledger.services import add_write_guard

        add_write_guard(write_guard)  # lockdown: every ledgered write asks it first
        _notices_and_dashboard()


def _notices_and_dashboard() -> None:
    """A banner for administrators while a critical alert is unresolved; the dashboard's
    "Open security alerts" line."""
    from django.urls import reverse

    from ajeya.core import notices
    from ajeya.core.roles import Role
    from ajeya.defense import selectors
    from ajeya.reports.dashboards import Check, register_resilience

    administrators = {Role.HOSPITAL_ADMIN, Role.IT_SECURITY}

    def banner(user) -> list:
        if user.role not in administrators:
            return []
        n = selectors.critical_unresolved()
        if not n:
            return []
        where = reverse("defense:alerts") if user.role == Role.IT_SECURITY else ""
        return [(f"{n} critical security alert{'s' if n > 1 else ''} open: see IT/security",
                 where)]  # fmt: skip

    def alerts_check(day):
        counts = selectors.alert_counts()
        if not any(counts.values()):
            return Check("Open security alerts", "none", ok=True)
        text = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        return Check("Open security alerts", text, ok=not counts["critical"],
                     link=reverse("defense:alerts"))  # fmt: skip

    notices.register(banner)
    register_resilience("alerts", alerts_check)
