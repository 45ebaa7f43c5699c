"""Laboratory pages: the lab's home, the walk-in counter and the ward's order form, an
order's samples, collection, reception (the scan box and rejection), section and
analyzer worklists, the sample's results (entry, verification, authorisation and
amendment), critical results for doctors, analyzer messages and the catalogue."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ajeya.core import clock
from ajeya.core.errors import ApplicationError, NotFound, ValidationFailed
from ajeya.core.forms import add_service_errors, safe_next
from ajeya.core.roles import Perm, has_perm, permission_required
from ajeya.lab import charts, forms, selectors, services
from ajeya.lab.models import CRITICAL_FLAGS, OrderSource, ResultStatus, SampleStatus, Section
from ajeya.ledger.access import seen
from ajeya.ledger.models import AccessKind

WORKLIST_REFRESH_SECONDS = 15


def critical_notices(user) -> list[tuple[str, str]]:
    """The banner on every page of a doctor with critical results not yet heard."""
    if not has_perm(user, Perm.LAB_ALERT_ACK):
        return []
    count = selectors.open_alert_count(user)
    if not count:
        return []
    plural = "" if count == 1 else "s"
    return [(f"{count} critical lab result{plural} to acknowledge", reverse("lab:alerts"))]


def _form_problems(form) -> str:
    return " ".join(m for errors in form.errors.values() for m in errors)


def _say_off_page(request, form) -> None:
    """A refused form whose row is not on the page drawn again (the alert acknowledged,
    the result amended, the message resolved meanwhile, in another tab or by someone
    else): its messages go to the top of the page, not nowhere."""
    messages.error(request, _form_problems(form))


def _service_errors(form, exc: ValidationFailed) -> None:
    """The order service names `tests`; the form calls them `panels`."""
    renamed = {("panels" if k == "tests" else k): v for k, v in exc.errors.items()}
    add_service_errors(form, ValidationFailed(renamed))


@permission_required(Perm.LAB_VIEW)
def home(request):
    return render(
        request,
        "lab/home.html",
        {
            **(counts := selectors.home_counts()),
            "analyzers": selectors.analyzers(),
            "chart": charts.workload_svg(counts["rows"]),
        },
    )


# -- ordering ---------------------------------------------------------------------------


def _order_page(request, template: str, context: dict, status: int = 200):
    context["sections"] = selectors.panels_by_section()
    return render(request, template, context, status=status)


@permission_required(Perm.LAB_COUNTER)
def counter(request):
    """The walk-in counter: find the patient by UHID, then tick the tests."""
    uhid = request.POST.get("uhid", "") if request.method == "POST" else ""
    # After an order is refused the find box still names the patient.
    find = forms.FindPatientForm(request.GET or None, initial={"uhid": uhid})
    patient, form, status = None, None, 200
    if find.is_valid():
        uhid = find.cleaned_data["uhid"]
    if uhid:
        try:
            patient = selectors.patient_get(uhid)
        except ApplicationError as exc:
            find = forms.FindPatientForm({"uhid": uhid})
            find.is_valid()
            find.add_error("uhid", exc.human)
            status = 422 if request.method == "POST" else 200
    if patient is not None:
        form = forms.CounterOrderForm(request.POST or None, initial={"uhid": patient.uhid})
        if request.method == "POST":
            status = 422
            if form.is_valid():
                data = form.cleaned_data
                try:
                    order = services.order_create(
                        actor=request.user,
                        patient=patient,
                        tests=data["panels"],
                        source=OrderSource.WALK_IN,
                        priority=data["priority"],
                        referring_doctor=data["referring_doctor"],
                        clinical_notes=data["clinical_notes"],
                    )
                except ValidationFailed as exc:
                    _service_errors(form, exc)
                except ApplicationError as exc:
                    form.add_error(None, exc.human)
                else:
                    messages.success(request, f"Lab order {order.number} for {patient.name}.")
                    if has_perm(request.user, Perm.LAB_VIEW):
                        return redirect("lab:order", number=order.number)
                    return redirect("lab:placed", number=order.number)
        seen(request, [patient.uhid], AccessKind.VIEWED)
    return _order_page(
        request,
        "lab/counter.html",
        {"find": find, "patient": patient, "form": form},
        status,
    )


@permission_required(Perm.LAB_ORDER)
def order_admission(request, number: str):
    """A doctor orders tests for an inpatient; the ward collects the samples."""
    admission = selectors.admission_get(number)
    form = forms.OrderForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                order = services.order_create(
                    actor=request.user,
                    patient=admission.patient,
                    tests=data["panels"],
                    source=OrderSource.IPD,
                    priority=data["priority"],
                    doctor=request.user,
                    admission=admission,
                    clinical_notes=data["clinical_notes"],
                )
            except ValidationFailed as exc:
                _service_errors(form, exc)
            except ApplicationError as exc:
                form.add_error(None, exc.human)
            else:
                messages.success(
                    request, f"Lab order {order.number}: the samples are on the collection list."
                )
                return redirect("lab:order", number=order.number)
    seen(request, [admission.patient.uhid], AccessKind.VIEWED)
    return _order_page(
        request, "lab/order_admission.html", {"admission": admission, "form": form}, status
    )


@permission_required(Perm.LAB_VIEW)
def order(request, number: str):
    record = selectors.order_get(number)
    seen(request, [record.patient.uhid], AccessKind.VIEWED)
    return render(request, "lab/order.html", {"order": record})


@permission_required(Perm.LAB_COUNTER)
def placed(request, number: str):
    """The counter's confirmation: the order number and the samples to be drawn (walk-in
    orders only: a clerk at the counter may not read the wards' orders)."""
    record = selectors.walk_in_order_get(number)
    seen(request, [record.patient.uhid], AccessKind.VIEWED)
    return render(request, "lab/placed.html", {"order": record})


