"""Sample FastAPI app used by `make demo` and the molecule scenarios."""
import os
import socket
from pathlib import Path

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse

# A release's code version: changing this file is a code-only change.
VERSION = (Path(__file__).parent / "VERSION").read_text().strip()

app = FastAPI(title="asgi.uvicorn sample")


@app.get("/")
def index(request: Request) -> dict:
    return {
        "app": "asgi.uvicorn sample",
        "version": VERSION,
        "pid": os.getpid(),
        # What Uvicorn made of nginx's X-Forwarded-* headers.
        "scheme": request.url.scheme,
        "client": request.client.host if request.client else None,
    }


@app.get("/request")
def describe_request(request: Request) -> dict:
    """What the app believes about the request: the security checks compare it with the truth."""
    return {
        "app_dir": str(Path(__file__).parent),
        "client": request.client.host if request.client else None,
        "scheme": request.url.scheme,
        "host": request.headers.get("host"),
        "forwarding_headers": {
            name: request.headers.get(name)
            for name in ("x-forwarded-for", "x-real-ip", "forwarded", "x-forwarded-proto",
                         "x-forwarded-host", "x-forwarded-port")
        },
    }


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "version": VERSION}


@app.get("/pid")
def pid() -> dict:
    """The PID of the worker that served this request."""
    return {"pid": os.getpid()}


@app.get("/host")
def host() -> dict:
    """The host and worker that served this request (several app hosts behind a load balancer)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "version": VERSION}


@app.get("/status/{code}")
def status(code: int) -> JSONResponse:
    """Answers with that status: the checks that nginx passes the app's own errors through."""
    return JSONResponse({"status": code, "pid": os.getpid()}, status_code=code)


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(f"{os.getpid()}:{message}")
