"""Owners: the people records are assigned to (the 'user' property type stores an owner id).
One owner is "me" (the local user), created with the database."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.errors import InvalidValue, NotFound
from ..storage.models import Owner
from ..domain.sanitize import clean_line
from ..domain.types import ValueProblem, parse_email


@dataclass
class OwnerInfo:
    id: int
    name: str
    email: str | None
    is_me: bool


def _info(o: Owner) -> OwnerInfo:
    return OwnerInfo(o.id, o.name, o.email, bool(o.is_me))


def _forget(crm) -> None:
    crm._owners = None  # crm.owner_name's cache


def list_owners(crm) -> list[OwnerInfo]:
    Owner = crm.models.Owner
    return [_info(o) for o in Owner.select().order_by(Owner.id)]


def me(crm) -> OwnerInfo | None:
    Owner = crm.models.Owner
    owner = Owner.select().where(Owner.is_me == True).order_by(Owner.id).first()  # noqa: E712
    return _info(owner) if owner else None


def _clean(name: str, email: str | None) -> tuple[str, str | None]:
    name = clean_line(str(name or "")).strip()
    if not name:
        raise InvalidValue("an owner needs a name")
    if email not in (None, ""):
        try:
            email = parse_email(email)
        except ValueProblem as exc:
            raise InvalidValue(f"owner email: {exc}") from None
    else:
        email = None
    return name, email


def add_owner(crm, name: str, email: str | None = None) -> OwnerInfo:
    Owner = crm.models.Owner
    name, email = _clean(name, email)
    for o in Owner.select():
        if o.name.lower() == name.lower():
            raise InvalidValue(f"an owner named {o.name!r} exists already (id {o.id})")
        if email and (o.email or "").lower() == email.lower():
            raise InvalidValue(f"owner {o.name!r} (id {o.id}) already has the email {email}")
    owner = Owner.create(name=name, email=email)
    _forget(crm)
    return _info(owner)


def rename_owner(crm, owner_id: int, name: str, email: str | None = None) -> OwnerInfo:
    Owner = crm.models.Owner
    owner = Owner.get_or_none(Owner.id == int(owner_id))
    if owner is None:
        raise NotFound(f"no owner with id {owner_id}")
    name, email = _clean(name, email if email is not None else owner.email)
    for o in Owner.select().where(Owner.id != owner.id):
        if o.name.lower() == name.lower():
            raise InvalidValue(f"an owner named {o.name!r} exists already (id {o.id})")
    owner.name, owner.email = name, email
    owner.save()
    _forget(crm)
    return _info(owner)
