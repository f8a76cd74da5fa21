"""The shell around the policy core: it reads clocks, stores and keys; the policy decides.

- :mod:`~axis_licensing.shell.pipeline`: the one pipeline every command runs
  through (authorize, idempotency, lock, load inputs, decide, apply claims,
  append, commit, notify), with :mod:`~axis_licensing.shell.build` (checked
  parameters to command values) and :mod:`~axis_licensing.shell.opening`;
- :mod:`~axis_licensing.shell.operations`: one declaration per public command
  and query (name, parameters and their checks, authorize action, result,
  errors), from which the Manager's methods take their checks and the edges
  are drawn;
- :mod:`~axis_licensing.shell.queries`: the Manager's queries;
- loading and storing an organization: :mod:`~axis_licensing.shell.loading`
  (the state cache, named parts), :mod:`~axis_licensing.shell.parts` (the
  stored parts), :mod:`~axis_licensing.shell.history` (facts to activities to
  rows), :mod:`~axis_licensing.shell.catalog_versions` (R15);
- keys and signing: :mod:`~axis_licensing.shell.keys`,
  :mod:`~axis_licensing.shell.derive`, :mod:`~axis_licensing.shell.signing`;
- :mod:`~axis_licensing.shell.plugins`, :mod:`~axis_licensing.shell.alert_hook`,
  :mod:`~axis_licensing.shell.migrate`, :mod:`~axis_licensing.shell.timeline`.

The old private paths ``axis_licensing._keys``, ``_parts``, ``_plugins``,
``_migrate`` and ``_timeline`` are kept as aliases of their new modules.
"""
