"""EgoDistill (seed 000) as a method: ``config`` (jobs and paper defaults), ``steps`` (the engine tasks of
stage 1 and stage 2), ``jobs`` (run_pretrain / run_distill), ``experiment`` (Table 1-3 runs), ``cli``."""
