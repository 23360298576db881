"""Roles (`user`, `admin`) and what each may do, with the policy as data (casbin).

The policy lives in `policy/policy.csv`; changing who may do what is an edit there,
not in the endpoints, which only ask `allowed(role, object, action)`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import casbin

POLICY_DIR = Path(__file__).parent / "policy"
ROLES = ("user", "admin")


@lru_cache(maxsize=1)
def _enforcer() -> casbin.Enforcer:
    return casbin.Enforcer(str(POLICY_DIR / "model.conf"), str(POLICY_DIR / "policy.csv"))


def allowed(role: str, obj: str, action: str) -> bool:
    return bool(_enforcer().enforce(role, obj, action))
