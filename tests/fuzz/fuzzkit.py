"""Shared settings of the property tests in tests/fuzz.

`AGENTDESK_FUZZ_EXAMPLES` sets the examples per property (default 150: the directory runs in well under
a minute); `benchmarks/fuzz_all.py --examples N` runs the same properties with many more. No example
database is written (`database=None`), so runs do not depend on each other.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("AGENTDESK_FUZZ_EXAMPLES", "150"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

#: any JSON value (bounded)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=25,
)

#: text with the characters that break parsers: controls, quotes, separators, CJK, surrogate-free
nasty_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(",;\"'\n\r\t#|-*>:=[]{}\\` \x00\x1b\u202e\u200b\ufeff问答运费")),
        st.characters(blacklist_categories=["Cs"]),
    ),
    max_size=400,
)
