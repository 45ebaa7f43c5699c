"""The laboratory made through the real services: catalogue, orders, samples, results."""

from __future__ import annotations

from ajeya.core.roles import Role
from ajeya.lab import catalogue, services
from ajeya.lab.models import LabOrder, OrderSource, Result, Sample
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
    """Every awaiting sample of the order collected and received in the lab."""
    actor = actor or technician()
    done = []
    for sample in order.samples.all().order_by("accession"):
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
