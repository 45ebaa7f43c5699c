"""The laboratory made through the real services: catalogue, orders, samples, results."""

from __future__ import annotations

from ajeya.core.roles import Role
from ajeya.lab import catalogue, services
from ajeya.lab.models import LabOrder, OrderSource, Result, Sample, SampleStatus
from tests.accounts.factories import UserFactory
from tests.patients.factories import PatientFactory


def load_catalogue() -> None:
    catalogue.load()


def staff(role: Role, username: str, full_name: str = ""):
    from ajeya.accounts.models import User

    found = User.objects.filter(username=username).first()
    return found or UserFactory(role=role, username=username, full_name=full_name or username)


def technician(username: str = "tech-ravi"):
    return staff(Role.LAB_TECHNICIAN, username, "Ravi Technician")


def pathologist(username: str = "dr-path"):
    return staff(Role.PATHOLOGIST, username, "Dr. Meera Pathologist")


def walk_in(tests=("CBC",), *, patient=None, actor=None, priority="routine", **kwargs) -> LabOrder:
    """A walk-in order at the lab counter (the technician registers it)."""
    return services.order_create(
        actor=actor or technician(),
        patient=patient or PatientFactory(),
        tests=list(tests),
        source=OrderSource.WALK_IN,
        priority=priority,
        referring_doctor=kwargs.pop("referring_doctor", "Dr. Outside"),
        **kwargs,
    )


def received(order: LabOrder, *, actor=None) -> list[Sample]:
    """Every sample of the order not yet in the lab collected (if need be) and received."""
    actor = actor or technician()
    done = []
    waiting = (SampleStatus.AWAITING, SampleStatus.COLLECTED)
    for sample in order.samples.filter(status__in=waiting).order_by("accession"):
        if sample.status == SampleStatus.AWAITING:
            services.sample_collect(actor=actor, sample=sample)
        done.append(services.sample_receive(actor=actor, accession=sample.accession))
    return done


def results_of(sample: Sample) -> dict[str, Result]:
    from ajeya.lab.selectors import live_results

    return {r.test.code: r for r in live_results(sample)}


def enter(sample: Sample, values: dict[str, str], *, actor=None) -> list[Result]:
    """Enter values by test code."""
    by_code = results_of(sample)
    return services.results_enter(
        actor=actor or technician(),
        sample=sample,
        values={by_code[code].pk: value for code, value in values.items()},
    )


# -- further steps of a sample's life, and what a test asserts about what was written ---


def verified(sample: Sample, values: dict[str, str], *, actor=None) -> list[Result]:
    """Values entered and verified by the technician."""
    enter(sample, values, actor=actor)
    return services.results_verify(actor=actor or technician(), sample=sample)


def authorised(sample: Sample, values: dict[str, str], *, pathologist_user=None):
    """Values entered, verified and authorised; returns the report issued."""
    verified(sample, values)
    return services.results_authorise(actor=pathologist_user or pathologist(), sample=sample)


def sample_for(order: LabOrder, container: str) -> Sample:
    return order.samples.get(container=container)


def oru(
    accession: str,
    observations: list[tuple[str, str]],
    *,
    control_id: str = "MSG0001",
    app: str = "XN-1000",
    facility: str = "LAB",
) -> services.AnalyzerMessage:
    """An analyzer's result message as the HL7 layer hands it over: (code, value) pairs."""
    obx = [
        f"OBX|{n}|NM|{code}^^99{app}||{value}||||||F"
        for n, (code, value) in enumerate(observations, start=1)
    ]
    raw = "\r".join(
        [
            f"MSH|^~\\&|{app}|{facility}|AJEYA|HOSP|20261130090000||ORU^R01|{control_id}|P|2.5.1",
            f"OBR|1|{accession}||CBC",
            *obx,
        ]
    )
    return services.AnalyzerMessage(
        sending_application=app,
        sending_facility=facility,
        control_id=control_id,
        accession=accession,
        observations=[
            services.Observation(code=code, value=value, set_id=str(n))
            for n, (code, value) in enumerate(observations, start=1)
        ],
        raw=raw,
    )


def snapshot() -> dict:
    """Row counts of everything the laboratory writes, the ledger's length, and every
    sample's, item's and result's state: equal before and after a refusal means the
    refusal wrote nothing."""
    from ajeya.lab import models
    from ajeya.ledger.models import LedgerEntry

    written = (
        models.LabTest,
        models.ReferenceRange,
        models.Panel,
        models.PanelTest,
        models.Analyzer,
        models.AnalyzerMapping,
        models.LabOrder,
        models.Sample,
        models.OrderItem,
        models.Result,
        models.CriticalAlert,
        models.Report,
        models.InboundMessage,
        LedgerEntry,
    )
    state: dict = {model.__name__: model.objects.count() for model in written}
    state["samples"] = list(models.Sample.objects.order_by("pk").values_list("status", "version"))
    state["items"] = list(
        models.OrderItem.objects.order_by("pk").values_list("status", "sample_id")
    )
    state["results"] = list(
        models.Result.objects.order_by("pk").values_list("status", "value", "version")
    )
    state["alerts"] = list(
        models.CriticalAlert.objects.order_by("pk").values_list("acknowledged_at", flat=True)
    )
    return state
