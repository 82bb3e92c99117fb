"""The Great Expectations wrapper the checks rely on really fails on bad frames."""

import pandas as pd

from flows.expectations import expectations, validate


def test_duplicates_and_nulls_fail_with_the_offending_values():
    gx = expectations()
    frame = pd.DataFrame({"key": ["a", "b", "b"], "hub": ["x", None, "z"]})
    verdict = validate(
        frame,
        "t",
        [
            gx.ExpectColumnValuesToBeUnique(column="key"),
            gx.ExpectColumnValuesToNotBeNull(column="hub"),
        ],
    )
    assert not verdict.success
    assert len(verdict.failures) == 2
    assert verdict.unexpected["expect_column_values_to_be_unique:key"] == ["b", "b"]


def test_clean_frame_and_empty_frame_pass():
    gx = expectations()
    suite = [gx.ExpectColumnValuesToBeUnique(column="key")]
    assert validate(pd.DataFrame({"key": ["a", "b"]}), "t", suite).success
    assert validate(pd.DataFrame({"key": []}), "t", suite).success
