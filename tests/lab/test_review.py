"""Findings of a review of the laboratory's pages, each pinned by a test: who may see
what, bad input that must not become a server error, forms that must come back with
what was typed, and list pages whose cost must not grow with their rows."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ajeya.core.roles import Role
from ajeya.lab import selectors, services
from ajeya.lab.models import CriticalAlert, InboundMessage, OrderSource, Result, ResultStatus
from ajeya.ledger.models import AccessEntry, AccessKind, LedgerEntry
from tests.conftest import verified_client
from tests.ipd import factories as wards
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    return verified_client(Client(), user)


def text(response) -> str:
    return response.content.decode()


def flashed(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture(autouse=True)
def now(monday_morning):
    return monday_morning


@pytest.fixture
def catalogue(db):
    lab.load_catalogue()


@pytest.fixture
def tech(catalogue):
    return lab.technician()


@pytest.fixture
def path(catalogue):
    return lab.pathologist()


def received_cbc(tech, **kwargs):
    (sample,) = lab.received(lab.walk_in(["CBC"], actor=tech, **kwargs))
    return sample


# -- 1. who sees what -------------------------------------------------------------------


def test_the_counter_confirmation_shows_walk_in_orders_only(catalogue, clerk, doctor, clinic):
    """A clerk (no LAB_VIEW) reached any order's clinical notes, doctor, tests and
    sample states through the counter's confirmation page by typing its number."""
    ward = wards.ward("MW")
    admission = wards.admit(clerk, wards.beds(ward)[0], doctor=doctor, unit=clinic)
    inpatient = services.order_create(
        actor=doctor,
        patient=admission.patient,
        tests=["CBC"],
        source=OrderSource.IPD,
        admission=admission,
        clinical_notes="needle-stick exposure, HIV status",
    )
    client = login(clerk)
    before = AccessEntry.objects.filter(actor_id=clerk.pk).count()
    response = client.get(reverse("lab:placed", args=[inpatient.number]))
    assert response.status_code == 404
    assert "needle-stick" not in text(response)
    assert admission.patient.name not in text(response)
    assert AccessEntry.objects.filter(actor_id=clerk.pk).count() == before

    walk_in = lab.walk_in(["CBC"], actor=clerk, clinical_notes="fever")
    response = client.get(reverse("lab:placed", args=[walk_in.number]))
    assert response.status_code == 200
    assert walk_in.patient.name in text(response)


@pytest.fixture
def seen_world(tech, path, doctor, clerk, clinic):
    """One patient with every kind of lab record a page can show: an order awaiting
    collection, a received CBC with a critical result verified and authorised (so an
    alert and a report exist), and an admission a doctor orders for."""
    patient = PatientFactory(actor=clerk, name="Rukmini Devi")
    lab.walk_in(["KFT"], patient=patient, actor=tech)
    sample = received_cbc(tech, patient=patient)
    lab.enter(sample, {"HB": "4.9"})
    services.results_verify(actor=tech, sample=sample)
    report = services.results_authorise(actor=path, sample=sample)
    ward = wards.ward("MW")
    admission = wards.admit(clerk, wards.beds(ward)[0], doctor=doctor, unit=clinic)
    return {"patient": patient, "sample": sample, "report": report, "admission": admission}


def test_every_lab_page_that_shows_a_patient_records_who_saw_it(seen_world, tech, path, doctor):
    patient, sample = seen_world["patient"], seen_world["sample"]
    order, report = sample.order, seen_world["report"]
    admitted = seen_world["admission"].patient
    uhid = patient.uhid
    pages = [
        (tech, reverse("lab:counter") + f"?uhid={uhid}", uhid, AccessKind.VIEWED),
        (tech, reverse("lab:order", args=[order.number]), uhid, AccessKind.VIEWED),
        (tech, reverse("lab:placed", args=[order.number]), uhid, AccessKind.VIEWED),
        (tech, reverse("lab:collection"), uhid, AccessKind.LISTED),
        (tech, reverse("lab:sample", args=[sample.accession]), uhid, AccessKind.VIEWED),
        (doctor, reverse("lab:alerts"), uhid, AccessKind.LISTED),
        (doctor, reverse("lab:patient_orders", args=[uhid]), uhid, AccessKind.VIEWED),
        (tech, reverse("lab:labels", args=[order.number]), uhid, AccessKind.PRINTED),
        (path, reverse("lab:report_pdf", args=[report.number]), uhid, AccessKind.PRINTED),
        (
            doctor,
            reverse("lab:order_admission", args=[seen_world["admission"].number]),
            admitted.uhid,
            AccessKind.VIEWED,
        ),
    ]
    for user, url, shown, kind in pages:
        for headers in ({}, {"HX-Request": "true"}):
            entries = AccessEntry.objects.filter(actor_id=user.pk, patient_uhid=shown, what=kind)
            before = entries.count()
            response = login(user).get(url, headers=headers)
            assert response.status_code == 200, url
            assert entries.count() == before + 1, (url, headers)


