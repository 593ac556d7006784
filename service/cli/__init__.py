"""The ``paperboy`` command line, a front door: nothing else imports it.

May import every package. Commands import their heavy modules inside the command, so that
``paperboy --help`` stays fast.
"""
