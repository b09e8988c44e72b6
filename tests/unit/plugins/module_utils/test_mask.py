from __future__ import annotations

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils._mask import MASK, mask, secret_forms


@pytest.mark.parametrize("secret, printed", [
    ("plain-secret", "plain-secret"),
    ("p@ss/w rd+", "p%40ss%2Fw%20rd%2B"),      # quote, nothing kept
    ("p@ss/w rd+", "p%40ss/w%20rd%2B"),        # quote, "/" kept (Ansible's urlencode)
    ("p@ss/w rd+", "p%40ss%2Fw+rd%2B"),        # quote_plus (form encoding)
])
def test_every_printed_form_is_masked(secret, printed):
    out = mask("postgres://owner:%s@db:5432/app failed" % printed, [secret])
    assert out == "postgres://owner:%s@db:5432/app failed" % MASK


def test_a_secret_inside_another_leaves_no_fragment():
    # The longer secret is replaced whole, not cut by its shorter neighbour first.
    out = mask("x pass y password z", ["pass", "password"])
    assert out == "x %s y %s z" % (MASK, MASK)


def test_empty_secrets_change_nothing():
    assert mask("nothing here", ["", None]) == "nothing here"


def test_forms_are_unique_and_longest_first():
    forms = secret_forms("a b")
    assert forms == ["a%20b", "a b", "a+b"]
    assert set(forms) == {"a b", "a%20b", "a+b"}
