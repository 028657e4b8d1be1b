"""factory-boy factories shared across apps."""

from __future__ import annotations

from typing import Any

import factory

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    role = User.Role.SIGNER

    @factory.post_generation
    def password(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if extracted:
            self.set_password(extracted)
        else:
            self.set_unusable_password()
        if create:
            self.save()


class StaffFactory(UserFactory):
    role = User.Role.STAFF


class AdminFactory(UserFactory):
    role = User.Role.ADMIN
    is_staff = True
    is_superuser = True


class SignerFactory(UserFactory):
    role = User.Role.SIGNER
