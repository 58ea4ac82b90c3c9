"""actorq.Worker: serve lease kinds (docs/leases.md) with Python functions.

Threads of one worker (``batch=True``, the default):

- the fetch loop leases up to as many attempts as there are free slots
  (``POST /v1/leases``, long-polling ``wait_ms``) and queues them;
- ``concurrency`` executor threads run the functions; one woken thread wakes
  the next only while attempts are waiting, so a batch of instant tasks is
  run by the threads that happen to be awake, not handed to each thread;
- the settler sends every result finished since its last request in one
  ``POST /v1/leases/complete`` (each result was encoded to JSON by the
  thread that computed it);
- the heartbeat thread renews each held lease once a third of its time to
  ``expires_at`` has passed (leases of one answer are renewed as a group).

With ``batch=False`` every executor thread leases one attempt per request and
settles it with its own ``/complete`` or ``/fail`` call (the classic design;
slower, kept for comparison and for servers behind proxies that dislike
large bodies).
"""

import heapq
import inspect
import json
import logging
import os
import random
import signal
import socket
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple
from urllib.parse import quote

from ._client import Client, Error
from ._time import parse_time

__all__ = ["Worker", "Task", "Permanent", "Cancelled"]

log = logging.getLogger("actorq.worker")

#: Most attempts one lease request or one batch settle may carry (the server's limit).
MAX_BATCH = 1000
#: Longest long-poll the server allows (``wait_ms``).
MAX_WAIT_MS = 60000
#: Seconds of (estimated) work one executor thread takes from the queue at
#: once; kinds whose functions took longer on average go one at a time.
RUN_BUDGET = 0.001

_dumps = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


class Permanent(Exception):
    """Raise it from a task function to fail the attempt for good: the task
    fails now, without the retries it has left (``"retry": false``)."""


class Cancelled(Exception):
    """The lease is no longer this worker's: the task was cancelled
    (``code == "cancelled"``), the lease expired or the attempt's timeout
    passed (``"conflict"``), or the server forgot the lease (``"not_found"``,
    after a restart). Raised by ``task.progress()`` and ``task.heartbeat()``;
    a function may let it propagate: the worker then drops the attempt
    without settling it."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return "%s: %s" % (self.code, self.detail) if self.detail else self.code


class Task:
    """One leased attempt, passed to the function as its second argument.

    ``id`` (``None`` for a batch item), ``kind``, ``input``, ``attempt``
    (1 for the first), ``attempt_id``, ``lease`` (the lease id) and
    ``expires_at`` (a datetime, renewed by heartbeats) describe it;
    ``cancelled`` becomes True once the worker learns that the task was
    cancelled, ``lost`` once the lease expired or was forgotten. Either way
    the result will not be used (check ``task.dropped`` in long loops that
    do not call ``progress``).
    """

    __slots__ = ("id", "kind", "input", "attempt", "attempt_id", "lease", "expires_at",
                 "cancelled", "lost", "_worker", "_lease_json", "_due", "_deadline",
                 "_finished", "_dropped_code", "__weakref__")

    def __init__(self, worker: "Worker", lease: Mapping[str, Any]) -> None:
        task = lease.get("task") or {}
        self._worker = worker
        self.lease = lease["lease"]
        self._lease_json = _dumps(self.lease)
        self.id = task.get("id")
        self.kind = task.get("kind")
        self.input = task.get("input")
        self.attempt = task.get("attempt")
        self.attempt_id = task.get("attempt_id")
        self.expires_at = None  # type: Optional[datetime]
        self.cancelled = False
        self.lost = False
        self._finished = False
        self._dropped_code = None  # type: Optional[str]
        self._due = 0.0
        self._deadline = 0.0

    @property
    def dropped(self) -> bool:
        """True when the result of this attempt will not be settled."""
        return self._dropped_code is not None

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress (``fraction`` 0…1, optional ``message``) with a
        heartbeat; shows in ``GET /v1/tasks/{id}`` as ``"progress"``.

        Raises ``Cancelled`` when the task was cancelled or the lease is
        lost. Connection problems are logged, not raised (the background
        heartbeat tries again)."""
        progress = {"fraction": float(fraction)}  # type: Dict[str, Any]
        if message:
            progress["message"] = str(message)
        self._worker._heartbeat(self, {"progress": progress}, raise_cancelled=True)

    def heartbeat(self) -> None:
        """Renew the lease now (the worker does so by itself in the
        background). Raises ``Cancelled`` like ``progress``."""
        self._worker._heartbeat(self, None, raise_cancelled=True)

    def __repr__(self) -> str:
        return "actorq.Task(id=%r, kind=%r, attempt=%r, lease=%r)" % (
            self.id, self.kind, self.attempt, self.lease)


