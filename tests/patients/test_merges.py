"""Merging one person's two registrations: asked for by one person, reviewed by another,
both histories kept exactly as they were."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.core.roles import Role
from ajeya.ledger.models import LedgerEntry
from ajeya.patients import selectors, services
from ajeya.patients.models import MergeStatus, PatientMerge
from tests.conftest import verified_client
from tests.ipd.factories import assert_sealed
from tests.patients.factories import PatientFactory

REASON = "same name, father and phone; patient confirms"


@pytest.fixture
def pair(db):
    return PatientFactory(name="Old Record"), PatientFactory(name="Paper Record")


@pytest.fixture
def admin(make_user):
    return make_user(Role.HOSPITAL_ADMIN, username="mro", full_name="Records Officer")


def test_a_merge_is_asked_reviewed_and_kept_on_the_ledger(pair, clerk, admin):
    survivor, duplicate = pair
    merge = services.merge_request(actor=clerk, duplicate=duplicate, survivor=survivor,
                                   reason=REASON)  # fmt: skip
    assert selectors.merges_to_review() == [merge]
    assert selectors.merges_of(duplicate).into == merge
    assert selectors.merges_of(survivor).merged == []  # not until approved
    approved = services.merge_decide(actor=admin, merge=merge, approve=True)
    assert approved.status == MergeStatus.APPROVED
    assert selectors.merges_of(survivor).merged == [approved]
    assert_sealed(approved)
    actions = [
        (e.action, e.reason) for e in LedgerEntry.objects.filter(subject_type="patients.merge")
    ]
    assert actions == [("create", REASON), ("update", "merge approved")]
    # Both records stay exactly as they were.
    for patient in pair:
        assert_sealed(patient)


def test_the_one_who_asks_cannot_approve(pair, make_user):
    both = make_user(Role.HOSPITAL_ADMIN, username="admin-both")
    clerk = make_user(Role.REGISTRATION_CLERK, username="clerk-merge")
    merge = services.merge_request(actor=clerk, duplicate=pair[1], survivor=pair[0],
                                   reason=REASON)  # fmt: skip
    PatientMerge.objects.filter(pk=merge.pk).update(requested_by=both)  # as if they asked
    with pytest.raises(Conflict, match="another person must review"):
        services.merge_decide(actor=both, merge=merge, approve=True)
    with pytest.raises(PermissionRefused):
        services.merge_decide(actor=clerk, merge=merge, approve=True)


def test_bad_merges_are_refused(pair, clerk, admin):
    survivor, duplicate = pair
    with pytest.raises(ValidationFailed, match="into itself"):
        services.merge_request(actor=clerk, duplicate=survivor, survivor=survivor, reason=REASON)
    with pytest.raises(ValidationFailed, match="Say why"):
        services.merge_request(actor=clerk, duplicate=duplicate, survivor=survivor, reason="")
    merge = services.merge_request(actor=clerk, duplicate=duplicate, survivor=survivor,
                                   reason=REASON)  # fmt: skip
    with pytest.raises(Conflict, match="already awaiting review"):
        services.merge_request(actor=clerk, duplicate=duplicate, survivor=survivor, reason=REASON)
    with pytest.raises(ValidationFailed, match="Say why the merge is rejected"):
        services.merge_decide(actor=admin, merge=merge, approve=False, note="")
    services.merge_decide(actor=admin, merge=merge, approve=True)
    with pytest.raises(Conflict, match="already merged"):
        services.merge_decide(actor=admin, merge=merge, approve=False, note="changed my mind")
    third = PatientFactory(name="Third Record")
    with pytest.raises(ValidationFailed, match="is itself merged into"):
        services.merge_request(actor=clerk, duplicate=third, survivor=duplicate, reason=REASON)
    with pytest.raises(PermissionRefused):
        services.merge_request(actor=admin, duplicate=third, survivor=survivor, reason=REASON)


def test_a_rejected_merge_can_be_asked_again(pair, clerk, admin):
    survivor, duplicate = pair
    merge = services.merge_request(actor=clerk, duplicate=duplicate, survivor=survivor,
                                   reason=REASON)  # fmt: skip
    services.merge_decide(actor=admin, merge=merge, approve=False, note="different fathers")
    assert selectors.merges_of(duplicate).into is None
    again = services.merge_request(actor=clerk, duplicate=duplicate, survivor=survivor,
                                   reason=REASON + " (checked the card)")  # fmt: skip
    assert again.status == MergeStatus.REQUESTED


def test_the_pages_ask_review_and_show_both_histories(client, pair, clerk, admin, make_user):
    survivor, duplicate = pair
    verified_client(client, clerk)
    url = reverse("patients:merge_request", args=[duplicate.uhid])
    page = client.get(url + f"?into={survivor.uhid}")
    assert page.status_code == 200
    assert survivor.uhid.encode() in page.content  # the form comes filled in
    refused = client.post(url, {"survivor": duplicate.uhid, "reason": REASON})
    assert refused.status_code == 422
    assert b"cannot be merged into itself" in refused.content
    done = client.post(url, {"survivor": survivor.uhid, "reason": REASON})
    assert done.status_code == 302
    verified_client(client, admin)
    review = client.get(reverse("patients:merges"))
    assert b"Paper Record" in review.content
    merge = PatientMerge.objects.get()
    client.post(reverse("patients:merge_decide", args=[merge.pk]), {"decision": "approve"})
    merge.refresh_from_db()
    assert merge.status == MergeStatus.APPROVED
    verified_client(client, make_user(Role.DOCTOR, username="dr-merge"))
    shown = client.get(reverse("patients:detail", args=[survivor.uhid])).content.decode()
    assert "Also registered as" in shown
    assert reverse("opd:timeline", args=[duplicate.uhid]) in shown
    pointed = client.get(reverse("patients:detail", args=[duplicate.uhid])).content.decode()
    assert "This record was merged into" in pointed


def test_a_review_without_a_decision_changes_nothing(client, pair, clerk, admin):
    merge = services.merge_request(actor=clerk, duplicate=pair[1], survivor=pair[0],
                                   reason=REASON)  # fmt: skip
    verified_client(client, admin)
    url = reverse("patients:merge_decide", args=[merge.pk])
    page = client.post(url, {"decision": "maybe"}, follow=True)
    assert b"Choose approve or reject" in page.content
    merge.refresh_from_db()
    assert merge.status == MergeStatus.REQUESTED
    missing = client.post(reverse("patients:merge_decide", args=[merge.pk + 99]),
                          {"decision": "approve"})  # fmt: skip
    assert missing.status_code == 404
