"""The small hand-counted OPD world of test_clinical, for the other report tests too."""

from tests.reports.test_clinical import opd_world, surgeon  # noqa: F401 (fixtures)
