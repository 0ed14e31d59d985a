"""Wording of findings, one module per pattern: ``words(finding) -> audit.wording.Words`` writes a finding's
title and explanation from what its detector's ``find`` computed (see :mod:`audit.wording`)."""

from __future__ import annotations

import pandas as pd

from audit.i18n import N_, t


def text(value):
    """A text field of a finding, ``None`` when missing (a frame may hold NaN where ``find`` gave None)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value


def share(value: float) -> str:
    """:func:`detectors.standard.support.share_words` (a share as a percentage) in the active language's digits."""
    from audit.wording import localised
    from detectors.standard.support import share_words

    return localised(share_words(value))


# How a receipt was paid (the contract's receipts.method), as the text names it.
METHOD_WORDS = {"cash": N_("cash"), "cheque": N_("cheque"), "transfer": N_("transfer"), "card": N_("card")}


def method_words(method) -> str:
    """A receipt's payment method in the active language (an unknown one as it is)."""
    return t(METHOD_WORDS[method]) if method in METHOD_WORDS else str(method)


# The kinds of entity a finding names (the contract's entity types, and staff), as the text names them.
ENTITY_WORDS = {"invoice": N_("invoice"), "customer": N_("customer"), "receipt": N_("receipt"),
                "cheque": N_("cheque"), "shipment": N_("shipment"), "visit": N_("visit"),
                "salesperson": N_("salesperson"), "employee": N_("employee"), "product": N_("product"),
                "invoice_no": N_("invoice number")}


def entity_words(kind) -> str:
    """An entity type in the active language (an unknown one as it is)."""
    return t(ENTITY_WORDS[kind]) if kind in ENTITY_WORDS else str(kind)


def entity_ref(ref: str) -> str:
    """``customer:C12`` as the text names it (``customer C12``), its kind in the active language."""
    kind, _, identifier = str(ref).partition(":")
    return f"{entity_words(kind)} {identifier}" if identifier else str(ref)