def test_roles_without_lab_view_reach_no_result_through_any_lab_address(seen_world, make_user):
    """Every lab address, asked and posted to, by each role that may not read lab
    records: no result value, no test name, on any page or fragment."""
    from types import SimpleNamespace

    from django.urls import get_resolver

    from tests.core.test_role_matrix import lab_kwargs, walk

    sample, report = seen_world["sample"], seen_world["report"]
    world = SimpleNamespace(
        lab_order=sample.order,
        lab_sample=sample,
        lab_report=report,
        admission=seen_world["admission"],
        patient=sample.order.patient,
    )
    names = [name for name, _ in walk(get_resolver().url_patterns) if name.startswith("lab:")]
    assert len(names) > 20
    for role in (Role.REGISTRATION_CLERK, Role.BILLING_CLERK, Role.HOSPITAL_ADMIN):
        client = login(make_user(role, username=f"nolab-{role}"))
        for name in names:
            page = name.partition(":")[2]
            kwargs = (
                {"number": report.number, "digest": "0" * 64}
                if page == "verify"
                else lab_kwargs(page, world)
            )
            url = reverse(name, kwargs=kwargs)
            for response in (
                client.get(url),
                client.get(url, headers={"HX-Request": "true"}),
                client.post(url, {"accession": sample.accession, "reason": "clotted"}),
            ):
                assert "4.9" not in text(response), (role, name)
                assert "Haemoglobin" not in text(response), (role, name)


# -- 2. injection, redirects and forged requests ---------------------------------------


def test_typed_markup_is_text_on_every_page(tech, path, doctor):
    """Patient names refuse '<', but what staff type beside an order does not."""
    script, img = "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"
    sample = received_cbc(tech, referring_doctor=script, clinical_notes=img)
    lab.enter(sample, {"HB": "4.9"})
    services.results_verify(actor=tech, sample=sample)
    report = services.results_authorise(actor=path, sample=sample)
    services.analyzer_message_store(lab.oru(script, [("HGB", "9.1")], control_id=img))
    pages = [
        (tech, reverse("lab:order", args=[sample.order.number]), True),
        (tech, reverse("lab:sample", args=[sample.accession]), True),
        (tech, reverse("lab:messages"), True),
        (None, reverse("lab:verify", args=[report.number, report.content_hash]), False),
    ]
    for user, url, shows_it in pages:
        content = text((login(user) if user else Client()).get(url))
        assert "<script>alert" not in content, url
        assert "<img src=x" not in content, url
        if shows_it:
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content or "&lt;img" in content


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_next_never_leaves_the_site(tech, target):
    client = login(tech)
    order = lab.walk_in(["CBC"], actor=tech)
    sample = order.samples.get()
    collected = client.post(
        reverse("lab:collect", args=[sample.accession]), {"collected_at": "", "next": target}
    )
    assert collected.status_code == 302
    assert collected["Location"] == reverse("lab:collection")
    rejected = client.post(
        reverse("lab:reject"),
        {"accession": sample.accession, "reason": "clotted", "next": target},
    )
    assert rejected.status_code == 302
    assert rejected["Location"] == reverse("lab:reception")


def test_every_lab_post_needs_the_csrf_token(tech, path, doctor):
    sample = received_cbc(tech)
    services.analyzer_message_store(lab.oru("9999999999", [("HGB", "9.1")], control_id="M1"))
    message = InboundMessage.objects.get()
    hb = lab.results_of(sample)["HB"]
    posts = [
        (tech, reverse("lab:counter"), {"uhid": sample.order.patient.uhid, "panels": ["CBC"]}),
        (tech, reverse("lab:collect", args=[sample.accession]), {}),
        (tech, reverse("lab:reception"), {"accession": sample.accession}),
        (tech, reverse("lab:reject"), {"accession": sample.accession, "reason": "clotted"}),
        (tech, reverse("lab:results_enter", args=[sample.accession]), {f"r{hb.pk}": "13"}),
        (tech, reverse("lab:results_verify", args=[sample.accession]), {}),
        (path, reverse("lab:results_authorise", args=[sample.accession]), {}),
        (path, reverse("lab:result_amend", args=[hb.pk]), {"value": "1", "reason": "x"}),
        (doctor, reverse("lab:acknowledge", args=[1]), {"note": "heard it"}),
        (tech, reverse("lab:message_match", args=[message.pk]), {"accession": "1"}),
        (tech, reverse("lab:message_dismiss", args=[message.pk]), {"reason": "test"}),
    ]
    before = LedgerEntry.objects.count()
    for user, url, data in posts:
        client = verified_client(Client(enforce_csrf_checks=True), user)
        assert client.post(url, data).status_code == 403, url
    assert LedgerEntry.objects.count() == before


