"""factory_boy factories for the whole project; tests get them through fixtures."""

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from guardian.shortcuts import assign_perm

from cases.choices import CaseSource, CaseStatus, Urgency
from cases.models import Case, Category
from chengguan.models import User
from chengguan.roles import Role
from communities.models import Community, District, GridCell, HandlingUnit, Street


def square(lng: float, lat: float, size: float) -> dict[str, object]:
    """A GeoJSON square with its south-west corner at (lng, lat)."""
    return {
        "type": "Polygon",
        "coordinates": [
            [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]
        ],
    }


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"D{n:03d}")
    name = factory.Sequence(lambda n: f"测试区{n}")
    city = "示范市"


class StreetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Street

    code = factory.Sequence(lambda n: f"S{n:04d}")
    name = factory.Sequence(lambda n: f"测试街道{n}")
    district = factory.SubFactory(DistrictFactory)


class CommunityFactory(factory.django.DjangoModelFactory):
    """A community whose boundary is a 0.01° square at `origin` (lng, lat)."""

    class Meta:
        model = Community

    code = factory.Sequence(lambda n: f"C{n:05d}")
    name = factory.Sequence(lambda n: f"测试社区{n}")
    street = factory.SubFactory(StreetFactory)
    origin = factory.Sequence(lambda n: (120.0 + 0.02 * n, 30.0))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):  # type: ignore[no-untyped-def]
        origin = kwargs.pop("origin", (120.0, 30.0))
        obj = model_class(*args, **kwargs)
        obj.origin = origin
        obj.set_boundary(square(origin[0], origin[1], 0.01))
        obj.save()
        return obj


class GridCellFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GridCell

    code = factory.Sequence(lambda n: f"G{n:06d}")
    name = factory.Sequence(lambda n: f"网格{n}")
    community = factory.SubFactory(CommunityFactory)


class HandlingUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HandlingUnit

    code = factory.Sequence(lambda n: f"U{n:04d}")
    name = factory.Sequence(lambda n: f"处置单位{n}")


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    name = factory.Sequence(lambda n: f"用户{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-1234-word")

    @factory.post_generation
    def roles(obj: User, create: bool, extracted: Iterable[Role | str] | None, **kwargs: object) -> None:
        if not create:  # .build(): nothing is saved
            return
        if extracted:
            obj.groups.add(*Group.objects.filter(name__in=[str(r) for r in extracted]))
        # Keeps the password set by the post-generation call above (factory_boy
        # stops saving after post-generation hooks by itself).
        obj.save()


# Where a staff user works: a district, community or handling unit, or "city" for the whole city.
Scope = District | Community | HandlingUnit | Literal["city"]


def staff(
    role: Role | str,
    *,
    scope: Scope | list[Scope] | tuple[Scope, ...] | None = None,
    username: str | None = None,
) -> User:
    """A user in one role, scoped to a district, community or unit (or the city)."""
    kwargs: dict[str, object] = {"roles": [role]}
    if username:
        kwargs["username"] = username
    user = UserFactory.create(**kwargs)
    targets: list[Scope] | tuple[Scope, ...]
    if scope is None:
        targets = []
    elif isinstance(scope, list | tuple):
        targets = scope
    else:
        targets = [scope]
    for target in targets:
        if target == "city":
            from django.contrib.auth.models import Permission

            user.user_permissions.add(Permission.objects.get(codename="oversee_city"))
        elif isinstance(target, District):
            assign_perm("communities.oversee_district", user, target)
        elif isinstance(target, Community):
            assign_perm("communities.work_in_community", user, target)
        elif isinstance(target, HandlingUnit):
            assign_perm("communities.work_for_unit", user, target)
    return User.objects.get(pk=user.pk)  # fresh object: no cached permissions


def leaf_category(code: str = "0102") -> Category:
    return Category.objects.get(code=code)


class CaseFactory(factory.django.DjangoModelFactory):
    """A case placed directly in a status; use services to move it in tests."""

    class Meta:
        model = Case

    number = factory.Sequence(lambda n: f"CG-20260101-{n:06d}")
    tracking_code = factory.Sequence(lambda n: f"T{n:07d}")
    source = CaseSource.WEB
    status = CaseStatus.REPORTED
    urgency = Urgency.NORMAL
    description = "人行道上有流动摊贩占道经营"
    category = factory.LazyFunction(leaf_category)
    community = factory.SubFactory(CommunityFactory)
    district = factory.LazyAttribute(lambda o: o.community.street.district if o.community else None)
    reported_at = factory.LazyFunction(timezone.now)
    reporter_name = "张三"
    reporter_phone = "13812341234"


def aware(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0
) -> datetime:
    """That wall-clock time in the project's time zone (Asia/Shanghai)."""
    return timezone.make_aware(datetime(year, month, day, hour, minute, second, microsecond))
