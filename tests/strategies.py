"""Hypothesis strategies the fuzz tests share: the inputs that broke the product in
issue 16 (NUL, lone surrogates, integers past a bigint, times out of any range),
mixed into ordinary text and numbers."""

from hypothesis import strategies as st

# Text that includes control characters and lone surrogates (st.text() leaves out
# category Cs by default).
RAW_TEXT = st.text(alphabet=st.characters(codec=None, categories=["Cc", "Cs", "L", "N", "P"]),
                   max_size=20)
NASTY_TEXT = st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", "\ud800\x00", "²",
                              "٣", "１２", "ü" * 300])
HUGE_INTEGERS = st.sampled_from([2**63, -(2**63) - 1, 10**20, 99999999999999999999]) \
    | st.integers(min_value=2**63 - 10, max_value=10**30)
BAD_TIMES = st.sampled_from([
    "0001-01-01T00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59",
    "9999-12-31T23:59:59-12:00", "1999-12-31T23:59", "2200-01-01T00:00", "0000-00-00",
    "9999-99-99T99:99", "2026-02-30"])

# One strategy for a form field or query value (strings).
HOSTILE_STRINGS = NASTY_TEXT | RAW_TEXT | HUGE_INTEGERS.map(str) | BAD_TIMES
# And for a JSON value.
HOSTILE_JSON = NASTY_TEXT | RAW_TEXT | HUGE_INTEGERS | BAD_TIMES


def form_encoded(data):
    """`data` (name -> str) as an application/x-www-form-urlencoded body or query string.
    A lone surrogate goes as the bytes a broken client would send (surrogatepass), which
    Django's test client refuses to encode itself."""
    from urllib.parse import quote

    return "&".join(f"{quote(name)}={quote(value.encode('utf-8', 'surrogatepass'))}"
                    for name, value in data.items())
