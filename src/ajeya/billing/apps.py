from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "ajeya.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from ajeya.billing import models
        from ajeya.ledger import papers
        from ajeya.ledger.registry import register

        register(models.TariffItem, "billing.tariff_item", subject_attname="code")
        register(models.TariffPrice, "billing.tariff_price")
        register(models.Counter, "billing.counter", subject_attname="code")
        register(models.Account, "billing.account", subject_attname="number")
        register(models.Charge, "billing.charge")
        register(models.Bill, "billing.bill", subject_attname="number")
        register(models.Payment, "billing.payment")
        register(models.Discount, "billing.discount")
        register(models.DayClose, "billing.day_close")
        register(models.DayCloseLine, "billing.day_close_line")
        papers.register(models.Bill, "Bill")
        papers.register(models.Account, "Interim bill")
        papers.register(
            models.Payment,
            "Receipt",
            name=lambda p: p.number,
            titled=lambda p: "Refund voucher" if p.kind == models.PaymentKind.REFUND else "Receipt",
        )
