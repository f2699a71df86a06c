"""Partner onboarding: the scaffolder, and the conformance kit wired to the gateway."""
