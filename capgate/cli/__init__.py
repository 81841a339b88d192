"""The ``capgate`` command line: thin commands that call the library."""
