"""Learning from feedback: the preference model, pairs, active ordering, evaluation, agreement
between annotators, and plots.
"""
