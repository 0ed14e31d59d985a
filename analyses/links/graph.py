"""The entity-link graph: customers, staff, and the phones, addresses, accounts and names they share.

Nodes
-----
Entities: ``customer:<id>``, ``salesperson:<id>``, ``employee:<id>``. Identifiers: ``phone:<digits>``,
``bank_account:<account>``, ``address:<cluster>`` (recorded addresses and shipments' delivery
addresses) and ``name:<cluster>`` (owners, staff, shop names, who received a delivery, cheque
drawers). An edge joins an entity to an identifier with the roles it plays there: its own phone,
address, account or owner; an address its goods were delivered to; the person who received them; the
account or name a cheque it paid with was drawn on.

Links
-----
The ``entity_links`` table is the graph projected on the entities: two entities are linked when they
meet at one identifier in compatible roles (``shared_phone``, ``shared_address``,
``shared_bank_account``, ``shared_owner_name``, ``shared_name`` (a customer's owner has a staff
member's name), ``delivery_point`` (goods delivered at another entity's address, or two customers'
goods delivered at one place that is neither's own address), ``received_by`` (goods received by
another customer's owner or by a staff member), ``cheque_drawer`` (cheques drawn on another
entity's account or in its name, or two customers paying with cheques of one account)), plus
location links: goods delivered farther than ``away_m`` from the customer's own position and within
``same_place_m`` of another customer's (``delivery_point``). Branches of a declared chain (both
``customer_class`` "chain" with the same owner) get a ``declared_chain`` link, and every other link
between them carries ``declared_chain = True`` so that detectors leave them alone.

Matching
--------
Phones: digits only; the country code (after ``+``, ``00``, or in front of a full national number)
and trunk zeros dropped, so ``+98 912 345 6789``, ``0098 912 3456789`` and ``0912-345-6789`` are one
number; too short or one repeated digit is no number. Bank accounts: letters and digits, upper case.
Addresses and names: Unicode NFKC, case folded, Arabic letter forms unified with Persian ones,
diacritics, zero-width joiners and hyphens removed, punctuation dropped; family-name particles written
apart joined (``Hosseini Far`` = ``Hosseini-Far``); the street words of addresses unified (St.,
Street, خیابان ...). Then fuzzy matching with rapidfuzz inside blocks, never all against all:

- an address only against addresses carrying exactly the same numbers, each with its street word
  (plate 37 in alley 11 is not plate 11 in alley 37: a different number is a different place,
  whatever the words); its place words, sorted, must reach ``address_threshold``
  (``token_sort_ratio``) and each word ``address_word_threshold`` (``Azadi``/``Azady``, not
  ``Mahtab``/``Aftab``); a fuzzy (not identical) match between two records whose positions are on
  record and farther apart than ``away_m`` is dropped;
- a name only against names whose sorted tokens begin with the same three letters, or end with the
  same three (a single typo cannot break both keys); a match needs as many words, each reaching
  ``name_threshold`` (``Mohamad``/``Mohammad``, not ``Soheil``/``Soheila`` or ``Javad
  Mohammadi``/``Mohammad Javadi``).

Each block is one ``rapidfuzz.process.cdist`` call (a few pairs: one call per pair); matches are
joined transitively (union-find). The work grows with the sum of squared block sizes, which stays
near-linear because blocks stay small; a block larger than ``max_block`` is skipped and counted. An
identifier shared by more than ``max_shared`` entities is a placeholder (a dummy phone, the head
office's address) and yields no links.
"""

from __future__ import annotations

import functools
import pickle
import re
import unicodedata
from dataclasses import dataclass, field
from itertools import combinations

import networkx as nx
import numpy as np
import pandas as pd
from networkx.utils import UnionFind
from rapidfuzz import fuzz, process
from sklearn.neighbors import BallTree

from audit.collector import paused_cycle_collection
from audit.common import EARTH_RADIUS_M, haversine_m

LINK_COLUMNS = ("source", "target", "kind", "similarity", "evidence", "declared_chain")
ENTITY_TYPES = ("customer", "salesperson", "employee")
# Kinds whose source is the customer the evidence is about (its goods, its cheques).
DIRECTED_KINDS = ("delivery_point", "received_by", "cheque_drawer")
IDENTITY_KINDS = ("shared_phone", "shared_address", "shared_bank_account", "shared_owner_name", "shared_name")

_ARABIC_FORMS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ۀ": "ه", "أ": "ا", "إ": "ا", "آ": "ا"})
_JOINERS = re.compile(r"[\u200c\u200d\u00ad'’`\-]")
_NON_WORD = re.compile(r"[\W_]+")
# Street words written in several ways, and words that carry no place (house-number markers).
ADDRESS_WORDS = {
    "street": "st", "st": "st", "str": "st", "khiaban": "st", "khiyaban": "st", "خیابان": "st", "خ": "st",
    "avenue": "ave", "ave": "ave", "av": "ave", "alley": "alley", "kuche": "alley", "koocheh": "alley",
    "kucheh": "alley", "کوچه": "alley", "boulevard": "blvd", "blvd": "blvd", "bolvar": "blvd", "بلوار": "blvd",
    "square": "sq", "sq": "sq", "meydan": "sq", "میدان": "sq", "lane": "lane", "road": "rd", "rd": "rd",
    "جاده": "rd",
}
ADDRESS_NOISE = {"no", "nr", "num", "number", "plate", "pelak", "پلاک", "شماره"}
ADDRESS_TYPE_WORDS = set(ADDRESS_WORDS.values())
_ADDRESS_PARTS = re.compile(r"[,،;]")
SMALL_BLOCK = 8
# Persian family-name particles, written joined, hyphenated or apart.
NAME_PARTICLES = {"far", "fard", "nia", "pour", "poor", "zadeh", "zade", "rad", "moghaddam", "moghadam", "nejad",
                  "nezhad", "khah", "vand", "lou", "loo", "فر", "فرد", "نیا", "پور", "زاده", "راد", "مقدم", "نژاد"}


