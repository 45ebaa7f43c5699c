"""Roles, the permissions each role holds, and how pages and services ask for them.

The matrix is code, not database rows, so it is reviewed like code and the test
matrix in tests/core/test_role_matrix.py checks every page against it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models

from ajeya.core.errors import PermissionRefused


class Role(models.TextChoices):
    REGISTRATION_CLERK = "registration_clerk", "Registration clerk"
    DOCTOR = "doctor", "Doctor"
    NURSE = "nurse", "Nurse"
    LAB_TECHNICIAN = "lab_technician", "Lab technician"
    PATHOLOGIST = "pathologist", "Pathologist"
    BILLING_CLERK = "billing_clerk", "Billing clerk"
    HOSPITAL_ADMIN = "hospital_admin", "Hospital administrator"
    IT_SECURITY = "it_security", "IT/security administrator"
    AUDITOR = "auditor", "Auditor"


# These roles can do the most harm with a stolen password, so they must use TOTP.
MFA_REQUIRED_ROLES = frozenset({Role.HOSPITAL_ADMIN, Role.IT_SECURITY, Role.AUDITOR})


class Perm(models.TextChoices):
    PATIENT_VIEW = "patient.view", "Search and view patients"
    PATIENT_REGISTER = "patient.register", "Register new patients"
    PATIENT_EDIT = "patient.edit", "Correct patient demographics"
    PATIENT_PRINT_SLIP = "patient.print_slip", "Print registration slips"
    PATIENT_HISTORY = "patient.history", "See who has seen or changed a patient"
    PATIENT_ALLERGY = "patient.allergy", "Record and remove patient allergies"
    PATIENT_MERGE = "patient.merge", "Review and approve merges of duplicate registrations"
    AUDIT_VIEW = "audit.view", "Search the ledger and export it"
    LEDGER_STATUS = "ledger.status", "See the ledger's verification status"
    APPOINTMENT_VIEW = "appointment.view", "See clinics, slots and appointments"
    APPOINTMENT_BOOK = "appointment.book", "Book, move and cancel appointments"
    SCHEDULE_MANAGE = "schedule.manage", "Set up clinics, sessions, leaves and holidays"
    QUEUE_CHECK_IN = "queue.check_in", "Check patients in and issue OPD tokens"
    QUEUE_MANAGE = "queue.manage", "Call, skip, recall and transfer OPD tokens"
    VITALS_RECORD = "vitals.record", "Record vital signs"
    CONSULT = "consult", "Write consultations, diagnoses and prescriptions"
    CONSULTATION_VIEW = "consultation.view", "Read consultations and visit history"
    BED_BOARD_VIEW = "ipd.bed_board", "See the bed board and who is admitted"
    ADMIT = "ipd.admit", "Admit patients and allocate beds"
    BED_TRANSFER = "ipd.transfer", "Move inpatients between beds, wards and units"
    NURSING_CHART = "ipd.nursing", "Chart observations, intake/output, notes and doses given"
    MEDICATION_ORDER = "ipd.medication", "Chart and stop inpatient medication"
    DISCHARGE = "ipd.discharge", "Discharge patients and write discharge summaries"
    BED_HOUSEKEEPING = "ipd.housekeeping", "Mark beds cleaned, reserved or blocked"
    WARD_MANAGE = "ipd.wards", "Set up wards, rooms and beds"
    INPATIENT_VIEW = "ipd.view", "Read inpatient charts and discharge summaries"
    CENSUS_VIEW = "ipd.census", "See the inpatient census"
    LAB_ORDER = "lab.order", "Order laboratory tests for OPD and inpatients"
    LAB_COUNTER = "lab.counter", "Register walk-in laboratory orders at the lab counter"
    LAB_VIEW = "lab.view", "See lab orders, samples, worklists and reports"
    SAMPLE_COLLECT = "lab.collect", "Record sample collection and print labels"
    SAMPLE_RECEIVE = "lab.receive", "Receive samples in the lab and reject unfit ones"
    RESULT_ENTER = "lab.enter", "Enter laboratory results"
    RESULT_VERIFY = "lab.verify", "Verify laboratory results (technician)"
    RESULT_AUTHORISE = "lab.authorise", "Authorise and amend laboratory results (pathologist)"
    LAB_ALERT_ACK = "lab.alert_ack", "Acknowledge critical laboratory results"
    LAB_MESSAGES = "lab.messages", "Match or set aside analyzer messages"
    LAB_TAT = "lab.tat", "See laboratory turnaround times"
    BILLING_VIEW = "billing.view", "See patients' accounts, bills and receipts"
    BILLING_COLLECT = "billing.collect", "Make bills, post charges, take payments and deposits"
    BILLING_APPROVE = "billing.approve", "Approve refunds and discounts above the limit"
    BILLING_CLOSE = "billing.close", "Close the cashier's day at a counter"
    BILLING_REPORTS = "billing.reports", "See and export collection reports"
    TARIFF_MANAGE = "billing.tariff", "Set tariff prices and cash counters"
    REPORTS_VIEW = "reports.view", "Run and export the hospital's standard MIS reports"
    REPORTS_SCHEDULE = "reports.schedule", "Schedule reports and read the reports archive"
    DOWNTIME_VIEW = "downtime.view", "See downtime kits, their numbers and snapshot status"
    DOWNTIME_KITS = "downtime.kits", "Make and print downtime kits, void spoiled numbers"
    DEFENSE_ALERTS = "defense.alerts", "See and handle security alerts and canary records"
    DEFENSE_LOCKDOWN = "defense.lockdown", "Switch lockdown on, and off with a second person"
    DEFENSE_INCIDENTS = "defense.incidents", "Open incidents, see timelines, export evidence"
    STAFF_VIEW = "staff.view", "See staff accounts"
    STAFF_MANAGE = "staff.manage", "Create staff accounts, reset two-factor, unlock"


_CLINICAL_READERS = {
    Role.REGISTRATION_CLERK,
    Role.DOCTOR,
    Role.NURSE,
    Role.LAB_TECHNICIAN,
    Role.PATHOLOGIST,
    Role.BILLING_CLERK,
    Role.HOSPITAL_ADMIN,
    Role.AUDITOR,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    role: frozenset(
        perm
        for perm, holders in {
            Perm.PATIENT_VIEW: _CLINICAL_READERS,
            Perm.PATIENT_REGISTER: {Role.REGISTRATION_CLERK},
            Perm.PATIENT_EDIT: {Role.REGISTRATION_CLERK},
            Perm.PATIENT_PRINT_SLIP: {Role.REGISTRATION_CLERK},
            Perm.PATIENT_HISTORY: {Role.HOSPITAL_ADMIN, Role.AUDITOR},
            Perm.PATIENT_ALLERGY: {Role.DOCTOR, Role.NURSE},
            Perm.PATIENT_MERGE: {Role.HOSPITAL_ADMIN},
            Perm.AUDIT_VIEW: {Role.HOSPITAL_ADMIN, Role.IT_SECURITY, Role.AUDITOR},
            Perm.LEDGER_STATUS: {Role.HOSPITAL_ADMIN, Role.IT_SECURITY, Role.AUDITOR},
            Perm.APPOINTMENT_VIEW: {
                Role.REGISTRATION_CLERK,
                Role.DOCTOR,
                Role.NURSE,
                Role.HOSPITAL_ADMIN,
            },
            Perm.APPOINTMENT_BOOK: {Role.REGISTRATION_CLERK},
            Perm.SCHEDULE_MANAGE: {Role.HOSPITAL_ADMIN},
            Perm.QUEUE_CHECK_IN: {Role.REGISTRATION_CLERK},
            Perm.QUEUE_MANAGE: {Role.DOCTOR, Role.NURSE},
            Perm.VITALS_RECORD: {Role.DOCTOR, Role.NURSE},
            Perm.CONSULT: {Role.DOCTOR},
            Perm.CONSULTATION_VIEW: {Role.DOCTOR, Role.NURSE, Role.AUDITOR},
            Perm.BED_BOARD_VIEW: {
                Role.REGISTRATION_CLERK,
                Role.DOCTOR,
                Role.NURSE,
                Role.HOSPITAL_ADMIN,
            },
            Perm.ADMIT: {Role.REGISTRATION_CLERK, Role.DOCTOR},
            Perm.BED_TRANSFER: {Role.DOCTOR, Role.NURSE},
            Perm.NURSING_CHART: {Role.NURSE, Role.DOCTOR},
            Perm.MEDICATION_ORDER: {Role.DOCTOR},
            Perm.DISCHARGE: {Role.DOCTOR},
            Perm.BED_HOUSEKEEPING: {Role.NURSE, Role.HOSPITAL_ADMIN},
            Perm.WARD_MANAGE: {Role.HOSPITAL_ADMIN},
            Perm.INPATIENT_VIEW: {Role.DOCTOR, Role.NURSE, Role.AUDITOR},
            Perm.CENSUS_VIEW: {Role.HOSPITAL_ADMIN, Role.DOCTOR, Role.AUDITOR},
            Perm.LAB_ORDER: {Role.DOCTOR},
            Perm.LAB_COUNTER: {Role.LAB_TECHNICIAN, Role.REGISTRATION_CLERK},
            Perm.LAB_VIEW: {
                Role.LAB_TECHNICIAN,
                Role.PATHOLOGIST,
                Role.DOCTOR,
                Role.NURSE,
                Role.AUDITOR,
            },
            Perm.SAMPLE_COLLECT: {Role.LAB_TECHNICIAN, Role.NURSE},
            Perm.SAMPLE_RECEIVE: {Role.LAB_TECHNICIAN},
            Perm.RESULT_ENTER: {Role.LAB_TECHNICIAN},
            Perm.RESULT_VERIFY: {Role.LAB_TECHNICIAN},
            Perm.RESULT_AUTHORISE: {Role.PATHOLOGIST},
            Perm.LAB_ALERT_ACK: {Role.DOCTOR},
            Perm.LAB_MESSAGES: {Role.LAB_TECHNICIAN, Role.PATHOLOGIST},
            Perm.LAB_TAT: {Role.PATHOLOGIST, Role.HOSPITAL_ADMIN, Role.AUDITOR},
            Perm.BILLING_VIEW: {Role.BILLING_CLERK, Role.HOSPITAL_ADMIN, Role.AUDITOR},
            Perm.BILLING_COLLECT: {Role.BILLING_CLERK},
            Perm.BILLING_APPROVE: {Role.HOSPITAL_ADMIN},
            Perm.BILLING_CLOSE: {Role.BILLING_CLERK},
            Perm.BILLING_REPORTS: {Role.BILLING_CLERK, Role.HOSPITAL_ADMIN, Role.AUDITOR},
            Perm.TARIFF_MANAGE: {Role.HOSPITAL_ADMIN},
            Perm.REPORTS_VIEW: {Role.HOSPITAL_ADMIN, Role.AUDITOR},
            Perm.REPORTS_SCHEDULE: {Role.HOSPITAL_ADMIN},
            Perm.DOWNTIME_VIEW: {
                Role.REGISTRATION_CLERK,
                Role.LAB_TECHNICIAN,
                Role.BILLING_CLERK,
                Role.HOSPITAL_ADMIN,
                Role.IT_SECURITY,
                Role.AUDITOR,
            },
            Perm.DOWNTIME_KITS: {Role.HOSPITAL_ADMIN, Role.IT_SECURITY},
            Perm.DEFENSE_ALERTS: {Role.IT_SECURITY},
            Perm.DEFENSE_LOCKDOWN: {Role.IT_SECURITY, Role.HOSPITAL_ADMIN},
            Perm.DEFENSE_INCIDENTS: {Role.IT_SECURITY, Role.AUDITOR},
            Perm.STAFF_VIEW: {Role.IT_SECURITY, Role.HOSPITAL_ADMIN, Role.AUDITOR},
            Perm.STAFF_MANAGE: {Role.IT_SECURITY},
        }.items()
        if role in holders
    )
    for role in Role
}


def has_perm(user: Any, perm: Perm) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    try:
        role = Role(user.role)
    except ValueError:
        return False
    return perm in ROLE_PERMISSIONS[role]


def require_perm(user: Any, perm: Perm) -> None:
    """Services call this first: the same rule holds for pages, the CLI and any future API."""
    if not has_perm(user, perm):
        raise PermissionRefused(f"Your role may not do this ({Perm(perm).label.lower()}).")


# Markers a view carries so the role-matrix test can prove every page declares its rule.
PUBLIC = "public"
AUTHENTICATED = "authenticated"


def _to_login(request):
    # Imported here: auth.views needs the user model, which imports this module.
    from django.contrib.auth.views import redirect_to_login

    return redirect_to_login(request.get_full_path())


def _mark(view: Callable[..., Any], requirement: str) -> Callable[..., Any]:
    view.required_permission = requirement  # type: ignore[attr-defined]
    return view


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page anyone may open, logged in or not (login, the TV queue display)."""
    return _mark(view, PUBLIC)


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return _to_login(request)
        return view(request, *args, **kwargs)

    return _mark(wrapped, AUTHENTICATED)


def permission_required(perm: Perm) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return _to_login(request)
            if not has_perm(request.user, perm):
                raise PermissionDenied(f"Your role may not do this ({perm.label.lower()}).")
            return view(request, *args, **kwargs)

        return _mark(wrapped, perm)

    return decorator
