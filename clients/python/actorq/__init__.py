"""Python client for actorq, a task daemon with an HTTP JSON API.

    import actorq
    client = actorq.Client("http://127.0.0.1:8080")
    task = client.wait(client.submit("double", {"value": 21})["id"], timeout=30)

    worker = actorq.Worker("http://127.0.0.1:8080", concurrency=8)

    @worker.kind("resize")          # a kind declared with runner = "lease"
    def resize(input, task):
        task.progress(0.5, "halfway")
        return {"ok": True}

    worker.run()                    # until SIGTERM/SIGINT or worker.stop()

Stdlib only, Python >= 3.9.
"""

from ._client import TERMINAL, Client, Error
from ._time import parse_time
from ._worker import Cancelled, Permanent, Task, Worker

__version__ = "0.1.0"
__all__ = ["Client", "Error", "TERMINAL", "parse_time", "Worker", "Task", "Permanent",
           "Cancelled", "__version__"]
