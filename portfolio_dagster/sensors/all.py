"""Every sensor, registered in definitions.py."""

SENSORS: tuple = ()
