from __future__ import annotations

import re

import pytest

from ansible_collections.boosterbeacon.infra.plugins.filter.redis_cli import redis_cli_quote


def unquote(arg):
    """What redis-cli's sdssplitargs gives back for a double-quoted argument of \\xHH and plain bytes."""
    assert arg[0] == arg[-1] == '"'
    out = bytearray()
    for plain, hexa in re.findall(r'\\x([0-9a-f]{2})|([^\\"])', arg[1:-1]):
        out += bytes([int(plain, 16)]) if plain else hexa.encode()
    return bytes(out)


@pytest.mark.parametrize("value", ['q"uo\'te $HOME `id` ;|&%#@/ sp ace é€', ">plain-Pass_1.2:3", "{{ x }}", "\\"])
def test_round_trip(value):
    quoted = redis_cli_quote(value)
    assert unquote(quoted) == value.encode("utf-8")
    # Nothing the splitter or a shell treats specially is left bare.
    assert not re.search(r'[\s$`;|&\'{}]', quoted[1:-1])
