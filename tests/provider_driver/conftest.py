import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'provider_driver'))

from pharos import store as pharos_store  # noqa: E402


@pytest.fixture
def store(tmp_path):
    s = pharos_store.Store('sqlite:///%s' % (tmp_path / 'pharos.sqlite'))
    yield s
    s.dispose()


@pytest.fixture
def net():
    """Private namespaces: a bridge (stands in for pharos-net) and members."""
    import netns_fixture
    n = netns_fixture.TestNet().up()
    try:
        yield n
    finally:
        n.down()
