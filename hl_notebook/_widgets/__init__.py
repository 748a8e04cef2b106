"""The annotation widgets: thin anywidget classes over plain, kernel-free session logic.

- `base`: the message widget and `SessionWidget`, the boundary both widgets build on.
- `session`: what both sessions share (paging, the filtered view, write-back, undo, progress).
- `annotate_session`, `annotator`: label, rate, correct and comment on completions.
- `compare_session`, `comparer`: blind A/B judging, and `pair_up` to build its frame.
- `cells`: one cell as the browser gets it.
"""