@dataclass(frozen=True)
class LinkSettings:
    """How identifiers are matched. Every limit is here, with its default."""

    country_code: str = "98"          # dropped from phones written internationally
    national_digits: int = 10         # digits of a national phone number without its trunk zero
    min_phone_digits: int = 7         # shorter digit strings are not phone numbers
    name_threshold: float = 93.0      # rapidfuzz ratio every name token must reach for two names to be one
    address_threshold: float = 90.0   # rapidfuzz token_sort_ratio of the words of two addresses with the same numbers
    address_word_threshold: float = 80.0  # ... and the ratio each of their words must reach (Azadi/Azady)
    same_place_m: float = 30.0        # a delivery this close to another customer's position is there
    away_m: float = 300.0             # a delivery farther than this from the customer's position is elsewhere
    max_shared: int = 25              # an identifier shared by more entities is a placeholder
    max_block: int = 5000             # fuzzy blocks larger than this are skipped (counted)


@dataclass
class LinkInputs:
    """The reduced tables the graph is built from (pandas, small: master data and per-customer sums)."""

    customers: pd.DataFrame           # customer_id, name, owner_name, phone, address, city, lat, lon, bank_account, customer_class
    staff: pd.DataFrame               # entity ("salesperson:S1", "employee:E1"), name, phone, address, bank_account
    deliveries: pd.DataFrame          # customer_id, delivery_address, received_by, lat, lon, shipments, first_date, last_date
    drawers: pd.DataFrame             # customer_id, drawer_account, drawer_name, cheques, amount
    stats: dict = field(default_factory=dict)


CUSTOMER_COLUMNS = ("customer_id", "name", "owner_name", "phone", "address", "city", "lat", "lon", "bank_account",
                    "customer_class")
STAFF_COLUMNS = ("entity", "name", "phone", "address", "bank_account")
DELIVERY_COLUMNS = ("customer_id", "delivery_address", "received_by", "lat", "lon", "shipments", "first_date",
                    "last_date")
DRAWER_COLUMNS = ("customer_id", "drawer_account", "drawer_name", "cheques", "amount")


def empty_links() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="bool" if c == "declared_chain" else "float64" if c == "similarity"
                                      else "object") for c in LINK_COLUMNS})


# ------------------------------------------------------------------------------------------- normalising
def _blank(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value)) or str(value).strip() == ""


def text_key(value, join: bool = False) -> str | None:
    """Comparable text: NFKC, case folded, Persian letter forms, no diacritics or punctuation.

    ``join`` removes hyphens and zero-width joiners (names: ``Shokri-Nia`` = ``ShokriNia``);
    otherwise they separate words (addresses: ``12-14``).
    """
    if _blank(value):
        return None
    text = str(value).casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_ARABIC_FORMS)
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if unicodedata.category(ch) != "Mn")
    text = _JOINERS.sub("" if join else " ", text)
    text = " ".join(_NON_WORD.sub(" ", text).split())
    return text or None


def name_key(value) -> str | None:
    """A person's or shop's name, normalised; tokens sorted so word order does not matter. A family-name
    particle written apart is joined to the word before it (``Hosseini Far`` = ``Hosseini-Far``)."""
    text = text_key(value, join=True)
    if not text:
        return None
    tokens: list[str] = []
    for token in text.split():
        if tokens and token in NAME_PARTICLES:
            tokens[-1] += token
        else:
            tokens.append(token)
    return " ".join(sorted(tokens))


def family_key(value) -> str | None:
    """The family part of a person's name (everything after the first given name), normalised."""
    text = text_key(value, join=True)
    if not text or len(text.split()) < 2:
        return None
    return " ".join(text.split()[1:])


def phone_key(value, settings: LinkSettings = LinkSettings()) -> str | None:
    """The phone number as its national significant digits, or None when it is no usable number."""
    if _blank(value):
        return None
    text = str(value).strip()
    digits = re.sub(r"\D", "", text)
    cc = settings.country_code
    international = text.startswith("+")
    if digits.startswith("00"):
        digits, international = digits[2:], True
    if cc and digits.startswith(cc) and (international or len(digits) >= len(cc) + settings.national_digits):
        digits = digits[len(cc):]
    digits = digits.lstrip("0")
    if len(digits) < settings.min_phone_digits or len(set(digits)) == 1:
        return None
    return digits


def account_key(value) -> str | None:
    """A bank account or IBAN: letters and digits only, upper case; None when it has no digits."""
    if _blank(value):
        return None
    text = re.sub(r"[\W_]", "", unicodedata.normalize("NFKC", str(value))).upper()
    digits = re.sub(r"\D", "", text)
    if len(digits) < 4 or len(set(digits)) == 1:
        return None
    return text


