"""actorq.Client: the v1 HTTP API over one keep-alive connection per thread."""

import http.client
import json
import select
import socket
import threading
import time
import weakref
from typing import Any, Dict, Iterator, List, Optional
from urllib.parse import quote, urlencode, urlsplit

__all__ = ["Client", "Error", "TERMINAL"]

#: Task statuses after which nothing changes any more.
TERMINAL = frozenset(["succeeded", "failed", "cancelled"])

#: Longest slice of one long-poll (the server's limit for ?wait_ms).
MAX_WAIT_MS = 60000

_USER_AGENT = "actorq-python/0.1.0"
_IDEMPOTENT = frozenset(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
_NO_TIMEOUT = object()


class Error(Exception):
    """An error answer of actorq, or no answer at all.

    ``status`` is the HTTP status (0 when there was no answer), ``code`` the
    machine-readable code of the JSON error body (``invalid``, ``not_found``,
    ``unauthorized``, ``conflict``, ``busy``, …; ``unreachable`` when actorq
    could not be reached, ``timeout`` when it did not answer in time) and
    ``detail`` the human-readable text. ``retry_after`` holds the seconds of
    a ``Retry-After`` header (429 ``busy``, 503), else ``None``.
    """

    def __init__(self, status: int, code: str, detail: str,
                 retry_after: Optional[float] = None) -> None:
        super().__init__(status, code, detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after = retry_after

    def __str__(self) -> str:
        if self.status:
            return "%d %s: %s" % (self.status, self.code, self.detail)
        return "%s: %s" % (self.code, self.detail)

    def __repr__(self) -> str:
        return "actorq.Error(status=%r, code=%r, detail=%r)" % (
            self.status, self.code, self.detail)


def _wants_read(sock: socket.socket) -> bool:
    """True when an idle keep-alive socket is readable: closed by the server
    (EOF) or holding bytes nobody asked for. Either way it must not be reused."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)
    except (OSError, ValueError):
        return True


class Client:
    """A client of one actorq server.

    ``url`` is the server's base address (``http://host:port``, optionally
    with a path prefix when behind a proxy; ``https://`` works too),
    ``token`` the ``http.auth-token`` (sent as ``Authorization: Bearer``),
    ``timeout`` the seconds to wait for connecting and for each answer (long
    polls and batches get their own allowance on top).

    Each thread gets its own keep-alive connection, so one client may be
    shared by threads. A connection the server dropped while idle is
    replaced once, transparently, for requests that are safe to repeat
    (GET, DELETE, submissions with an idempotency key) or when nothing of
    the request had been sent.
    """

    def __init__(self, url: str = "http://127.0.0.1:8080", token: Optional[str] = None,
                 timeout: float = 30) -> None:
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme not in ("http", "https"):
            raise ValueError("actorq URL must be http:// or https://, not %r" % (url,))
        if not parts.hostname:
            raise ValueError("actorq URL has no host: %r" % (url,))
        self.url = url
        self.token = token
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._local = threading.local()
        self._all = weakref.WeakSet()  # every thread's connection, for close()
        self._all_lock = threading.Lock()

    # ---------------------------------------------------------------- tasks

    def submit(self, kind: str, input: Any = None, *, pool: Optional[str] = None,
               max_retries: Optional[int] = None, backoff_ms: Optional[int] = None,
               timeout_ms: Optional[int] = None, priority: Optional[int] = None,
               idempotency_key: Optional[str] = None,
               run_at: Any = None,
               countdown_ms: Optional[int] = None,
               after: Optional[List[str]] = None, after_policy: Optional[str] = None,
               pass_results: Optional[bool] = None) -> Dict[str, Any]:
        """Submit a task (``POST /v1/tasks``) and return it (status ``queued``).

        Options left ``None`` take the kind's, the pool's or the server's
        defaults. ``priority`` (0…9, default 5): the pool starts the highest
        waiting priority first. With ``idempotency_key``, submitting the same key again
        returns the first task instead of creating another one, so a
        submission can be retried safely. A delayed task: ``run_at`` (an
        aware ``datetime`` or an RFC 3339 string with ``Z`` or an offset) or
        ``countdown_ms`` (ms after creation, at most 366 days); it is
        ``scheduled`` until then.
        submission can be retried safely. Chains: with ``after`` (task ids) the
        task is ``waiting`` until they all ended; ``after_policy``
        ``"succeeded"`` (default: cancelled if one did not succeed) or
        ``"ended"``; ``pass_results=True`` adds their ``{id, status, result}``
        to its input (an object) under ``"_after"``.
        """
        body = self._options(pool=pool, max_retries=max_retries,
                             backoff_ms=backoff_ms, timeout_ms=timeout_ms,
                             priority=priority)
        if run_at is not None:
            if hasattr(run_at, "isoformat"):
                if run_at.tzinfo is None:
                    raise ValueError("run_at must be an aware datetime (with tzinfo)")
                run_at = run_at.isoformat()
            body["run_at"] = run_at
        if countdown_ms is not None:
            body["countdown_ms"] = countdown_ms
        body["kind"] = kind
        if input is not None:
            body["input"] = input
        if after is not None:
            body["after"] = list(after)
        if after_policy is not None:
            body["after_policy"] = after_policy
        if pass_results is not None:
            body["pass_results"] = pass_results
        headers = {}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return self._request("POST", "/v1/tasks", body, headers=headers,
                             retry_safe=idempotency_key is not None)

    def get(self, id: str) -> Dict[str, Any]:
        """The task ``id`` as it is now (``GET /v1/tasks/{id}``)."""
        return self._request("GET", "/v1/tasks/" + quote(str(id), safe=""))

    def wait(self, id: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Wait until task ``id`` ends or ``timeout`` seconds pass; return it.

        Long-polls ``GET /v1/tasks/{id}?wait_ms=…`` in slices of at most 60 s,
        so no request is held longer than the server allows. ``timeout=None``
        waits as long as it takes. After a timeout the task is returned as it
        is (check ``task["status"] in actorq.TERMINAL``).
        """
        path = "/v1/tasks/" + quote(str(id), safe="")
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            if deadline is None:
                wait_ms = MAX_WAIT_MS
            else:
                wait_ms = int(max(0.0, deadline - time.monotonic()) * 1000)
                wait_ms = min(MAX_WAIT_MS, wait_ms)
            task = self._request("GET", "%s?wait_ms=%d" % (path, wait_ms),
                                 timeout=self.timeout + wait_ms / 1000.0)
            if task.get("status") in TERMINAL:
                return task
            if deadline is not None and time.monotonic() >= deadline:
                return task

    def cancel(self, id: str) -> Dict[str, Any]:
        """Cancel task ``id`` (``DELETE /v1/tasks/{id}``) and return it.

        A queued or retrying task is ``cancelled`` at once; a running one gets
        ``cancel_requested`` and ends ``cancelled`` soon (``wait`` for it). An
        ended task raises ``Error`` 409 ``conflict``.
        """
        return self._request("DELETE", "/v1/tasks/" + quote(str(id), safe=""))

    def batch(self, kind: str, items: List[Any], *, pool: Optional[str] = None,
              max_retries: Optional[int] = None, backoff_ms: Optional[int] = None,
              timeout_ms: Optional[int] = None,
              priority: Optional[int] = None) -> Dict[str, Any]:
        """Run ``items`` (one input each) as ``kind`` and wait for all of them.

        Returns ``{"results": [...], "errors": [...], "succeeded", "failed"}``
        in input order (``POST /v1/batches``); a failing item has ``None`` as
        its result and its error text in ``errors``. The answer may take as
        long as the work does, so no read timeout applies.
        """
        body = self._options(pool=pool, max_retries=max_retries,
                             backoff_ms=backoff_ms, timeout_ms=timeout_ms,
                             priority=priority)
        body["kind"] = kind
        body["items"] = list(items)
        return self._request("POST", "/v1/batches", body, timeout=None)

    def list(self, status: Optional[str] = None, kind: Optional[str] = None,
             limit: int = 100) -> Iterator[Dict[str, Any]]:
        """Iterate over every task (newest first), optionally only those with
        ``status`` and/or ``kind``; ``limit`` is the page size (1…1000). Pages
        are fetched lazily, following ``next``."""
        query = {"limit": str(limit)}
        if status is not None:
            query["status"] = status
        if kind is not None:
            query["kind"] = kind
        while True:
            page = self._request("GET", "/v1/tasks?" + urlencode(query))
            for task in page.get("tasks", []):
                yield task
            cursor = page.get("next")
            if not cursor:
                return
            query["cursor"] = cursor

    # ---------------------------------------------------------------- server

    def kinds(self) -> List[Dict[str, Any]]:
        """The kinds this server runs (``GET /v1/kinds``)."""
        return self._request("GET", "/v1/kinds")

    def pools(self) -> List[Dict[str, Any]]:
        """The pools and their load (``GET /v1/pools``)."""
        return self._request("GET", "/v1/pools")

    def health(self) -> Dict[str, Any]:
        """``GET /healthz``: ``{"status": "ok"|"degraded"}``, or the 503 answer
        ``{"status": "store_unavailable", "detail"}`` (returned, not raised,
        since it is a health report). Other errors raise ``Error``."""
        return self._request("GET", "/healthz", health=True)

    # ---------------------------------------------------------------- plumbing

    def close(self) -> None:
        """Close the connections of every thread (call it when no request is
        in flight); a later request opens a new one."""
        with self._all_lock:
            conns = list(self._all)
            self._all.clear()
        self._local.conn = None
        for conn in conns:
            try:
                conn.close()
            except Exception:
                pass

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "actorq.Client(%r)" % (self.url,)

    @staticmethod
    def _options(**options: Any) -> Dict[str, Any]:
        return {k: v for k, v in options.items() if v is not None}

    def _address(self) -> str:
        return "%s://%s:%d" % ("https" if self._https else "http", self._host, self._port)

    def _connection(self) -> "tuple":
        """This thread's connection and whether it has served a request before."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None and _wants_read(conn.sock):
            conn.close()  # dropped by the server while idle: start afresh
            conn = None
        if conn is not None and conn.sock is None:
            conn = None
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
            with self._all_lock:
                self._all.add(conn)
            return conn, False
        return conn, True

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def _request(self, method: str, path: str, body: Any = None,
                 headers: Optional[Dict[str, str]] = None, timeout: Any = _NO_TIMEOUT,
                 retry_safe: Optional[bool] = None, health: bool = False,
                 on_connection: Any = None) -> Any:
        # ``body`` may be bytes already encoded as JSON (the worker builds
        # batches from pieces it encoded before). ``on_connection(conn)`` is
        # called with the connected connection before each try; it returns
        # False to give up (the worker's stop() aborts its long-polls so).
        if timeout is _NO_TIMEOUT:
            timeout = self.timeout
        if retry_safe is None:
            retry_safe = method in _IDEMPOTENT
        all_headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if self.token:
            all_headers["Authorization"] = "Bearer " + self.token
        payload = None
        if isinstance(body, bytes):
            payload = body
            all_headers["Content-Type"] = "application/json"
        elif body is not None:
            payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        if headers:
            all_headers.update(headers)
        target = self._prefix + path

        for attempt in (1, 2):
            conn, reused = self._connection()
            sent = False
            try:
                if conn.sock is None:
                    conn.connect()
                if on_connection is not None and not on_connection(conn):
                    self._drop()
                    raise Error(0, "aborted", "%s %s was not sent: stopping" % (method, path))
                conn.sock.settimeout(timeout)
                conn.request(method, target, body=payload, headers=all_headers)
                sent = True
                response = conn.getresponse()
                data = response.read()
            except socket.timeout:
                self._drop()
                if not sent and not reused:
                    raise Error(0, "unreachable", "cannot connect to actorq at %s: timed out"
                                % self._address()) from None
                raise Error(0, "timeout", "actorq at %s did not answer %s %s within %s s"
                            % (self._address(), method, path, timeout)) from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                if attempt == 1 and reused and (retry_safe or not sent):
                    continue  # a keep-alive connection the server had closed: once more
                raise Error(0, "unreachable", "cannot reach actorq at %s: %s"
                            % (self._address(), exc or type(exc).__name__)) from None
            if response.will_close:
                self._drop()
            return self._answer(response, data, health)
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, response: http.client.HTTPResponse, data: bytes, health: bool) -> Any:
        status = response.status
        try:
            decoded = json.loads(data.decode("utf-8")) if data else None
        except ValueError:
            decoded = None
            if 200 <= status < 300:
                raise Error(status, "bad_answer", "actorq answered something that is not JSON: %r"
                            % data[:200]) from None
        if 200 <= status < 300:
            return decoded
        if health and isinstance(decoded, dict) and "status" in decoded and "code" not in decoded:
            return decoded
        retry_after = None
        header = response.getheader("Retry-After")
        if header:
            try:
                retry_after = float(header)
            except ValueError:
                pass
        if isinstance(decoded, dict):
            code = decoded.get("code") or decoded.get("status") or "http_%d" % status
            detail = decoded.get("detail") or response.reason
        else:
            code = "http_%d" % status
            detail = data[:500].decode("utf-8", "replace") or response.reason
        raise Error(status, str(code), str(detail), retry_after)
