"""The logic behind the REST API (api.py): the model it serves, its health, and the shape
of its answers. Requests are read and checked in pipeline.api_input.

Like the dashboard and the CLI, it hands raw texts to the predictor; no text handling of its
own lives here. Errors meant for the client are raised as pipeline.errors types; api.py maps
them to HTTP statuses with `status_for`, in one handler.
"""

import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from pipeline import config
from pipeline.errors import (
    RateLimited,
    RegistryError,
    RequestError,
    RequestTooLarge,
    SentimentError,
    UnsupportedContentType,
)
from pipeline.monitor.log import log_predictions
from pipeline.predict import Predictor, load_predictor
from pipeline.registry import Registry

# The first matching type gives the status; other user errors answer 400.
STATUS_BY_ERROR = (
    (RequestTooLarge, 413),
    (UnsupportedContentType, 415),
    (RequestError, 422),
    (RegistryError, 503),
    (RateLimited, 429),
)


logger = logging.getLogger(__name__)

# Versions other than the served one that the API keeps loaded at once (memory bound).
MAX_OTHER_VERSIONS = 2


def status_for(error: SentimentError) -> int:
    """The HTTP status that answers a user error."""
    return next((status for kind, status in STATUS_BY_ERROR if isinstance(error, kind)), 400)


@dataclass
class Service:
    """The model the API serves, loaded once.

    Args:
        registry: the models folder.
        predictor: the loaded model, or None when no version could be loaded.
        notice: why the served version is not the active one, or why nothing is served.
    """

    registry: Registry
    predictor: Predictor | None
    notice: str | None = None
    others: OrderedDict = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)
    failed: str | None = None  # an active version that failed to load (not retried)

    def follow_active(self) -> threading.Thread:
        """Serve whatever version is active, within REFRESH_SECONDS of a promotion made by
        any process sharing the registry (another worker, the dashboard, train.py).

        A daemon thread re-reads the active pointer; a new active version is loaded beside
        the served one and swapped in once ready, so requests never wait for it. If it
        cannot be loaded, the served version stays, with a notice. `stopped.set()` ends it.
        """
        thread = threading.Thread(target=self._follow, name="follow-active", daemon=True)
        thread.start()
        return thread

    def _follow(self) -> None:
        while not self.stopped.wait(config.limit("REFRESH_SECONDS")):
            try:
                self.refresh()
            except Exception:  # a store hiccup must not end the thread; the log has it
                logger.exception("Could not refresh the served version")

    def refresh(self) -> None:
        """Load and serve the active version if it is not the one served."""
        active = self.registry.active_version()
        served = self.predictor.version if self.predictor else None
        if active is None or active == served or active == self.failed:
            return
        with self.lock:  # an already loaded copy (asked for by ?version=) is reused
            loaded = self.others.pop(active, None)
        try:
            predictor = loaded or load_predictor(self.registry.root, active)
        except SentimentError as exc:
            self.failed = active  # not retried until another version is promoted
            self.notice = (
                f"The active version {active} cannot be loaded ({exc}); serving {served} instead."
            )
            return
        self.predictor, self.notice, self.failed = predictor, None, None

    def require_predictor(self, version: str | None = None) -> Predictor:
        """The served predictor, or another version's (loaded on first use).

        Up to MAX_OTHER_VERSIONS other versions stay loaded, least recently used first out,
        so a client may ask for the fast `fasttext` version beside a transformer default.

        Args:
            version: a version id; None for the served one.

        Returns:
            A predictor. Raises RegistryError (503) when nothing is served and RequestError
            (422) for an unknown version.
        """
        if version is None or (self.predictor and version == self.predictor.version):
            if self.predictor is None:
                raise RegistryError(self.notice or "No model is loaded.")
            return self.predictor
        if version not in self.registry.versions():
            raise RequestError(
                f"Unknown model version {version!r}; GET /models lists the versions."
            )
        with self.lock:
            if version not in self.others:
                self.others[version] = load_predictor(self.registry.root, version)
                while len(self.others) > MAX_OTHER_VERSIONS:
                    self.others.popitem(last=False)
            self.others.move_to_end(version)
            return self.others[version]


