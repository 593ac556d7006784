"""`python -m service` runs the command-line interface."""

from service.cli.main import main

main()
