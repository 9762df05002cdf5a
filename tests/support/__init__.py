"""Helpers shared by the tests (importable as ``support``)."""

# Areas created by the session fixture (tests/conftest.py).
COMMUNE_X, COMMUNE_Y = "01-00004", "01-00008"          # two communes of Hà Nội
VILLAGE_A, VILLAGE_B = "01-00004-a", "01-00004-b"      # both in commune X
VILLAGE_C = "01-00008-c"                               # in commune Y
VILLAGE_D = "79-25747-d"                               # in Hồ Chí Minh City
PROVINCE_HN, PROVINCE_HCM = "01", "79"


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def problem(response, status: int, code: str | None = None) -> dict:
    """Assert a problem+json answer and return its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/problem+json", response.mimetype
    body = response.get_json()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body
