"""Every schedule, registered in definitions.py."""

SCHEDULES: tuple = ()
