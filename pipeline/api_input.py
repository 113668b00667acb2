"""Reading and checking REST API requests (see api.py): the body within its size limit,
JSON or form fields, and the texts within the text and batch limits.

Errors meant for the client are pipeline.errors types; pipeline.serve.status_for maps them to
HTTP statuses.
"""

import json
import urllib.parse
from collections.abc import AsyncIterator

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from pipeline import config
from pipeline.errors import RequestError, RequestTooLarge, UnsupportedContentType

FIELDS = ("text", "texts")
FIELDS_HINT = 'send "text" (a string) or "texts" (a list of strings)'


async def read_body(
    chunks: AsyncIterator[bytes],
    declared_length: str | None,
    limit: int = config.MAX_API_BODY_BYTES,
) -> bytes:
    """Read a request body, refusing it as soon as it is over the limit.

    Args:
        chunks: the body as it arrives.
        declared_length: the Content-Length header, if any; checked before reading.
        limit: the most bytes accepted.

    Returns:
        The whole body.
    """
    too_large = RequestTooLarge(
        f"The request body is over the limit of {limit:,} bytes. Send at most "
        f"{config.MAX_API_BATCH} texts of up to {config.MAX_TEXT_CHARS:,} characters each."
    )
    if declared_length and declared_length.strip().isdigit() and int(declared_length) > limit:
        raise too_large
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


async def parse_payload(content_type: str | None, body: bytes) -> dict:
    """The fields of a JSON object or of form data (URL-encoded or multipart).

    Args:
        content_type: the Content-Type header.
        body: the request body.

    Returns:
        The fields by name; a repeated form field `texts` becomes a list.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return _parse_json(body)
    if media_type == "application/x-www-form-urlencoded":
        return _form_fields(_parse_urlencoded(body))
    if media_type == "multipart/form-data":
        return _form_fields(await _parse_multipart(content_type, body))
    raise UnsupportedContentType(
        f"Unsupported content type {media_type or '(none)'!r}: send JSON (application/json) "
        "or form data (application/x-www-form-urlencoded or multipart/form-data)."
    )


def _parse_json(body: bytes) -> dict:
    try:
        payload = json.loads(body)
    except RecursionError as exc:
        raise RequestError("The JSON body is nested too deeply.") from exc
    except ValueError as exc:  # JSONDecodeError, or bytes that are no Unicode text
        raise RequestError(f"The body is not valid JSON: {exc}.") from exc
    if not isinstance(payload, dict):
        raise RequestError(f"The JSON body must be an object: {FIELDS_HINT}.")
    return payload


def _parse_urlencoded(body: bytes) -> list[tuple[str, str]]:
    # Decoded here rather than by Starlette, which reads unescaped bytes as Latin-1 and so
    # garbles `curl -d "text=café"`.
    try:
        return urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise RequestError("The form data is not valid UTF-8.") from exc


async def _parse_multipart(content_type: str, body: bytes) -> list[tuple[str, str]]:
    async def chunks():
        yield body

    # One file is let through only to be refused below with a clear message.
    parser = MultiPartParser(Headers({"content-type": content_type}), chunks(), max_files=1)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise RequestError(f"The form data is not valid: {exc.message}") from exc
    items = form.multi_items()
    await form.close()
    if any(isinstance(value, UploadFile) for _, value in items):
        raise RequestError("File uploads are not accepted: send the text as a form field.")
    return items


def _form_fields(pairs: list[tuple[str, str]]) -> dict:
    fields: dict = {}
    for name, value in pairs:
        if name == "texts":
            fields.setdefault("texts", []).append(value)
        elif name in fields:
            raise RequestError(f"The form field {name[:40]!r} is given more than once.")
        else:
            fields[name] = value
    return fields


def _json_type(value) -> str:
    kinds = ((bool, "a boolean"), (int | float, "a number"), (str, "a string"), (list, "a list"))
    if value is None:
        return "null"
    return next((name for kind, name in kinds if isinstance(value, kind)), "an object")


def _check_text(text, where: str) -> None:
    if not isinstance(text, str):
        raise RequestError(f"{where} must be a string, got {_json_type(text)}.")
    if len(text) > config.MAX_TEXT_CHARS:
        raise RequestTooLarge(
            f"{where} has {len(text):,} characters; the limit is "
            f"{config.MAX_TEXT_CHARS:,} characters per text."
        )
    if not text.strip():
        # The dashboard refuses empty input too: a model labels "" as confidently as a text.
        raise RequestError(f"{where} is empty: send a text to classify.")


def texts_from_payload(payload: dict) -> tuple[list[str], bool]:
    """Check the request's fields against the limits and return the texts to score.

    Args:
        payload: the fields of the request.

    Returns:
        The texts, and whether the request sent one "text" (rather than "texts").
    """
    unknown = [repr(name[:40]) for name in payload if name not in FIELDS]
    if unknown:
        raise RequestError(f"Unknown field {', '.join(unknown[:5])}: {FIELDS_HINT}.")
    if "text" in payload and "texts" in payload:
        raise RequestError('Send "text" or "texts", not both.')
    if "text" in payload:
        _check_text(payload["text"], '"text"')
        return [payload["text"]], True
    if "texts" not in payload:
        raise RequestError(f"Missing field: {FIELDS_HINT}.")
    texts = payload["texts"]
    if not isinstance(texts, list):
        raise RequestError(f'"texts" must be a list of strings, got {_json_type(texts)}.')
    if not texts:
        raise RequestError(f'"texts" is empty: send 1 to {config.MAX_API_BATCH} strings.')
    if len(texts) > config.MAX_API_BATCH:
        raise RequestTooLarge(
            f'"texts" has {len(texts):,} items; the limit is {config.MAX_API_BATCH} texts per '
            "request. Send them in smaller batches."
        )
    for i, text in enumerate(texts):
        _check_text(text, f'"texts"[{i}]')
    return texts, False
