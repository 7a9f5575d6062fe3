"""Unit tests: pure, and checked to be.

Every test under ``tests/unit`` runs inside the purity check of
``tests/support/purity.py``: starting a process, reaching the network, asking
for a wheel or tool fixture or carrying an integration marker fails the test
(``tests/unit/test_purity_guard.py`` shows each case failing). What needs any of
those belongs in ``tests/integration``.
"""

from tests.support.purity import (  # noqa: F401  (pytest finds hooks by name in this module)
    pytest_runtest_call,
    pytest_runtest_makereport,
    pytest_runtest_setup,
    pytest_runtest_setup_sealed,
    pytest_runtest_teardown,
)
