"""The dependency projects' app, in plain ASGI: /health answers the gate, every other path names
the version of the one dependency the project declares (PROJECT_DEPENDENCY), as installed."""
import importlib.metadata
import json
import os


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    name = os.environ.get("PROJECT_DEPENDENCY", "itsdangerous")
    body = b"ok" if scope["path"] == "/health" else json.dumps({name: importlib.metadata.version(name)}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
