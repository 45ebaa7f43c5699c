"""The administrator opens wards and adds rooms with their beds; a clash adds nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from ajeya.core.roles import Role
from ajeya.ipd.models import Bed, Room, Ward
from tests.appointments import factories
from tests.conftest import verified_client

pytestmark = pytest.mark.django_db
SETUP = reverse("ipd:setup")


@pytest.fixture
def admin_client(make_user):
    return verified_client(Client(), make_user(Role.HOSPITAL_ADMIN, username="setup-admin"))


def test_a_ward_then_a_room_of_beds(admin_client):
    department = factories.department("MED")
    response = admin_client.post(
        SETUP,
        {
            "form": "ward",
            "ward-code": "mw",
            "ward-name": "Medical ward",
            "ward-department": department.pk,
            "ward-floor": "Ground",
        },
        follow=True,
    )
    assert "Ward MW opened." in response.content.decode()
    ward = Ward.objects.get(code="MW")
    response = admin_client.post(
        SETUP,
        {
            "form": "beds",
            "beds-ward": ward.pk,
            "beds-room": "3",
            "beds-category": "icu",
            "beds-beds": "4",
            "beds-first_number": "9",
        },
        follow=True,
    )
    assert "Room 3: beds MW-9 to MW-12." in response.content.decode()
    assert sorted(Bed.objects.values_list("label", "category", "status")) == sorted(
        (f"MW-{n}", "icu", "free") for n in range(9, 13)
    )


def test_a_clashing_bed_label_adds_neither_room_nor_beds(admin_client):
    department = factories.department("MED")
    admin_client.post(
        SETUP,
        {
            "form": "ward",
            "ward-code": "MW",
            "ward-name": "Medical ward",
            "ward-department": department.pk,
        },
    )
    ward = Ward.objects.get(code="MW")
    beds = {
        "form": "beds",
        "beds-ward": ward.pk,
        "beds-category": "general",
        "beds-beds": "2",
        "beds-first_number": "1",
    }
    admin_client.post(SETUP, {**beds, "beds-room": "1"})
    response = admin_client.post(SETUP, {**beds, "beds-room": "2"})
    assert response.status_code == 200
    assert "A bed labelled MW-1 exists." in response.content.decode()
    assert list(Room.objects.values_list("number", flat=True)) == ["1"]
    assert Bed.objects.count() == 2


def test_a_bad_count_is_named(admin_client):
    department = factories.department("MED")
    ward_post = {
        "form": "ward",
        "ward-code": "MW",
        "ward-name": "Medical ward",
        "ward-department": department.pk,
    }
    admin_client.post(SETUP, ward_post)
    response = admin_client.post(
        SETUP,
        {
            "form": "beds",
            "beds-ward": Ward.objects.get().pk,
            "beds-room": "1",
            "beds-category": "general",
            "beds-beds": "0",
            "beds-first_number": "1",
        },
    )
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()
    assert Room.objects.count() == 0
