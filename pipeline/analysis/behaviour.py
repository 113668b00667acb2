"""Behavioural checks (CheckList's invariance and directional tests) for any version.

- typo: swapping two letters of one word should not flip the label;
- name: putting another person's name in should not flip it;
- punctuation: adding or removing end punctuation should not flip it;
- negation: "not" before a positive word should lower the positive class's probability
  (only for label sets with a "positive" class);
- emoji: a positive emoji at the end of a plain sentence should raise the positive class's
  probability, a negative one the negative class's (only for label sets with both).

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
# Plain sentences, and emoji whose sentiment is not in doubt (Novak et al.'s emoji sentiment
# ranking puts each firmly on its side).
PLAIN = (
    "Watching the debate tonight",
    "The candidates are on stage now",
    "Just heard the answer on taxes",
    "That was the second question",
    "The debate is on channel five",
    "He talked about the budget",
)
EMOJI = {
    "positive": ("\U0001f60d", "\U0001f44f", "\u2764\ufe0f", "\U0001f60a"),
    "negative": ("\U0001f621", "\U0001f92e", "\U0001f44e", "\U0001f620"),
}
MAX_FAILURES_KEPT = 5
# Every check, in the order the Models tab shows them.
CHECKS = ("typo", "name", "punctuation", "negation", "emoji")
# The directional checks: (original, variant, the class whose probability must move, +1 up
# or -1 down), and the classes each needs.
DIRECTIONAL_NEEDS = {"negation": ("positive",), "emoji": ("positive", "negative")}


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
    cases = {check: [(a, b, None, 0) for a, b in pairs] for check, pairs in _cases().items()}
    directional = _directional_cases()
    cases.update(
        (check, directional[check])
        for check, needs in DIRECTIONAL_NEEDS.items()
        if set(needs) <= set(labels)
    )
    texts = sorted({text for pairs in cases.values() for case in pairs for text in case[:2]})
    probabilities = dict(zip(texts, predictor.predict_proba(texts), strict=True))
    results = {}
    for check, pairs in cases.items():
        before = np.array([probabilities[case[0]] for case in pairs])
        after = np.array([probabilities[case[1]] for case in pairs])
        if check in DIRECTIONAL_NEEDS:
            moved = np.array(
                [(q[labels.index(c)] - p[labels.index(c)]) * sign
                 for (_, _, c, sign), p, q in zip(pairs, before, after, strict=True)]
            )  # fmt: skip
            passed = moved > 0
        else:
            passed = before.argmax(axis=1) == after.argmax(axis=1)
        failures = [
            [case[0], case[1], labels[int(p.argmax())], labels[int(q.argmax())]]
            for case, p, q, ok in zip(pairs, before, after, passed, strict=True)
            if not ok
        ]
        results[check] = {
            "kind": "directional" if check in DIRECTIONAL_NEEDS else "invariance",
            "cases": len(pairs),
            "passed": int(passed.sum()),
            "pass_rate": float(passed.mean()),
            "failures": failures[:MAX_FAILURES_KEPT],
        }
    for check, needs in DIRECTIONAL_NEEDS.items():
        if check not in results:
            results[check] = {
                "kind": "directional", "cases": 0, "passed": 0, "pass_rate": None,
                "failures": [], "note": "needs classes named " + " and ".join(map(repr, needs)),
            }  # fmt: skip
    return results


def _directional_cases() -> dict[str, list[tuple[str, str, str, int]]]:
    """Each directional check's (original, variant, class, +1 or -1) cases."""
    return {
        "negation": [(a, b, "positive", -1) for a, b in NEGATIONS],
        "emoji": [
            (text, f"{text} {symbol}", label, +1)
            for text in PLAIN
            for label, symbols in EMOJI.items()
            for symbol in symbols
        ],
    }
