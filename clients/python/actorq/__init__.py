"""Python client for actorq, a task daemon with an HTTP JSON API.

    import actorq
    client = actorq.Client("http://127.0.0.1:8080")
    task = client.wait(client.submit("double", {"value": 21})["id"], timeout=30)

Stdlib only, Python >= 3.9.
"""

from ._client import TERMINAL, Client, Error
from ._time import parse_time

__version__ = "0.1.0"
__all__ = ["Client", "Error", "TERMINAL", "parse_time", "__version__"]
