"""Demo staff: at least one account for every role, with fresh random passwords.

Passwords are made anew each run and only printed, never stored in a file or in git.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ajeya.accounts import services
from ajeya.accounts.models import User
from ajeya.core.models import Department
from ajeya.core.roles import MFA_REQUIRED_ROLES, Role

STAFF = [
    ("clerk", "Sunita Verma", Role.REGISTRATION_CLERK, "MRD"),
    ("clerk2", "Imran Qureshi", Role.REGISTRATION_CLERK, "MRD"),
    ("doctor", "Dr. Anjali Mehra", Role.DOCTOR, "MED"),
    ("doctor2", "Dr. Rakesh Iyer", Role.DOCTOR, "SURG"),
    ("nurse", "Mary Thomas", Role.NURSE, "MED"),
    ("labtech", "Vikram Singh", Role.LAB_TECHNICIAN, "LAB"),
    ("pathologist", "Dr. Farah Khan", Role.PATHOLOGIST, "PATH"),
    ("cashier", "Deepak Yadav", Role.BILLING_CLERK, "ACCT"),
    ("admin", "Dr. S. K. Bansal", Role.HOSPITAL_ADMIN, "ADMN"),
    ("itsec", "Priya Nair", Role.IT_SECURITY, "IT"),
    ("auditor", "Harish Gupta", Role.AUDITOR, "AUD"),
]


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    role: str
    needs_two_factor: bool


def _password() -> str:
    return "demo-" + secrets.token_urlsafe(9)


DEMO_MARK = "DEMO"


def seed_staff(departments: dict[str, Department]) -> list[Login]:
    """Create the demo accounts, or give existing demo accounts a fresh password; return
    the logins. An account of the same name that the seed did not make is left alone."""
    logins = []
    for username, full_name, role, dept in STAFF:
        password = _password()
        existing = User.objects.filter(username=username).first()
        if existing is None:
            services.user_create(
                actor=None,
                username=username,
                full_name=full_name,
                role=role,
                password=password,
                department=departments.get(dept),
                employee_id=DEMO_MARK,
            )
        elif existing.employee_id != DEMO_MARK:
            continue
        else:
            services.user_set_password(
                actor=None, user=existing, password=password, reason="demo start: fresh password"
            )
        logins.append(Login(username, password, Role(role).label, role in MFA_REQUIRED_ROLES))
    return logins
