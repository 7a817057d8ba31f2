"""Signed tokens: every generated token verifies; any other string of the token alphabet, and
any single-character change of a valid token, does not."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from towngrid.codes import tokens

ALPHABET = string.ascii_uppercase + "234567"


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=24, max_size=24))
def test_random_strings_do_not_verify(text):
    # 2^-40 chance of a false positive per example: never in practice.
    assert not tokens.verify(text)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.integers(0, 23), st.sampled_from(ALPHABET))
def test_any_one_character_change_is_refused(position, replacement):
    token = tokens.new_token()
    changed = token[:position] + replacement + token[position + 1 :]
    assert tokens.verify(changed) == (changed == token)


@hypothesis_settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_garbage_never_raises(text):
    assert tokens.verify(text) in (True, False)


def test_the_key_decides(settings):
    token = tokens.new_token()
    settings.TOWNGRID_CODES_KEY = "another key"
    assert not tokens.verify(token)
    assert tokens.verify(tokens.new_token())
