import factory

from ajeya.accounts.models import User
from ajeya.core.roles import Role

TEST_PASSWORD = "correct-horse-battery-7"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    full_name = factory.Faker("name", locale="en_IN")
    role = Role.REGISTRATION_CLERK
    password = factory.django.Password(TEST_PASSWORD)
