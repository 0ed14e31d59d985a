"""LNK-01: the entity-link view (who shares a phone, address, account, cheque drawer or delivery point)."""

from __future__ import annotations

import time

import pandas as pd

from analyses.links.graph import LINK_INPUTS_VIEW, LINKS_VIEW, LinkSettings, compute_links, link_inputs
from audit.analysis import Analysis
from audit.policy import DEFAULTS


class EntityLinks(Analysis):
    """Links between customers, salespeople and employees through shared identifiers (view ``entity_links``).

    One networkx graph of customers, salespeople, employees and the phones, addresses, bank accounts,
    names, cheque drawers and delivery points they use (see ``analyses.links.graph``; the run projects it
    from plain dicts of the identifiers two or more entities share, without building the networkx graph)
    to one row per link: ``source`` and ``target`` ("type:id"), ``kind`` (shared_phone, shared_address,
    shared_bank_account, shared_owner_name, shared_name, delivery_point, received_by, cheque_drawer,
    declared_chain), ``similarity`` (1 for exact identifiers, the fuzzy score for names and addresses),
    ``evidence`` (JSON: the values that met, counts and dates) and ``declared_chain`` (both ends are
    branches of one declared chain: not suspicious in itself).

    Parameters: ``geofence_m`` (policy ``[visits] geofence_m``): a delivery farther than this from the
    customer's own position was made elsewhere; ``same_place_m``: a delivery this close to another
    customer's position was made there; ``name_threshold`` (every word of two names),
    ``address_threshold`` (the place words of two addresses with the same numbers) and
    ``address_word_threshold`` (each of those words): rapidfuzz scores (0-100) for two to be one;
    ``country_code`` / ``national_digits``: how phones are written; ``max_shared``: an identifier shared
    by more entities is a placeholder.
    """

    code = "LNK-01"
    outputs = ("entity_links", "entity_link_inputs")
    title = "Entity links"
    requires = {"customers": ("customer_id",)}

    def __init__(self, geofence_m: float = float(DEFAULTS.visits.geofence_m), same_place_m: float = 30.0, name_threshold: float = 93.0,
                 address_threshold: float = 90.0, address_word_threshold: float = 80.0, country_code: str = "98",
                 national_digits: int = 10, max_shared: int = 25):
        self.geofence_m = geofence_m
        self.same_place_m = same_place_m
        self.name_threshold = name_threshold
        self.address_threshold = address_threshold
        self.address_word_threshold = address_word_threshold
        self.country_code = country_code
        self.national_digits = national_digits
        self.max_shared = max_shared

    @classmethod
    def params_from_policy(cls, policy):
        return {"geofence_m": float(policy.visits.geofence_m)}

    def settings(self) -> LinkSettings:
        return LinkSettings(country_code=self.country_code, national_digits=self.national_digits,
                            name_threshold=self.name_threshold, address_threshold=self.address_threshold,
                            address_word_threshold=self.address_word_threshold,
                            same_place_m=self.same_place_m, away_m=self.geofence_m, max_shared=self.max_shared)

    def compute(self, data) -> dict[str, pd.DataFrame]:
        started = time.perf_counter()
        inputs = link_inputs(data)
        links = compute_links(inputs, self.settings())
        self.stats_ = {**links.attrs.get("stats", {}), "links": len(links),
                       "seconds": round(time.perf_counter() - started, 3)}
        return {LINKS_VIEW: links, LINK_INPUTS_VIEW: inputs}
