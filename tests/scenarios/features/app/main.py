"""The features scenario's app: the sample app's health and PID answers, plus a counter in
prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the service role)."""
import asyncio
import os

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest, multiprocess

app = FastAPI(title="asgi.uvicorn features")
HITS = Counter("features_hits", "Requests to /count")


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "pid": os.getpid()}


@app.get("/pid")
def pid() -> dict:
    return {"pid": os.getpid()}


@app.get("/count")
def count() -> dict:
    HITS.inc()
    return {"pid": os.getpid()}


@app.get("/api/ping")
def ping() -> dict:
    return {"pong": True, "pid": os.getpid()}


@app.get("/status/{code}")
def status(code: int) -> JSONResponse:
    """Answers with that status: the app's own errors must pass nginx unchanged."""
    return JSONResponse({"status": code, "pid": os.getpid()}, status_code=code)


@app.get("/sleep/{seconds}")
async def sleep(seconds: float) -> dict:
    """Answers late: past proxy_read_timeout nginx gives up with its own 504."""
    await asyncio.sleep(seconds)
    return {"slept": seconds}


@app.get("/metrics")
def metrics() -> Response:
    """Every worker's metrics, summed from the files of PROMETHEUS_MULTIPROC_DIR."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@app.get("/multiproc")
def multiproc() -> dict:
    """Where the metrics files are and which there are."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    return {"dir": directory, "files": sorted(os.listdir(directory)) if directory else []}
