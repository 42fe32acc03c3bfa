"""``python -m mediakit`` is the ``mediakit`` command."""

from .cli import main

if __name__ == "__main__":
    main()