def test_an_amendment_reason_with_a_semicolon_is_printed_whole(tech, path):
    """The report's version reason joins "CODE amended: why" with "; ": a pathologist's
    own "; " cut the reason short on the paper."""
    from tests.lab.test_documents import pdf_text

    order = lab.walk_in(["FBS"], actor=tech)
    (sample,) = lab.received(order)
    lab.enter(sample, {"FBS": "35"})
    services.results_verify(actor=tech, sample=sample)
    services.results_authorise(actor=path, sample=sample)
    services.result_amend(
        actor=path,
        result=lab.results_of(sample)["FBS"],
        value="85",
        reason="diluted; repeated fresh",
    )
    report = services.results_authorise(actor=lab.pathologist("dr-second"), sample=sample)
    printed = pdf_text(login(tech).get(reverse("lab:report_pdf", args=[report.number])).content)
    assert "Amended result: Glucose, fasting (FBS) — diluted; repeated fresh" in printed


def test_pdfs_of_patients_are_not_kept_in_the_browser_cache(tech, path):
    sample = received_cbc(tech)
    lab.enter(sample, {"HB": "13.5"})
    services.results_verify(actor=tech, sample=sample)
    report = services.results_authorise(actor=path, sample=sample)
    for response in (
        login(path).get(reverse("lab:report_pdf", args=[report.number])),
        login(tech).get(reverse("lab:labels", args=[sample.order.number])),
    ):
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]


# -- 3. bad input is a clear page, never a traceback -----------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"first": "0001-01-01", "last": "0001-01-02"}, "first"),
        ({"first": "9999-12-30", "last": "9999-12-31"}, "last"),
        ({"last": "0001-01-01"}, "last"),
        ({"first": "1999-12-31", "last": "2000-01-02"}, "first"),
    ],
)
def test_a_period_far_from_today_is_a_form_error_not_a_server_error(client_as, query, field):
    client = client_as(Role.PATHOLOGIST)
    response = client.get(reverse("lab:tat"), query)
    assert response.status_code == 422
    assert response.context["data"] is None
    assert field in response.context["form"].errors
    assert "Choose a day between" in text(response)
    response = client.get(reverse("lab:tat_csv"), query)
    assert response.status_code == 422
    assert "Choose a day between" in text(response)


NUL_URLS = [
    "/lab/sample/2600000018%00/",
    "/lab/orders/L26%0000001/",
    "/lab/orders/L26%0000001/placed/",
    "/lab/orders/L26%0000001/labels.pdf",
    "/lab/reports/L26%0000001-1.pdf",
    "/lab/analyzer/XN%001000/",
    "/lab/patients/1000%0000015/",
    "/lab/admissions/IP%00/order/",
]


def test_a_nul_character_in_an_address_is_not_found(catalogue, make_user, client):
    """PostgreSQL refuses a NUL in a text parameter with an error: a 500 on every page
    that looks something up by the address, the public report check included."""
    for role, urls in (
        (Role.LAB_TECHNICIAN, NUL_URLS[:-1]),
        (Role.DOCTOR, NUL_URLS[-1:]),
    ):
        user_client = verified_client(
            Client(raise_request_exception=False), make_user(role, username=f"nul-{role}")
        )
        for url in urls:
            assert user_client.get(url).status_code == 404, url
    public = Client(raise_request_exception=False)
    assert public.get("/lab/verify/L26%0000001-1/abc/").status_code == 404
    tech_client = verified_client(Client(raise_request_exception=False), lab.technician())
    assert tech_client.get("/lab/orders/L260000001/labels.pdf?accession=1%002").status_code == 404
    response = tech_client.post(reverse("lab:counter"), {"uhid": "100000000015\x00"})
    assert response.status_code == 422
    assert "No patient has UHID 100000000015." in text(response)


