"""Behavioural checks (CheckList's invariance and directional tests) for any version.

- typo: swapping two letters of one word should not flip the label;
- name: putting another person's name in should not flip it;
- punctuation: adding or removing end punctuation should not flip it;
- negation: "not" before a positive word should lower the positive class's probability
  (only for label sets with a "positive" class).

The sentences are built in, so any version can be checked without its data; every
variant is scored in one batch. Each check's pass rate is stored in a new version's
metadata under `behaviour`.
"""

import numpy as np

# Tweet-like sentences of every sentiment, each with a person in it.
SENTENCES = (
    "{name} gave a great answer on the economy tonight",
    "{name} looked weak and dodged every question",
    "Watching {name} answer the question on immigration",
    "{name} is a liar and a fraud",
    "So proud of {name} tonight, what a performance",
    "{name} will speak about taxes next",
    "Can't stand listening to {name} anymore",
    "Honestly {name} won this debate easily",
    "{name} has no idea what he is talking about",
    "Did {name} just say that about the budget",
    "Really impressed by how {name} handled that",
    "{name} was a total disaster on foreign policy",
    "Waiting for {name} to come on stage",
    "Best line of the night goes to {name}",
    "Why does anyone still listen to {name}",
    "{name} talked about jobs and healthcare",
)
# Names the shipped cleaning does not fold (pipeline.text.PEOPLE), so the check is real.
NAMES = ("Obama", "Hillary", "Sanders", "Biden", "Romney", "Pelosi", "Warren", "McCain")
PUNCTUATION = (
    lambda text: text + "!",
    lambda text: text + ".",
    lambda text: text + "...",
    lambda text: text + "?!",
)
# (with the positive word, with "not" before it)
NEGATIONS = (
    ("The debate was great", "The debate was not great"),
    ("I love this candidate", "I do not love this candidate"),
    ("That answer was good", "That answer was not good"),
    ("What an amazing night", "What a not amazing night"),
    ("I like what I heard tonight", "I do not like what I heard tonight"),
    ("He was impressive tonight", "He was not impressive tonight"),
    ("This was the best debate", "This was not the best debate"),
    ("Their plan is strong", "Their plan is not strong"),
    ("She did well tonight", "She did not do well tonight"),
    ("I am happy with the answers", "I am not happy with the answers"),
    ("A smart answer on taxes", "Not a smart answer on taxes"),
    ("Great job everyone", "Not a great job everyone"),
)
MAX_FAILURES_KEPT = 5


def with_typo(text: str) -> str:
    """Swap the two middle letters of the text's longest word ("economy" -> "ecomony")."""
    words = text.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    word = words[i]
    if len(word) < 4:
        return text
    middle = len(word) // 2
    words[i] = word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]
    return " ".join(words)


def _cases() -> dict[str, list[tuple[str, str]]]:
    """Each invariance check's (original, variant) pairs."""
    base = [s.format(name=NAMES[0]) for s in SENTENCES]
    return {
        "typo": [(text, with_typo(text)) for text in base],
        "name": [
            (s.format(name=NAMES[0]), s.format(name=name)) for s in SENTENCES for name in NAMES[1:]
        ],
        "punctuation": [(text, change(text)) for text in base for change in PUNCTUATION],
    }


def run_behaviour_checks(predictor) -> dict:
    """Run every check on a predictor.

    Args:
        predictor: a Predictor (or anything with `predict_proba` and `labels`).

    Returns:
        {check: {"kind": "invariance" | "directional", "cases", "passed", "pass_rate",
        "failures": up to MAX_FAILURES_KEPT [original, variant, label before, after]}};
        "negation" has "pass_rate" None when the labels have no "positive" class.
    """
    labels = list(predictor.labels)
    cases = _cases()
    if "positive" in labels:
        cases["negation"] = list(NEGATIONS)
    texts = sorted({text for pairs in cases.values() for pair in pairs for text in pair})
    probabilities = dict(zip(texts, predictor.predict_proba(texts), strict=True))
    results = {}
    for check, pairs in cases.items():
        before = np.array([probabilities[a] for a, _ in pairs])
        after = np.array([probabilities[b] for _, b in pairs])
        if check == "negation":
            positive = labels.index("positive")
            passed = after[:, positive] < before[:, positive]
        else:
            passed = before.argmax(axis=1) == after.argmax(axis=1)
        failures = [
            [a, b, labels[int(p.argmax())], labels[int(q.argmax())]]
            for (a, b), p, q, ok in zip(pairs, before, after, passed, strict=True)
            if not ok
        ]
        results[check] = {
            "kind": "directional" if check == "negation" else "invariance",
            "cases": len(pairs),
            "passed": int(passed.sum()),
            "pass_rate": float(passed.mean()),
            "failures": failures[:MAX_FAILURES_KEPT],
        }
    if "negation" not in results:
        results["negation"] = {
            "kind": "directional", "cases": 0, "passed": 0, "pass_rate": None, "failures": [],
            "note": "needs a class named 'positive'",
        }  # fmt: skip
    return results
