"""The Arrow membership test gives pandas' answer on the ledger's id columns."""

import numpy as np
import pandas as pd

from audit.membership import isin


def test_isin_matches_pandas_on_arrow_text_ids():
    ids = pd.Series(["C001", "C002", None, "C004", "C001"], dtype="str")
    for values in ({"C001", "C004"}, ["C002", 7], pd.Series(["C004", None], dtype="str"), pd.Index(["C002"]), set()):
        expected = ids.isin(list(values)) & ids.notna()
        got = isin(ids, values)
        assert got.index.equals(ids.index)
        assert got.tolist() == expected.tolist()


def test_isin_falls_back_for_other_dtypes():
    numbers = pd.Series([1, 2, 3], index=[10, 11, 12])
    assert isin(numbers, {2, 3}).tolist() == [False, True, True]
    assert isin(pd.Series(np.array(["a", "b"], dtype=object)), {"b"}).tolist() == [False, True]


def test_among_passes_long_lists_as_a_table_with_the_same_answer():
    import ibis

    from audit.membership import MAX_LITERAL_VALUES, among

    ids = [f"C{i:05d}" for i in range(3 * MAX_LITERAL_VALUES)]
    frame = pd.DataFrame({"customer_id": ids + [None], "amount": np.arange(len(ids) + 1, dtype=float)})
    con = ibis.duckdb.connect()
    table = con.create_table("invoices", frame)
    # a blank in the list matches nothing and makes NOT IN empty, as literal SQL does
    for values in (ids[:3], ids[::2], ids[::2] + [None], []):
        condition, literal = among(table.customer_id, values), table.customer_id.isin(values)
        assert ("memtable" in ibis.to_sql(table.filter(condition))) == (len(values) > MAX_LITERAL_VALUES)
        for got, expected in ((condition, literal), (~condition, ~literal)):
            assert con.execute(table.filter(got).order_by("amount"))["customer_id"].tolist() == \
                con.execute(table.filter(expected).order_by("amount"))["customer_id"].tolist()
    assert len(con.execute(table.filter(among(table.customer_id, ids[::2])))) == len(ids[::2])
