"""The report CERT-In must receive within 6 hours of an incident being noticed (CERT-In's
directions of 28 April 2022 under section 70B(6) of the IT Act), filled in from the
incident, its alerts and the hospital's settings: organisation, contact, incident type,
times of occurrence and detection, affected systems, indicators and actions taken.
The types are Annexure I of those directions."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import models
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from ajeya.core import clock, pdf
from ajeya.defense import network
from ajeya.defense.models import Incident, Rule

REPORTING_HOURS = 6
REPORT_TO = "incident@cert-in.org.in"
SECTOR = "Health"


class IncidentKind(models.TextChoices):
    """Annexure I: the cyber security incidents to be reported to CERT-In. The stored
    value is short (the model keeps 60 characters); the label is the Annexure's words."""

    SCANNING = (
        "Targeted scanning/probing of critical networks/systems",
        "Targeted scanning/probing of critical networks/systems",
    )
    COMPROMISE = (
        "Compromise of critical systems/information",
        "Compromise of critical systems/information",
    )
    UNAUTHORISED_ACCESS = (
        "Unauthorised access of IT systems/data",
        "Unauthorised access of IT systems/data",
    )
    DEFACEMENT = (
        "Defacement of website or intrusion into a website",
        (
            "Defacement of website or intrusion into a website and unauthorised changes such "
            "as inserting malicious code, links to external websites etc."
        ),
    )
    MALICIOUS_CODE = (
        "Malicious code attacks (virus/worm/Trojan/ransomware)",
        (
            "Malicious code attacks such as spreading of virus/worm/Trojan/Bots/Spyware/"
            "Ransomware/Cryptominers"
        ),
    )
    SERVERS = (
        "Attacks on servers (database, mail, DNS) or network devices",
        "Attack on servers such as Database, Mail and DNS and network devices such as Routers",
    )
    IDENTITY = (
        "Identity theft, spoofing and phishing attacks",
        "Identity theft, spoofing and phishing attacks",
    )
    DENIAL = (
        "Denial of service (DoS/DDoS)",
        "Denial of Service (DoS) and Distributed Denial of Service (DDoS) attacks",
    )
    INFRASTRUCTURE = (
        "Attacks on critical infrastructure, SCADA, OT, wireless",
        (
            "Attacks on Critical infrastructure, SCADA and operational technology systems and "
            "Wireless networks"
        ),
    )
    APPLICATIONS = (
        "Attacks on applications (e-governance, e-commerce etc.)",
        "Attacks on Application such as E-Governance, E-Commerce etc.",
    )
    DATA_BREACH = "Data breach", "Data Breach"
    DATA_LEAK = "Data leak", "Data Leak"
    IOT = (
        "Attacks on IoT devices and associated systems",
        (
            "Attacks on Internet of Things (IoT) devices and associated systems, networks, "
            "software, servers"
        ),
    )
    PAYMENTS = (
        "Attacks or incidents affecting digital payment systems",
        "Attacks or incident affecting Digital Payment systems",
    )
    MALICIOUS_APPS = (
        "Attacks through malicious mobile apps",
        "Attacks through Malicious mobile Apps",
    )
    FAKE_APPS = "Fake mobile apps", "Fake mobile Apps"
    SOCIAL_MEDIA = (
        "Unauthorised access to social media accounts",
        "Unauthorised access to social media accounts",
    )
    CLOUD = (
        "Attacks or suspicious activity on cloud systems",
        (
            "Attacks or malicious/suspicious activities affecting Cloud computing systems/"
            "servers/software/applications"
        ),
    )
    EMERGING = (
        "Attacks on Big Data, blockchain, virtual assets, drones etc.",
        (
            "Attacks or malicious/suspicious activities affecting systems/servers/networks/"
            "software/applications related to Big Data, Block chain, virtual assets, virtual "
            "asset exchanges, custodian wallets, Robotics, 3D and 4D Printing, additive "
            "manufacturing, Drones"
        ),
    )
    AI = (
        "Attacks on artificial intelligence or machine learning",
        (
            "Attacks or malicious/suspicious activities affecting systems/servers/software/"
            "applications related to Artificial Intelligence and Machine Learning"
        ),
    )


