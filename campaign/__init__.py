"""campaign: an awareness-week social media campaign of patient stories, run by itself."""

__version__ = "0.1.0"
