"""The REST API (api.py) through FastAPI's TestClient: every endpoint and every error answer.

tests/test_api_server.py runs the README's examples against a real uvicorn process."""

import asyncio
import json
import re
import shutil
import time
import zipfile

import pytest
from fastapi.testclient import TestClient

import api
from pipeline import api_input, config, serve
from pipeline.errors import RequestTooLarge
from pipeline.predict import load_model, load_predictor
from pipeline.registry import ACTIVE_FILE, METADATA_FILE, MODEL_FILE, Registry

TEXT = "What a great night for Rubio #GOPDebate"
LONGEST = "x" * config.MAX_TEXT_CHARS
TOO_LONG = "x" * (config.MAX_TEXT_CHARS + 1)


def copy_models(source, target):
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".tmp-*", "*.lock"))
    return target


@pytest.fixture(scope="module")
def api_models_dir(tiny_models_dir, tmp_path_factory):
    """A copy of the tiny registry that these tests only read."""
    return copy_models(tiny_models_dir, tmp_path_factory.mktemp("api") / "models")


def start(models_dir, monkeypatch, **kwargs) -> TestClient:
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models_dir))
    return TestClient(api.app, **kwargs)


@pytest.fixture
def client(api_models_dir, monkeypatch):
    with start(api_models_dir, monkeypatch) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def predictor(api_models_dir):
    return load_predictor(api_models_dir)


