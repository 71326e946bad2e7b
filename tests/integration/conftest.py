"""Integration fixtures: moto (`aws`) and the PagerDuty emulator on loopback (`emulator`)."""

from tests.integration.aws_fixtures import aws
from tests.integration.emulator_fixtures import emulator

__all__ = ["aws", "emulator"]
