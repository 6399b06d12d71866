"""An app made by a factory (Uvicorn's --factory), with no /health: it is ready when /ready answers 204.
/metrics shows prometheus_client's process_* metrics, which need /proc/stat."""
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def create_app() -> FastAPI:
    app = FastAPI(title="factory")

    @app.get("/")
    def index() -> dict:
        return {"app": "factory", "made_by": "create_app"}

    @app.get("/ready", status_code=204)
    def ready() -> Response:
        return Response(status_code=204)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
