"""Staff accounts made through the real service, so each is sealed and on the ledger."""

import factory

from ajeya.accounts import services
from ajeya.accounts.models import User
from ajeya.core.roles import Role

TEST_PASSWORD = "correct-horse-battery-7"


class UserFactory(factory.Factory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"staff{n}")
    full_name = factory.Faker("name", locale="en_IN")
    role = Role.REGISTRATION_CLERK

    @classmethod
    def _create(cls, model_class, *args, password=TEST_PASSWORD, **kwargs):
        existing = User.objects.filter(username=kwargs["username"]).first()
        if existing is not None:
            return existing
        return services.user_create(actor=None, password=password, **kwargs)
