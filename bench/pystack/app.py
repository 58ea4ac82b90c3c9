"""The seed article's FastAPI service (bench/pystack), the Python peer of actorq.

Every route of the seed (/work/shared/seed; actorq serves the same paths,
README "Seed-compatible routes"), written as the article does it:
  POST /process-multiple      asyncio.gather, 1 s (simulated I/O) per item
  POST /submit-task           BackgroundTasks, 2 s; GET /get-result/{id}
  POST /submit-heavy-task     Celery (tasks.process_heavy_task, 5 s) + a Redis
                              key per task; GET /check-task/{id} (AsyncResult)
  POST /process-with-limit    asyncio.Semaphore(5), 2 s per item
  POST /process-cpu-bound     ProcessPoolExecutor(cpu_count()), value² per item
  POST /start-task            TaskManager state + background task with retries
                              (3, backoff 1, 2, 4 s); GET /task-status/{id}
and the two routes of the leases benchmark (bench/leases.py), the way a
FastAPI + Celery user submits many tasks at once and fetches their results:
  POST /submit-batch          {"items": [input, ...], "chunk"?: n} -> one Celery
                              group of `instant` tasks (or, with chunk, Celery's
                              `chunks` of n items per Celery task); answers
                              {"batch_id", "tasks"} once every message is sent
  GET  /batch-results/{id}    waits (?timeout=s, default 60) for the whole group
                              and answers {"results": [...], "errors": [...],
                              "succeeded", "failed"} in input order (?fetch=native:
                              GroupResult.join_native, what .get() does; mget:
                              the backend's get_many, MGET polling every 10 ms)

Run:  PYSTACK_REDIS=redis://127.0.0.1:6379 uvicorn app:app   (from this dir,
Debian's python3 with python3-fastapi, python3-uvicorn, python3-celery,
python3-redis). The seed's delays are multiplied by PYSTACK_DELAY_SCALE.
"""
import asyncio
import multiprocessing
import uuid
from asyncio import Semaphore
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, List, Optional

from celery import group, states
from celery.result import GroupResult
from fastapi import BackgroundTasks, FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from redis import asyncio as aioredis

from tasks import REDIS, SCALE, celery_app, instant, process_heavy_task

app = FastAPI()

# Redis for the seed's task keys (db 2), as in the article.
redis = aioredis.Redis.from_url(f"{REDIS}/2")


# ---- asyncio.gather --------------------------------------------------------
async def process_data(data: dict) -> dict:
    await asyncio.sleep(1 * SCALE)  # simulated I/O
    return {"result": data["value"] * 2}


@app.post("/process-multiple")
async def process_multiple_items(items: List[dict]):
    return await asyncio.gather(*(process_data(item) for item in items))


# ---- BackgroundTasks -------------------------------------------------------
class DataProcessor:
    def __init__(self):
        self.results = {}
        self._lock = asyncio.Lock()

    async def process_in_background(self, task_id: str, data: dict):
        await asyncio.sleep(2 * SCALE)
        async with self._lock:
            self.results[task_id] = {"result": data["value"] * 2}


processor = DataProcessor()


@app.post("/submit-task")
async def submit_task(data: dict, background_tasks: BackgroundTasks):
    task_id = str(uuid.uuid4())
    background_tasks.add_task(processor.process_in_background, task_id, data)
    return {"task_id": task_id}


@app.get("/get-result/{task_id}")
async def get_result(task_id: str):
    result = processor.results.get(task_id)
    if result is None:
        return {"status": "processing"}
    return result


# ---- Celery ----------------------------------------------------------------
@app.post("/submit-heavy-task")
async def submit_heavy_task(data: dict):
    task = process_heavy_task.delay(data)
    await redis.set(f"task:{task.id}", "processing")
    return {"task_id": task.id}


@app.get("/check-task/{task_id}")
async def check_task(task_id: str):
    task = celery_app.AsyncResult(task_id)
    if task.ready():
        if task.failed():
            return {"status": "failed", "error": str(task.result)}
        return {"status": "completed", "result": task.get()}
    return {"status": "processing"}


# ---- semaphore -------------------------------------------------------------
MAX_CONCURRENT_TASKS = 5
semaphore = Semaphore(MAX_CONCURRENT_TASKS)


async def resource_intensive_task(item: dict):
    async with semaphore:
        await asyncio.sleep(2 * SCALE)
        return {"processed": item["value"]}


@app.post("/process-with-limit")
async def process_with_limit(items: List[dict]):
    return await asyncio.gather(*(resource_intensive_task(item) for item in items))


# ---- process pool ----------------------------------------------------------
def cpu_bound_task(data: dict):
    return {"result": data["value"] ** 2}


class TaskProcessor:
    def __init__(self):
        self.executor = ProcessPoolExecutor(max_workers=multiprocessing.cpu_count())

    async def process_in_pool(self, data: List[dict]):
        loop = asyncio.get_running_loop()
        return await asyncio.gather(*(loop.run_in_executor(self.executor, cpu_bound_task, item)
                                      for item in data))


pool_processor = TaskProcessor()


@app.post("/process-cpu-bound")
async def process_cpu_bound(items: List[dict]):
    return await pool_processor.process_in_pool(items)


@app.on_event("shutdown")
def _shutdown_pool():
    pool_processor.executor.shutdown(wait=False, cancel_futures=True)


