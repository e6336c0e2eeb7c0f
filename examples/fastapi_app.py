"""consent-gateway inside a FastAPI app.

Run from the repository root:
    GATEWAY_SERVER_SECRET_KEYS=$(python -c 'import secrets; print(secrets.token_urlsafe(48))') \\
        uvicorn examples.fastapi_app:app --port 8002
"""

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from gateway import ConsentMiddleware, consent_of

app = FastAPI()
app.add_middleware(ConsentMiddleware, config_path="config/gateway.toml")


@app.get("/", response_class=HTMLResponse)
async def home(request: Request) -> str:
    consent = consent_of(request.scope)
    marketing = consent is not None and consent.allows("marketing")
    return (
        "<!doctype html><html><head><title>My app</title></head><body>"
        f"<h1>My app</h1><p>Marketing allowed: {'yes' if marketing else 'no'}</p></body></html>"
    )


@app.get("/api/consent")
async def my_consent(request: Request) -> dict[str, object]:
    consent = consent_of(request.scope)
    return {"granted": sorted(consent.granted) if consent else None}
