"""The laboratory in a real browser: the counter orders, the collection room draws, the
reception scans and rejects, the technician enters and verifies, the pathologist
authorises, the doctor hears of a critical value, a stray analyzer message is matched,
anyone checks a printed report, and the bench worklist follows the work by itself.

With AJEYA_SCREENSHOTS=1 a sample's results and a section's worklist are saved to
docs/img/ for the README."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from ajeya.core import identifiers
from ajeya.core.roles import Role
from ajeya.lab import documents, hl7, services
from ajeya.lab.models import (
    CriticalAlert,
    Flag,
    InboundMessage,
    LabOrder,
    MessageStatus,
    OrderSource,
    Priority,
    RejectionReason,
    Report,
    ResultSource,
    ResultStatus,
    SampleStatus,
)
from tests.accounts.factories import TEST_PASSWORD
from tests.browser.conftest import log_in
from tests.conftest import enrolled_device
from tests.ipd import factories as wards
from tests.lab import factories as lab
from tests.lab import hl7_samples
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
WORKLIST_REFRESH_MS = 15_000  # views.WORKLIST_REFRESH_SECONDS
KFT_VALUES = {  # Kidney function tests, as typed: potassium 6.9 is over the critical 6.2
    "Urea": "28",
    "Creatinine": "0.9",
    "Sodium": "138",
    "Potassium": "6.9",
    "Chloride": "101",
    "Uric acid": "5.2",
}


def screenshot(page, name: str) -> None:
    """For the README, only when asked: CI writes no files."""
    if os.environ.get("AJEYA_SCREENSHOTS") == "1":
        page.set_viewport_size({"width": 1280, "height": 800})
        page.screenshot(path=SCREENSHOTS / name)


def assert_unique_ids(page) -> None:
    """Every id once: labels and scripts find the element they mean."""
    ids = page.eval_on_selector_all("[id]", "elements => elements.map(e => e.id)")
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def bad_check_digit(accession: str) -> str:
    return accession[:-1] + str((int(accession[-1]) + 1) % 10)


@pytest.fixture
def morning(monday_morning):
    """08:00 IST, Monday 30 November 2026, the catalogue loaded."""
    lab.load_catalogue()
    return monday_morning


@pytest.fixture
def tech(morning):
    return lab.technician()


@pytest.fixture
def pathologist(morning):
    return lab.pathologist()


@pytest.fixture
def new_page(browser, live_server):
    """Another person at another computer: each call opens a browser context of its own
    (its own cookies), held to the test server like the `page` fixture."""
    allowed = urlparse(live_server.url).netloc
    contexts, outside = [], []

    def guard(route):
        url = urlparse(route.request.url)
        if url.scheme in ("data", "blob") or url.netloc == allowed:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def make():
        context = browser.new_context(base_url=live_server.url, locale="en-IN")
        contexts.append(context)
        opened = context.new_page()
        opened.set_default_timeout(10_000)
        opened.route("**/*", guard)
        return opened

    yield make
    for context in contexts:
        context.close()
    assert outside == []


# -- 1. the walk-in counter -------------------------------------------------------------


def test_counter_orders_cbc_and_kft_stat_and_prints_the_labels(page, clerk, tech):
    patient = PatientFactory(actor=clerk, name="Kavita Joshi", sex="F")

    log_in(page, "tech-ravi", TEST_PASSWORD)
    page.get_by_role("link", name="Laboratory").first.click()
    page.wait_for_url("**/lab/")
    page.get_by_role("link", name="Walk-in counter").click()
    page.wait_for_url("**/lab/counter/")
    find = page.locator("#find-patient")
    find.get_by_label("Patient UHID").fill(patient.uhid_display)  # as on the slip
    find.get_by_label("Patient UHID").press("Enter")
    expect(page.locator(".patient-head h2")).to_contain_text("Kavita Joshi")
    expect(page.locator(".patient-head h2")).to_contain_text(patient.uhid_display)

    form = page.locator("#order-form")
    form.get_by_role("checkbox", name="Complete blood count CBC").check()
    form.get_by_role("checkbox", name="Kidney function tests KFT").check()
    form.get_by_label("Priority").select_option("stat")
    form.get_by_label("Referring doctor").fill("Dr. Sen (Apollo clinic)")
    page.click("#place-order")

    order = LabOrder.objects.get()
    page.wait_for_url(f"**/lab/orders/{order.number}/")
    expect(page.locator(".messages")).to_contain_text(f"Lab order {order.number} for Kavita Joshi.")
    head = page.locator(".patient-head")
    expect(head.locator("#order-number")).to_have_text(order.number)
    expect(head).to_contain_text("STAT")
    expect(head).to_contain_text("for Dr. Sen (Apollo clinic)")
    rows = page.locator("#samples tbody tr")
    expect(rows).to_have_count(2)
    samples = {s.container: s for s in order.samples.all()}
    assert sorted(samples) == ["edta", "sst"]
    for container, panel in (("edta", "Complete blood count"), ("sst", "Kidney function tests")):
        sample = samples[container]
        assert re.fullmatch(r"26\d{8}", sample.accession)
        assert identifiers.verhoeff_valid(sample.accession)
        row = page.locator(f"#sample-{sample.accession}")
        expect(row.locator("td").first).to_have_text(sample.accession)
        expect(row).to_contain_text(panel)
        expect(row).to_contain_text("Awaiting collection")
    expect(page.locator("#sample-" + samples["edta"].accession)).to_contain_text(
        "Lavender top (EDTA)"
    )
    expect(page.locator("#reports")).to_contain_text("No report yet.")
    assert (order.source, order.priority) == (OrderSource.WALK_IN, Priority.STAT)
    assert (order.referring_doctor, order.ordered_by, order.patient) == (
        "Dr. Sen (Apollo clinic)",
        tech,
        patient,
    )
    assert sorted(i.panel.code for i in order.items.all()) == ["CBC", "KFT"]

    assert_unique_ids(page)
    labels = page.locator("#print-labels")
    expect(labels).to_have_text("Print labels")
    response = page.request.get(labels.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")


def test_counter_names_an_unknown_uhid_and_a_missing_test(page, clerk, tech):
    patient = PatientFactory(actor=clerk, name="Arjun Mehta")
    log_in(page, "tech-ravi", TEST_PASSWORD)
    page.goto("/lab/counter/")
    find = page.locator("#find-patient")
    find.get_by_label("Patient UHID").fill("100099999998")
    find.get_by_label("Patient UHID").press("Enter")
    expect(find.locator(".error")).to_have_text("No patient has UHID 100099999998.")
    expect(page.locator("#order-form")).to_have_count(0)

    find.get_by_label("Patient UHID").fill(patient.uhid)
    find.get_by_label("Patient UHID").press("Enter")
    page.locator("#order-form").get_by_label("Referring doctor").fill("Dr. Sen")
    page.click("#place-order")
    expect(page.locator("#panel-choices .error")).to_have_text("Choose at least one test.")
    assert_unique_ids(page)  # the find box and the order form each have their own UHID
    expect(page.locator("#order-form").get_by_label("Referring doctor")).to_have_value("Dr. Sen")
    assert LabOrder.objects.count() == 0


# -- 2. collection and reception --------------------------------------------------------


def test_collection_then_reception_scans_and_rejects_a_haemolysed_sample(
    page, clock_at, clerk, make_user, tech
):
    nurse = make_user(Role.NURSE, username="sr-mary", full_name="Sr. Mary Thomas")
    clock_at(2026, 11, 30, 7, 30)
    lft = lab.walk_in(["LFT"], actor=tech, patient=PatientFactory(actor=clerk, name="Farida Khan"))
    (on_the_way,) = lft.samples.all()
    clock_at(2026, 11, 30, 7, 45)
    services.sample_collect(actor=nurse, sample=on_the_way)  # drawn; on its way to the lab
    clock_at(2026, 11, 30, 8, 0)
    routine = lab.walk_in(
        ["CBC"], actor=tech, patient=PatientFactory(actor=clerk, name="Kavita Joshi")
    )
    clock_at(2026, 11, 30, 8, 10)
    stat = lab.walk_in(
        ["KFT"],
        actor=tech,
        priority="stat",
        patient=PatientFactory(actor=clerk, name="Arjun Mehta"),
    )
    (stat_sample,) = stat.samples.all()
    (routine_sample,) = routine.samples.all()
    clock_at(2026, 11, 30, 8, 20)

    log_in(page, "tech-ravi", TEST_PASSWORD)
    page.get_by_role("link", name="Laboratory").first.click()
    page.get_by_role("link", name="Collection list").click()
    page.wait_for_url("**/lab/collection/")
    rows = page.locator("#collection tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_id(f"sample-{stat_sample.accession}")  # STAT first
    expect(rows.nth(0).locator("td").first).to_have_text("STAT")
    expect(rows.nth(0)).to_contain_text("Arjun Mehta")
    expect(rows.nth(0)).to_contain_text("KFT")
    expect(rows.nth(1)).to_have_id(f"sample-{routine_sample.accession}")
    expect(rows.nth(1).locator("td").first).to_have_text("Routine")

    rows.nth(0).get_by_role("button", name="Collected").click()
    page.wait_for_url("**/lab/collection/")
    expect(page.locator(".messages")).to_contain_text(f"Sample {stat_sample.accession} collected.")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_id(f"sample-{routine_sample.accession}")
    stat_sample.refresh_from_db()
    assert (stat_sample.status, stat_sample.collected_by) == (SampleStatus.COLLECTED, tech)

    page.get_by_role("link", name="Laboratory").first.click()
    page.get_by_role("link", name="Reception (scan)").click()
    page.wait_for_url("**/lab/reception/")
    assert_unique_ids(page)  # the scan box and the reject form each have their own field
    on_way = page.locator("#in-transit tbody tr")
    expect(on_way).to_have_count(2)
    expect(on_way.nth(0)).to_contain_text(stat_sample.accession)  # STAT first
    expect(on_way.nth(1)).to_contain_text(on_the_way.accession)
    assert "Arjun Mehta" not in page.locator("#in-transit").inner_text()

    scan = page.locator("#scan-form input[name=accession]")
    expect(scan).to_be_focused()  # the scanner types into it without a click
    mistyped = bad_check_digit(stat_sample.accession)
    scan.press_sequentially(mistyped)
    scan.press("Enter")
    expect(page.locator("#scan-form .errors-box")).to_have_text(
        f"{mistyped} fails its check digit: rescan the label or retype it."
    )
    stat_sample.refresh_from_db()
    assert stat_sample.status == SampleStatus.COLLECTED

    scan = page.locator("#scan-form input[name=accession]")
    expect(scan).to_have_value("")  # the next scan does not land after the last one
    scan.press_sequentially(stat_sample.accession)
    scan.press("Enter")
    page.wait_for_url("**/lab/reception/")
    patient = stat.patient
    expect(page.locator(".messages")).to_have_text(
        f"Received {stat_sample.accession} (Yellow top (gel, serum), KFT) "
        f"for Arjun Mehta, {patient.uhid_display}."
    )
    expect(page.locator("#scan-form .errors-box")).to_have_count(0)
    expect(on_way).to_have_count(1)
    stat_sample.refresh_from_db()
    assert (stat_sample.status, stat_sample.received_by) == (SampleStatus.RECEIVED, tech)

    reject = page.locator("#reject-form")
    reject.locator("input[name=accession]").fill(on_the_way.accession)
    reject.locator("select[name=reason]").select_option(label="Haemolysed")
    reject.locator("input[name=note]").fill("pink serum")
    reject.get_by_role("button", name="Reject and recollect").click()
    page.wait_for_url("**/lab/reception/")
    on_the_way.refresh_from_db()
    again = on_the_way.recollection
    expect(page.locator(".messages")).to_have_text(
        f"Sample {on_the_way.accession} rejected (haemolysed): "
        f"recollect as {again.accession}, now on the collection list."
    )
    expect(on_way).to_have_count(1)
    expect(page.locator("#in-transit")).to_contain_text("No collected samples on the way.")
    assert (on_the_way.status, on_the_way.rejection_reason) == (
        SampleStatus.REJECTED,
        RejectionReason.HAEMOLYSED,
    )
    assert (on_the_way.rejection_note, on_the_way.rejected_by) == ("pink serum", tech)
    assert (again.status, again.order, again.container) == (
        SampleStatus.AWAITING,
        lft,
        on_the_way.container,
    )
    assert [i.sample for i in lft.items.all()] == [again]

    page.goto("/lab/collection/")
    flagged = page.locator(f"#sample-{again.accession}")
    expect(flagged).to_contain_text("recollect: haemolysed")
    expect(flagged).to_contain_text("Farida Khan")
    expect(flagged).to_contain_text("LFT")
    expect(rows).to_have_count(2)
    expect(page.locator(f"#sample-{on_the_way.accession}")).to_have_count(0)


# -- 3. results: entry, verification, authorisation, the critical value ----------------


@pytest.fixture
def inpatient_kft(clerk, doctor, clinic, tech):
    """Kavita Joshi in bed MW-1-1 under Dr. Asha Rao, who ordered a KFT; the sample is
    in the laboratory."""
    ward = wards.ward("MW")
    admission = wards.admit(
        clerk,
        wards.beds(ward)[0],
        doctor=doctor,
        unit=clinic,
        patient=PatientFactory(actor=clerk, name="Kavita Joshi", sex="F"),
    )
    order = services.order_create(
        actor=doctor,
        patient=admission.patient,
        tests=["KFT"],
        source=OrderSource.IPD,
        admission=admission,
        clinical_notes="on spironolactone",
    )
    (sample,) = lab.received(order, actor=tech)
    return sample


def test_results_entered_verified_authorised_and_the_critical_value_heard(
    page, new_page, clock_at, doctor, tech, pathologist, inpatient_kft
):
    sample = inpatient_kft
    clock_at(2026, 11, 30, 9, 0)
    log_in(page, "tech-ravi", TEST_PASSWORD)
    page.goto("/lab/section/biochemistry/")
    page.get_by_role("link", name=sample.accession).click()
    page.wait_for_url(f"**/lab/sample/{sample.accession}/")
    expect(page.locator("h1")).to_contain_text("Kavita Joshi")
    expect(page.locator(".patient-head")).to_contain_text("bed MW-1-1")
    expect(page.locator(".patient-head")).to_contain_text("notes: on spironolactone")
    potassium = page.locator("#results tr", has_text="Potassium")
    expect(potassium.locator("td").nth(2)).to_have_text("mmol/L")
    expect(potassium.locator("td").nth(3)).to_have_text("3.5 - 5.1")
    expect(page.locator("#results tr", has_text="Sodium").locator("td").nth(2)).to_have_text(
        "mmol/L"
    )

    assert_unique_ids(page)
    for name, value in KFT_VALUES.items():
        page.get_by_role("textbox", name=name, exact=True).fill(value)
    page.click("#save-results")
    page.wait_for_url(f"**/lab/sample/{sample.accession}/")
    messages = page.locator(".messages")
    expect(messages).to_contain_text(f"6 result(s) entered on {sample.accession}.")
    expect(messages).to_contain_text("Critical: Potassium 6.9 mmol/L. Verify to alert the doctor.")
    expect(potassium).to_have_class("critical")
    expect(potassium.locator(".flag")).to_have_text("HH critical")
    # entered, not yet verified: still open to correction in its box
    expect(potassium.get_by_role("textbox", name="Potassium")).to_have_value("6.9")
    expect(potassium).to_contain_text("Entered")
    expect(page.locator("#results tr", has_text="Sodium").locator(".flag")).to_have_count(0)
    k = lab.results_of(sample)["K"]
    assert (k.value, k.flag, k.status, k.entered_by) == ("6.9", Flag.CRITICAL_HIGH, "entered", tech)
    assert CriticalAlert.objects.count() == 0  # not before a second look
    expect(page.locator("#authorise")).to_have_count(0)  # technicians do not authorise
    screenshot(page, "lab-sample.png")

    page.click("#verify")
    expect(messages).to_have_text(
        f"6 result(s) verified on {sample.accession}. "
        "1 critical value(s) sent to the ordering doctor."
    )
    expect(potassium).to_contain_text("verified Ravi Technician")
    expect(page.locator("#verify")).to_have_count(0)
    alert = CriticalAlert.objects.get()
    assert (alert.result, alert.doctor, alert.acknowledged_at) == (k, doctor, None)

    clock_at(2026, 11, 30, 9, 30)
    path_page = new_page()
    log_in(path_page, "dr-path", TEST_PASSWORD)
    path_page.get_by_role("link", name="Laboratory").first.click()
    path_page.get_by_role("link", name="Biochemistry", exact=True).click()
    row = path_page.locator(f"#sample-{sample.accession}")
    expect(row.locator("td").nth(7)).to_have_text("6")  # six to authorise
    row.get_by_role("link", name=sample.accession).click()
    path_page.wait_for_url(f"**/lab/sample/{sample.accession}/")
    expect(path_page.locator("#save-results")).to_have_count(0)
    expect(path_page.locator("#verify")).to_have_count(0)
    path_page.click("#authorise")
    report = Report.objects.get()
    expect(path_page.locator(".messages")).to_have_text(
        f"Authorised. Report {report.number} issued (final)."
    )
    path_k = path_page.locator("#results tr", has_text="Potassium").first
    expect(path_k).to_contain_text("Authorised")
    expect(path_k).to_contain_text("authorised Dr. Meera Pathologist 30-11 09:30")
    path_page.locator(".patient-head").get_by_role("link", name=sample.order.number).click()
    path_page.wait_for_url(f"**/lab/orders/{sample.order.number}/")
    link = path_page.locator("#reports").get_by_role("link", name=report.number)
    expect(path_page.locator("#reports li")).to_contain_text("final")
    response = path_page.request.get(link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    k.refresh_from_db()
    assert (k.status, k.authorised_by) == (ResultStatus.AUTHORISED, pathologist)
    assert report.is_final

    clock_at(2026, 11, 30, 9, 40)
    doctor_page = new_page()
    log_in(doctor_page, "dr-asha", TEST_PASSWORD)
    banner = doctor_page.locator(".critical-banner")
    expect(banner).to_have_text("1 critical lab result to acknowledge")
    banner.get_by_role("link").click()
    doctor_page.wait_for_url("**/lab/alerts/")
    mine = doctor_page.locator(f"#mine #alert-{alert.pk}")
    expect(mine).to_contain_text("Kavita Joshi")
    expect(mine).to_contain_text("Potassium 6.9 mmol/L")
    expect(mine.locator(".flag")).to_have_text("HH critical")
    assert_unique_ids(doctor_page)
    note = mine.get_by_label("What was done")
    mine.get_by_role("button", name="Acknowledge").click()  # the browser wants a note
    expect(note).to_be_focused()
    assert note.evaluate("box => box.validity.valueMissing")
    note.fill("ok")  # and the hospital wants a real one
    mine.get_by_role("button", name="Acknowledge").click()
    expect(doctor_page.locator(f"#alert-{alert.pk} .error")).to_have_text(
        "Say what was done (e.g. 'repeat K+, started insulin')."
    )
    alert.refresh_from_db()
    assert alert.acknowledged_at is None

    mine = doctor_page.locator(f"#mine #alert-{alert.pk}")
    mine.get_by_label("What was done").fill("repeat K+, calcium gluconate and insulin-dextrose")
    mine.get_by_role("button", name="Acknowledge").click()
    doctor_page.wait_for_url("**/lab/alerts/")
    expect(doctor_page.locator(".messages")).to_have_text(
        "Acknowledged: Potassium for Kavita Joshi."
    )
    expect(doctor_page.locator(".critical-banner")).to_have_count(0)
    expect(doctor_page.locator("#mine")).to_contain_text("None waiting for you.")
    expect(doctor_page.locator(f"#done #alert-{alert.pk}")).to_contain_text(
        "30-11 09:40: repeat K+, calcium gluconate and insulin-dextrose"
    )
    doctor_page.goto("/")
    expect(doctor_page.locator(".critical-banner")).to_have_count(0)
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.action_note) == (
        doctor,
        "repeat K+, calcium gluconate and insulin-dextrose",
    )


# -- 4. the bench's worklist refreshes itself ------------------------------------------


def test_section_worklist_refreshes_itself_without_names(page, clock_at, clerk, tech):
    clock_at(2026, 11, 30, 8, 0)
    first = lab.walk_in(
        ["KFT"],
        actor=tech,
        priority="stat",
        patient=PatientFactory(actor=clerk, name="Arjun Mehta"),
    )
    (stat_sample,) = lab.received(first, actor=tech)
    later = lab.walk_in(
        ["LFT"], actor=tech, patient=PatientFactory(actor=clerk, name="Kavita Joshi")
    )
    (later_sample,) = later.samples.all()
    services.sample_collect(actor=tech, sample=later_sample)
    lab.walk_in(["CBC"], actor=tech)  # haematology: never on this list

    log_in(page, "tech-ravi", TEST_PASSWORD)
    page.clock.install()  # the page's timers run on a clock the test moves
    page.goto("/lab/section/biochemistry/")
    expect(page.locator("h1")).to_have_text("Worklist: Biochemistry")
    assert_unique_ids(page)
    poller = page.locator("[hx-trigger]")
    expect(poller).to_have_attribute("hx-trigger", f"every {WORKLIST_REFRESH_MS // 1000}s")
    rows = page.locator("#worklist tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_id(f"sample-{stat_sample.accession}")
    expect(page.locator("#worklist")).to_contain_text("1 sample · updated 08:00:00")
    screenshot(page, "lab-worklist.png")

    clock_at(2026, 11, 30, 8, 30)
    services.sample_receive(actor=tech, accession=later_sample.accession)
    expect(rows).to_have_count(1)  # nothing happens before the poll
    page.clock.fast_forward(WORKLIST_REFRESH_MS)
    expect(rows).to_have_count(2)
    expect(page.locator("#worklist")).to_contain_text("2 samples · updated 08:30:00")
    expect(rows.nth(0)).to_have_id(f"sample-{stat_sample.accession}")  # STAT stays first
    expect(rows.nth(0).locator("td").first).to_have_text("STAT")
    new = rows.nth(1)
    expect(new).to_have_id(f"sample-{later_sample.accession}")
    expect(new.locator("td").nth(3)).to_have_text("LFT")
    expect(new.locator("td").nth(4)).to_have_text("30-11 08:30")
    expect(new.locator("td").nth(5)).to_have_text("7")  # seven liver tests to enter
    assert page.url.endswith("/lab/section/biochemistry/")  # no reload: htmx swapped it
    expect(page.locator("h1")).to_have_count(1)  # the fragment, not the page, came back
    board = page.locator("#worklist").inner_text()
    for name in ("Arjun Mehta", "Kavita Joshi", "Mehta", "Joshi"):
        assert name not in board


# -- 5. analyzer messages ---------------------------------------------------------------


def test_an_unmatched_analyzer_message_is_matched_to_its_sample(page, clock_at, clerk, tech):
    order = lab.walk_in(
        ["CBC"], actor=tech, patient=PatientFactory(actor=clerk, name="Kavita Joshi")
    )
    (sample,) = lab.received(order, actor=tech)
    misread = services.make_accession(999_999, 2026)  # a relabelled tube's old number
    clock_at(2026, 11, 30, 8, 45)
    raw = hl7_samples.oru(misread, hl7_samples.CBC, control_id="XN-20261130-0042")
    outcome = services.analyzer_message_store(hl7.read_oru(raw))
    assert outcome.status == MessageStatus.UNMATCHED
    message = InboundMessage.objects.get()

    clock_at(2026, 11, 30, 9, 0)
    log_in(page, "tech-ravi", TEST_PASSWORD)
    page.get_by_role("link", name="Laboratory").first.click()
    page.get_by_role("link", name="Analyzer messages").click()
    page.wait_for_url("**/lab/messages/")
    card = page.locator(f"#message-{message.pk}")
    expect(card.locator("h2")).to_contain_text("XN-1000 #XN-20261130-0042")
    expect(card).to_contain_text(f"No sample with accession '{misread}': kept to be matched.")
    expect(card).to_contain_text(f"Accession as sent: {misread}")
    card.locator("summary", has_text="Message as received").click()
    expect(card.locator("pre")).to_contain_text("OBX|1|NM|HGB^HGB^99XN||13.2|g/dL")

    assert_unique_ids(page)
    match = card.get_by_label("Accession number")
    match.fill(bad_check_digit(sample.accession))
    card.get_by_role("button", name="Match and store").click()
    card = page.locator(f"#message-{message.pk}")
    expect(card.locator(".error")).to_have_text(
        f"{bad_check_digit(sample.accession)} fails its check digit: rescan the label or retype it."
    )
    message.refresh_from_db()
    assert message.status == MessageStatus.UNMATCHED

    card.get_by_label("Accession number").fill(sample.accession)
    card.get_by_role("button", name="Match and store").click()
    page.wait_for_url("**/lab/messages/")
    expect(page.locator(".messages")).to_have_text(
        f"Message XN-20261130-0042 matched to {sample.accession}: 3 result(s) stored."
    )
    expect(page.locator(f"#message-{message.pk}")).to_have_count(0)
    expect(page.locator("#no-messages")).to_have_text("No messages waiting.")
    resolved = page.locator("#resolved tbody tr", has_text="XN-20261130-0042")
    expect(resolved).to_contain_text(f"Matched by hand: matched to {sample.accession}")
    expect(resolved).to_contain_text("Ravi Technician")
    message.refresh_from_db()
    assert (message.status, message.resolved_by) == (MessageStatus.MATCHED, tech)

    page.goto(f"/lab/sample/{sample.accession}/")
    for name, value in (
        ("Haemoglobin", "13.2"),
        ("Total leucocyte count", "7.40"),
        ("Platelet count", "250"),
    ):
        row = page.locator("#results tr", has_text=name).first
        expect(row.get_by_role("textbox", name=name)).to_have_value(value)  # open to correction
        expect(row).to_contain_text("Entered")
        expect(row).to_contain_text("· XN1000")
    results = lab.results_of(sample)
    assert (results["HB"].value, results["HB"].source) == ("13.2", ResultSource.ANALYZER)
    assert results["PLT"].value == "250"
    assert results["MCV"].status == ResultStatus.PENDING  # not sent: still to do


# -- 6. the public check of a printed report --------------------------------------------


def test_anyone_checks_a_printed_report_without_logging_in(page, clerk, tech, pathologist):
    order = lab.walk_in(
        ["KFT"], actor=tech, patient=PatientFactory(actor=clerk, name="Kavita Joshi")
    )
    (sample,) = lab.received(order, actor=tech)
    values = {"UREA": "28", "CREAT": "0.9", "NA": "138", "K": "4.2", "CL": "101", "URIC": "5.2"}
    report = lab.authorised(sample, values, pathologist_user=pathologist)
    url = documents.verify_path(report)

    page.goto(url)  # as the QR code's camera app does: no login
    verdict = page.locator("#verdict")
    expect(verdict.locator("h2")).to_have_text("AUTHENTIC")
    expect(page.locator("#report-number")).to_contain_text(report.number)
    expect(page.locator("main")).to_contain_text("Dr. Meera Pathologist")
    expect(page.locator("main table", has_text="Potassium")).to_contain_text("4.2")
    expect(page.locator(".topbar nav")).to_have_count(0)  # nobody is logged in

    digest = report.content_hash
    forged = ("0" if digest[0] != "0" else "1") + digest[1:]
    page.goto(url.replace(digest, forged))
    expect(verdict.locator("h2")).to_have_text("DOES NOT MATCH")
    expect(verdict.locator(".findings")).to_contain_text(
        "The code on the paper is not the fingerprint of this report"
    )
    assert "Kavita Joshi" not in page.content()
    assert order.patient.uhid not in page.content()


# -- 7. turnaround times ----------------------------------------------------------------


def test_hospital_admin_with_two_factor_sees_turnaround_times(
    page, clock_at, clerk, make_user, tech
):
    def through(panel, ordered, received, authorised):
        clock_at(2026, 11, 30, *ordered)
        order = lab.walk_in([panel], actor=tech, patient=PatientFactory(actor=clerk))
        (sample,) = order.samples.all()
        services.sample_collect(actor=tech, sample=sample)
        clock_at(2026, 11, 30, *received)
        services.sample_receive(actor=tech, accession=sample.accession)
        clock_at(2026, 11, 30, *authorised)
        lab.authorised(sample, {code: "1" for code in lab.results_of(sample)})

    through("KFT", (8, 0), (8, 20), (9, 40))  # 80 min in the lab: target 180
    through("CBC", (8, 10), (8, 30), (10, 45))  # 135 min: target 120, late
    clock_at(2026, 11, 30, 11, 0)
    admin = make_user(Role.HOSPITAL_ADMIN, username="msoffice", full_name="Dr. Meena Iyer")
    device = enrolled_device(admin)

    log_in(page, "msoffice", TEST_PASSWORD)
    page.wait_for_url("**/accounts/two-factor/**")
    # The enrolment spent this 30-second step's code: the app's next one is accepted.
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=1)
    page.fill("#id_token", f"{code:06d}")
    page.press("#id_token", "Enter")
    page.wait_for_url(lambda url: "two-factor" not in url)
    expect(page.locator(".badge.ok")).to_have_text("2FA")

    page.goto("/lab/tat/")
    expect(page.locator("h1")).to_have_text("Laboratory turnaround times")
    expect(page.locator("#id_first")).to_have_value("2026-11-24")
    expect(page.locator("#id_last")).to_have_value("2026-11-30")
    kft = page.locator('#tat-table tr[data-panel="KFT"] td')
    expect(kft).to_have_text(
        [re.compile("KFT · Kidney function tests"), "180", "1", "80", "80", "100%", "20", "20"]
    )
    cbc = page.locator('#tat-table tr[data-panel="CBC"] td')
    expect(cbc.nth(2)).to_have_text("1")
    expect(cbc.nth(3)).to_have_text("135")
    expect(cbc.nth(3)).to_have_class("bad-text")  # over its target
    expect(cbc.nth(5)).to_have_text("0%")
    chart = page.locator("svg.chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect")).to_have_count(2)
    expect(chart.locator("rect title").first).to_have_text(
        re.compile(r"^CBC Complete blood count: median 135 min, target 120 min, 1 authorised$")
    )
    expect(chart).to_contain_text("Biochemistry")
    expect(page.locator("#late-now")).to_contain_text("Nothing is late.")
    csv = page.request.get(page.locator("#tat-csv").get_attribute("href"))
    assert csv.status == 200
    assert csv.headers["content-type"].startswith("text/csv")
