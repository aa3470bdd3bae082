"""The functional core of IRL: normalisation, identity union-find, merge protection, confidence.

Standard library and `phonenumbers` only: no Kafka, Faust, Redis or clock (enforced by a test).
"""

from resolver.config import EmailRule, ResolverConfig
from resolver.engine import Explanation, Lookup, Outcome, Profile, Resolver
from resolver.replay import Reject, ReplayCounts, assignment_rows, profile_records, replay

__all__ = [
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
