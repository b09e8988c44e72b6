from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.boosterbeacon.infra.plugins.filter.mask import FilterModule


def test_filter_masks_a_url_encoded_password_in_command_output():
    mask_secrets = FilterModule().filters()["mask_secrets"]
    output = "connecting to postgres://owner:s%2Fcr%40t@127.0.0.1:5432/app\nmigrated"
    assert mask_secrets(output, ["s/cr@t"]) == "connecting to postgres://owner:********@127.0.0.1:5432/app\nmigrated"


def test_filter_refuses_a_single_string():
    with pytest.raises(AnsibleFilterError, match="list of secrets"):
        FilterModule().filters()["mask_secrets"]("text", "secret")


def test_secret_forms_of_a_dict_and_a_list():
    from ansible_collections.boosterbeacon.infra.plugins.filter.mask import secret_forms
    assert secret_forms({"a": "p@ss/w rd", "b": ""}) == sorted(["p@ss/w rd", "p%40ss%2Fw%20rd", "p%40ss/w%20rd", "p%40ss%2Fw+rd"])
    assert secret_forms(["x"]) == ["x"]
    with pytest.raises(AnsibleFilterError):
        secret_forms("single")