@pytest.mark.parametrize(
    ("read", "value"),
    [
        (selectors.sample_get, "2600000018\x00"),
        (selectors.order_get, "L26\x000000001"),
        (selectors.report_get, "L26\x000000001-1"),
        (selectors.analyzer_get, "XN\x00"),
        (lambda number: selectors.order_labels(number), "L\x00"),
        (selectors.walk_in_order_get, "L26\x000000001"),
        (selectors.patient_get, "1000\x0000015"),
        (selectors.admission_get, "IP\x00"),
    ],
)
def test_a_key_with_a_nul_is_refused_before_the_database(catalogue, read, value):
    with CaptureQueriesContext(connection) as queries, pytest.raises(selectors.NotFound):
        read(value)
    assert len(queries) == 0


def test_the_report_check_of_a_number_with_a_nul_is_an_unknown_report(catalogue):
    with CaptureQueriesContext(connection) as queries:
        check = selectors.report_check("L26\x000000001-1", "abc")
    assert check.status == selectors.CheckStatus.UNKNOWN
    assert not check.shows_patient
    assert len(queries) == 0


# -- 3. forms come back with what was typed and say what is wrong ----------------------


def test_the_counter_keeps_the_uhid_in_the_find_box_after_a_refused_order(tech):
    patient = PatientFactory()
    response = login(tech).post(
        reverse("lab:counter"), {"uhid": patient.uhid, "panels": [], "priority": "routine"}
    )
    assert response.status_code == 422
    find = re.search(r'<input[^>]*id="id_uhid"[^>]*>', text(response)).group(0)
    assert f'value="{patient.uhid}"' in find


def hidden_next(content: str) -> str:
    form = re.search(r'<details class="card" id="reject"[^>]*>(.*?)</details>', content, re.S)
    return re.search(r'name="next" value="([^"]*)"', form.group(1)).group(1)


def test_the_reject_box_returns_to_the_sample_after_a_refused_entry(tech):
    """The reject box's `next` was the address of the request: after a refused entry
    (or amendment) that is a POST-only action, and a rejection from that page ended on
    a 405 error page."""
    sample = received_cbc(tech)
    client = login(tech)
    hb = lab.results_of(sample)["HB"]
    response = client.post(
        reverse("lab:results_enter", args=[sample.accession]), {f"r{hb.pk}": "abc"}
    )
    assert response.status_code == 422
    page = reverse("lab:sample", args=[sample.accession])
    assert hidden_next(text(response)) == page
    response = client.post(
        reverse("lab:reject"),
        {"accession": sample.accession, "reason": "clotted", "next": hidden_next(text(response))},
    )
    assert response.status_code == 302
    assert response["Location"] == page


def test_a_refused_rejection_on_the_sample_page_keeps_the_note(tech):
    sample = received_cbc(tech)
    page = reverse("lab:sample", args=[sample.accession])
    before = LedgerEntry.objects.count()
    response = login(tech).post(
        reverse("lab:reject"),
        {"accession": sample.accession, "reason": "", "note": "tube cracked", "next": page},
    )
    assert response.status_code == 422
    content = text(response)
    reject = re.search(r'<details class="card" id="reject" open>(.*?)</details>', content, re.S)
    assert reject, "the reject box is open with its errors"
    assert "Choose why the sample is rejected." in reject.group(1)
    assert "tube cracked" in reject.group(1)
    assert hidden_next(content) == page
    assert LedgerEntry.objects.count() == before


@pytest.fixture
def critical(tech, doctor):
    sample = received_cbc(tech, doctor=doctor)
    lab.enter(sample, {"HB": "5.0"})
    services.results_verify(actor=tech, sample=sample)
    return CriticalAlert.objects.get()


def test_a_refused_acknowledgement_of_an_alert_not_listed_says_why(critical, doctor, make_user):
    """An alert acknowledged already (in another tab) or another doctor's: the form is
    not on the page, so its errors were nowhere to be seen on a 422 page."""
    other = login(make_user(Role.DOCTOR, username="dr-other"))
    url = reverse("lab:acknowledge", args=[critical.pk])
    login(doctor).post(url, {"note": "transfused"})
    for client in (login(doctor), other):
        response = client.post(url, {"note": "ok"})
        assert response.status_code == 422
        assert any("Say what was done" in m for m in flashed(response))
        assert "Say what was done" in text(response)


def test_a_refused_amendment_of_a_result_no_longer_authorised_says_why(tech, path):
    sample = received_cbc(tech)
    lab.enter(sample, {"HB": "13.5"})
    services.results_verify(actor=tech, sample=sample)
    services.results_authorise(actor=path, sample=sample)
    hb = lab.results_of(sample)["HB"]
    client = login(path)
    url = reverse("lab:result_amend", args=[hb.pk])
    client.post(url, {"value": "12.5", "reason": "transcription error"})
    assert Result.objects.get(pk=hb.pk).status == ResultStatus.AMENDED
    response = client.post(url, {"value": "11.0", "reason": ""})
    assert response.status_code == 422
    assert any("Say why the result is amended." in m for m in flashed(response))


