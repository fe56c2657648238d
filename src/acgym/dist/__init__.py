"""Scale-out: rollout workers on Ray feed one learner (``acgym train train.workers=N``),
sweeps of independent runs (``acgym sweep``) and evaluations spread over a cluster.

The part sits above :mod:`acgym.rl`, whose update it runs: ``rl`` knows nothing of Ray,
and nothing imports Ray unless a run asks for workers (``pip install 'acgym[ray]'``).

* :mod:`acgym.dist.transport`: segments of steps, batches, and their exactly-once
  delivery (sequence numbers per worker, acknowledgements; no Ray);
* :mod:`acgym.dist.worker`: a rollout worker, the env it drives and the policy it acts
  with (no Ray: the Ray actor wraps it);
* :mod:`acgym.dist.learner`: the learner's loop over the replies of the workers;
* :mod:`acgym.dist.pool`: the workers as Ray actors, their failures and replacements;
* :mod:`acgym.dist.run`: a whole distributed run (what ``acgym train`` calls);
* :mod:`acgym.dist.sweep`, :mod:`acgym.dist.evaluation`: independent runs and
  evaluations as Ray tasks;
* :mod:`acgym.dist.bench`: the transport's and the loop's throughput.

docs/distributed.md walks through one laptop and a cluster.
"""