def address_parts(value) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(numbers, words) of an address. Numbers keep the street word next to them in their part of the
    address (``5 Alley`` and ``Alley 5`` are ``alley5``; a bare number is the plate), so ``No. 37, 11
    Alley`` and ``No. 11, 37 Alley`` differ while ``Azadi Street, 5 Alley, 12`` equals ``No. 12, 5
    Alley, Azadi St.``; numbers must agree exactly. Words are the place names, without street-type
    words and house-number markers, compared fuzzily. Both sorted."""
    if _blank(value):
        return None
    numbers, words = [], []
    for part in _ADDRESS_PARTS.split(str(value)):
        part_numbers, part_words = _address_part(part)
        numbers.extend(part_numbers)
        words.extend(part_words)
    if not numbers and not words:
        return None
    return tuple(sorted(numbers)), tuple(sorted(words))


@functools.lru_cache(maxsize=1 << 16)
def _address_part(part: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(numbers, words) of one comma-separated part of an address (see :func:`address_parts`); a street,
    district or city recurs across thousands of addresses, so each distinct part is read once."""
    numbers, words = [], []
    if part:
        tokens = (text_key(part) or "").split()
        kinds = [ADDRESS_WORDS.get(t, t) for t in tokens]
        for index, (token, kind) in enumerate(zip(tokens, kinds, strict=True)):
            if any(ch.isdigit() for ch in token):
                number = "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in token)
                number = number.lstrip("0") or "0"
                after = kinds[index + 1] if index + 1 < len(kinds) else None
                before = kinds[index - 1] if index > 0 else None
                tag = after if after in ADDRESS_TYPE_WORDS else before if before in ADDRESS_TYPE_WORDS else ""
                numbers.append(tag + number)
            elif token in ADDRESS_NOISE or kind in ADDRESS_TYPE_WORDS:
                continue
            else:
                words.append(kind)
    return tuple(numbers), tuple(words)


# ------------------------------------------------------------------------------------------ fuzzy matching
def same_tokens(first: str, second: str, threshold: float) -> bool:
    """Two sorted-token names are one when they have as many tokens and each pair scores ``threshold``
    (``Soheil``/``Soheila`` or ``Javad Mohammadi``/``Mohammad Javadi`` are different people even though
    the whole strings are close; ``Mohamad``/``Mohammad`` is a typo)."""
    a, b = first.split(), second.split()
    return len(a) == len(b) and all(fuzz.ratio(x, y) >= threshold for x, y in zip(a, b, strict=True))


def fuzzy_clusters(units: pd.DataFrame, threshold: float, max_block: int,
                   verify=None) -> tuple[dict[str, str], dict]:
    """Join units whose ``text`` scores at least ``threshold`` with another unit of a shared block.

    ``units`` has one row per distinct ``key`` with its compared ``text`` and a list of ``blocks``;
    ``verify(text_a, text_b, threshold)``, when given, must also accept a pair. Returns key ->
    representative key (the smallest key of its cluster) and counts of the work done.
    """
    stats = {"units": len(units), "blocks": 0, "comparisons": 0, "oversized_blocks": 0, "matches": 0}
    if units.empty:
        return {}, stats
    union = UnionFind(units["key"].tolist())
    exploded = units[["key", "text", "blocks"]].explode("blocks").dropna(subset=["blocks"])
    sizes = exploded["blocks"].value_counts()
    exploded = exploded[exploded["blocks"].isin(sizes.index[sizes >= 2])].sort_values(["blocks", "key"])
    block_values = exploded["blocks"].to_numpy()
    keys = exploded["key"].to_numpy()
    texts = exploded["text"].to_numpy()
    if len(block_values):
        starts = np.flatnonzero(np.r_[True, block_values[1:] != block_values[:-1]])
        ends = np.r_[starts[1:], len(block_values)]
        for start, end in zip(starts, ends, strict=True):
            size = end - start
            if size > max_block:
                stats["oversized_blocks"] += 1
                continue
            stats["blocks"] += 1
            stats["comparisons"] += size * (size - 1) // 2
            block_texts = list(texts[start:end])
            if size <= SMALL_BLOCK:  # a call per pair is cheaper than a matrix for a handful
                pairs = [(i, j) for i, j in combinations(range(size), 2)
                         if fuzz.token_sort_ratio(block_texts[i], block_texts[j]) >= threshold]
                first = np.array([i for i, _ in pairs], dtype=np.int64)
                second = np.array([j for _, j in pairs], dtype=np.int64)
            else:
                scores = process.cdist(block_texts, block_texts, scorer=fuzz.token_sort_ratio,
                                       score_cutoff=threshold, dtype=np.uint8, workers=1)
                first, second = np.nonzero(np.triu(scores >= max(threshold, 1), 1))
            for i, j in zip(start + first, start + second, strict=True):
                a, b = keys[i], keys[j]
                if a != b and (verify is None or verify(texts[i], texts[j], threshold)):
                    stats["matches"] += 1
                    union.union(a, b)
    # networkx picks a cluster's root by set order, which varies with the process's hash seed: the smallest
    # key names it, so the links and their evidence are the same in every run
    roots = {key: union[key] for key in units["key"].tolist()}
    smallest: dict = {}
    for key, root in roots.items():
        smallest[root] = key if root not in smallest else min(smallest[root], key)
    return {key: smallest[root] for key, root in roots.items()}, stats


def _address_units(values: pd.Series) -> tuple[pd.DataFrame, dict]:
    """Distinct addresses: key (numbers|words), compared text (words), block (the numbers)."""
    parts = {}
    for value in set(values.dropna().tolist()):
        found = address_parts(value)
        if found is not None:
            parts[value] = found
    rows = {}
    for numbers, words in parts.values():
        key = " ".join(numbers) + "|" + " ".join(words)
        if key in rows:
            continue
        block = ("n:" + " ".join(numbers)) if numbers else ("w:" + words[0])
        rows[key] = {"key": key, "text": " ".join(words) or " ".join(numbers), "blocks": [block]}
    value_key = {value: " ".join(n) + "|" + " ".join(w) for value, (n, w) in parts.items()}
    return pd.DataFrame(list(rows.values()), columns=["key", "text", "blocks"]), value_key


