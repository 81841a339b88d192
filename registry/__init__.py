"""Plugin identity: plugins, capabilities, grants and signing keys."""
