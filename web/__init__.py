"""The web face: HTTP API and status page. Built in the operator-surface issue."""
