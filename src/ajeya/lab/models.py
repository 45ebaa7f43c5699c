"""The laboratory: the test catalogue, orders, barcoded samples, results and their
validation, authorised reports, critical-result alerts, and every HL7 message an
analyzer sent (kept whatever became of it)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

USER = settings.AUTH_USER_MODEL


# -- catalogue -------------------------------------------------------------------------


class Section(models.TextChoices):
    HAEMATOLOGY = "haematology", "Haematology"
    BIOCHEMISTRY = "biochemistry", "Biochemistry"
    MICROBIOLOGY = "microbiology", "Microbiology"
    SEROLOGY = "serology", "Serology"
    CLINICAL_PATHOLOGY = "clinical_pathology", "Clinical pathology"


class Specimen(models.TextChoices):
    WHOLE_BLOOD = "whole_blood", "Whole blood"
    SERUM = "serum", "Serum"
    FLUORIDE_PLASMA = "fluoride_plasma", "Fluoride plasma"
    CITRATE_PLASMA = "citrate_plasma", "Citrated plasma"
    URINE = "urine", "Urine"
    STOOL = "stool", "Stool"
    SPUTUM = "sputum", "Sputum"
    BLOOD_CULTURE = "blood_culture", "Blood for culture"
    SWAB = "swab", "Swab"


class Container(models.TextChoices):
    EDTA = "edta", "Lavender top (EDTA)"
    SST = "sst", "Yellow top (gel, serum)"
    FLUORIDE = "fluoride", "Grey top (fluoride)"
    CITRATE = "citrate", "Light blue top (citrate)"
    URINE_CUP = "urine_cup", "Sterile urine container"
    STOOL_CUP = "stool_cup", "Stool container"
    SPUTUM_CUP = "sputum_cup", "Sputum container"
    CULTURE_BOTTLE = "culture_bottle", "Blood culture bottle"
    SWAB_TUBE = "swab_tube", "Swab in transport medium"


class ResultType(models.TextChoices):
    NUMERIC = "numeric", "Number"
    TEXT = "text", "Text"
    CHOICE = "choice", "One of a list"


class LabTest(models.Model):
    """One measured analyte (haemoglobin, serum creatinine) or one observation."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    loinc = models.CharField("LOINC", max_length=10, blank=True)
    section = models.CharField(max_length=20, choices=Section.choices)
    specimen = models.CharField(max_length=20, choices=Specimen.choices)
    container = models.CharField(max_length=16, choices=Container.choices)
    result_type = models.CharField(
        max_length=8, choices=ResultType.choices, default=ResultType.NUMERIC
    )
    unit = models.CharField(max_length=20, blank=True)
    decimals = models.PositiveSmallIntegerField(default=1)
    choices = models.CharField(max_length=200, blank=True)  # "|"-separated, for CHOICE
    method = models.CharField(max_length=80, blank=True)
    tat_minutes = models.PositiveIntegerField("turnaround target (minutes)", default=240)
    delta_percent = models.DecimalField(  # flag a change larger than this from last time
        max_digits=5, decimal_places=1, null=True, blank=True
    )
    price_code = models.CharField(max_length=20, blank=True)
    is_active = models.BooleanField(default=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class RangeSex(models.TextChoices):
    ANY = "", "Any"
    MALE = "M", "Male"
    FEMALE = "F", "Female"


class ReferenceRange(models.Model):
    """Normal and critical limits for one sex and one age band (in days, so a newborn's
    range and an adult's sit in the same table); the narrowest matching band wins."""

    test = models.ForeignKey(LabTest, on_delete=models.PROTECT, related_name="ranges")
    sex = models.CharField(max_length=1, choices=RangeSex.choices, blank=True)
    age_min_days = models.PositiveIntegerField(default=0)
    age_max_days = models.PositiveIntegerField(default=54750)  # 150 years
    low = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    high = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    critical_low = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    critical_high = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    normal_text = models.CharField(max_length=60, blank=True)  # for text results: "Negative"
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["test", "sex", "age_min_days"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(age_max_days__gt=models.F("age_min_days")),
                name="range_age_band",
            )
        ]

    def __str__(self) -> str:
        return f"{self.test.code} {self.sex or 'any'} {self.age_min_days}-{self.age_max_days}d"


