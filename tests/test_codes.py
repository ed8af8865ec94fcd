"""References are read back the way people type them, like access codes."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from app.core.codes import ALPHABET, canonical_code, canonical_reference, new_reference
from tests.conftest import request_body
from tests.factories import file


@pytest.mark.parametrize(
    "typed",
    [
        "DSR-2612-0ZYSHKG2",
        "DSR-2612-OZYSHKG2",  # the letter O for the digit 0
        "dsr-2612-ozyshkg2",  # lower case
        "DSR26120ZYSHKG2",  # no hyphens
        "dsr 2612 ozyshkg2",  # spaces for hyphens
        "ＤＳＲ－２６１２－０ＺＹＳＨＫＧ２",  # full-width, as some keyboards type
        " DSR–2612—0ZYSHKG2 ",  # dashes of other kinds, spaces around
    ],
)
def test_a_reference_is_forgiving_like_a_code(typed: str) -> None:
    assert canonical_reference(typed) == "DSR-2612-0ZYSHKG2"


def test_issued_references_never_hold_letters_people_misread() -> None:
    assert not set("ILOU") & set(ALPHABET)
    for _ in range(50):
        ref = new_reference(date(2026, 12, 8))
        assert canonical_reference(ref.lower().replace("-", "")) == ref


def test_a_code_is_forgiving_too() -> None:
    assert canonical_code("7k3q x9ab m2pd") == "7K3Q-X9AB-M2PD"


def test_the_api_finds_a_request_by_a_loosely_typed_reference(client: TestClient) -> None:
    created = file(client, request_body()).json()
    ref, code = created["reference"], created["access_code"]
    typed = ref.lower().replace("-", "").replace("0", "o").replace("1", "l")
    view = client.get(f"/v1/requests/{typed}", headers={"X-Access-Code": code})
    assert view.status_code == 200 and view.json()["reference"] == ref