def _name_units(values: pd.Series) -> tuple[pd.DataFrame, dict]:
    """Distinct names: key (sorted tokens), blocks (the first three letters of every token; the last three)."""
    value_key = {}
    for value in set(values.dropna().tolist()):
        key = name_key(value)
        if key:
            value_key[value] = key
    rows = []
    for key in sorted(set(value_key.values())):
        tokens = key.split()
        rows.append({"key": key, "text": key, "blocks": ["p:" + "|".join(t[:3] for t in tokens),
                                                         "s:" + "|".join(t[-3:] for t in tokens)]})
    return pd.DataFrame(rows, columns=["key", "text", "blocks"]), value_key


# ------------------------------------------------------------------------------------------------ graph
def _records(inputs: LinkInputs, include_drawer_names: pd.Series) -> pd.DataFrame:
    """Every identifier occurrence: entity, role, identifier type, raw value and what it carries."""
    parts = []
    customers = inputs.customers
    entity = "customer:" + customers["customer_id"].astype(str)
    for column, kind, role in (("phone", "phone", "phone"), ("bank_account", "bank_account", "bank_account"),
                               ("address", "address", "address"), ("owner_name", "name", "owner_name"),
                               ("name", "name", "shop_name")):
        parts.append(pd.DataFrame({"entity": entity, "role": role, "type": kind, "value": customers[column],
                                   "count": 1.0, "amount": np.nan, "first_date": pd.NaT, "last_date": pd.NaT,
                                   "lat": customers["lat"], "lon": customers["lon"]}))
    staff = inputs.staff
    for column, kind, role in (("phone", "phone", "phone"), ("bank_account", "bank_account", "bank_account"),
                               ("address", "address", "address"), ("name", "name", "name")):
        parts.append(pd.DataFrame({"entity": staff["entity"], "role": role, "type": kind, "value": staff[column],
                                   "count": 1.0, "amount": np.nan, "first_date": pd.NaT, "last_date": pd.NaT}))
    deliveries = inputs.deliveries
    if len(deliveries):
        d_entity = "customer:" + deliveries["customer_id"].astype(str)
        for column, kind, role in (("delivery_address", "address", "delivered_to"),
                                   ("received_by", "name", "received_by")):
            parts.append(pd.DataFrame({"entity": d_entity, "role": role, "type": kind, "value": deliveries[column],
                                       "count": deliveries["shipments"].astype(float), "amount": np.nan,
                                       "first_date": deliveries["first_date"],
                                       "last_date": deliveries["last_date"], "lat": deliveries["lat"],
                                       "lon": deliveries["lon"]}))
    drawers = inputs.drawers
    if len(drawers):
        q_entity = "customer:" + drawers["customer_id"].astype(str)
        parts.append(pd.DataFrame({"entity": q_entity, "role": "drawer_account", "type": "bank_account",
                                   "value": drawers["drawer_account"], "count": drawers["cheques"].astype(float),
                                   "amount": drawers["amount"].astype(float), "first_date": pd.NaT,
                                   "last_date": pd.NaT}))
        named = drawers[include_drawer_names.to_numpy()]
        parts.append(pd.DataFrame({"entity": "customer:" + named["customer_id"].astype(str), "role": "drawer_name",
                                   "type": "name", "value": named["drawer_name"],
                                   "count": named["cheques"].astype(float), "amount": named["amount"].astype(float),
                                   "first_date": pd.NaT, "last_date": pd.NaT}))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=["entity", "role", "type", "value", "count", "amount", "first_date", "last_date",
                                     "lat", "lon"])
    records = pd.concat(parts, ignore_index=True)
    for column in ("lat", "lon"):
        records[column] = pd.to_numeric(records[column], errors="coerce") if column in records else np.nan
    records = records[records["value"].notna()].astype({"value": object, "entity": object})
    records["value"] = [str(v).strip() for v in records["value"]]
    return records[records["value"] != ""].reset_index(drop=True)


def _identifier_nodes(records: pd.DataFrame, settings: LinkSettings) -> tuple[pd.Series, pd.Series, dict]:
    """The identifier node of every record (missing when the value is unusable) and its compared text."""
    # filled by position in plain arrays (``records`` has a range index): assigning through pandas' label
    # alignment once per identifier type cost more than reading the values
    node = np.full(len(records), None, dtype=object)
    text = np.full(len(records), None, dtype=object)
    types = records["type"].to_numpy(dtype=object)
    values = records["value"].to_numpy(dtype=object)
    stats = {}

    def put(chosen: np.ndarray, keys, prefix: str, clusters: dict | None = None) -> None:
        for position, key in zip(chosen, keys, strict=True):
            if key is None or key != key:  # no usable value (None, or NaN from a mapping)
                continue
            text[position] = key
            target = key if clusters is None else clusters.get(key)
            node[position] = None if target is None else prefix + target

    def of_type(name: str) -> np.ndarray:
        return np.flatnonzero(types == name)

    def keyed(chosen: np.ndarray, function) -> list:  # once per distinct value (the values are strings here)
        known = {v: function(v) for v in set(values[chosen].tolist())}
        return [known[v] for v in values[chosen].tolist()]

    phones = of_type("phone")
    put(phones, keyed(phones, lambda v: phone_key(v, settings)), "phone:")
    accounts = of_type("bank_account")
    put(accounts, keyed(accounts, account_key), "bank_account:")
    addresses = of_type("address")
    units, value_key = _address_units(records["value"].iloc[addresses])
    clusters, stats["addresses"] = fuzzy_clusters(
        units, settings.address_threshold, settings.max_block,
        lambda a, b, _: same_tokens(a, b, settings.address_word_threshold))
    put(addresses, [value_key.get(v) for v in values[addresses]], "address:", clusters)
    names = of_type("name")
    units, value_key = _name_units(records["value"].iloc[names])
    clusters, stats["names"] = fuzzy_clusters(units, settings.name_threshold, settings.max_block, same_tokens)
    put(names, [value_key.get(v) for v in values[names]], "name:", clusters)
    return pd.Series(node, index=records.index, dtype="object"), pd.Series(text, index=records.index,
                                                                          dtype="object"), stats


