"""`python -m phonon.sandbox`: the sandbox provider on its own."""

from phonon.sandbox.server import main

main()
