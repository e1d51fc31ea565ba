"""What is computed from a fitted posterior, as opposed to the model and its fitting (:mod:`pluralstats.models`):

* :mod:`.group_comparison`: two groups' adjusted difference per dimension (``compare``);
* :mod:`.hypothesis`: the posterior probability of a statement about groups (``contrasts --hypothesis``);
* :mod:`.variance`: variance components and their shares (``plot-posterior --kind variance``);
* :mod:`.disagreements`: the items and pairs two groups disagree on (``disagreements``);
* :mod:`.ppc` and :mod:`.loo`: predictive checks and leave-one-rater-out (``plot-posterior``, ``loo``), with the
  per-rater marginal log-likelihood in :mod:`.rater_likelihood` and K-fold by raters in :mod:`.kfold`;
* :mod:`.prior_check`: what the priors imply before any data (``prior-check``).

Each reads a posterior through :mod:`pluralstats.models`' functions and never fits one itself, except
:mod:`.kfold`'s refits (each without a fold of raters).
"""