# The type an incident opened from a rule's alert most likely is (the investigator may
# choose another).
KIND_FOR_RULE = {
    Rule.CANARY: IncidentKind.UNAUTHORISED_ACCESS,
    Rule.MASS_ACCESS: IncidentKind.DATA_BREACH,
    Rule.MASS_CHANGE: IncidentKind.COMPROMISE,
    Rule.BRUTE_FORCE: IncidentKind.UNAUTHORISED_ACCESS,
    Rule.NEW_COUNTRY: IncidentKind.UNAUTHORISED_ACCESS,
    Rule.ODD_HOURS: IncidentKind.UNAUTHORISED_ACCESS,
    Rule.DOCUMENTS: IncidentKind.MALICIOUS_CODE,
    Rule.LEDGER: IncidentKind.COMPROMISE,
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Indicators:
    ips: list[network.Place] = field(default_factory=list)
    first_seen: dict[str, dt.datetime] = field(default_factory=dict)  # ip → earliest time
    accounts: list[str] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)  # {"path": …, "sha256": …}

    @property
    def external_ips(self) -> list[network.Place]:
        return [p for p in self.ips if not p.internal]


def _seen(found: Indicators, ip: str, when: dt.datetime) -> None:
    try:
        ip = str(ipaddress.ip_address(ip or ""))
    except ValueError:
        return
    place = network.place(ip)
    if place.ip in found.first_seen and found.first_seen[place.ip] <= when:
        return
    if place.ip not in found.first_seen:
        found.ips.append(place)
    found.first_seen[place.ip] = when


def indicators(incident: Incident) -> Indicators:
    """Addresses (with their country or LAN), accounts and file hashes: from the
    incident's alerts, and the outside addresses of failed logins in its window."""
    from axes.models import AccessFailureLog

    found = Indicators()
    accounts: dict[str, None] = {}
    files: dict[tuple[str, str], None] = {}
    for alert in incident.alerts.order_by("occurred_at", "pk"):
        _seen(found, alert.ip, alert.occurred_at)
        evidence = alert.evidence if isinstance(alert.evidence, dict) else {}
        for name in [alert.actor_username, *evidence.get("accounts", [])]:
            if name:
                accounts[str(name)] = None
        for f in evidence.get("files", []):
            sha = str(f.get("sha256", "")).lower() if isinstance(f, dict) else ""
            if _SHA256.match(sha):
                files[(str(f.get("path", "")), sha)] = None
    failures = (
        AccessFailureLog.objects.filter(
            attempt_time__gte=incident.window_start, attempt_time__lte=incident.window_end
        )
        .exclude(ip_address=None)
        .order_by("attempt_time")
        .values_list("ip_address", "attempt_time")
    )
    for ip, when in failures[:10_000]:
        if not network.place(ip).internal:
            _seen(found, ip, when)
    found.accounts = list(accounts)
    found.files = [{"path": p, "sha256": s} for p, s in files]
    return found


@dataclass(frozen=True)
class Deadline:
    at: dt.datetime
    left: dt.timedelta  # negative once passed
    reported_at: dt.datetime | None

    @property
    def overdue(self) -> bool:
        return self.reported_at is None and self.left <= dt.timedelta(0)

    @property
    def urgent(self) -> bool:
        """Red on the page: under an hour left, or passed, and not reported yet."""
        return self.reported_at is None and self.left < dt.timedelta(hours=1)

    @property
    def text(self) -> str:
        when = f"{clock.local(self.at):%d-%m-%Y %H:%M} IST"
        if self.reported_at is not None:
            late = "on time" if self.reported_at <= self.at else "LATE"
            return f"reported {clock.local(self.reported_at):%d-%m-%Y %H:%M} IST ({late})"
        if self.overdue:
            return f"OVERDUE by {_span(-self.left)} (was due {when})"
        return f"{_span(self.left)} left (due {when})"