def test_a_refused_action_on_a_resolved_message_says_why(tech):
    services.analyzer_message_store(lab.oru("9999999999", [("HGB", "9.1")], control_id="M1"))
    message = InboundMessage.objects.get()
    client = login(tech)
    client.post(reverse("lab:message_dismiss", args=[message.pk]), {"reason": "test run"})
    response = client.post(reverse("lab:message_dismiss", args=[message.pk]), {"reason": ""})
    assert response.status_code == 422
    assert any("Say why the message is set aside." in m for m in flashed(response))


# -- 4. list pages cost the same for one row or twenty ---------------------------------

MANY = 20


def grow_home(n: int, ctx: dict) -> None:
    tech = ctx["tech"]
    for _ in range(n):
        order = lab.walk_in(["CBC", "KFT"], actor=tech)
        sample = lab.received(order)[0]
        lab.enter(sample, {"HB": "13.5"})


def grow_collection(n: int, ctx: dict) -> None:
    for _ in range(n):
        lab.walk_in(["CBC"], actor=ctx["tech"])


def grow_reception(n: int, ctx: dict) -> None:
    for _ in range(n):
        order = lab.walk_in(["CBC"], actor=ctx["tech"])
        services.sample_collect(actor=ctx["tech"], sample=order.samples.get())


def grow_alerts(n: int, ctx: dict) -> None:
    tech, doctor = ctx["tech"], ctx["doctor"]
    for k in range(n):
        mine = received_cbc(tech, doctor=doctor)
        unassigned = received_cbc(tech)
        for sample in (mine, unassigned):
            lab.enter(sample, {"HB": "5.0"})
            services.results_verify(actor=tech, sample=sample)
        if k % 2:
            alert = CriticalAlert.objects.get(result__item__sample=mine)
            services.alert_acknowledge(actor=doctor, alert=alert, note="transfused")


def grow_messages(n: int, ctx: dict) -> None:
    for _ in range(n):
        ctx["seq"] = ctx.get("seq", 0) + 1
        seq = ctx["seq"]
        sample = received_cbc(ctx["tech"])
        # One refused for its content (it names its sample) and one for no known sample.
        services.analyzer_message_store(
            lab.oru(sample.accession, [("NOPE", "1")], control_id=f"E{seq}")
        )
        services.analyzer_message_store(
            lab.oru(f"99999{seq:05d}", [("HGB", "9.1")], control_id=f"U{seq}")
        )


def grow_patient_orders(n: int, ctx: dict) -> None:
    tech, path = ctx["tech"], ctx["path"]
    for _ in range(n):
        sample = received_cbc(tech, patient=ctx["patient"])
        lab.enter(sample, {"HB": "13.5"})
        services.results_verify(actor=tech, sample=sample)
        services.results_authorise(actor=path, sample=sample)


PAGES = {
    # name: (who looks, the address, how to add rows, a row's mark on the page)
    "home": ("tech", lambda ctx: reverse("lab:home"), grow_home, None),
    "collection": (
        "tech",
        lambda ctx: reverse("lab:collection"),
        grow_collection,
        '<tr id="sample-',
    ),
    "reception": ("tech", lambda ctx: reverse("lab:reception"), grow_reception, "<tr><td>"),
    "alerts": ("doctor", lambda ctx: reverse("lab:alerts"), grow_alerts, '<tr id="alert-'),
    "messages": ("tech", lambda ctx: reverse("lab:messages"), grow_messages, 'id="message-'),
    "patient orders": (
        "tech",
        lambda ctx: reverse("lab:patient_orders", args=[ctx["patient"].uhid]),
        grow_patient_orders,
        '<tr><td><a href="/lab/orders/',
    ),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_list_pages_cost_the_same_for_one_row_or_twenty(
    name, tech, path, doctor, django_assert_max_num_queries
):
    who, address, grow, mark = PAGES[name]
    ctx = {"tech": tech, "path": path, "doctor": doctor, "patient": PatientFactory()}
    client = login(ctx[who])
    url = address(ctx)
    grow(1, ctx)
    client.get(url)  # the session's first request writes what later ones need not
    with CaptureQueriesContext(connection) as one:
        first = client.get(url)
    assert first.status_code == 200
    grow(MANY - 1, ctx)
    with django_assert_max_num_queries(len(one)):
        response = client.get(url)
    assert response.status_code == 200
    if mark:
        assert text(response).count(mark) >= MANY > text(first).count(mark)