class Panel(models.Model):
    """What a doctor orders: one test alone, or a profile of several (CBC, LFT, KFT)."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    section = models.CharField(max_length=20, choices=Section.choices)
    price_code = models.CharField(max_length=20, blank=True)
    tat_minutes = models.PositiveIntegerField("turnaround target (minutes)", default=240)
    is_active = models.BooleanField(default=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class PanelTest(models.Model):
    panel = models.ForeignKey(Panel, on_delete=models.PROTECT, related_name="items")
    test = models.ForeignKey(LabTest, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["panel", "position"]
        constraints = [
            models.UniqueConstraint(fields=["panel", "test"], name="panel_test_once"),
        ]

    def __str__(self) -> str:
        return f"{self.panel.code}/{self.test.code}"


class Analyzer(models.Model):
    """An instrument that sends results over HL7; `sending_application` is its MSH-3."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    section = models.CharField(max_length=20, choices=Section.choices)
    sending_application = models.CharField(max_length=60, unique=True)
    is_active = models.BooleanField(default=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class AnalyzerMapping(models.Model):
    """The analyzer's own code for a test (OBX-3 identifier) → the catalogue's test."""

    analyzer = models.ForeignKey(Analyzer, on_delete=models.PROTECT, related_name="mappings")
    analyzer_code = models.CharField(max_length=30)
    test = models.ForeignKey(LabTest, on_delete=models.PROTECT, related_name="+")
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["analyzer", "analyzer_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["analyzer", "analyzer_code"], name="analyzer_code_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.analyzer.code}:{self.analyzer_code} → {self.test.code}"


# -- orders and samples ----------------------------------------------------------------


class Priority(models.TextChoices):
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"
    STAT = "stat", "STAT"


PRIORITY_RANK = {Priority.STAT: 0, Priority.URGENT: 1, Priority.ROUTINE: 2}


class OrderSource(models.TextChoices):
    OPD = "opd", "OPD consultation"
    IPD = "ipd", "Inpatient"
    WALK_IN = "walk_in", "Walk-in (lab counter)"


class LabOrder(models.Model):
    """One requisition: a patient, who asked, from where, how urgently."""

    number = models.CharField(max_length=14, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    source = models.CharField(max_length=8, choices=OrderSource.choices)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.ROUTINE)
    ordered_at = models.DateTimeField()
    ordered_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    doctor = models.ForeignKey(  # who receives the report and any critical alert
        USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    referring_doctor = models.CharField(max_length=100, blank=True)  # walk-in: from outside
    clinical_notes = models.CharField(max_length=300, blank=True)
    visit = models.ForeignKey("opd.Visit", on_delete=models.PROTECT, null=True, blank=True)
    admission = models.ForeignKey("ipd.Admission", on_delete=models.PROTECT, null=True, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-ordered_at"]
        indexes = [
            models.Index(fields=["patient", "ordered_at"], name="laborder_patient"),
            models.Index(fields=["admission"], name="laborder_admission"),
            # Billing's capture of the orders placed since its last run.
            models.Index(fields=["ordered_at"], name="laborder_time"),
        ]

    def __str__(self) -> str:
        return self.number


class SampleStatus(models.TextChoices):
    AWAITING = "awaiting", "Awaiting collection"
    COLLECTED = "collected", "Collected"
    RECEIVED = "received", "Received in the lab"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class RejectionReason(models.TextChoices):
    HAEMOLYSED = "haemolysed", "Haemolysed"
    CLOTTED = "clotted", "Clotted"
    INSUFFICIENT = "insufficient", "Insufficient quantity"
    MISLABELLED = "mislabelled", "Mislabelled or unlabelled"
    WRONG_CONTAINER = "wrong_container", "Wrong container"
    DELAYED = "delayed", "Delayed in transport"


class Sample(models.Model):
    """One specimen in one container, known by its accession number (the barcode)."""

    accession = models.CharField(max_length=12, unique=True, editable=False)
    order = models.ForeignKey(LabOrder, on_delete=models.PROTECT, related_name="samples")
    specimen = models.CharField(max_length=20, choices=Specimen.choices)
    container = models.CharField(max_length=16, choices=Container.choices)
    section = models.CharField(max_length=20, choices=Section.choices)
    status = models.CharField(
        max_length=10, choices=SampleStatus.choices, default=SampleStatus.AWAITING
    )
    collected_at = models.DateTimeField(null=True, blank=True)
    collected_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    rejection_reason = models.CharField(max_length=16, choices=RejectionReason.choices, blank=True)
    rejection_note = models.CharField(max_length=200, blank=True)
    recollection_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="recollection"
    )
    version = models.PositiveIntegerField(default=1)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["accession"]
        indexes = [
            models.Index(fields=["status", "section"], name="sample_worklist"),
        ]

    def __str__(self) -> str:
        return self.accession


class ItemStatus(models.TextChoices):
    ORDERED = "ordered", "Ordered"
    IN_PROGRESS = "in_progress", "In progress"
    AUTHORISED = "authorised", "Authorised"
    CANCELLED = "cancelled", "Cancelled"


class OrderItem(models.Model):
    """One ordered panel (or single test) in an order, done on one sample."""

    order = models.ForeignKey(LabOrder, on_delete=models.PROTECT, related_name="items")
    panel = models.ForeignKey(Panel, on_delete=models.PROTECT)
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="items")
    status = models.CharField(max_length=12, choices=ItemStatus.choices, default=ItemStatus.ORDERED)
    price_code = models.CharField(max_length=20, blank=True)
    authorised_at = models.DateTimeField(null=True, blank=True)
    cancelled_reason = models.CharField(max_length=200, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["order", "id"]
        # The turnaround dashboard: the items authorised in a period.
        indexes = [models.Index(fields=["authorised_at"], name="orderitem_authorised")]

    def __str__(self) -> str:
        return f"{self.order.number}/{self.panel.code}"


# -- results ---------------------------------------------------------------------------


class Flag(models.TextChoices):
    NORMAL = "", "Normal"
    LOW = "L", "Low"
    HIGH = "H", "High"
    CRITICAL_LOW = "LL", "Critically low"
    CRITICAL_HIGH = "HH", "Critically high"
    ABNORMAL = "A", "Abnormal"


CRITICAL_FLAGS = frozenset({Flag.CRITICAL_LOW, Flag.CRITICAL_HIGH})


class ResultStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ENTERED = "entered", "Entered"
    VERIFIED = "verified", "Verified by technician"
    AUTHORISED = "authorised", "Authorised by pathologist"
    AMENDED = "amended", "Replaced by an amendment"


class ResultSource(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    ANALYZER = "analyzer", "Analyzer (HL7)"


class Result(models.Model):
    """One test's value on one sample. The reference range and flags are copied in when
    the value arrives, so a later change to the catalogue never rewrites a report.
    An amendment replaces an authorised result with a new row; the old one stays."""

    # Results are read through their item (the index on item and status, in Meta); the
    # other references get no index of their own: nothing reads results by test,
    # analyzer, message or person, and each index is written on every result entered
    # (ADR 0015). Deleting one of those rows is refused (PROTECT) after a scan: rare.
    item = models.ForeignKey(
        OrderItem, on_delete=models.PROTECT, related_name="results", db_index=False
    )
    test = models.ForeignKey(LabTest, on_delete=models.PROTECT, related_name="+", db_index=False)
    position = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=ResultStatus.choices, default=ResultStatus.PENDING
    )
    value = models.CharField(max_length=200, blank=True)
    numeric_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    range_low = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    range_high = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    range_text = models.CharField(max_length=60, blank=True)
    flag = models.CharField(max_length=2, choices=Flag.choices, blank=True)
    previous_value = models.CharField(max_length=200, blank=True)
    previous_at = models.DateTimeField(null=True, blank=True)
    delta_flag = models.BooleanField(default=False)
    method = models.CharField(max_length=80, blank=True)
    comment = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=8, choices=ResultSource.choices, blank=True)
    analyzer = models.ForeignKey(
        Analyzer, on_delete=models.PROTECT, null=True, blank=True, db_index=False
    )
    message = models.ForeignKey(
        "lab.InboundMessage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    entered_at = models.DateTimeField(null=True, blank=True)
    entered_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True, db_index=False
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True, db_index=False
    )
    authorised_at = models.DateTimeField(null=True, blank=True)
    authorised_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True, db_index=False
    )
    amends = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="amended_by"
    )
    amendment_reason = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["item", "position", "id"]
        constraints = [
            # One live result per test in an ordered item; amended ones stay beside it.
            models.UniqueConstraint(
                fields=["item", "test"],
                condition=~models.Q(status="amended"),
                name="result_one_live_per_test",
            ),
            models.CheckConstraint(
                condition=models.Q(authorised_by__isnull=True)
                | ~models.Q(authorised_by=models.F("verified_by")),
                name="result_two_people",
            ),
        ]
        indexes = [
            # A result's status and test narrow nothing by themselves: once authorised,
            # nearly every result in the hospital shares one status, and every CBC its
            # tests. They are asked of a sample's, an order's or an admission's results,
            # so they follow the item. Indexes on status alone and on (test, authorised
            # at) drew SQLite, which plans without statistics, into reading every
            # authorised result in the hospital for one discharge summary (ADR 0015).
            models.Index(fields=["item", "status"], name="result_item_status"),
        ]

    def __str__(self) -> str:
        return f"{self.test.code} = {self.value or '…'}"