def test_welcome_links_every_endpoint(client, predictor):
    answer = client.get("/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["version"] == predictor.version
    assert body["links"] == {
        "predict": "/predict",
        "models": "/models",
        "health": "/health",
        "docs": "/docs",
    }


def test_predict_page_is_a_static_form_that_posts_text(client):
    answer = client.get("/predict")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert '<form method="post" action="/predict">' in page
    assert 'name="text"' in page and f"up to {config.MAX_TEXT_CHARS:,} characters" in page
    # No maxlength: a browser cuts a longer paste silently; the server says the limit (413).
    assert "maxlength" not in page
    assert client.get("/predict", params={"text": "<script>"}).text == page


def test_form_post_answers_label_probabilities_and_version(client, predictor):
    answer = client.post("/predict", data={"text": TEXT})
    assert answer.status_code == 200
    body = answer.json()
    expected = predictor.predict([TEXT])[0]
    assert body["label"] == expected["label"]
    assert list(body["probabilities"]) == predictor.labels
    assert body["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-6)
    assert sum(body["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert body["version"] == predictor.version


def test_json_text_multipart_and_form_give_the_same_answer(client):
    by_form = client.post("/predict", data={"text": TEXT}).json()
    assert client.post("/predict", json={"text": TEXT}).json() == by_form
    assert client.post("/predict", files={"text": (None, TEXT)}).json() == by_form
    for json_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        body = json.dumps({"text": TEXT}).encode()
        answer = client.post("/predict", content=body, headers={"content-type": json_type})
        assert answer.json() == by_form, json_type


def test_form_data_with_unescaped_utf8_is_read_as_utf8(client):
    text = "Trump était génial 😀"
    raw = client.post(
        "/predict",
        content=f"text={text}".encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert raw.status_code == 200
    assert raw.json() == client.post("/predict", json={"text": text}).json()


def test_form_texts_given_several_times_are_a_batch_in_order(client):
    texts = ["WORST SHOW EVER", TEXT, "the debate is on fox"]
    by_form = client.post("/predict", data={"texts": texts})
    assert by_form.status_code == 200
    assert by_form.json() == client.post("/predict", json={"texts": texts}).json()
    by_multipart = client.post("/predict", files=[("texts", (None, t)) for t in texts])
    assert by_multipart.json() == by_form.json()


def test_json_texts_are_scored_in_order(client, predictor):
    texts = ["WORST SHOW EVER", TEXT, "?", "the debate is on fox"]
    answer = client.post("/predict", json={"texts": texts})
    assert answer.status_code == 200
    body = answer.json()
    assert body["version"] == predictor.version
    expected = predictor.predict(texts)
    assert [row["label"] for row in body["predictions"]] == [row["label"] for row in expected]
    for got, want in zip(body["predictions"], expected, strict=True):
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)


def test_requests_exactly_at_the_limits_are_accepted(client):
    assert client.post("/predict", json={"text": LONGEST}).status_code == 200
    batch = client.post("/predict", json={"texts": [LONGEST] * config.MAX_API_BATCH})
    assert batch.status_code == 200
    assert len(batch.json()["predictions"]) == config.MAX_API_BATCH
    # The body cap fits a full batch of the longest texts, even JSON-escaped emoji.
    emoji = json.dumps({"texts": ["😀" * config.MAX_TEXT_CHARS] * config.MAX_API_BATCH})
    assert len(emoji) <= config.MAX_API_BODY_BYTES
    answer = client.post("/predict", content=emoji, headers={"content-type": "application/json"})
    assert answer.status_code == 200


def test_models_lists_versions_with_the_active_one_marked(client, api_models_dir, predictor):
    answer = client.get("/models")
    assert answer.status_code == 200
    body = answer.json()
    active = Registry(api_models_dir).active_version()
    assert body["active"] == active and body["serving"] == predictor.version
    (row,) = body["versions"]
    assert row["version"] == active and row["active"] and row["serving"]
    assert row["labels"] == predictor.labels and row["problem"] is None
    assert 0 <= row["accuracy"] <= 1 and row["architecture"] == "fasttext"


def test_health_reports_the_served_version(client, predictor):
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "version": predictor.version, "detail": None}


def test_openapi_docs_describe_every_endpoint(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    # Swagger UI comes from the API itself, never a CDN: /docs works with no internet.
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    assert all(client.get(a).status_code == 200 for a in assets)
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/", "/predict", "/models", "/health"}
    post = spec["paths"]["/predict"]["post"]
    assert set(post["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    assert {"200", "413", "415", "422", "503"} <= set(post["responses"])


def test_the_model_is_loaded_once_at_startup(api_models_dir, monkeypatch):
    calls = []

    def counting_load(*args, **kwargs):
        calls.append(args)
        return load_predictor(*args, **kwargs)

    monkeypatch.setattr(serve, "load_predictor", counting_load)
    with start(api_models_dir, monkeypatch) as test_client:
        assert len(calls) == 1
        for _ in range(3):
            assert test_client.post("/predict", json={"text": TEXT}).status_code == 200
    assert len(calls) == 1


JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
BAD_REQUESTS = {
    "text over the length limit": ({"json": {"text": TOO_LONG}}, 413, "limit is 1,000"),
    "form text over the length limit": ({"data": {"text": TOO_LONG}}, 413, "limit is 1,000"),
    "batch over the limit": (
        {"json": {"texts": ["a"] * (config.MAX_API_BATCH + 1)}},
        413,
        f"limit is {config.MAX_API_BATCH} texts",
    ),
    "a batch item over the length limit": (
        {"json": {"texts": ["ok", TOO_LONG]}},
        413,
        '"texts"[1] has 1,001 characters',
    ),
    "body over the byte limit": (
        {"content": b" " * (config.MAX_API_BODY_BYTES + 1), "headers": JSON},
        413,
        "2,000,000 bytes",
    ),
    "malformed JSON": ({"content": b'{"text": ', "headers": JSON}, 422, "not valid JSON"),
    "JSON that is not Unicode": ({"content": b'{"text": "\xff"}', "headers": JSON}, 422, "JSON"),
    "deeply nested JSON": ({"content": b"[" * 100_000, "headers": JSON}, 422, "nested too deeply"),
    "JSON that is not an object": ({"json": ["a text"]}, 422, "must be an object"),
    "missing field": ({"json": {}}, 422, "Missing field"),
    "text and texts": ({"json": {"text": "a", "texts": ["b"]}}, 422, "not both"),
    "unknown field": ({"json": {"txt": "a"}}, 422, "Unknown field 'txt'"),
    "text is null": ({"json": {"text": None}}, 422, '"text" must be a string, got null'),
    "text is a number": ({"json": {"text": 3}}, 422, "got a number"),
    "text is an object": ({"json": {"text": {"text": "a"}}}, 422, "got an object"),
    "texts is a string": ({"json": {"texts": "a"}}, 422, "must be a list of strings, got a string"),
    "texts is empty": ({"json": {"texts": []}}, 422, '"texts" is empty'),
    "a batch item is not a string": ({"json": {"texts": ["a", True]}}, 422, '"texts"[1] must'),
    "empty text": ({"json": {"text": ""}}, 422, '"text" is empty'),
    "whitespace-only text": ({"json": {"text": " \n\t "}}, 422, '"text" is empty'),
    "empty form text": ({"data": {"text": ""}}, 422, '"text" is empty'),
    "whitespace-only form text": ({"content": b"text=+%20", "headers": FORM}, 422, "is empty"),
    "empty multipart text": ({"files": {"text": (None, b"")}}, 422, '"text" is empty'),
    "an empty batch item": ({"json": {"texts": ["ok", "a", "  "]}}, 422, '"texts"[2] is empty'),
    "empty form": ({"content": b"", "headers": FORM}, 422, "Missing field"),
    "form without text": ({"data": {"message": "hi"}}, 422, "Unknown field 'message'"),
    "form text twice": ({"content": b"text=a&text=b", "headers": FORM}, 422, "more than once"),
    "form not UTF-8": ({"content": b"text=caf%E9", "headers": FORM}, 422, "not valid UTF-8"),
    "file upload": ({"files": {"text": ("a.txt", b"hi")}}, 422, "File uploads"),
    "multipart without boundary": (
        {"content": b"x", "headers": {"content-type": "multipart/form-data"}},
        422,
        "form data is not valid",
    ),
    "plain text body": (
        {"content": b"hi", "headers": {"content-type": "text/plain"}},
        415,
        "Unsupported content type 'text/plain'",
    ),
    "no content type": ({"content": b"hi"}, 415, "'(none)'"),
}


@pytest.mark.parametrize(
    "request_kwargs, status, fragment", BAD_REQUESTS.values(), ids=BAD_REQUESTS
)
def test_bad_requests_get_a_status_and_a_message_that_says_what_is_wrong(
    client, request_kwargs, status, fragment
):
    answer = client.post("/predict", **request_kwargs)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    detail = answer.json()["detail"]
    assert fragment in detail
    assert "Traceback" not in answer.text


def test_a_huge_body_is_refused_before_it_is_read():
    sent = []

    async def body(chunks: int):
        for _ in range(chunks):
            sent.append(1)
            yield b" " * 100_000

    limit = config.MAX_API_BODY_BYTES
    # Declared too large: refused on the header alone.
    with pytest.raises(RequestTooLarge, match="2,000,000 bytes"):
        asyncio.run(api_input.read_body(body(21), str(limit + 1)))
    assert sent == []
    # Streamed without a length: refused once the limit is passed, not at the end.
    with pytest.raises(RequestTooLarge, match="2,000,000 bytes"):
        asyncio.run(api_input.read_body(body(1000), None))
    assert len(sent) == limit // 100_000 + 1
    sent.clear()
    assert len(asyncio.run(api_input.read_body(body(20), str(limit)))) == limit


@pytest.mark.parametrize(
    "method, path, status",
    [("get", "/nowhere", 404), ("put", "/predict", 405), ("post", "/models", 405)],
)
def test_unknown_routes_and_methods_answer_json(client, method, path, status):
    answer = client.request(method, path)
    assert answer.status_code == status
    assert "detail" in answer.json()


def test_an_unexpected_failure_answers_500_without_details(api_models_dir, monkeypatch):
    def explode(texts):
        raise RuntimeError("secret internals at /srv/app")

    with start(api_models_dir, monkeypatch, raise_server_exceptions=False) as test_client:
        monkeypatch.setattr(test_client.app.state.service.predictor, "predict", explode)
        answer = test_client.post("/predict", json={"text": TEXT})
    assert answer.status_code == 500
    assert answer.json() == {"detail": "Internal server error."}
    assert "secret" not in answer.text and "Traceback" not in answer.text


def test_without_a_model_predict_and_health_answer_503(tmp_path, monkeypatch):
    with start(tmp_path / "empty", monkeypatch) as test_client:
        health = test_client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert "No model in" in health.json()["detail"]
        answer = test_client.post("/predict", json={"text": TEXT})
        assert answer.status_code == 503 and "Train one" in answer.json()["detail"]
        assert test_client.get("/").json()["version"] is None
        assert test_client.get("/models").json()["versions"] == []


def add_broken_version(models_dir, damage: str) -> str:
    """Copy the only version under a newer id, make it active, and damage its model file."""
    (original,) = Registry(models_dir).versions()
    broken = "29990101-000000-dead"
    shutil.copytree(models_dir / original, models_dir / broken)
    meta = json.loads((models_dir / broken / METADATA_FILE).read_text())
    meta.update(version=broken, created="2999-01-01T00:00:00+00:00")
    (models_dir / broken / METADATA_FILE).write_text(json.dumps(meta))
    model_file = models_dir / broken / MODEL_FILE
    if damage == "not a zip":
        model_file.write_bytes(b"not a model")
    else:  # the parts Keras writes are there, but empty: only loading finds the damage
        with zipfile.ZipFile(model_file, "w") as archive:
            archive.writestr("config.json", "{}")
            archive.writestr("model.weights.h5", b"")
    (models_dir / ACTIVE_FILE).write_text(broken + "\n")
    return original


@pytest.mark.parametrize("damage", ["not a zip", "unloadable"])
def test_a_broken_active_version_is_replaced_and_health_says_so(
    tiny_models_dir, tmp_path, monkeypatch, damage
):
    models_dir = copy_models(tiny_models_dir, tmp_path / "models")
    original = add_broken_version(models_dir, damage)
    with start(models_dir, monkeypatch) as test_client:
        health = test_client.get("/health").json()
        assert health["status"] == "degraded" and health["version"] == original
        assert "active version 29990101-000000-dead cannot be loaded" in health["detail"]
        assert test_client.post("/predict", json={"text": TEXT}).json()["version"] == original
        models = test_client.get("/models").json()
        assert (models["active"], models["serving"]) == ("29990101-000000-dead", original)
        assert [row["serving"] for row in models["versions"]] == [False, True]


def test_every_version_broken_answers_503(tiny_models_dir, tmp_path, monkeypatch):
    models_dir = copy_models(tiny_models_dir, tmp_path / "models")
    for model_file in models_dir.glob(f"*/{MODEL_FILE}"):
        model_file.write_bytes(b"")
    with start(models_dir, monkeypatch) as test_client:
        answer = test_client.get("/health")
        assert answer.status_code == 503 and "is broken" in answer.json()["detail"]
        assert test_client.post("/predict", data={"text": TEXT}).status_code == 503


def test_another_version_answers_when_asked_by_id(tiny_models_dir, tmp_path, monkeypatch):
    from conftest import TINY_PARAMS

    from pipeline.data import load_labelled_data
    from pipeline.params import resolve_params
    from pipeline.train import train_and_save

    models = copy_models(tiny_models_dir, tmp_path / "models")
    served = Registry(models).active_version()
    params = resolve_params({**TINY_PARAMS, "epochs": 1, "seed": 7})
    other = train_and_save(load_labelled_data(config.SAMPLE_DATA_PATH), params, Registry(models))
    expected = load_predictor(models, other["version"]).predict([TEXT])[0]
    with start(models, monkeypatch) as client:
        answer = client.post(f"/predict?version={other['version']}", json={"text": TEXT})
        assert answer.status_code == 200
        assert answer.json()["version"] == other["version"]
        assert answer.json()["probabilities"] == pytest.approx(expected["probabilities"])
        assert client.post("/predict", json={"text": TEXT}).json()["version"] == served
        unknown = client.post("/predict?version=nope", json={"text": TEXT})
        assert unknown.status_code == 422
        assert "Unknown model version 'nope'" in unknown.json()["detail"]


def test_a_promotion_elsewhere_is_served_within_seconds(tiny_models_dir, tmp_path, monkeypatch):
    """A replica (here: the API) follows the active pointer without a restart."""
    models = copy_models(tiny_models_dir, tmp_path / "models")
    registry = Registry(models)
    first = registry.active_version()
    second = registry.save(load_model(registry, first), {**registry.metadata(first)})
    monkeypatch.setenv("SENTIMENT_REFRESH_SECONDS", "0.2")
    with start(models, monkeypatch) as client:
        assert client.get("/health").json()["version"] == first
        Registry(models).promote(second)  # another process's registry, as train.py would
        deadline = time.monotonic() + 10
        while client.get("/health").json()["version"] != second:
            assert time.monotonic() < deadline, "the promotion was not picked up"
            time.sleep(0.1)
        assert client.post("/predict", json={"text": TEXT}).json()["version"] == second
        assert client.get("/health").json()["status"] == "ok"
