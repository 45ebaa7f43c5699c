"""An incident's indicators as a STIX 2.1 bundle, the form CERT-In and other CSIRTs
exchange them in: the hospital (identity), the outside addresses seen (observables and
indicators with STIX patterns), the accounts involved, the hashes of changed or
encrypted documents, and a grouping that ties them to the incident."""

from __future__ import annotations

import ipaddress
from pathlib import PurePosixPath

import stix2
from django.conf import settings

from ajeya.core import clock
from ajeya.defense.certin import Indicators
from ajeya.defense.models import Incident


def _identity(now) -> stix2.Identity:
    return stix2.Identity(
        created=now,
        modified=now,
        name=settings.AJEYA_HOSPITAL_NAME,
        identity_class="organization",
        sectors=["healthcare"],
        contact_information=settings.AJEYA_CERTIN_CONTACT_EMAIL or None,
    )


def _address(found: Indicators, place, hospital, incident: Incident, now) -> list:
    kind = stix2.IPv4Address if ipaddress.ip_address(place.ip).version == 4 else stix2.IPv6Address
    observable = kind(value=place.ip)
    indicator = stix2.Indicator(
        name=f"{place.ip} ({place.label})",
        description=f"Address seen in incident {incident.number} at {hospital.name}; "
        f"country {place.country or 'unknown'} from offline registry data.",
        pattern=f"[{observable.type}:value = '{place.ip}']",
        pattern_type="stix",
        valid_from=found.first_seen.get(place.ip) or incident.detected_at,
        indicator_types=["malicious-activity"],
        created_by_ref=hospital.id,
        created=now,
        modified=now,
    )
    return [observable, indicator]


def bundle(incident: Incident, found: Indicators) -> stix2.Bundle:
    now = clock.now()  # SDOs' created and modified: one moment, the export's
    hospital = _identity(now)
    objects: list = [hospital]
    for place in found.external_ips:
        objects += _address(found, place, hospital, incident, now)
    objects += [stix2.UserAccount(user_id=name, account_login=name) for name in found.accounts]
    objects += [
        stix2.File(
            name=PurePosixPath(f["path"]).name or f["sha256"], hashes={"SHA-256": f["sha256"]}
        )
        for f in found.files
    ]
    grouping = stix2.Grouping(
        name=f"{incident.number}: {incident.title}",
        description=incident.summary or f"Incident {incident.number} ({incident.kind})",
        context="suspicious-activity",
        object_refs=[o.id for o in objects],
        created_by_ref=hospital.id,
        labels=[incident.kind],
        created=now,
        modified=now,
    )
    return stix2.Bundle(objects=[*objects, grouping])