def _edges(inputs: LinkInputs, settings: LinkSettings, shared_only: bool) -> tuple[dict, dict, dict]:
    """The graph's content as plain dicts: (edges, customer classes, stats).

    ``edges``: (entity, identifier) -> roles (role -> value, compared text, count, amount, dates, position),
    in the order the records meet them. ``shared_only`` keeps only the identifiers two or more entities
    meet at: the others make no link, and (most identifiers being one customer's own) skipping them spares
    most of the small objects a full graph is made of."""
    customers = inputs.customers
    # a customer listed twice keeps its last row's class (as networkx's add_nodes_from did)
    classes = {f"customer:{c}": k for c, k in zip(customers["customer_id"].tolist(),
                                                  customers["customer_class"].tolist(), strict=True)}
    drawers = inputs.drawers
    with_account = _each_distinct(drawers["drawer_account"], account_key).notna() if len(drawers) else \
        pd.Series(dtype=bool)
    records = _records(inputs, ~with_account)
    if records.empty:
        return {}, classes, {}
    node, text, stats = _identifier_nodes(records, settings)
    records = records.assign(node=node, text=text).dropna(subset=["node"])
    stats["records"] = len(records)
    if shared_only:
        pairs = records[["node", "entity"]].drop_duplicates()
        shared = pairs["node"][pairs["node"].duplicated()].unique()
        records = records[records["node"].isin(shared)]
    columns = ("entity", "node", "role", "value", "text", "count", "amount", "first_date", "last_date", "lat", "lon")
    edges: dict[tuple[str, str], dict] = {}
    for entity, ident, role, value, compared, count, amount, first, last, lat, lon in zip(
            *(records[c].tolist() for c in columns), strict=True):
        roles = edges.get((entity, ident))
        if roles is None:
            roles = edges[(entity, ident)] = {}
        found = roles.get(role)
        if found is None:
            roles[role] = {"value": value, "text": compared, "count": count,
                           "amount": None if amount != amount else amount, "first_date": first,
                           "last_date": last, "lat": lat, "lon": lon}
        else:  # the same role reached twice (one address typed two ways): add up
            found["count"] += count
            if amount == amount:  # not NaN (the column is float)
                found["amount"] = (found["amount"] or 0.0) + amount
            for key, pick, new in (("first_date", min, first), ("last_date", max, last)):
                dates = [d for d in (found[key], new) if not pd.isna(d)]
                found[key] = pick(dates) if dates else pd.NaT
    return edges, classes, stats


def _each_distinct(values: pd.Series, function) -> pd.Series:
    """``values.map(function)`` calling ``function`` once per distinct value (accounts recur)."""
    distinct = {v: function(v) for v in set(values.dropna().tolist())}
    return pd.Series([distinct[v] if v in distinct else function(v) for v in values.tolist()],
                     index=values.index, dtype="object")


def build_graph(inputs: LinkInputs, settings: LinkSettings = LinkSettings()) -> nx.Graph:
    """One networkx graph: entity nodes, identifier nodes, and an edge per (entity, identifier) with the
    roles the entity plays there (``roles``: role -> value, compared text, count, amount, dates).
    (``compute_links`` projects the same content without building the graph.)"""
    graph = nx.Graph()
    customers = inputs.customers
    graph.add_nodes_from((f"customer:{c}", {"type": "customer", "customer_class": k, "lat": lat, "lon": lon, "city": city})
                         for c, k, lat, lon, city in zip(*(customers[n].tolist() for n in (
                             "customer_id", "customer_class", "lat", "lon", "city")), strict=True))
    graph.add_nodes_from((entity, {"type": entity.split(":", 1)[0]}) for entity in inputs.staff["entity"].tolist())
    edges, _, stats = _edges(inputs, settings, shared_only=False)
    if not edges and not stats:
        graph.graph["stats"] = {}
        return graph
    # nodes and edges go in in the order the records meet them
    new_nodes: dict[str, dict] = {}
    for pair in edges:
        for name in pair:
            if name not in new_nodes and name not in graph:
                new_nodes[name] = {"type": name.split(":", 1)[0]}
    graph.add_nodes_from(new_nodes.items())
    graph.add_edges_from((entity, ident, {"roles": roles}) for (entity, ident), roles in edges.items())
    graph.graph["stats"] = stats
    return graph


# ------------------------------------------------------------------------------------------- projection
def _similarity(first: dict, second: dict, node_type: str) -> float:
    if node_type in ("phone", "bank_account") or first["text"] == second["text"]:
        return 1.0
    return round(fuzz.token_sort_ratio(first["text"].split("|")[-1], second["text"].split("|")[-1]) / 100.0, 4)


ACTIVITY_ROLES = ("delivered_to", "received_by", "drawer_account", "drawer_name")


def _evidence(node: str, a_role: str, a: dict, b_role: str, b: dict) -> dict:
    out = {"identifier": node, "source_role": a_role, "source_value": a["value"], "target_role": b_role,
           "target_value": b["value"]}
    for prefix, role, info in (("source", a_role, a), ("target", b_role, b)):
        if role not in ACTIVITY_ROLES:
            continue
        out[f"{prefix}_count"] = info["count"]
        if info.get("amount") is not None:
            out[f"{prefix}_amount"] = info["amount"]
        for key in ("first_date", "last_date"):
            if not pd.isna(info.get(key)):
                out[f"{prefix}_{key}"] = pd.Timestamp(info[key]).strftime("%Y-%m-%d")
    return out


