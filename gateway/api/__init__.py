"""HTTP entry points; each module is one router over the services of the container."""
