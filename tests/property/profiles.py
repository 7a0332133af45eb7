"""Hypothesis settings profiles for the property tests, chosen by $HYPOTHESIS_PROFILE.

- `ci` (the default, derandomized): a bounded run, well under a minute for all property tests on a 2-core
  machine; the pure tests draw a few hundred examples, the container tests a dozen or two.
- `long`: scripts/fuzz's run, thousands of examples per test (a container test takes ~0.3 s
  an example: 2000 of them ~10 minutes).
- `dev`: a handful of examples, verbose, to try a strategy.

Pure tests use the profile's max_examples; tests that start runk take CONTAINER_EXAMPLES[profile]
(a real create/delete costs about a thousand times a pure check). No deadline anywhere: a real
runk on a loaded machine is not a performance test.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Verbosity, settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

_COMMON = {
    "deadline": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}
# ci draws the same examples every run (derandomize): a red CI is a change of runk's, never the
# luck of the draw; `long` explores (random seeds, failures kept in .hypothesis/)
settings.register_profile("ci", max_examples=100, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=5000, **_COMMON)
settings.register_profile("dev", max_examples=10, verbosity=Verbosity.verbose, **_COMMON)
settings.load_profile(PROFILE)

CONTAINER_EXAMPLES = {"ci": 8, "long": 1500, "dev": 5}.get(PROFILE, 8)


def containers(scale: float = 1.0) -> settings:
    """Settings for a test that runs real runk processes: the profile's container budget."""
    return settings(max_examples=max(1, int(CONTAINER_EXAMPLES * scale)))


def scaled(scale: float) -> settings:
    """The profile's max_examples times `scale` (for the slower pure tests)."""
    return settings(max_examples=max(1, int(settings.default.max_examples * scale)))
