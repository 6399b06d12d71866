"""A FastAPI app installed from a wheel into the release's virtualenv."""
from pathlib import Path

from fastapi import FastAPI

app = FastAPI(title="appswheel")


@app.get("/")
def index() -> dict:
    return {"app": "appswheel", "module": str(Path(__file__))}


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}
