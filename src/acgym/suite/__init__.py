"""Benchmark suites: named lists of tasks (a car on a circuit), run K seeds each on a step
budget into one folder, and a paper-style table with learning-curve plots
(``acgym suite``).

* :mod:`acgym.suite.tasks`: the tasks and suites (the paper's: arXiv 2407.16680,
  Table 2) and where each task's track comes from (the game's file, else a built-in
  circuit of the same place, else not run);
* :mod:`acgym.suite.runs`: one run (:class:`~acgym.suite.runs.RunSpec`,
  :func:`~acgym.suite.runs.execute_run`: an ordinary ``acgym train`` run folder, skipped
  when finished, resumed when not) and the runners that carry out a list of them (the
  local, sequential :class:`~acgym.suite.runs.LocalRunner`; a cluster's runner sends the
  same specs to its workers);
* :mod:`acgym.suite.driver`: a whole suite (:func:`~acgym.suite.driver.run_suite`) and
  its report (:func:`~acgym.suite.driver.write_report`);
* :mod:`acgym.suite.layout`, :mod:`acgym.suite.curves`, :mod:`acgym.suite.table`,
  :mod:`acgym.suite.plots`: the folder, the runs' learning curves, the table and the
  plots.

The modules are imported one by one (``acgym suite list`` needs no learner).
"""
