"""fercomp on Gradescope: the autograder zip (`bundle`), what its run_autograder does (`autograder`), and the
results.json it writes (`results`, pure functions of check reports and score records)."""
