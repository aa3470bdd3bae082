"""The functional core of IRL: normalisation, identity union-find, merge protection, confidence.

Standard library and `phonenumbers` only: no Kafka, Faust, Redis or clock (enforced by a test).
"""