def load_service(models_dir: str | None = None) -> Service:
    """Load the active version, or the newest healthy one if the active one is broken.

    Args:
        models_dir: the models folder; default $SENTIMENT_MODELS_DIR or models/.

    Returns:
        The service, with a notice when it does not serve the active version.
    """
    registry = Registry(config.models_dir(models_dir))
    versions = registry.versions()
    if not versions:
        hint = "Train one with: python train.py --data data/sample.csv"
        return Service(registry, None, f"No model in {registry.root}. {hint}")
    default = registry.healthy_default()
    # healthy_default only checks the file's parts, so a version that still fails to load
    # gives way to the next whole one.
    candidates = [v for v in dict.fromkeys([default, *versions]) if v and not registry.problem(v)]
    failures: dict[str, str] = {}
    for version in candidates:
        try:
            predictor = load_predictor(registry.root, version)
        except SentimentError as exc:
            failures[version] = str(exc)
            continue
        return Service(registry, predictor, _fallback_notice(registry, version, failures))
    broken = f"Every model in {registry.root} is broken. Train a new one with train.py."
    return Service(registry, None, broken)


def _fallback_notice(registry: Registry, served: str, failures: dict[str, str]) -> str | None:
    active = registry.active_version()
    if active is None or active == served:
        return None
    if active not in registry.versions():
        reason = "it is not in the models folder"
    else:
        reason = failures.get(active) or registry.problem(active)
    return (
        f"The active version {active} cannot be loaded ({reason}); serving {served}, "
        "the newest healthy version, instead."
    )


def health(service: Service) -> tuple[int, dict]:
    """The /health answer: 200 when a model is served (status "degraded" if it is not the
    active one), 503 when none is."""
    predictor = service.predictor
    if predictor is None:
        return 503, {"status": "unavailable", "version": None, "detail": service.notice}
    status = "degraded" if service.notice else "ok"
    return 200, {"status": status, "version": predictor.version, "detail": service.notice}


def _finite(value) -> float | None:
    return value if isinstance(value, int | float) and math.isfinite(value) else None


def list_models(service: Service) -> dict:
    """Every version, newest first, with the active one and the served one marked.

    Args:
        service: the running service.

    Returns:
        {"active": id, "serving": id, "versions": [{version, active, serving, ...}]}.
    """
    registry = service.registry
    active = registry.active_version()
    serving = service.predictor.version if service.predictor else None
    rows = []
    for version in registry.versions():
        try:
            meta, problem = registry.metadata(version), registry.problem(version)
        except RegistryError as exc:
            meta, problem = {}, str(exc)
        metrics = meta.get("metrics", {})
        rows.append(
            {
                "version": version,
                "active": version == active,
                "serving": version == serving,
                "created": meta.get("created"),
                "architecture": meta.get("architecture"),
                "labels": meta.get("labels"),
                "accuracy": _finite(metrics.get("accuracy")),
                "macro_f1": _finite(metrics.get("macro_f1")),
                "problem": problem,
            }
        )
    return {"active": active, "serving": serving, "versions": rows}


def predict_answer(
    predictor: Predictor, texts: list[str], single: bool, models_dir: str | None = None
) -> dict:
    """The label and every class's probability, with the model version; appended to the
    prediction log when it is on (pipeline.monitor.log).

    Args:
        predictor: the served model.
        texts: checked texts.
        single: answer for one "text" rather than a list.
        models_dir: the registry's location, beside which the log lives.

    Returns:
        {"label", "probabilities", "version"}, or {"predictions": [...], "version"}.
    """
    results = predictor.predict(texts)
    probabilities = [[r["probabilities"][label] for label in predictor.labels] for r in results]
    log_predictions(texts, probabilities, predictor.labels, predictor.version, "api", models_dir)
    if single:
        return {**results[0], "version": predictor.version}
    return {"predictions": results, "version": predictor.version}
