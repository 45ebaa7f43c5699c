from django.conf import settings

from ajeya.core.roles import Perm, has_perm


def hospital(request):
    user = getattr(request, "user", None)
    return {
        "hospital_name": settings.AJEYA_HOSPITAL_NAME,
        "can": {perm.name: has_perm(user, perm) for perm in Perm},
    }