OWN_ROLES = {"address": ("address",), "name": ("owner_name", "name", "shop_name"), "bank_account": ("bank_account",),
             "phone": ("phone",)}


def _pair_kinds(node_type: str, a: str, ra: dict, b: str, rb: dict):
    """(kind, source, target, source role, target role) for two entities meeting at one identifier."""
    a_customer, b_customer = a.startswith("customer:"), b.startswith("customer:")
    a_own = any(r in ra for r in OWN_ROLES[node_type])
    b_own = any(r in rb for r in OWN_ROLES[node_type])
    if node_type == "phone" and "phone" in ra and "phone" in rb:
        yield "shared_phone", a, b, "phone", "phone"
    if node_type == "bank_account":
        if "bank_account" in ra and "bank_account" in rb:
            yield "shared_bank_account", a, b, "bank_account", "bank_account"
        for x, rx, y, _, y_own in ((a, ra, b, rb, b_own), (b, rb, a, ra, a_own)):
            if "drawer_account" in rx and x.startswith("customer:") and "bank_account" not in rx and y_own:
                yield "cheque_drawer", x, y, "drawer_account", "bank_account"
        if "drawer_account" in ra and "drawer_account" in rb and not a_own and not b_own:
            yield "cheque_drawer", a, b, "drawer_account", "drawer_account"
    if node_type == "address":
        if "address" in ra and "address" in rb:
            yield "shared_address", a, b, "address", "address"
        for x, rx, y, ry in ((a, ra, b, rb), (b, rb, a, ra)):
            if "delivered_to" in rx and "address" not in rx and "address" in ry:
                yield "delivery_point", x, y, "delivered_to", "address"
        if "delivered_to" in ra and "delivered_to" in rb and not a_own and not b_own:
            yield "delivery_point", a, b, "delivered_to", "delivered_to"
    if node_type == "name":
        people = ("owner_name", "name")
        a_person = next((r for r in people if r in ra), None)
        b_person = next((r for r in people if r in rb), None)
        if a_person and b_person:
            kind = "shared_owner_name" if a_customer and b_customer else "shared_name"
            yield kind, a, b, a_person, b_person
        for x, rx, y, ry in ((a, ra, b, rb), (b, rb, a, ra)):
            y_person = next((r for r in people if r in ry), None)
            if "received_by" in rx and y_person and not any(r in rx for r in people):
                yield "received_by", x, y, "received_by", y_person
            y_named = next((r for r in (*people, "shop_name") if r in ry), None)
            if "drawer_name" in rx and y_named and not any(r in rx for r in (*people, "shop_name")):
                yield "cheque_drawer", x, y, "drawer_name", y_named


def _pair_masks(node_type: str, roles: dict) -> tuple[int, int]:
    """What an entity's roles at an identifier can pair with, as two bit masks: ``_pair_kinds`` yields
    nothing for two entities ``a`` and ``b`` unless ``gives(a) & takes(b)`` or ``gives(b) & takes(a)`` (a
    necessary condition, checked before the pair is looked at in full)."""
    if node_type == "name":
        person = "owner_name" in roles or "name" in roles
        named = person or "shop_name" in roles
        # bit 1: two people; bit 2: a receiver and a person; bit 4: a cheque drawer and a named entity
        gives = (1 if person else 0) | (2 if "received_by" in roles else 0) | (4 if "drawer_name" in roles else 0)
        takes = (1 | 2 if person else 0) | (4 if named else 0)
        return gives, takes
    if node_type == "phone":
        relevant = "phone" in roles
    elif node_type == "bank_account":
        relevant = "bank_account" in roles or "drawer_account" in roles
    elif node_type == "address":
        relevant = "address" in roles or "delivered_to" in roles
    else:
        relevant = True
    return (1, 1) if relevant else (0, 0)


def _location_links(inputs: LinkInputs, settings: LinkSettings) -> list[dict]:
    """Goods delivered away from the customer's own position and at another customer's."""
    customers = inputs.customers.dropna(subset=["lat", "lon"])
    deliveries = inputs.deliveries.dropna(subset=["lat", "lon"]) if len(inputs.deliveries) else inputs.deliveries
    if customers.empty or deliveries.empty:
        return []
    own = deliveries.merge(customers[["customer_id", "lat", "lon"]], on="customer_id", how="left",
                           suffixes=("", "_own"))
    away = haversine_m(own["lat"], own["lon"], own["lat_own"], own["lon_own"])
    own = own.assign(away_m=away)
    elsewhere = own[~(own["away_m"] <= settings.away_m)]  # far, or the customer has no position
    if elsewhere.empty:
        return []
    tree = BallTree(np.radians(customers[["lat", "lon"]].to_numpy(dtype=float)), metric="haversine")
    hits, distances = tree.query_radius(np.radians(elsewhere[["lat", "lon"]].to_numpy(dtype=float)),
                                        r=settings.same_place_m / EARTH_RADIUS_M, return_distance=True,
                                        sort_results=True)
    ids = customers["customer_id"].to_numpy()
    links = []
    for row, found, dist in zip(elsewhere.itertuples(index=False), hits, distances, strict=True):
        for index, d in zip(found, dist, strict=True):
            if ids[index] == row.customer_id:
                continue
            links.append({
                "source": f"customer:{row.customer_id}", "target": f"customer:{ids[index]}", "kind": "delivery_point",
                "similarity": round(1.0 - 0.5 * d * EARTH_RADIUS_M / max(settings.same_place_m, 1e-9), 4),
                "evidence": {"delivery_address": row.delivery_address, "delivered_lat": row.lat,
                             "delivered_lon": row.lon, "metres_from_target": round(d * EARTH_RADIUS_M, 1),
                             "metres_from_own_position": None if pd.isna(row.away_m) else round(row.away_m, 1),
                             "shipments": row.shipments,
                             "first_date": None if pd.isna(row.first_date) else f"{row.first_date:%Y-%m-%d}",
                             "last_date": None if pd.isna(row.last_date) else f"{row.last_date:%Y-%m-%d}"},
            })
    return links


