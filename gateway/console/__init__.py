"""The web console for partnership managers at ``/console`` (server-rendered, no CDN)."""
