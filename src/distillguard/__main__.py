"""`python -m distillguard` runs the CLI."""

from distillguard.cli import main

if __name__ == "__main__":
    main()
