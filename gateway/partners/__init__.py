"""Partner lifecycle beyond the registry: selecting candidates to onboard."""
