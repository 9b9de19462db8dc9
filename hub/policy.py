"""The policy point: the one place that decides who may read personal data.

Every personal field of every record (name, NIK, birth date, passport, address, phone) is
released only if :func:`may_read_personal` says so. Until authentication lands (roles,
purposes, audit: DESIGN.md §7), every caller is an anonymous ``analyst``, and analysts never
see personal fields: the hub fails closed rather than open.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Roles of DESIGN.md §7 (contract names), least to most privileged.
ROLES = ("public", "analyst", "caseworker", "coordinator", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: subject, role, own agency and declared purpose."""

    subject: str = "anonymous"
    role: str = "analyst"
    agency: str | None = None
    purpose: str | None = None


ANONYMOUS = Principal()


def may_read_personal(principal: Principal, record_agency: str) -> bool:
    """Whether ``principal`` may read personal fields of a record held by ``record_agency``.

    Coordinators may, across agencies, with a declared purpose; caseworkers may for their own
    agency's records, with a declared purpose; nobody else may.
    """
    if principal.purpose is None:
        return False
    if principal.role == "coordinator":
        return True
    return principal.role == "caseworker" and principal.agency == record_agency