# ---- task state + retries --------------------------------------------------
@dataclass
class TaskState:
    status: str
    started_at: datetime
    result: Optional[dict] = None
    error: Optional[str] = None


class TaskManager:
    def __init__(self):
        self.tasks: Dict[str, TaskState] = {}
        self._lock = asyncio.Lock()

    async def create_task(self, task_id: str) -> None:
        async with self._lock:
            self.tasks[task_id] = TaskState(status="processing", started_at=datetime.now(timezone.utc))

    async def update_task(self, task_id: str, status: str, result: Optional[dict] = None,
                          error: Optional[str] = None) -> None:
        async with self._lock:
            if task_id not in self.tasks:
                raise HTTPException(status_code=404, detail="Task not found")
            task = self.tasks[task_id]
            task.status = status
            if result is not None:
                task.result = result
            if error is not None:
                task.error = error

    async def get_task_state(self, task_id: str) -> TaskState:
        async with self._lock:
            if task_id not in self.tasks:
                raise HTTPException(status_code=404, detail="Task not found")
            return self.tasks[task_id]


task_manager = TaskManager()
attempts: Dict[str, int] = {}


async def process_task(task_id: str, data: dict) -> dict:
    """1 s of simulated work; the first `fail_times` attempts fail (as
    actorq's /start-task, so that the retries can be seen)."""
    attempts[task_id] = attempts.get(task_id, 0) + 1
    await asyncio.sleep(1 * SCALE)
    if attempts[task_id] <= int(data.get("fail_times", 0)):
        raise RuntimeError("injected failure")
    return {"result": data["value"] * 2}


async def retry_task(task_id: str, data: dict, max_retries: int = 3):
    for i in range(max_retries):
        try:
            await asyncio.sleep(2 ** i * SCALE)  # exponential backoff
            result = await process_task(task_id, data)
            await task_manager.update_task(task_id, status="completed", result=result)
            return
        except Exception:
            pass
    await task_manager.update_task(task_id, status="failed", error="Max retries exceeded")


async def safe_process_task(task_id: str, data: dict):
    try:
        result = await process_task(task_id, data)
        await task_manager.update_task(task_id, status="completed", result=result)
    except Exception as e:
        await task_manager.update_task(task_id, status="failed", error=str(e))
        await retry_task(task_id, data)


@app.post("/start-task")
async def start_task(data: dict, background_tasks: BackgroundTasks):
    task_id = str(uuid.uuid4())
    await task_manager.create_task(task_id)
    background_tasks.add_task(safe_process_task, task_id, data)
    return {"task_id": task_id}


@app.get("/task-status/{task_id}")
async def get_task_status(task_id: str):
    return await task_manager.get_task_state(task_id)


# ---- the leases benchmark: many Celery tasks at once -----------------------
batches: Dict[str, GroupResult] = {}


def _submit(items: list, chunk: int) -> GroupResult:
    # Blocking (kombu publishes synchronously): runs in the thread pool.
    if chunk > 0:
        res = instant.chunks(((item,) for item in items), chunk).group().apply_async()
    else:
        res = group(instant.s(item) for item in items).apply_async()
    return res


@app.post("/submit-batch")
async def submit_batch(body: dict):
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise HTTPException(status_code=422, detail="items: a non-empty list")
    chunk = int(body.get("chunk") or 0)
    res = await run_in_threadpool(_submit, items, chunk)
    batch_id = str(uuid.uuid4())
    batches[batch_id] = res
    return {"batch_id": batch_id, "tasks": len(res.results)}


def _collect(res: GroupResult, timeout: float, fetch: str) -> dict:
    # Blocking (Celery's result API is synchronous): runs in the thread pool.
    if fetch == "mget":
        # The result backend's get_many: MGET of the pending ids every 10 ms.
        ids = [r.id for r in res.results]
        metas = dict(celery_app.backend.get_many(ids, timeout=timeout, interval=0.01))
        values = [m["result"] if m["status"] == states.SUCCESS else
                  (m["result"] if isinstance(m["result"], BaseException) else RuntimeError(str(m["result"])))
                  for m in (metas[i] for i in ids)]
    else:
        # What GroupResult.get() does on a Redis backend: the results arrive
        # through the backend's pub/sub channel per task.
        values = res.join_native(timeout=timeout, propagate=False)
    results, errors = [], []
    for v in values:
        for r in (v if isinstance(v, list) else [v]):  # chunks answer lists
            ok = not isinstance(r, BaseException)
            results.append(r if ok else None)
            errors.append(None if ok else repr(r))
    failed = sum(e is not None for e in errors)
    return {"results": results, "errors": errors, "succeeded": len(results) - failed, "failed": failed}


@app.get("/batch-results/{batch_id}")
async def batch_results(batch_id: str, timeout: float = 60, fetch: str = "native"):
    """?fetch=native (default): GroupResult.join_native, i.e. what .get() does;
    ?fetch=mget: the backend's get_many (MGET polling every 10 ms)."""
    if fetch not in ("native", "mget"):
        raise HTTPException(status_code=422, detail="fetch: native or mget")
    res = batches.pop(batch_id, None)
    if res is None:
        raise HTTPException(status_code=404, detail="Batch not found")
    # The results stay in Redis until result_expires (Celery's default, 1 day),
    # as they would for any Celery user who reads them.
    return await run_in_threadpool(_collect, res, timeout, fetch)