class _Abort(Exception):
    """A lease request cut short by stop()."""


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return "%s: %s" % (name, text) if text else name


def _default_name() -> str:
    return "%s:%d" % (socket.gethostname(), os.getpid())


class Worker:
    """Runs Python functions for actorq's lease kinds.

        worker = actorq.Worker("http://127.0.0.1:8080", concurrency=8)

        @worker.kind("resize")
        def resize(input, task):
            task.progress(0.5, "halfway")
            return {"ok": True}

        worker.run()   # until SIGTERM / SIGINT or worker.stop()

    ``url`` and ``token`` as for ``actorq.Client``; ``concurrency`` is the
    most attempts run at once (one thread each); ``name`` the worker's name
    in ``GET /v1/workers`` (default ``host:pid``); ``kinds`` an optional
    mapping of kind name to function (same as ``@worker.kind``);
    ``max_lease`` the most attempts per lease request (1…1000, further
    capped by the free slots); ``wait_ms`` the long-poll of each lease
    request; ``batch=False`` leases one attempt per request and settles each
    with its own call; ``timeout`` the seconds each request may take.

    A function is called as ``fn(input, task)`` (or ``fn(input)`` if it
    takes one argument). Its return value (JSON-encodable) completes the
    attempt; ``actorq.Permanent`` fails it for good; any other exception
    fails it with a retry (error text: ``"TypeName: message"``).
    """

    def __init__(self, url: str = "http://127.0.0.1:8080", token: Optional[str] = None,
                 concurrency: int = 1, name: Optional[str] = None,
                 kinds: Optional[Mapping[str, Callable[..., Any]]] = None, *,
                 max_lease: int = MAX_BATCH, wait_ms: int = 30000, batch: bool = True,
                 timeout: float = 30) -> None:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError("concurrency must be an integer >= 1, not %r" % (concurrency,))
        if not isinstance(max_lease, int) or not 1 <= max_lease <= MAX_BATCH:
            raise ValueError("max_lease must be an integer in 1..%d, not %r"
                             % (MAX_BATCH, max_lease))
        if not isinstance(wait_ms, int) or not 0 <= wait_ms <= MAX_WAIT_MS:
            raise ValueError("wait_ms must be an integer in 0..%d, not %r"
                             % (MAX_WAIT_MS, wait_ms))
        name = name if name is not None else _default_name()
        if len(name.encode("utf-8")) > 128:
            raise ValueError("worker name longer than 128 bytes: %r" % (name,))
        self.client = Client(url, token=token, timeout=timeout)
        self.url = url
        self.name = name
        self.concurrency = concurrency
        self.batch = bool(batch)
        self.max_lease = 1 if not self.batch else max_lease
        self.wait_ms = wait_ms
        self._functions = {}  # type: Dict[str, Tuple[Callable[..., Any], bool]]
        self._started = False
        for kind_name, fn in (kinds or {}).items():
            self.kind(kind_name, fn)

        self._lock = threading.Lock()
        self._work_cv = threading.Condition(self._lock)    # executors
        self._slot_cv = threading.Condition(self._lock)    # the fetch loop
        self._settle_cv = threading.Condition(self._lock)  # the settler
        self._beat_cv = threading.Condition(self._lock)    # the heartbeat thread
        self._stop_event = threading.Event()  # wakes backoff waits
        self._done = threading.Event()
        self._stopping = False
        self._fatal = None  # type: Optional[BaseException]
        self._ready = deque()  # type: deque
        self._avg = {}  # type: Dict[str, float]  (kind -> seconds a call took, on average)
        self._free = concurrency
        self._idle = 0
        self._held = {}  # type: Dict[str, Task]
        self._finished = []  # type: List[Tuple[Task, bytes]]
        self._settler_idle = False
        self._beats = []  # type: List[Tuple[float, int, List[Task]]]
        self._beat_seq = 0
        self._polls = {}  # type: Dict[int, Any]  (thread id -> connection in a lease request)
        self._threads = []  # type: List[threading.Thread]
        self._alive = {"fetch": 0, "exec": 0, "settle": 0, "beat": 0}
        self._signals = 0
        #: counters: leased, completed, failed, dropped (read them any time)
        self.stats = {"leased": 0, "completed": 0, "failed": 0, "dropped": 0}

    # ------------------------------------------------------------ registration

    def kind(self, name: str, fn: Optional[Callable[..., Any]] = None) -> Any:
        """Register ``fn`` for the lease kind ``name``; as a decorator:
        ``@worker.kind("resize")``. Returns ``fn``."""
        if not isinstance(name, str) or not name:
            raise ValueError("kind name must be a non-empty string")

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(fn):
                raise TypeError("%r is not callable" % (fn,))
            if self._started:
                raise RuntimeError("register kinds before run()")
            self._functions[name] = (fn, _takes_task(fn))
            return fn

        return register if fn is None else register(fn)

    @property
    def kinds(self) -> List[str]:
        """The kind names this worker serves."""
        return list(self._functions)

    # ------------------------------------------------------------ life cycle

    def run(self) -> None:
        """Serve until ``stop()`` (or SIGTERM/SIGINT when called in the main
        thread): then lease no more, finish and settle the attempts held,
        and return. A second signal interrupts the wait (KeyboardInterrupt;
        unsettled leases then expire and their tasks are retried).

        Raises ``actorq.Error`` when actorq refuses the lease requests for
        good (401 unauthorized, 422 invalid: e.g. not a lease kind)."""
        if not self._functions:
            raise ValueError("no kinds registered: use @worker.kind(name)")
        with self._lock:
            if self._started:
                raise RuntimeError("Worker.run() may be called once")
            self._started = True
        self._kinds_json = _dumps(sorted(self._functions))
        if self.batch:
            self._spawn("fetch", self._fetch_loop)
            self._spawn("settle", self._settle_loop)
            for i in range(self.concurrency):
                self._spawn("exec", self._exec_loop)
        else:
            for i in range(self.concurrency):
                self._spawn("exec", self._poll_loop)
        self._spawn("beat", self._beat_loop)
        for t in self._threads:  # all counted in _alive before any may end
            t.start()

        old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    old[sig] = signal.signal(sig, self._on_signal)
                except (ValueError, OSError):  # pragma: no cover
                    pass
        try:
            while not self._done.wait(3600):
                pass
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
        for t in self._threads:
            t.join()
        self.client.close()  # every thread's keep-alive connection
        if self._fatal is not None:
            raise self._fatal

    def stop(self) -> None:
        """Stop leasing; ``run()`` returns once the attempts held are
        finished and settled. Safe from any thread and before ``run()``."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._work_cv.notify_all()
            self._slot_cv.notify_all()
            self._settle_cv.notify_all()
            self._beat_cv.notify_all()
            if not self._started:
                self._done.set()
            self._cut_polls()
        self._stop_event.set()

    def _cut_polls(self) -> None:
        """Lock held. Once stopping and holding nothing, end the long-polls
        in flight by shutting their sockets.

        Not earlier: actorq cannot tell that a lease request was cut; it
        stays open there until its wait_ms ends and may still be answered,
        into the closed connection, with attempts that come back only when
        their leases expire, each counted as a lost attempt. So while held
        attempts are still finishing, a long-poll goes on and whatever it
        brings is run too; once nothing is held the worker leaves at once.
        An idle worker's long-poll asks for one attempt (see _fetch_loop),
        so that is the most a cut one can take."""
        if not self._stopping or self._held:
            return
        for conn in self._polls.values():
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    @property
    def stopping(self) -> bool:
        return self._stopping

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signals += 1
        if self._signals > 1:
            raise KeyboardInterrupt
        log.info("signal %d: finishing the attempts held, then exiting", signum)
        self.stop()

    def _spawn(self, role: str, target: Callable[[], None]) -> None:
        self._alive[role] += 1
        t = threading.Thread(target=self._thread_main, args=(role, target),
                             name="actorq-%s-%d" % (role, self._alive[role]), daemon=True)
        self._threads.append(t)

    def _thread_main(self, role: str, target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # a bug here must not hang run()
            log.exception("actorq worker %s thread failed", role)
            with self._lock:
                if self._fatal is None:
                    self._fatal = exc
            self.stop()
        finally:
            self.client._drop()  # this thread's keep-alive connection
            with self._lock:
                self._alive[role] -= 1
                self._work_cv.notify_all()
                self._slot_cv.notify_all()
                self._settle_cv.notify_all()
                self._beat_cv.notify_all()
                if not any(self._alive.values()):
                    self._done.set()

    def _fail_fatally(self, exc: Error) -> None:
        log.error("actorq refused the lease request: %s", exc)
        with self._lock:
            if self._fatal is None:
                self._fatal = exc
        self.stop()

    # ------------------------------------------------------------ leasing

    def _lease(self, count: int) -> List[Dict[str, Any]]:
        """One lease request for up to ``count`` attempts; [] after a
        backoff. Raises _Abort once stopping."""
        body = ('{"kinds":%s,"max":%d,"wait_ms":%d,"worker":%s}' % (
            self._kinds_json, count, self.wait_ms, _dumps(self.name))).encode("utf-8")
        me = threading.get_ident()

        def register(conn: Any) -> bool:
            with self._lock:
                if self._stopping:
                    return False
                self._polls[me] = conn
                return True

        try:
            answer = self.client._request("POST", "/v1/leases", body,
                                          timeout=self.client.timeout + self.wait_ms / 1000.0,
                                          on_connection=register)
        except Error as exc:
            if self._stopping:
                raise _Abort() from None
            if exc.status == 429 or exc.status == 503 or exc.status == 0 or exc.status >= 500:
                self._backoff(exc)
                return []
            self._fail_fatally(exc)
            raise _Abort() from None
        finally:
            with self._lock:
                self._polls.pop(me, None)
        self._reset_backoff()
        leases = answer.get("leases") if isinstance(answer, dict) else None
        if not isinstance(leases, list):
            log.warning("lease answer without a leases list: %r", answer)
            return []
        return leases

    def _backoff(self, exc: Error) -> None:
        local = _backoff_state.__dict__
        if exc.retry_after is not None and exc.status in (429, 503):
            delay = max(0.05, exc.retry_after)
        else:
            step = local.get("step", 0)
            delay = min(5.0, 0.1 * (2 ** step)) * (0.5 + random.random() / 2)
            local["step"] = step + 1
        if exc.status == 429:
            log.debug("actorq is busy: retrying the lease request in %.2f s", delay)
        else:
            log.warning("lease request failed (%s): retrying in %.2f s", exc, delay)
        self._stop_event.wait(delay)

    @staticmethod
    def _reset_backoff() -> None:
        _backoff_state.__dict__.pop("step", None)

    def _take_leases(self, leases: List[Dict[str, Any]]) -> List[Task]:
        """Held Task objects for a lease answer (caller holds no lock)."""
        now = time.monotonic()
        wall = datetime.now(timezone.utc)
        tasks = []
        group_due = None
        for lease in leases:
            try:
                task = Task(self, lease)
            except (KeyError, TypeError, AttributeError):
                log.warning("malformed lease in the answer: %r", lease)
                continue
            self._set_expiry(task, lease.get("expires_at"), now, wall)
            tasks.append(task)
            if group_due is None or task._due < group_due:
                group_due = task._due
        if tasks:
            with self._lock:
                for task in tasks:
                    self._held[task.lease] = task
                self.stats["leased"] += len(tasks)
                self._push_beat(group_due, tasks)
        return tasks

    # ------------------------------------------------------------ batch mode

    def _fetch_loop(self) -> None:
        # A request likely to wait (the first, or after an empty answer) asks
        # for one attempt: if this worker stops while it waits, the request
        # is cut, but actorq may still hand it attempts (it cannot tell), and
        # those come back only when their leases expire. Once attempts flow,
        # requests ask for as many as there are free slots.
        idle = True
        while True:
            with self._lock:
                while self._free <= 0 and not self._stopping:
                    self._slot_cv.wait()
                if self._stopping:
                    return
                count = 1 if idle and self.wait_ms else min(self._free, self.max_lease)
            try:
                leases = self._lease(count)
            except _Abort:
                return
            idle = not leases
            if not leases:
                continue
            tasks = self._take_leases(leases)
            with self._lock:
                self._ready.extend(tasks)
                self._free -= len(tasks)
                if self._idle:
                    self._work_cv.notify()  # that one wakes the next (see _exec_loop)

    def _exec_loop(self) -> None:
        """Take attempts from the queue and run them.

        A thread takes one attempt, or a run of attempts of kinds known to
        be quick (their average time so far adds up to at most RUN_BUDGET):
        waking a thread costs more than an instant function, so a batch of
        instant attempts is run by the thread that is awake. It wakes one
        more thread when attempts are left, which does the same, so slow
        attempts spread over all threads quickly."""
        done = []  # type: List[Tuple[Task, Optional[bytes]]]
        ready = self._ready
        avg = self._avg
        while True:
            with self._lock:
                if done:
                    if self._free <= 0:
                        self._slot_cv.notify()
                    self._free += len(done)
                    dropped = False
                    for task, entry in done:
                        task._finished = True
                        if entry is None:
                            self._held.pop(task.lease, None)
                            self.stats["dropped"] += 1
                            dropped = True
                        else:
                            self._finished.append((task, entry))
                    if dropped:
                        self._cut_polls()
                    if self._settler_idle and self._finished:
                        self._settle_cv.notify()
                    done = []
                while not ready:
                    if self._stopping and not self._alive["fetch"]:
                        return
                    self._idle += 1
                    self._work_cv.wait()
                    self._idle -= 1
                task = ready.popleft()
                run = [task]
                budget = RUN_BUDGET - avg.get(task.kind, RUN_BUDGET)
                while ready and budget > 0:
                    budget -= avg.get(ready[0].kind, RUN_BUDGET)
                    if budget < 0:
                        break
                    run.append(ready.popleft())
                if ready and self._idle:
                    self._work_cv.notify()  # more waiting: wake one more thread
            for task in run:
                began = time.perf_counter()
                entry = self._run(task)
                took = time.perf_counter() - began
                kind = task.kind
                avg[kind] = took if kind not in avg else avg[kind] * 0.9 + took * 0.1
                done.append((task, entry))

    def _run(self, task: Task) -> Optional[bytes]:
        """Run the function; the settle entry as JSON, or None to drop."""
        entry = self._call(task)
        if entry is None:
            return None
        result, error, retry = entry
        if error is None:
            return b'{"lease":%s,"result":%s}' % (task._lease_json.encode(), result)
        return b'{"lease":%s,"error":%s,"retry":%s}' % (
            task._lease_json.encode(), _dumps(error).encode("utf-8"),
            b"true" if retry else b"false")

    def _call(self, task: Task) -> Optional[Tuple[Optional[bytes], Optional[str], bool]]:
        """(result JSON, None, _) on success, (None, error, retry) on failure,
        None when the attempt is dropped (cancelled, lost)."""
        spec = self._functions.get(task.kind)
        if spec is None:
            return None, "no function for kind %r in this worker" % (task.kind,), False
        fn, takes_task = spec
        try:
            value = fn(task.input, task) if takes_task else fn(task.input)
            if task._dropped_code is not None:
                return None
            try:
                return _dumps(value).encode("utf-8"), None, True
            except (TypeError, ValueError) as exc:
                return None, "result is not JSON: %s" % (_error_text(exc),), True
        except Cancelled as exc:
            if task._dropped_code is not None:
                log.info("attempt %s of %s dropped: %s", task.attempt, task.id, exc)
                return None
            return None, _error_text(exc), True
        except Permanent as exc:
            if task._dropped_code is not None:
                return None
            log.info("attempt %s of task %s failed for good: %s", task.attempt, task.id,
                     _error_text(exc))
            return None, _error_text(exc), False
        except Exception as exc:
            if task._dropped_code is not None:
                return None
            log.info("attempt %s of task %s failed", task.attempt, task.id, exc_info=True)
            return None, _error_text(exc), True

    def _settle_loop(self) -> None:
        while True:
            with self._lock:
                while not self._finished:
                    if self._stopping and not self._alive["exec"]:
                        return
                    self._settler_idle = True
                    self._settle_cv.wait()
                    self._settler_idle = False
                batch = self._finished[:MAX_BATCH]
                del self._finished[:MAX_BATCH]
            self._settle_batch(batch)

    def _settle_batch(self, batch: List[Tuple[Task, bytes]]) -> None:
        delay = 0.1
        while batch:
            body = b'{"results":[' + b",".join(entry for _, entry in batch) + b"]}"
            try:
                answer = self.client._request("POST", "/v1/leases/complete", body,
                                              retry_safe=True)
            except Error as exc:
                if exc.status == 413 and len(batch) > 1:  # too large: halve it
                    half = len(batch) // 2
                    self._settle_batch(batch[:half])
                    batch = batch[half:]
                    continue
                if exc.status == 413:
                    task, _ = batch[0]
                    batch = [(task, b'{"lease":%s,"error":%s,"retry":false}' % (
                        task._lease_json.encode(),
                        _dumps("result too large for actorq: %s" % exc.detail).encode()))]
                    continue
                if exc.status in (400, 422) and len(batch) > 1:
                    log.warning("batch settle refused (%s): settling one by one", exc)
                    for one in batch:
                        self._settle_batch([one])
                    return
                if exc.status in (0, 429) or exc.status >= 500:
                    batch = self._unexpired(batch)
                    if not batch:
                        return
                    log.warning("settle failed (%s): retrying in %.1f s", exc, delay)
                    time.sleep(delay)  # the only sleep: actorq unreachable
                    delay = min(5.0, delay * 2)
                    continue
                log.error("settle of %d leases refused: %s", len(batch), exc)
                self._forget([t for t, _ in batch], None, dropped=True)
                return
            results = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(results, list) or len(results) != len(batch):
                log.error("malformed batch settle answer: %r", answer)
                self._forget([t for t, _ in batch], None, dropped=True)
                return
            self._settled([t for t, _ in batch], results)
            return

    def _unexpired(self, batch: List[Tuple[Task, bytes]]) -> List[Tuple[Task, bytes]]:
        now = time.monotonic()
        keep = [(t, e) for t, e in batch if t._deadline > now]
        gone = [t for t, e in batch if t._deadline <= now]
        if gone:
            log.error("%d leases expired before actorq could be reached to settle them; "
                      "their tasks will be retried", len(gone))
            self._forget(gone, None, dropped=True)
        return keep

    def _settled(self, tasks: List[Task], results: List[Any]) -> None:
        with self._lock:
            for task, answer in zip(tasks, results):
                self._held.pop(task.lease, None)
                state = answer.get("state") if isinstance(answer, dict) else None
                if state == "completed":
                    self.stats["completed"] += 1
                elif state == "failed":
                    self.stats["failed"] += 1
                else:
                    self.stats["dropped"] += 1
                    self._note_conflict(task, answer)
            self._cut_polls()

    def _forget(self, tasks: List[Task], answer: Any, dropped: bool) -> None:
        with self._lock:
            for task in tasks:
                self._held.pop(task.lease, None)
                if dropped:
                    self.stats["dropped"] += 1
            self._cut_polls()

    @staticmethod
    def _note_conflict(task: Task, answer: Any) -> None:
        code = answer.get("code") if isinstance(answer, dict) else None
        if code == "cancelled":
            task.cancelled = True
        else:
            task.lost = True
        task._dropped_code = code or "conflict"
        log.info("lease %s of task %s was not settled: %s", task.lease, task.id, answer)

    # ------------------------------------------------------------ one by one

    def _poll_loop(self) -> None:
        """batch=False: lease one attempt, run it, settle it, repeat."""
        while True:
            try:
                leases = self._lease(1)
            except _Abort:
                return
            for task in self._take_leases(leases):
                entry = self._call(task)
                task._finished = True
                if entry is None:
                    self._forget([task], None, dropped=True)
                else:
                    self._settle_one(task, *entry)

    def _settle_one(self, task: Task, result: Optional[bytes], error: Optional[str],
                    retry: bool) -> None:
        path = "/v1/leases/%s/%s" % (quote(task.lease, safe=""),
                                     "complete" if error is None else "fail")
        if error is None:
            body = b'{"result":%s}' % (result,)
        else:
            body = b'{"error":%s,"retry":%s}' % (_dumps(error).encode("utf-8"),
                                                 b"true" if retry else b"false")
        delay = 0.1
        while True:
            try:
                answer = self.client._request("POST", path, body, retry_safe=True)
            except Error as exc:
                if exc.status in (404, 409):
                    self._note_conflict(task, {"status": exc.status, "code": exc.code,
                                               "detail": exc.detail})
                    self._forget([task], None, dropped=True)
                    return
                if exc.status == 413 and error is None:
                    error, retry = "result too large for actorq: %s" % exc.detail, False
                    path = path[:-len("complete")] + "fail"
                    body = b'{"error":%s,"retry":false}' % (_dumps(error).encode("utf-8"),)
                    continue
                if (exc.status in (0, 429) or exc.status >= 500) and \
                        task._deadline > time.monotonic():
                    log.warning("settle failed (%s): retrying in %.1f s", exc, delay)
                    time.sleep(delay)
                    delay = min(5.0, delay * 2)
                    continue
                log.error("settle of lease %s failed: %s", task.lease, exc)
                self._forget([task], None, dropped=True)
                return
            with self._lock:
                self._held.pop(task.lease, None)
                state = answer.get("state") if isinstance(answer, dict) else None
                self.stats["completed" if state == "completed" else "failed"] += 1
                self._cut_polls()
            return

    # ------------------------------------------------------------ heartbeats

    _expiry_memo = (None, None)  # type: Tuple[Any, Optional[datetime]]

    @classmethod
    def _set_expiry(cls, task: Task, expires_at: Any, now: float, wall: datetime) -> None:
        memo = cls._expiry_memo  # the leases of one answer expire at the same time
        if memo[0] == expires_at and expires_at is not None:
            expires = memo[1]
        else:
            try:
                expires = parse_time(expires_at)
            except ValueError:
                expires = None
            cls._expiry_memo = (expires_at, expires)
        if expires is None:  # no usable answer: assume actorq's default of 30 s
            remaining = 30.0
        else:
            task.expires_at = expires
            remaining = (expires - wall).total_seconds()
        remaining = max(0.05, remaining)
        task._deadline = now + remaining
        task._due = now + remaining / 3.0

    def _push_beat(self, due: float, tasks: List[Task]) -> None:
        """Lock held. Schedule a heartbeat of ``tasks`` (one entry a group)."""
        self._beat_seq += 1
        first = not self._beats or due < self._beats[0][0]
        heapq.heappush(self._beats, (due, self._beat_seq, tasks))
        if first:
            self._beat_cv.notify()

    def _beat_loop(self) -> None:
        while True:
            with self._lock:
                while True:
                    others = self._alive["fetch"] + self._alive["exec"] + self._alive["settle"]
                    if self._stopping and not others:
                        return
                    if not self._beats:
                        self._beat_cv.wait()
                        continue
                    now = time.monotonic()
                    due = self._beats[0][0]
                    if due > now:
                        self._beat_cv.wait(due - now)
                        continue
                    _, _, group = heapq.heappop(self._beats)
                    todo, later = [], []
                    for t in group:
                        if t._dropped_code is not None or self._held.get(t.lease) is not t:
                            continue  # settled or dropped: no more heartbeats
                        (todo if t._due <= now else later).append(t)
                    if later:  # renewed meanwhile by task.progress(): reschedule
                        self._push_beat(min(t._due for t in later), later)
                    if todo:
                        break
            for task in todo:
                self._heartbeat(task, None, raise_cancelled=False, background=True)

    def _heartbeat(self, task: Task, body: Optional[Dict[str, Any]],
                   raise_cancelled: bool, background: bool = False) -> None:
        """A heartbeat now. Each held task has exactly one entry in the
        heartbeat heap: the background heartbeat popped it and pushes the
        next one; task.progress() leaves the entry alone (when it pops early,
        the beat loop pushes it again at the renewed time)."""
        if task._dropped_code is not None:
            if raise_cancelled:
                raise Cancelled(task._dropped_code, "lease %s" % task.lease)
            return
        path = "/v1/leases/%s/heartbeat" % quote(task.lease, safe="")
        try:
            answer = self.client._request("POST", path, body if body is not None else {},
                                          retry_safe=True)
        except Error as exc:
            if exc.status in (404, 409):
                if task._finished:
                    return  # settled meanwhile (or about to be): the settle reports
                with self._lock:
                    self._note_conflict(task, {"status": exc.status, "code": exc.code,
                                               "detail": exc.detail})
                if raise_cancelled:
                    raise Cancelled(task._dropped_code or exc.code, exc.detail) from None
                return
            if exc.status in (400, 422) and raise_cancelled:
                raise  # a bad progress report: the caller's mistake
            log.warning("heartbeat of lease %s failed: %s", task.lease, exc)
            if background:
                now = time.monotonic()
                retry_at = min(now + 1.0, now + max(0.05, (task._deadline - now) / 3.0))
                with self._lock:
                    task._due = retry_at
                    self._push_beat(retry_at, [task])
            return
        now = time.monotonic()
        self._set_expiry(task, answer.get("expires_at") if isinstance(answer, dict) else None,
                         now, datetime.now(timezone.utc))
        if background:
            with self._lock:
                self._push_beat(task._due, [task])


_backoff_state = threading.local()


def _takes_task(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` accepts a second positional argument (the task)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    positional = 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2
