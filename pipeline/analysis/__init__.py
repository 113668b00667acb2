"""Error analysis: where a version fails, and what in the data to fix.

| module | what it answers |
|---|---|
| predictions | each version's test-set predictions, kept beside its model |
| evaluations | a version scored on any labelled CSV, kept beside it; what the views can show |
| slices | accuracy and macro-F1 by text length, retweet, URL, hashtag, mention, CSV column |
| behaviour | do a typo, another name or punctuation flip the label; does "not" move it |
| label_issues | likely label errors in the training data (confident learning, cleanlab) |
| duplicates | near-duplicate texts with different labels |
| corrections | a corrected copy of the data (relabelled or dropped rows); never the original |
| held_out | whether a version's training left out another version's test texts |

Versions are immutable, so everything derived from one is computed once: at training
time, or (for versions saved before this existed) once from the data, into the cache.
"""
