"""Settings checked at start: each problem is one line naming its variable."""

from __future__ import annotations

import pytest

from capgate.settings import SettingsInvalidError, checked_settings
from tests.support.world import SECRET


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"CAPGATE_TASK_TIME_LIMIT": "900", "CAPGATE_TASK_SOFT_TIME_LIMIT": "800"},
            "CAPGATE_TASK_TIME_LIMIT (900) must be below CAPGATE_VISIBILITY_TIMEOUT (600)",
        ),
        (
            {"CAPGATE_TASK_TIME_LIMIT": "100", "CAPGATE_TASK_SOFT_TIME_LIMIT": "100"},
            "CAPGATE_TASK_SOFT_TIME_LIMIT (100) must be below CAPGATE_TASK_TIME_LIMIT (100)",
        ),
        ({"CAPGATE_RETRY_POLICIES": "{bad"}, "CAPGATE_RETRY_POLICIES is not valid JSON"),
        ({"CAPGATE_ADAPTER_OVERRIDES": "[1,"}, "CAPGATE_ADAPTER_OVERRIDES is not valid JSON"),
        ({"CAPGATE_DEAD_LETTER_HOOKS": "x"}, "CAPGATE_DEAD_LETTER_HOOKS is not valid JSON"),
    ],
)
def test_a_bad_setting_is_refused_in_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    monkeypatch.setenv("CAPGATE_SECRET", SECRET)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsInvalidError) as caught:
        checked_settings()
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_default_limits_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPGATE_SECRET", SECRET)
    settings = checked_settings()
    assert settings.task_soft_time_limit < settings.task_time_limit < settings.visibility_timeout
