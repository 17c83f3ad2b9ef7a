import pytest

from tests.presets.fake_hub import offline  # noqa: F401 (the fixture)


@pytest.fixture(autouse=True)
def _offline(offline):  # noqa: F811
    """Every preset test runs offline (see tests/presets/fake_hub.py)."""
