from decimal import Decimal

import pytest

from ajeya.lab import services
from ajeya.lab.models import Flag, Report, ResultStatus, Sample, SampleStatus
from ajeya.ledger.verification import verify
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_walk_in_to_authorised_report(monday_morning):
    lab.load_catalogue()
    patient = PatientFactory()
    order = lab.walk_in(["CBC", "KFT", "LFT", "FBS"], patient=patient)
    samples = list(order.samples.order_by("accession"))
    assert len(samples) == 3  # EDTA, SST (KFT+LFT), fluoride
    (cbc, flu, _sst) = sorted(lab.received(order), key=lambda s: s.container)
    assert cbc.status == SampleStatus.RECEIVED
    lab.enter(flu, {"FBS": "35"})
    services.results_verify(actor=lab.technician(), sample=flu)
    report = services.results_authorise(actor=lab.pathologist(), sample=flu)
    assert report.version == 1
    assert not report.is_final
    r = lab.results_of(flu)["FBS"]
    assert r.flag == Flag.CRITICAL_LOW
    assert r.status == ResultStatus.AUTHORISED
    assert r.alert.acknowledged_at is None
    assert r.numeric_value == Decimal("35")
    result = verify()
    assert result.ok, result.findings
    assert Report.objects.count() == 1
    assert Sample.objects.count() == 3
