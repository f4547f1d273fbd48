"""Real servers for the integration tier: Bluesky PDS, mastodon-mock (see README.md)."""