# -- samples: collection and reception -------------------------------------------------


@permission_required(Perm.SAMPLE_COLLECT)
def collection(request):
    section = request.GET.get("section")
    section = section if section in Section.values else None
    rows = selectors.collection_rows(section=section)
    seen(request, [s.order.patient.uhid for s in rows], AccessKind.LISTED)
    return render(
        request,
        "lab/collection.html",
        {"rows": rows, "section": section, "sections": Section.choices},
    )


@permission_required(Perm.SAMPLE_COLLECT)
@require_POST
def collect(request, accession: str):
    sample = selectors.sample_get(accession)  # 404 before anything else
    form = forms.CollectForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationFailed(_form_problems(form))
        services.sample_collect(
            actor=request.user, sample=sample, collected_at=form.cleaned_data["collected_at"]
        )
    except ApplicationError as exc:
        messages.error(request, f"{sample.accession}: {exc.human}")
    else:
        messages.success(request, f"Sample {sample.accession} collected.")
    return redirect(safe_next(request, reverse("lab:collection")))


def _reception_page(request, *, scan=None, reject=None, status=200):
    return render(
        request,
        "lab/reception.html",
        {
            "scan": scan or forms.ScanForm(),
            "reject": reject or forms.RejectForm(),
            "rows": selectors.reception_list(),
        },
        status=status,
    )


@permission_required(Perm.SAMPLE_RECEIVE)
def reception(request):
    """The scan box: a barcode scanner types the ten digits and Enter."""
    if request.method != "POST":
        return _reception_page(request)
    scan = forms.ScanForm(request.POST)
    if scan.is_valid():
        try:
            sample = services.sample_receive(
                actor=request.user, accession=scan.cleaned_data["accession"]
            )
        except ValidationFailed as exc:
            add_service_errors(scan, exc)
        except ApplicationError as exc:
            scan.add_error("accession", exc.human)
        else:
            patient = sample.order.patient
            seen(request, [patient.uhid], AccessKind.VIEWED)
            tests = ", ".join(i.panel.code for i in sample.items.select_related("panel"))
            messages.success(
                request,
                f"Received {sample.accession} ({sample.get_container_display()}, {tests}) "
                f"for {patient.name}, {patient.uhid_display}.",
            )
            return redirect("lab:reception")
    return _reception_page(request, scan=scan, status=422)


