"""REST API over the sentiment model: `uvicorn api:app`, docs at /docs.

Like the dashboard, this file only routes: the model is loaded once at start-up through
pipeline.serve, which reads and checks requests and hands raw texts to the same predictor
as the app and the CLI.
"""

import math
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from pipeline import api_input, config, serve
from pipeline.errors import RateLimited, SentimentError
from pipeline.limits import RateLimiter

# Requests that cost compute are limited per client; /health stays free for load balancers.
LIMITED_PATHS = ("/predict", "/models")
# Comma-separated addresses of reverse proxies (nginx) whose X-Forwarded-For is believed.
TRUSTED_PROXIES_ENV = "SENTIMENT_TRUSTED_PROXIES"

# Static: nothing a user sends is ever put into this page. The text box has no maxlength: a
# browser would cut a longer paste without a word; the server refuses it with its limit.
FORM_PAGE = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Tweet sentiment</title></head>
<body>
<h1>Tweet sentiment</h1>
<form method="post" action="/predict">
  <label for="text">Text (up to {config.MAX_TEXT_CHARS:,} characters)</label><br>
  <textarea id="text" name="text" rows="4" cols="60" required></textarea><br>
  <button type="submit">Predict</button>
</form>
<p>The answer is JSON. API docs: <a href="/docs">/docs</a>.</p>
</body>
</html>
"""


class Scored(BaseModel):
    """One text's label and the probability of every class."""

    label: str
    probabilities: dict[str, float]


class Prediction(Scored):
    """The answer to {"text": ...} or to form data."""

    version: str


class BatchPrediction(BaseModel):
    """The answer to {"texts": [...]}, in the order sent."""

    predictions: list[Scored]
    version: str


class ErrorAnswer(BaseModel):
    """Every error answer: what is wrong and, where it helps, how to fix it."""

    detail: str


# A text must hold something besides whitespace (the pattern); an empty one answers 422.
TEXT_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": config.MAX_TEXT_CHARS,
    "pattern": r"\S",
}
BATCH_SCHEMA = {
    "type": "array",
    "items": TEXT_SCHEMA,
    "minItems": 1,
    "maxItems": config.MAX_API_BATCH,
}
FORM_SCHEMA = {"type": "object", "required": ["text"], "properties": {"text": TEXT_SCHEMA}}
PREDICT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    FORM_SCHEMA,
                    {
                        "type": "object",
                        "required": ["texts"],
                        "properties": {"texts": BATCH_SCHEMA},
                    },
                ]
            },
            "example": {"text": "What a great night for Rubio"},
        },
        "application/x-www-form-urlencoded": {"schema": FORM_SCHEMA},
        "multipart/form-data": {"schema": FORM_SCHEMA},
    },
}
PREDICT_ERRORS = {
    status: {"model": ErrorAnswer, "description": description}
    for status, description in [
        (413, "A text, the batch or the body is over its limit"),
        (415, "The body is neither JSON nor form data"),
        (422, "Malformed JSON or form data; a missing, extra, empty or mistyped field"),
        (503, "No model could be loaded"),
    ]
}


@asynccontextmanager
async def lifespan(app: FastAPI):
    """Load the model once, before the first request; then follow the active version."""
    app.state.limiter = RateLimiter(config.limit("API_REQUESTS_PER_MINUTE"))
    service = app.state.service = serve.load_service()
    service.follow_active()
    yield
    service.stopped.set()


# /docs with Swagger UI served from the package, not from a CDN: it works offline too.
app = FastAPIOffline(
    title="Tweet sentiment API",
    description=(
        "Labels texts negative / neutral / positive with the models of the sentiment "
        f"dashboard. At most {config.MAX_API_BATCH} texts of "
        f"{config.MAX_TEXT_CHARS:,} characters per request."
    ),
    version="1.0",
    lifespan=lifespan,
)


def client_address(request: Request) -> str:
    """The client's address: the peer's, or behind a trusted proxy the one it reports."""
    peer = request.client.host if request.client else "?"
    trusted = {a.strip() for a in os.environ.get(TRUSTED_PROXIES_ENV, "").split(",") if a}
    forwarded = request.headers.get("x-forwarded-for")
    if peer in trusted and forwarded:
        return forwarded.split(",")[-1].strip()  # the address the proxy itself saw
    return peer


@app.middleware("http")
async def rate_limit(request: Request, call_next):
    """At most API_REQUESTS_PER_MINUTE requests a client to LIMITED_PATHS; 429 beyond."""
    limiter = getattr(request.app.state, "limiter", None)
    if limiter and request.url.path in LIMITED_PATHS:
        try:
            limiter.take(client_address(request))
        except RateLimited as exc:
            headers = {"Retry-After": str(math.ceil(exc.retry_after))}
            return JSONResponse({"detail": str(exc)}, status_code=429, headers=headers)
    return await call_next(request)


@app.exception_handler(SentimentError)
async def user_error(request: Request, exc: SentimentError) -> JSONResponse:
    """Every user error, as {"detail": message} with its HTTP status."""
    return JSONResponse({"detail": str(exc)}, status_code=serve.status_for(exc))


@app.exception_handler(Exception)
async def server_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything else: a 500 without the traceback, which only the server log shows."""
    return JSONResponse({"detail": "Internal server error."}, status_code=500)


@app.get("/")
async def welcome(request: Request) -> dict:
    """What this is, the model served, and where to go next."""
    predictor = request.app.state.service.predictor
    return {
        "message": "Tweet sentiment API: POST a text to /predict.",
        "version": predictor.version if predictor else None,
        "links": {
            "predict": "/predict",
            "models": "/models",
            "health": "/health",
            "docs": "/docs",
        },
    }


@app.get("/predict", response_class=HTMLResponse)
async def predict_form() -> str:
    """A form to try the model in a browser."""
    return FORM_PAGE


@app.post(
    "/predict",
    response_model=Prediction | BatchPrediction,
    responses=PREDICT_ERRORS,
    openapi_extra={"requestBody": PREDICT_BODY},
)
async def predict(request: Request, version: str | None = None) -> JSONResponse:
    """Label one text (JSON {"text": ...} or form data text=...) or a list (JSON
    {"texts": [...]}), with every class's probability and the model version. `?version=ID`
    picks another saved version (GET /models lists them), for example the fast fasttext one."""
    service = request.app.state.service
    predictor = await run_in_threadpool(service.require_predictor, version)
    body = await api_input.read_body(request.stream(), request.headers.get("content-length"))
    payload = await api_input.parse_payload(request.headers.get("content-type"), body)
    texts, single = api_input.texts_from_payload(payload)
    # Scored in a worker thread, so a long batch (or a Keras-served lstm) never holds up
    # other requests such as /health.
    answer = await run_in_threadpool(
        serve.predict_answer, predictor, texts, single, service.registry.root
    )
    return JSONResponse(answer)


@app.get("/models")
def models(request: Request) -> dict:
    """Every saved version, newest first; the active one and the served one are marked."""
    return serve.list_models(request.app.state.service)


@app.get("/health", responses={503: {"description": "No model could be loaded"}})
async def health(request: Request) -> JSONResponse:
    """ "ok" when the active version is served, "degraded" when the active one is broken
    and another is served instead (see detail), 503 when there is none."""
    status, answer = serve.health(request.app.state.service)
    return JSONResponse(answer, status_code=status)
