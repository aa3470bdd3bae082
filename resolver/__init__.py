"""The functional core of IRL: normalisation, identity union-find, merge protection, confidence.

Standard library and `phonenumbers` only: no Kafka, Faust, Redis or clock (enforced by a test).
`make core` (experimental) compiles the modules with mypyc; `CORE_BUILD` says which runs
(`resolver._native`).
"""

# First: whether the modules below are the compiled ones (mypyc, `make core`) or the .py sources.
from resolver._native import COMPILED as CORE_COMPILED
from resolver._native import build as CORE_BUILD
from resolver.config import EmailRule, ResolverConfig
from resolver.engine import Explanation, Lookup, Outcome, Profile, Resolver
from resolver.replay import Reject, ReplayCounts, assignment_rows, profile_records, replay

__all__ = [
    "CORE_BUILD",
    "CORE_COMPILED",
    "EmailRule",
    "Explanation",
    "Lookup",
    "Outcome",
    "Profile",
    "Reject",
    "ReplayCounts",
    "Resolver",
    "ResolverConfig",
    "assignment_rows",
    "profile_records",
    "replay",
]
