"""The annotation widgets: thin anywidget classes over plain, kernel-free session logic.

- `base`: the request/response message widget both widgets build on.
- `annotate_session`, `annotator`: label, rate, correct and comment on completions.
- `compare_session`, `comparer`: blind A/B judging, and `pair_up` to build its frame.
"""
