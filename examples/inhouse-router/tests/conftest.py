from __future__ import annotations

import pytest
from acme_router.fake_director import Director, serve


@pytest.fixture
def director():
    names = ["acme", "globex", "initech"]
    d = Director(dict.fromkeys(names, 100.0), {"acme": 12.5, "globex": 3.0, "initech": 0.5})
    server = serve(d)
    d.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield d
    server.shutdown()
    server.server_close()
