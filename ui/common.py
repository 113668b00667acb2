"""What the tabs share: cached loaders (a model is loaded once per process) and escaping."""

import contextlib
import re
import sys

import streamlit as st

from pipeline import config
from pipeline.predict import Predictor, load_predictor
from pipeline.registry import Registry


def keep_keras_state() -> None:
    """Stop Streamlit from calling `keras.backend.clear_session()` after every script run.

    Streamlit's script runner does that (`script_runner._clean_problem_modules`) for apps
    that build a model on each run. Here models are loaded once and shared by every session
    (st.cache_resource) and trainings run on background threads, so the clearing only
    costs: a full `gc.collect()` and TensorFlow's kernel cache dropped after each run, which
    made every first prediction of a run markedly slower (bench/load.py), and a training
    thread would see Keras's global state reset under it. Matplotlib's figures are still
    closed, as Streamlit does.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if getattr(script_runner._clean_problem_modules, "keeps_keras", False):
        return

    def clean_problem_modules() -> None:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")

    clean_problem_modules.keeps_keras = True
    script_runner._clean_problem_modules = clean_problem_modules


def get_registry() -> Registry:
    """The registry the app serves from ($SENTIMENT_MODELS_DIR or models/).

    The app's secrets are loaded first: Streamlit puts every root-level secret into the
    environment, so on Community Cloud SENTIMENT_MODELS_DIR = "s3://..." and the storage
    library's own variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL...)
    can all live in the app's Secrets settings.
    """
    # A malformed secrets file is reported by Streamlit itself wherever it is read.
    with contextlib.suppress(Exception):
        st.secrets.load_if_toml_exists()
    return Registry(config.models_dir())


# Two: a transformer version holds about 1 GiB, and Community Cloud gives an app 2.7 GB.
@st.cache_resource(show_spinner="Loading the model...", max_entries=2)
def get_predictor(models_dir: str, version: str) -> Predictor:
    """Load a model version once per process; every prediction reuses it."""
    return load_predictor(models_dir, version)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown so data-derived text (labels, names) shows literally."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def show_error(message: str | Exception) -> None:
    """`st.error` for a message that may quote the user's data (a file, column or label name).

    `st.error` renders Markdown, so the message is escaped: a column named `![x](http://...)`
    must show as text, not fetch an image.
    """
    st.error(escape_markdown(str(message)))
