"""`python -m kiln_cli …` is the same as `kiln …`."""

from kiln_cli.main import main

if __name__ == "__main__":
    main()
