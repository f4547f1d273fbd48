"""`python -m campaign` runs the command line."""

from campaign.cli import main

if __name__ == "__main__":
    main()
