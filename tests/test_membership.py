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
