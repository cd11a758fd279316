"""Analyses of a study's tidy result tables: matched gains, leaderboards, breakdowns,
setting comparisons, critical differences, exclusions, coverage and convergence.

Everything here is a pure function of DataFrames (see `schema.RESULT_COLUMNS`); only the
functions of `plots` write files. The meaning of every output column: docs/leaderboard.md.
"""

from prove.analysis.cd import CriticalDifference, critical_difference
from prove.analysis.compare import Comparison, compare_by, compare_settings
from prove.analysis.coverage import Coverage, convergence, coverage, val_test_gap
from prove.analysis.exclusions import Exclusion, apply_exclusions, exclusions_note
from prove.analysis.gains import MATCH_KEYS, MatchedGains, class_gains, last_checkpoint, matched_gains
from prove.analysis.leaderboard import Leaderboard, breakdown, class_breakdown, family_summary, leaderboard
from prove.analysis.schema import (
    CLASS_COLUMNS, DOMAIN_VALUES, RESULT_COLUMNS, RESULT_KEY, one_result_per_key, validate_class_results,
    validate_results,
)
from prove.analysis.stats import RankCorrelation, bootstrap_mean_ci, nemenyi_cd, rank_correlation
from prove.analysis.store import SyncReport, sync_results

__all__ = [
    "CLASS_COLUMNS", "DOMAIN_VALUES", "MATCH_KEYS", "RESULT_COLUMNS", "RESULT_KEY",
    "Comparison", "Coverage", "CriticalDifference", "Exclusion", "Leaderboard", "MatchedGains", "RankCorrelation",
    "SyncReport", "sync_results",
    "apply_exclusions", "bootstrap_mean_ci", "breakdown", "class_breakdown", "class_gains", "compare_by",
    "compare_settings", "convergence", "coverage", "critical_difference", "exclusions_note", "family_summary",
    "last_checkpoint", "leaderboard", "matched_gains", "nemenyi_cd", "one_result_per_key", "rank_correlation",
    "val_test_gap", "validate_class_results", "validate_results",
]
