"""Compatibility names: the resolver's public types, from the modules that define them."""

from resolver.explain import Explanation, Lookup
from resolver.graph import customer_id_for
from resolver.outcome import Outcome
from resolver.profile import Profile
from resolver.resolver import Ingested, Resolver

__all__ = ["Explanation", "Ingested", "Lookup", "Outcome", "Profile", "Resolver", "customer_id_for"]