def _far_apart(first: dict, second: dict, metres: float) -> bool:
    positions = [first.get("lat"), first.get("lon"), second.get("lat"), second.get("lon")]
    if any(p is None or pd.isna(p) for p in positions):
        return False
    return float(haversine_m(*positions)) > metres


def project_links(graph: nx.Graph, inputs: LinkInputs, settings: LinkSettings = LinkSettings()) -> pd.DataFrame:
    """The ``entity_links`` table: one row per (source, target, kind), see the module docstring."""
    identifiers = {}
    for node, attributes in graph.nodes(data=True):
        node_type = attributes.get("type")
        if node_type in ENTITY_TYPES or node_type is None:
            continue
        identifiers[node] = [(n, edge["roles"]) for n, edge in graph.adj[node].items()]
    classes = {n: a["customer_class"] for n, a in graph.nodes(data=True) if "customer_class" in a}
    return _project(identifiers, classes, dict(graph.graph.get("stats", {})), inputs, settings)


def _by_identifier(edges: dict) -> dict[str, list]:
    """identifier -> [(entity, roles)], identifiers in the order the edges meet them."""
    identifiers: dict[str, list] = {}
    for (entity, ident), roles in edges.items():
        identifiers.setdefault(ident, []).append((entity, roles))
    return identifiers


def _project(identifiers: dict[str, list], classes: dict, stats: dict, inputs: LinkInputs,
             settings: LinkSettings) -> pd.DataFrame:
    """Project identifier -> [(entity, roles)] (identifiers in graph order) on the entities."""
    rows = []
    placeholders = 0
    chains: list[list[str]] = []
    for node, neighbours in identifiers.items():
        if len(neighbours) < 2:
            continue
        node_type = node.split(":", 1)[0]
        members = sorted(neighbours, key=lambda member: member[0])
        if node_type == "name":
            branches = [n for n, roles in members if "owner_name" in roles
                        and str(classes.get(n, "")).casefold() == "chain"]
            if len(branches) >= 2:
                chains.append(branches)
        if len(members) > settings.max_shared:
            placeholders += 1
            continue
        offered = [(n, roles, *_pair_masks(node_type, roles)) for n, roles in members]
        for (a, ra, a_gives, a_takes), (b, rb, b_gives, b_takes) in combinations(offered, 2):
            if not (a_gives & b_takes or b_gives & a_takes):
                continue  # no kind of link is possible between these two roles (most pairs at a common name)
            for kind, source, target, s_role, t_role in _pair_kinds(node_type, a, ra, b, rb):
                s_info = (ra if source == a else rb)[s_role]
                t_info = (rb if target == b else ra)[t_role]
                similarity = _similarity(s_info, t_info, node_type)
                if node_type == "address" and similarity < 1.0 and _far_apart(s_info, t_info, settings.away_m):
                    continue  # similar words, but the two positions on record are not one place
                rows.append({"source": source, "target": target, "kind": kind, "similarity": similarity,
                             "evidence": _evidence(node, s_role, s_info, t_role, t_info)})
    rows.extend(_location_links(inputs, settings))
    if not rows:
        links = empty_links()
    else:
        links = pd.DataFrame(rows)
        links = links.sort_values(["source", "target", "kind", "similarity"], ascending=[True, True, True, False],
                                  kind="mergesort").drop_duplicates(["source", "target", "kind"], keep="first")
        links = links[links["source"] != links["target"]]
        links["declared_chain"] = False
    links = _mark_declared_chains(links, chains, settings)
    stats["placeholder_identifiers"] = placeholders
    links.attrs["stats"] = stats
    return links.loc[:, list(LINK_COLUMNS)].sort_values(["source", "target", "kind"], ignore_index=True)


def _mark_declared_chains(links: pd.DataFrame, chains: list[list[str]], settings: LinkSettings) -> pd.DataFrame:
    """``declared_chain`` links between branches of one owner (customer_class "chain"; every pair, or a
    star from the first branch when the chain is larger than ``max_shared``); every other link between
    two branches of one chain carries ``declared_chain = True``."""
    if not chains:
        return links
    group_of = {}
    declared = []
    for number, branches in enumerate(chains):
        for branch in branches:
            group_of.setdefault(branch, set()).add(number)
        pairs = combinations(branches, 2) if len(branches) <= settings.max_shared else \
            ((branches[0], other) for other in branches[1:])
        declared.extend({"source": a, "target": b, "kind": "declared_chain", "similarity": 1.0,
                         "evidence": {"customer_class": "chain", "branches": len(branches)}} for a, b in pairs)
    links = pd.concat([links, pd.DataFrame(declared)], ignore_index=True)
    links["declared_chain"] = [bool(group_of.get(s, set()) & group_of.get(t, set()))
                               for s, t in zip(links["source"], links["target"], strict=True)]
    return links