def _span(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def deadline(incident: Incident, now: dt.datetime | None = None) -> Deadline:
    due = incident.detected_at + dt.timedelta(hours=REPORTING_HOURS)
    return Deadline(due, due - (now or clock.now()), incident.reported_at)


def report(incident: Incident, now: dt.datetime | None = None) -> dict:
    """The fields CERT-In's incident reporting form asks for, filled in."""
    found = indicators(incident)
    first_alert = incident.alerts.order_by("occurred_at").values_list("occurred_at", flat=True)
    occurred = first_alert.first()
    return {
        "incident": incident.number,
        "title": incident.title,
        "organisation": settings.AJEYA_HOSPITAL_NAME,
        "sector": SECTOR,
        "contact": {
            "name": settings.AJEYA_CERTIN_CONTACT_NAME,
            "role": settings.AJEYA_CERTIN_CONTACT_ROLE,
            "phone": settings.AJEYA_CERTIN_CONTACT_PHONE,
            "email": settings.AJEYA_CERTIN_CONTACT_EMAIL,
        },
        "incident_type": incident.kind,
        "incident_type_text": _kind_label(incident.kind),
        "occurred_at": min(occurred, incident.detected_at) if occurred else None,
        "detected_at": incident.detected_at,
        "status": incident.get_status_display(),
        "description": incident.summary,
        "systems_affected": incident.systems_affected,
        "actions_taken": incident.actions_taken,
        "ips": [
            {"ip": p.ip, "place": p.label, "country": p.country, "internal": p.internal}
            for p in found.ips
        ],
        "accounts": found.accounts,
        "files": found.files,
        "deadline": deadline(incident, now),
        "report_to": REPORT_TO,
    }


def _kind_label(kind: str) -> str:
    return IncidentKind(kind).label if kind in IncidentKind.values else kind


def _when(value: dt.datetime | None) -> str:
    return f"{clock.local(value):%d-%m-%Y %H:%M} IST" if value else "not known"


def report_lines(data: dict) -> list[tuple[str, str]]:
    """(heading, text) pairs, in the order of CERT-In's form: for the text and the PDF."""
    contact = data["contact"]
    ips = "\n".join(f"{i['ip']} ({i['place']})" for i in data["ips"]) or "none identified"
    files = "\n".join(f"{f['sha256']}  {f['path']}" for f in data["files"]) or "none"
    return [
        ("Organisation", f"{data['organisation']} (sector: {data['sector']})"),
        (
            "Contact",
            "\n".join(
                filter(None, [contact["name"], contact["role"], contact["phone"], contact["email"]])
            )
            or "NOT SET (settings AJEYA_CERTIN_CONTACT_*)",
        ),
        ("Incident", f"{data['incident']}: {data['title']} ({data['status']})"),
        ("Incident type (Annexure I)", data["incident_type_text"]),
        ("Time of occurrence", _when(data["occurred_at"])),
        ("Time of detection", _when(data["detected_at"])),
        ("Report due to CERT-In", data["deadline"].text),
        ("Description", data["description"] or "—"),
        ("Affected systems", data["systems_affected"] or "—"),
        ("Indicators: IP addresses", ips),
        ("Indicators: accounts", ", ".join(data["accounts"]) or "none identified"),
        ("Indicators: files (SHA-256)", files),
        ("Actions taken", data["actions_taken"] or "—"),
    ]


def report_text(data: dict) -> str:
    head = (
        f"CERT-In INCIDENT REPORT: {data['organisation']}\n"
        f"Send to {data['report_to']} within {REPORTING_HOURS} hours of detection.\n\n"
    )
    body = "\n\n".join(
        f"{title}:\n" + "\n".join(f"  {line}" for line in text.splitlines())
        for title, text in report_lines(data)
    )
    return head + body + "\n"


def report_pdf(incident: Incident, *, printed_by: str) -> bytes:
    data = report(incident)
    margin = 14 * mm

    def body(c, top: float) -> None:
        flow = pdf.Flow(c, top=top, pagesize=A4, margin=margin)
        flow.line(f"Incident report to CERT-In ({data['report_to']})", size=13, bold=True)
        flow.line(f"Within {REPORTING_HOURS} hours of detection: {data['deadline'].text}")
        flow.line()
        for title, text in report_lines(data):
            flow.block(title, text)

    return pdf.render(
        title=f"CERT-In report {incident.number}",
        printed_by=printed_by,
        pagesize=A4,
        draw_body=body,
        margin=margin,
    )
