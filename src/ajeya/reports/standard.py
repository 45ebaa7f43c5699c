"""The standard reports (registered when the app is ready): clinical ones in
standard_clinical.py, money ones in standard_money.py."""

from ajeya.reports import standard_clinical, standard_money  # noqa: F401