def compute_links(inputs: LinkInputs, settings: LinkSettings = LinkSettings()) -> pd.DataFrame:
    """Build the graph and project it: the ``entity_links`` table (its ``attrs['stats']`` say how)."""
    # hundreds of thousands of small dicts and tuples, no cycles: see audit.collector
    # The table is handed back through its pickle: the hundreds of thousands of small objects the work made
    # are gone when it is read back, so its own few objects fill the space they left instead of staying
    # spread over (and keeping allocated) the memory they took.
    packed = _pickled_links(inputs, settings)
    _address_part.cache_clear()  # its parts were read once per run; kept, they too would stay spread out
    return pickle.loads(packed)


def _pickled_links(inputs: LinkInputs, settings: LinkSettings) -> bytes:
    with paused_cycle_collection():
        edges, classes, stats = _edges(inputs, settings, shared_only=True)
        identifiers = _by_identifier(edges)
        del edges
        links = _project(identifiers, classes, stats, inputs, settings)
    return pickle.dumps(links, protocol=pickle.HIGHEST_PROTOCOL)


# ---------------------------------------------------------------------------------------- reading links
def customer_groups(links: pd.DataFrame, kinds, exclude_declared: bool = True) -> list[list[str]]:
    """Groups of customer ids joined, directly or through each other, by links of ``kinds``."""
    if links.empty:
        return []
    chosen = links[links["kind"].isin(kinds) & links["source"].str.startswith("customer:")
                   & links["target"].str.startswith("customer:")]
    if exclude_declared:
        chosen = chosen[~chosen["declared_chain"].astype(bool)]
    graph = nx.Graph()
    graph.add_edges_from(zip(chosen["source"], chosen["target"], strict=True))
    groups = [sorted(n.split(":", 1)[1] for n in component) for component in nx.connected_components(graph)]
    return sorted(groups)


def parse_entity(ref: str) -> tuple[str, str]:
    entity_type, _, entity_id = ref.partition(":")
    return entity_type, entity_id


# ------------------------------------------------------------------------------------------ from the data
def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series(None, index=frame.index, dtype="object")


def link_inputs(data) -> LinkInputs:
    """Reduce the audit's tables to what the graph needs: master data as it is, shipments and cheques
    summed per customer and delivery point / drawer in the engine (Ibis)."""
    customers = data.frame("customers")
    customers = pd.DataFrame({c: _column(customers, c) for c in CUSTOMER_COLUMNS})
    customers["lat"] = pd.to_numeric(customers["lat"], errors="coerce")
    customers["lon"] = pd.to_numeric(customers["lon"], errors="coerce")
    staff = []
    for table, key in (("salespeople", "salesperson_id"), ("employees", "employee_id")):
        if data.has(table, (key,)):
            frame = data.frame(table)
            prefix = "salesperson:" if table == "salespeople" else "employee:"
            staff.append(pd.DataFrame({"entity": prefix + frame[key].astype(str),
                                       **{c: _column(frame, c) for c in STAFF_COLUMNS[1:]}}))
    staff = pd.concat(staff, ignore_index=True) if staff else pd.DataFrame(columns=list(STAFF_COLUMNS))
    deliveries = pd.DataFrame(columns=list(DELIVERY_COLUMNS))
    if data.has("shipments") and any(data.has("shipments", (c,)) for c in
                                     ("delivery_address", "delivery_lat", "received_by")):
        ships = data.table("shipments")
        reduced = ships.group_by(["customer_id", "delivery_address", "received_by"]).aggregate(
            lat_min=ships.delivery_lat.min(), lat_max=ships.delivery_lat.max(), lon_min=ships.delivery_lon.min(),
            lon_max=ships.delivery_lon.max(), shipments=ships.count(), first_date=ships.ship_date.min(),
            last_date=ships.ship_date.max())
        found = data.execute(reduced)
        if len(found):
            found = found.assign(lat=(found["lat_min"] + found["lat_max"]) / 2,
                                 lon=(found["lon_min"] + found["lon_max"]) / 2,
                                 first_date=pd.to_datetime(found["first_date"]),
                                 last_date=pd.to_datetime(found["last_date"]))
            deliveries = found.loc[:, list(DELIVERY_COLUMNS)].sort_values(
                ["customer_id", "first_date", "delivery_address", "received_by"], ignore_index=True,
                na_position="last")
    drawers = pd.DataFrame(columns=list(DRAWER_COLUMNS))
    if data.has("cheques") and any(data.has("cheques", (c,)) for c in ("drawer_account", "drawer_name")):
        cheques = data.table("cheques")
        reduced = cheques.group_by(["customer_id", "drawer_account", "drawer_name"]).aggregate(
            cheques=cheques.count(), amount=cheques.amount.sum())
        found = data.execute(reduced)
        if len(found):
            drawers = found.loc[:, list(DRAWER_COLUMNS)].sort_values(
                ["customer_id", "drawer_account", "drawer_name"], ignore_index=True, na_position="last")
    return LinkInputs(customers, staff, deliveries, drawers)


LINKS_VIEW = "entity_links"
LINK_INPUTS_VIEW = "entity_link_inputs"


def links_for(data) -> pd.DataFrame:
    """The run's ``entity_links`` (the LNK-01 analysis' output). A component that reads it declares
    ``reads_analyses = ("LNK-01",)``, so its links are the same in a full run and run on its own."""
    view = data.views.get(LINKS_VIEW)
    if view is None:
        raise LookupError("the entity links (LNK-01) were not handed to this component: declare "
                          "reads_analyses = ('LNK-01',) and run it through audit.runner")
    return view


def link_inputs_for(data) -> LinkInputs:
    """The reduced tables LNK-01 built the links from (shared with the components that read the links)."""
    view = data.views.get(LINK_INPUTS_VIEW)
    if view is None:
        raise LookupError("the entity link inputs (LNK-01) were not handed to this component: declare "
                          "reads_analyses = ('LNK-01',) and run it through audit.runner")
    return view