class CriticalAlert(models.Model):
    """A critical value told to the ordering doctor, and when and by whom it was heard."""

    result = models.OneToOneField(Result, on_delete=models.PROTECT, related_name="alert")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    doctor = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    raised_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    action_note = models.CharField(max_length=300, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["doctor", "acknowledged_at"], name="alert_open")]

    def __str__(self) -> str:
        return f"critical {self.result}"


class Report(models.Model):
    """An authorised report as issued: the hash of exactly what it says, so a printed
    copy's QR code can be checked against what the lab authorised."""

    number = models.CharField(max_length=20, unique=True, editable=False)
    order = models.ForeignKey(LabOrder, on_delete=models.PROTECT, related_name="reports")
    version = models.PositiveSmallIntegerField()
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    is_final = models.BooleanField()  # every item of the order authorised
    content = models.TextField()  # canonical JSON of what the report says
    content_hash = models.CharField(max_length=64)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    reason = models.CharField(max_length=200, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["order", "version"]
        constraints = [
            models.UniqueConstraint(fields=["order", "version"], name="report_version_once"),
        ]

    def __str__(self) -> str:
        return self.number


# -- analyzer messages -----------------------------------------------------------------


class MessageStatus(models.TextChoices):
    APPLIED = "applied", "Results stored"
    UNMATCHED = "unmatched", "To be matched (unknown accession)"
    ERROR = "error", "Refused (application error)"
    MATCHED = "matched", "Matched by hand"
    DISMISSED = "dismissed", "Dismissed with a reason"


class InboundMessage(models.Model):
    """Every ORU an analyzer sent that could be read, and what became of it. Nothing an
    analyzer sends is dropped: a message for an unknown accession waits here to be
    matched; one refused for its content keeps the reason."""

    sending_application = models.CharField(max_length=60)
    sending_facility = models.CharField(max_length=60, blank=True)
    control_id = models.CharField(max_length=60)
    received_at = models.DateTimeField()
    accession = models.CharField(max_length=40, blank=True)
    patient_uhid = models.CharField(max_length=40, blank=True)  # PID-3 as sent
    raw = models.TextField()
    raw_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    ack_code = models.CharField(max_length=2)
    error_code = models.CharField(max_length=3, blank=True)  # HL7 table 0357, with AE/AR
    detail = models.CharField(max_length=300, blank=True)
    analyzer = models.ForeignKey(Analyzer, on_delete=models.PROTECT, null=True, blank=True)
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, null=True, blank=True)
    spooled = models.BooleanField(default=False)  # arrived while the database was down
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    resolution_note = models.CharField(max_length=200, blank=True)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            # HL7 makes (sender, control ID) unique: a resend is recognised, not re-applied.
            models.UniqueConstraint(
                fields=["sending_application", "sending_facility", "control_id"],
                name="message_once",
            ),
        ]
        indexes = [models.Index(fields=["status", "received_at"], name="message_queue")]

    def __str__(self) -> str:
        return f"{self.sending_application}#{self.control_id}"
