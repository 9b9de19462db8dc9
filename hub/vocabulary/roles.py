"""The roles a caller acts in (contract names, docs/access.md), least to most privileged.

Declared on the ground floor because three floors read the same list: the configuration's
shape (``[[auth.api_keys]].role``, hub.toml's JSON Schema), the policy point that gives each
role its rights (:mod:`hub.access.policy`), and the CLI that mints tokens.
"""

from __future__ import annotations

import typing
from typing import Literal

#: One role name.
Role = Literal["public", "analyst", "caseworker", "coordinator", "admin"]
#: Every role, least to most privileged.
ROLES: tuple[Role, ...] = typing.get_args(Role)
