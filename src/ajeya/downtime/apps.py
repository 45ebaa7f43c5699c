from django.apps import AppConfig


class DowntimeConfig(AppConfig):
    name = "ajeya.downtime"
    label = "downtime"
    verbose_name = "Care during downtime: offline snapshots, paper kits, back-entry"

    def ready(self) -> None:
        from ajeya.downtime import models, selectors
        from ajeya.ledger.registry import register
        from ajeya.reports.dashboards import Check, register_resilience

        register(models.Kit, "downtime.kit", subject_attname="number")
        register(models.KitVoid, "downtime.void")
        register(models.BackEntry, "downtime.backentry")

        def snapshot_check(day):
            rows = selectors.snapshot_rows()
            bad = [r for r in rows if not r.ok]
            if not rows:
                text = "no active wards or OPD clinics"
            elif bad:
                text = f"{len(bad)} of {len(rows)} locations OLD or missing"
            else:
                text = f"all {len(rows)} locations fresh"
            details = [Check(r.title, r.text, ok=r.ok) for r in rows]
            return Check("Downtime snapshots", text, ok=bool(rows) and not bad, details=details)

        register_resilience("downtime", snapshot_check)
