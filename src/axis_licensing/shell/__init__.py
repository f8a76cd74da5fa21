"""The shell around the policy core: it reads clocks, stores and keys; the policy decides.

- :mod:`~axis_licensing.shell.pipeline`: the one pipeline every command runs
  through (authorize, idempotency, lock, load inputs, decide, apply claims,
  append, commit, notify);
- :mod:`~axis_licensing.shell.operations`: one declaration per public command
  and query (name, parameters and their checks, authorize action, result,
  errors), from which the Manager's methods take their checks and the edges
  are drawn.
"""