@permission_required(Perm.SAMPLE_RECEIVE)
@require_POST
def reject(request):
    form = forms.RejectForm(request.POST)
    back = request.POST.get("next")
    if form.is_valid():
        data = form.cleaned_data
        try:
            again = services.sample_reject(
                actor=request.user,
                sample=data["accession"],
                reason=data["reason"],
                note=data["note"],
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            if back:  # the sample page's reject button: say there what went wrong
                messages.error(request, exc.human)
                return redirect(safe_next(request, reverse("lab:reception")))
            form.add_error(None, exc.human)
        else:
            messages.success(
                request,
                f"Sample {again.recollection_of.accession} rejected "
                f"({again.recollection_of.get_rejection_reason_display().lower()}): "
                f"recollect as {again.accession}, now on the collection list.",
            )
            return redirect(safe_next(request, reverse("lab:reception")))
    if back:  # the sample page again, its reject box open with what was typed
        record = selectors.sample_get(request.POST.get("accession", ""))
        return _sample_page(request, record, reject=form, status=422)
    return _reception_page(request, reject=form, status=422)


# -- worklists --------------------------------------------------------------------------


def _worklist(request, context: dict):
    context.update(refresh=WORKLIST_REFRESH_SECONDS, now=clock.local(clock.now()))
    template = "lab/_worklist.html" if request.htmx else "lab/worklist.html"
    return render(request, template, context)


@permission_required(Perm.LAB_VIEW)
def section_worklist(request, section: str):
    """Received samples of one section with work left. It shows accession numbers,
    age and sex, not names: it hangs on the bench and refreshes all day."""
    if section not in Section.values:
        raise NotFound(f"No laboratory section {section}.")
    rows = selectors.worklist(section=section)
    return _worklist(request, {"title": Section(section).label, "rows": rows})


@permission_required(Perm.LAB_VIEW)
def analyzer_worklist(request, code: str):
    analyzer = selectors.analyzer_get(code)
    rows = selectors.worklist(section=analyzer.section, tests=selectors.analyzer_tests(analyzer))
    return _worklist(request, {"title": analyzer.name, "analyzer": analyzer, "rows": rows})


# -- a sample's results -----------------------------------------------------------------


def _enterable(sample, results) -> list:
    if sample.status != SampleStatus.RECEIVED:
        return []
    return [r for r in results if r.status in (ResultStatus.PENDING, ResultStatus.ENTERED)]


def _sample_page(request, sample, *, results=None, entry=None, amend=None, reject=None, status=200):
    """The sample's page; `entry`, `amend` (a bound form and its result's id) or
    `reject` come back with the typed values and the service's messages."""
    results = results if results is not None else selectors.sample_results(sample)
    if entry is None and has_perm(request.user, Perm.RESULT_ENTER):
        enterable = _enterable(sample, results)
        entry = forms.ResultEntryForm(enterable) if enterable else None
    amend_pk, amend_form = amend or (None, None)
    if amend_form is not None and not any(
        r.pk == amend_pk and r.status == ResultStatus.AUTHORISED for r in results
    ):
        _say_off_page(request, amend_form)
    for r in results:
        name = f"r{r.pk}"
        r.entry_field = entry[name] if entry is not None and name in entry.fields else None
        if r.status == ResultStatus.AUTHORISED:
            r.amend_form = (
                amend_form if r.pk == amend_pk else forms.AmendForm(auto_id=f"id_amend{r.pk}_%s")
            )
    seen(request, [sample.order.patient.uhid], AccessKind.VIEWED)
    statuses = {r.status for r in results}
    return render(
        request,
        "lab/sample.html",
        {
            "sample": sample,
            "order": sample.order,
            "patient": sample.order.patient,
            "results": results,
            "entry": entry,
            "recollection": selectors.recollection_of(sample),
            "amended": selectors.amended_results(sample),
            "can_verify": ResultStatus.ENTERED in statuses,
            "can_authorise": ResultStatus.VERIFIED in statuses,
            "can_reject": sample.status in (SampleStatus.COLLECTED, SampleStatus.RECEIVED),
            "reject_form": reject or forms.RejectForm(initial={"accession": sample.accession}),
        },
        status=status,
    )


@permission_required(Perm.LAB_VIEW)
def sample(request, accession: str):
    return _sample_page(request, selectors.sample_get(accession))


def _to_sample(sample):
    return redirect("lab:sample", accession=sample.accession)


@permission_required(Perm.RESULT_ENTER)
@require_POST
def results_enter(request, accession: str):
    record = selectors.sample_get(accession)
    results = selectors.sample_results(record)
    form = forms.ResultEntryForm(_enterable(record, results), request.POST)
    if form.is_valid():
        try:
            changed = services.results_enter(
                actor=request.user, sample=record, values=form.values()
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            messages.error(request, exc.human)
            return _to_sample(record)
        else:
            messages.success(request, f"{len(changed)} result(s) entered on {record.accession}.")
            critical = [r for r in changed if r.flag in CRITICAL_FLAGS]
            if critical:
                values = ", ".join(f"{r.test.name} {r.value} {r.unit}".strip() for r in critical)
                messages.warning(request, f"Critical: {values}. Verify to alert the doctor.")
            return _to_sample(record)
    return _sample_page(request, record, results=results, entry=form, status=422)


@permission_required(Perm.RESULT_VERIFY)
@require_POST
def results_verify(request, accession: str):
    record = selectors.sample_get(accession)
    try:
        done = services.results_verify(actor=request.user, sample=record)
    except ApplicationError as exc:
        messages.error(request, exc.human)
    else:
        critical = sum(1 for r in done if r.flag in CRITICAL_FLAGS)
        note = f" {critical} critical value(s) sent to the ordering doctor." if critical else ""
        messages.success(request, f"{len(done)} result(s) verified on {record.accession}.{note}")
    return _to_sample(record)


@permission_required(Perm.RESULT_AUTHORISE)
@require_POST
def results_authorise(request, accession: str):
    record = selectors.sample_get(accession)
    try:
        report = services.results_authorise(actor=request.user, sample=record)
    except ApplicationError as exc:
        messages.error(request, exc.human)
    else:
        kind = "final" if report.is_final else "interim: other tests are still to come"
        messages.success(request, f"Authorised. Report {report.number} issued ({kind}).")
    return _to_sample(record)


@permission_required(Perm.RESULT_AUTHORISE)
@require_POST
def result_amend(request, pk: int):
    result = selectors.result_get(pk)
    record = selectors.sample_get(result.item.sample.accession)
    form = forms.AmendForm(request.POST, auto_id=f"id_amend{pk}_%s")
    if form.is_valid():
        try:
            new = services.result_amend(actor=request.user, result=result, **form.cleaned_data)
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            messages.error(request, exc.human)
            return _to_sample(record)
        else:
            messages.success(
                request,
                f"{new.test.name} amended to {new.value} {new.unit}".rstrip()
                + ": another pathologist must authorise it.",
            )
            return _to_sample(record)
    return _sample_page(request, record, amend=(result.pk, form), status=422)


# -- critical results -------------------------------------------------------------------


def _alerts_page(request, *, failed=None, status=200):
    data = selectors.alerts_page(request.user)
    failed_pk, failed_form = failed or (None, None)
    if failed_form is not None and failed_pk not in {
        a.pk for a in data["mine"] + data["unassigned"]
    }:
        _say_off_page(request, failed_form)
    for alert in data["mine"] + data["unassigned"]:
        alert.form = (
            failed_form
            if alert.pk == failed_pk
            else forms.AcknowledgeForm(auto_id=f"id_ack{alert.pk}_%s")
        )
    shown = data["mine"] + data["unassigned"] + data["done"]
    seen(request, [a.patient.uhid for a in shown], AccessKind.LISTED)
    return render(request, "lab/alerts.html", data, status=status)


@permission_required(Perm.LAB_ALERT_ACK)
def alerts(request):
    return _alerts_page(request)


@permission_required(Perm.LAB_ALERT_ACK)
@require_POST
def acknowledge(request, pk: int):
    alert = selectors.alert_get(pk)
    form = forms.AcknowledgeForm(request.POST, auto_id=f"id_ack{pk}_%s")
    if form.is_valid():
        try:
            services.alert_acknowledge(
                actor=request.user, alert=alert, note=form.cleaned_data["note"]
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            messages.error(request, exc.human)
            return redirect("lab:alerts")
        else:
            messages.success(
                request, f"Acknowledged: {alert.result.test.name} for {alert.patient.name}."
            )
            return redirect("lab:alerts")
    return _alerts_page(request, failed=(alert.pk, form), status=422)


# -- analyzer messages ------------------------------------------------------------------


def _messages_page(request, *, failed=None, status=200):
    data = selectors.message_queue()
    failed_pk, failed_name, failed_form = failed or (None, None, None)
    if failed_form is not None and failed_pk not in {m.pk for m in data["waiting"]}:
        _say_off_page(request, failed_form)
    for m in data["waiting"]:
        m.match_form = forms.MatchForm(auto_id=f"id_match{m.pk}_%s")
        m.dismiss_form = forms.DismissForm(auto_id=f"id_dismiss{m.pk}_%s")
        if m.pk == failed_pk:
            setattr(m, failed_name, failed_form)
    # The raw text of a waiting message names its patient (PID) even when no sample
    # matched: it is listed as that patient's.
    uhids = [
        m.sample.order.patient.uhid if m.sample_id else m.patient_uhid
        for m in data["waiting"]
        if m.sample_id or m.patient_uhid
    ]
    if uhids:
        seen(request, uhids, AccessKind.LISTED)
    return render(request, "lab/messages.html", data, status=status)


@permission_required(Perm.LAB_MESSAGES)
def analyzer_messages(request):
    return _messages_page(request)


def _message_action(request, pk: int, form_class, name: str, write):
    message = selectors.message_get(pk)
    form = form_class(request.POST, auto_id=f"id_{name.split('_')[0]}{pk}_%s")
    if form.is_valid():
        try:
            text = write(message, form.cleaned_data)
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            messages.error(request, exc.human)
            return redirect("lab:messages")
        else:
            messages.success(request, text)
            return redirect("lab:messages")
    return _messages_page(request, failed=(message.pk, name, form), status=422)


@permission_required(Perm.LAB_MESSAGES)
@require_POST
def message_match(request, pk: int):
    def write(message, data) -> str:
        outcome = services.message_match(
            actor=request.user, message=message, accession=data["accession"]
        )
        return (
            f"Message {message.control_id} matched to {data['accession'].strip()}: "
            f"{outcome.results} result(s) stored."
        )

    return _message_action(request, pk, forms.MatchForm, "match_form", write)


@permission_required(Perm.LAB_MESSAGES)
@require_POST
def message_dismiss(request, pk: int):
    def write(message, data) -> str:
        services.message_dismiss(actor=request.user, message=message, reason=data["reason"])
        return f"Message {message.control_id} set aside."

    return _message_action(request, pk, forms.DismissForm, "dismiss_form", write)


# -- the catalogue and a patient's orders ----------------------------------------------


@permission_required(Perm.LAB_VIEW)
def catalogue(request):
    return render(request, "lab/catalogue.html", selectors.catalogue_page())


@permission_required(Perm.LAB_VIEW)
def patient_orders(request, uhid: str):
    """A patient's lab orders and reports: the patient page loads it with htmx."""
    patient = selectors.patient_get(uhid)
    seen(request, [patient.uhid], AccessKind.VIEWED)
    template = "lab/_patient_orders.html" if request.htmx else "lab/patient_orders.html"
    return render(
        request,
        template,
        {"patient": patient, "orders": selectors.patient_orders(patient)},
    )
